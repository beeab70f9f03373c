"""PRID 2011 multi-shot (Hirzer et al., SCIA 2011): video tracklets of persons seen by two static cameras."""

from __future__ import annotations

import os.path as osp

from .. import register_video_dataset
from ..dataset import VideoDataset
from ._common import list_frames, pick_split, read_json

__all__ = ["PRID2011"]


@register_video_dataset("prid2011")
class PRID2011(VideoDataset):
    """PRID2011 (video).

    Reference: Hirzer et al. Person Re-Identification by Descriptive and Discriminative Classification. SCIA 2011.
    URL: https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/PRID11/

    Statistics: 178 identities seen in both cameras with enough frames (of 200 shared ids), 2 cameras.
    Protocol: the 10 splits of ``splits_prid2011.json`` (a list of ``{"train": [...], "test": [...]}`` holding
    person folder names such as ``person_0001``; 89 train / 89 test identities); query = cam_a tracklets of the
    test identities, gallery = their cam_b tracklets.
    """

    dataset_dir = "prid2011"
    dataset_url = None
    layout = (
        "<root>/prid2011/\n"
        "  prid_2011/multi_shot/{cam_a,cam_b}/person_<NNNN>/*.png\n"
        "  splits_prid2011.json\n"
        "Get prid_2011.zip from https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/PRID11/ and\n"
        "splits_prid2011.json from the original Torchreid documentation (Datasets > PRID2011)."
    )

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.split_path = osp.join(self.dataset_dir, "splits_prid2011.json")
        self.cam_a_dir = osp.join(self.dataset_dir, "prid_2011", "multi_shot", "cam_a")
        self.cam_b_dir = osp.join(self.dataset_dir, "prid_2011", "multi_shot", "cam_b")
        self.check_before_run([self.dataset_dir, self.cam_a_dir, self.cam_b_dir, self.split_path])

        split = pick_split(read_json(self.split_path), split_id, "prid2011")
        train = self.process_dir(split["train"], cam1=True, cam2=True)
        query = self.process_dir(split["test"], cam1=True, cam2=False)
        gallery = self.process_dir(split["test"], cam1=False, cam2=True)
        super().__init__(train, query, gallery, **kwargs)

    def process_dir(self, dirnames: list[str], cam1: bool = True, cam2: bool = True) -> list[tuple]:
        dirname2pid = {d: i for i, d in enumerate(dirnames)}
        tracklets = []
        for dirname in dirnames:
            for use, cam_dir, camid in ((cam1, self.cam_a_dir, 0), (cam2, self.cam_b_dir, 1)):
                if use:
                    frames = list_frames(osp.join(cam_dir, dirname), exts=(".png",))
                    tracklets.append((tuple(frames), dirname2pid[dirname], camid))
        return tracklets
