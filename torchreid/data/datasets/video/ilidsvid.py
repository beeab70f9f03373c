"""iLIDS-VID (Wang et al., ECCV 2014): 300 identities, 2 cameras, one tracklet per identity and camera."""

from __future__ import annotations

import os
import os.path as osp

import numpy as np

from .. import register_video_dataset
from ..dataset import VideoDataset
from ._common import cached_splits, list_frames, loadmat_checked, pick_split

__all__ = ["iLIDSVID"]


@register_video_dataset("ilidsvid")
class iLIDSVID(VideoDataset):
    """iLIDS-VID.

    Reference: Wang et al. Person Re-Identification by Video Ranking. ECCV 2014.
    URL: https://xiatian-zhu.github.io/downloads_qmul_iLIDS-VID_ReID_dataset.html

    Statistics: 300 identities, 600 tracklets (23-192 frames each), 2 cameras.
    Protocol: 10 splits from ``train_test_splits_ilidsvid.mat`` (``ls_set``: one row per split holding 1-based
    indices into the sorted person folders; the first half of a row is the test set, following Wang et al.);
    150 train / 150 test identities; query = the cam1 tracklets of the test identities, gallery = their cam2
    tracklets. The splits are cached as ``splits.json`` (person folder names) next to the data.
    """

    dataset_dir = "ilids-vid"
    dataset_url = "https://www.eecs.qmul.ac.uk/~xiatian/iLIDS-VID/iLIDS-VID.tar"
    layout = (
        "<root>/ilids-vid/\n"
        "  i-LIDS-VID/sequences/{cam1,cam2}/person<NNN>/*.png\n"
        "  train-test people splits/train_test_splits_ilidsvid.mat\n"
        "Get it from https://xiatian-zhu.github.io/downloads_qmul_iLIDS-VID_ReID_dataset.html (iLIDS-VID.tar)."
    )

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)

        self.data_dir = osp.join(self.dataset_dir, "i-LIDS-VID")
        self.split_dir = osp.join(self.dataset_dir, "train-test people splits")
        self.split_mat_path = osp.join(self.split_dir, "train_test_splits_ilidsvid.mat")
        self.split_path = osp.join(self.dataset_dir, "splits.json")
        self.cam_1_path = osp.join(self.data_dir, "sequences", "cam1")
        self.cam_2_path = osp.join(self.data_dir, "sequences", "cam2")
        self.check_before_run(
            [self.dataset_dir, self.data_dir, self.split_dir, self.cam_1_path, self.cam_2_path]
        )

        splits = cached_splits(self.split_path, self._make_splits, verbose=kwargs.get("verbose", True))
        split = pick_split(splits, split_id, "ilidsvid")
        train = self.process_data(split["train"], cam1=True, cam2=True)
        query = self.process_data(split["test"], cam1=True, cam2=False)
        gallery = self.process_data(split["test"], cam1=False, cam2=True)
        super().__init__(train, query, gallery, **kwargs)

    def _make_splits(self) -> list[dict]:
        if not osp.isfile(self.split_mat_path):
            raise FileNotFoundError(
                f"iLIDS-VID split file not found: {self.split_mat_path}\nExpected layout:\n{self.layout}"
            )
        ls_set = np.asarray(loadmat_checked(self.split_mat_path)["ls_set"]).astype(np.int64)
        num_ids = ls_set.shape[1]
        half = num_ids // 2

        cam1 = sorted(d for d in os.listdir(self.cam_1_path) if osp.isdir(osp.join(self.cam_1_path, d)))
        cam2 = sorted(d for d in os.listdir(self.cam_2_path) if osp.isdir(osp.join(self.cam_2_path, d)))
        if set(cam1) != set(cam2):
            only = sorted(set(cam1) ^ set(cam2))
            raise ValueError(f"iLIDS-VID: persons seen in only one camera: {', '.join(only[:10])}")
        if len(cam1) != num_ids or ls_set.min() < 1 or ls_set.max() > num_ids:
            raise ValueError(
                f"{self.split_mat_path}: ls_set indexes {num_ids} persons (1-based) but {self.cam_1_path} holds "
                f"{len(cam1)} person folders"
            )
        splits = []
        for row in ls_set:
            # first half of each row is the test set, the rest the training set (Wang et al. ECCV'14)
            test_idx = sorted(int(i) - 1 for i in row[:half])
            train_idx = sorted(int(i) - 1 for i in row[half:])
            splits.append({"train": [cam1[i] for i in train_idx], "test": [cam1[i] for i in test_idx]})
        return splits

    def process_data(self, dirnames: list[str], cam1: bool = True, cam2: bool = True) -> list[tuple]:
        dirname2pid = {d: i for i, d in enumerate(dirnames)}
        tracklets = []
        for dirname in dirnames:
            for use, cam_path, camid in ((cam1, self.cam_1_path, 0), (cam2, self.cam_2_path, 1)):
                if use:
                    frames = list_frames(osp.join(cam_path, dirname), exts=(".png",))
                    tracklets.append((tuple(frames), dirname2pid[dirname], camid))
        return tracklets


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
