"""DukeMTMC-VideoReID (Wu et al., CVPR 2018): tracklets cut from the DukeMTMC multi-camera tracking videos."""

from __future__ import annotations

import logging
import os
import os.path as osp
import re
import warnings

from .. import register_video_dataset
from ..dataset import VideoDataset
from ._common import read_json, tracklets_from_json, tracklets_to_json, write_json

__all__ = ["DukeMTMCVidReID"]

logger = logging.getLogger(__name__)

_FRAME_NO = re.compile(r"F(\d+)")


@register_video_dataset("dukemtmcvidreid")
class DukeMTMCVidReID(VideoDataset):
    """DukeMTMC-VideoReID.

    References: Ristani et al. Performance Measures and a Data Set for Multi-Target, Multi-Camera Tracking. ECCVW
    2016; Wu et al. Exploit the Unknown Gradually: One-Shot Video-Based Person Re-Identification by Stepwise
    Learning. CVPR 2018.

    Statistics: 702 train identities (2,196 tracklets), 702 query identities (702 tracklets), 1,110 gallery
    identities (2,636 tracklets), 8 cameras. The dataset was withdrawn by its authors; no download is offered.

    Frames are named ``0001_C6_F0099_X30823.jpg`` (or the older ``0001C6F0099X30823.jpg``): the camera is read
    from the frame name, the frame order from its ``F`` number. The tracklet lists are cached as
    ``split_{train,query,gallery}.json`` (paths relative to the dataset folder).
    """

    dataset_dir = "dukemtmc-vidreid"
    dataset_url = None
    layout = (
        "<root>/dukemtmc-vidreid/\n"
        "  DukeMTMC-VideoReID/{train,query,gallery}/<pid>/<tracklet>/*.jpg   e.g. 0001_C6_F0099_X30823.jpg\n"
        "The dataset was withdrawn by its authors and is no longer distributed."
    )

    def __init__(self, root: str = "", split_id: int = 0, min_seq_len: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        base = osp.join(self.dataset_dir, "DukeMTMC-VideoReID")
        self.train_dir = osp.join(base, "train")
        self.query_dir = osp.join(base, "query")
        self.gallery_dir = osp.join(base, "gallery")
        self.split_train_json_path = osp.join(self.dataset_dir, "split_train.json")
        self.split_query_json_path = osp.join(self.dataset_dir, "split_query.json")
        self.split_gallery_json_path = osp.join(self.dataset_dir, "split_gallery.json")
        self.min_seq_len = min_seq_len
        self.check_before_run([self.dataset_dir, self.train_dir, self.query_dir, self.gallery_dir])

        train = self.process_dir(self.train_dir, self.split_train_json_path, relabel=True)
        query = self.process_dir(self.query_dir, self.split_query_json_path, relabel=False)
        gallery = self.process_dir(self.gallery_dir, self.split_gallery_json_path, relabel=False)
        super().__init__(train, query, gallery, **kwargs)

    def process_dir(self, dir_path: str, json_path: str, relabel: bool) -> list[tuple]:
        """Tracklets of one subset (from the JSON cache when present), minus those shorter than ``min_seq_len``."""
        tracklets = None
        if osp.exists(json_path):
            tracklets = tracklets_from_json(read_json(json_path)["tracklets"], self.dataset_dir)
            if tracklets and not osp.exists(tracklets[0][0][0]):  # frames moved since the cache was written
                warnings.warn(f"{json_path} points to missing frames; rebuilding it", stacklevel=2)
                tracklets = None
        if tracklets is None:
            tracklets = self._scan(dir_path, relabel)
            write_json({"tracklets": tracklets_to_json(tracklets, self.dataset_dir)}, json_path)
        kept = [t for t in tracklets if len(t[0]) >= self.min_seq_len]
        if relabel and len(kept) < len(tracklets):
            # min_seq_len may drop every tracklet of an identity: keep the train labels contiguous (0..N-1)
            pid2label = {pid: label for label, pid in enumerate(sorted({t[1] for t in kept}))}
            kept = [(paths, pid2label[pid], camid) for paths, pid, camid in kept]
        return kept

    def _scan(self, dir_path: str, relabel: bool) -> list[tuple]:
        logger.info(f'=> Scanning "{dir_path}" for tracklets (done once, then cached)')
        pdirs = sorted(d for d in os.listdir(dir_path) if d.isdigit() and osp.isdir(osp.join(dir_path, d)))
        pid2label = {pid: label for label, pid in enumerate(sorted({int(d) for d in pdirs}))}
        tracklets = []
        for pdir in pdirs:
            pid = pid2label[int(pdir)] if relabel else int(pdir)
            person_dir = osp.join(dir_path, pdir)
            for tdir in sorted(os.listdir(person_dir)):
                tracklet_dir = osp.join(person_dir, tdir)
                if not osp.isdir(tracklet_dir):
                    continue
                frames = self._ordered_frames(tracklet_dir)
                if frames:
                    tracklets.append((tuple(frames), pid, self._camid(osp.basename(frames[0]))))
        return tracklets

    @staticmethod
    def _camid(img_name: str) -> int:
        # new naming 0001_C6_F0099_X30823.jpg, old naming 0001C6F0099X30823.jpg
        return int(img_name[6] if "_" in img_name else img_name[5]) - 1

    @staticmethod
    def _ordered_frames(tracklet_dir: str) -> list[str]:
        """Frames sorted by their ``F`` number; gaps in the numbering are reported (naming the tracklet)."""
        numbered = []
        for name in os.listdir(tracklet_dir):
            if not name.lower().endswith(".jpg"):
                continue
            m = _FRAME_NO.search(name[4:])  # skip the pid prefix
            if m is None:
                raise ValueError(
                    f"cannot read the frame number (F<digits>) of {osp.join(tracklet_dir, name)}"
                )
            numbered.append((int(m.group(1)), name))
        numbered.sort()
        if numbered:
            present = {n for n, _ in numbered}
            missing = [n for n in range(numbered[0][0], numbered[-1][0] + 1) if n not in present]
            if missing:
                shown = ", ".join(f"F{n:04d}" for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
                warnings.warn(
                    f"tracklet {tracklet_dir} is missing {len(missing)} frame(s) ({shown}); using the frames present",
                    stacklevel=3,
                )
        return [osp.join(tracklet_dir, name) for _, name in numbered]
