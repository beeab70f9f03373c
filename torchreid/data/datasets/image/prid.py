"""PRID 2011 single-shot (Hirzer et al., SCIA 2011): 385 persons in camera A, 749 in camera B, 200 in both."""

from __future__ import annotations

import os.path as osp
import random

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import SPLIT_SEED, cached_splits, pick_split, require_files

__all__ = ["PRID"]

NUM_SHARED = 200  # persons 1..200 appear in both cameras
NUM_CAM_B = 749  # cam_b persons 201..749 appear only there (gallery distractors)


@register_image_dataset("prid")
class PRID(ImageDataset):
    """PRID 2011 (single-shot images).

    Reference: Hirzer et al. Person Re-Identification by Descriptive and Discriminative Classification. SCIA 2011.
    URL: https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/PRID11/

    Protocol: 10 random splits of the 200 persons seen by both cameras into 100 train / 100 test. Train: both
    images of each train person (relabelled 0..99). Query: the cam_a image of each test person (camid 0).
    Gallery: the cam_b image of each test person plus cam_b persons 201..749 as distractors (camid 1) → 649
    gallery images. Cam_a-only persons 201..385 are unused. Cached in ``prid2011/splits_single_shot.json``
    (person ids only).
    """

    dataset_dir = "prid2011"
    dataset_url = None
    layout = (
        "<root>/prid2011/prid_2011/single_shot/\n"
        "  cam_a/person_0001.png ... person_0385.png\n"
        "  cam_b/person_0001.png ... person_0749.png"
    )
    obtain = "Download PRID 2011 from https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/PRID11/"

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.cam_a_dir = osp.join(self.dataset_dir, "prid_2011", "single_shot", "cam_a")
        self.cam_b_dir = osp.join(self.dataset_dir, "prid_2011", "single_shot", "cam_b")
        self.split_path = osp.join(self.dataset_dir, "splits_single_shot.json")
        self.check_before_run([self.dataset_dir, self.cam_a_dir, self.cam_b_dir])

        splits = cached_splits(self.split_path, self._make_splits, verbose=kwargs.get("verbose", True))
        split = pick_split(splits, split_id, "prid")
        train, query, gallery = self._process(split)
        require_files(
            (r[0] for r in train + query + gallery), f"PRID 2011 single-shot split {split_id}", self.layout
        )
        super().__init__(train, query, gallery, **kwargs)

    @staticmethod
    def _make_splits() -> list[dict]:
        rng = random.Random(SPLIT_SEED)
        pids = list(range(1, NUM_SHARED + 1))
        splits = []
        for _ in range(10):
            train = sorted(rng.sample(pids, NUM_SHARED // 2))
            chosen = set(train)
            splits.append({"train": train, "test": [p for p in pids if p not in chosen]})
        return splits

    def _img(self, cam_dir: str, pid: int) -> str:
        return osp.join(cam_dir, f"person_{pid:04d}.png")

    def _process(self, split: dict) -> tuple[list, list, list]:
        label = {pid: i for i, pid in enumerate(split["train"])}
        train = []
        for pid in split["train"]:
            train += [
                (self._img(self.cam_a_dir, pid), label[pid], 0),
                (self._img(self.cam_b_dir, pid), label[pid], 1),
            ]
        query = [(self._img(self.cam_a_dir, pid), pid, 0) for pid in split["test"]]
        gallery = [(self._img(self.cam_b_dir, pid), pid, 1) for pid in split["test"]]
        gallery += [(self._img(self.cam_b_dir, pid), pid, 1) for pid in range(NUM_SHARED + 1, NUM_CAM_B + 1)]
        return train, query, gallery


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
