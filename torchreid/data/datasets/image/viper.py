"""VIPeR (Gray et al., PETS 2007): 632 identities, one image in each of two cameras."""

from __future__ import annotations

import os.path as osp

import numpy as np

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import (
    SPLIT_SEED,
    list_images,
    load_cached_split,
    split_entry,
)

__all__ = ["VIPeR"]


@register_image_dataset("viper")
class VIPeR(ImageDataset):
    """VIPeR.

    Reference: Gray et al. Evaluating appearance models for recognition, reacquisition, and tracking. PETS 2007.
    URL: https://vision.soe.ucsc.edu/node/178

    Statistics: 632 identities, 1,264 images, 2 cameras. ``cam_a/*.bmp`` and ``cam_b/*.bmp`` are paired by
    sorted index (camid 0 and 1).

    Protocol: 10 random splits of 316 train / 316 test identities; each is used both ways (cam_a as query and
    cam_b as gallery, then the reverse), giving 20 split ids (2k: a→b, 2k+1: b→a). Test identities are numbered
    0..315 in query and gallery. The splits are generated once with a fixed seed and cached in
    ``viper/splits.json`` (paths relative to the dataset folder).
    """

    dataset_dir = "viper"
    dataset_url = "https://users.soe.ucsc.edu/~manduchi/VIPeR.v1.0.zip"
    layout = "<root>/viper/VIPeR/{cam_a,cam_b}/*.bmp   (e.g. cam_a/000_45.bmp; both folders hold 632 images)"

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.cam_a_dir = osp.join(self.dataset_dir, "VIPeR", "cam_a")
        self.cam_b_dir = osp.join(self.dataset_dir, "VIPeR", "cam_b")
        self.split_path = osp.join(self.dataset_dir, "splits.json")
        self.check_before_run([self.dataset_dir, self.cam_a_dir, self.cam_b_dir])

        train, query, gallery = load_cached_split(self, "viper", split_id, kwargs.get("verbose", True))
        super().__init__(train, query, gallery, **kwargs)

    def _make_splits(self) -> list[dict]:
        cam_a = list_images(self.cam_a_dir, (".bmp",))
        cam_b = list_images(self.cam_b_dir, (".bmp",))
        if len(cam_a) != len(cam_b) or not cam_a:
            raise ValueError(
                f"VIPeR pairs cam_a and cam_b images by sorted index, but {self.cam_a_dir} holds {len(cam_a)} and "
                f"{self.cam_b_dir} holds {len(cam_b)} .bmp files"
            )
        num_pids = len(cam_a)
        num_train = num_pids // 2
        rng = np.random.RandomState(SPLIT_SEED)
        splits = []
        for _ in range(10):
            order = rng.permutation(num_pids)
            train_idxs, test_idxs = order[:num_train], order[num_train:]
            train = []
            for label, idx in enumerate(train_idxs):
                train += [(cam_a[idx], label, 0), (cam_b[idx], label, 1)]
            test_a = [(cam_a[idx], pid, 0) for pid, idx in enumerate(test_idxs)]
            test_b = [(cam_b[idx], pid, 1) for pid, idx in enumerate(test_idxs)]
            for query, gallery in ((test_a, test_b), (test_b, test_a)):
                splits.append(
                    split_entry(self.dataset_dir, train, query, gallery, num_train, num_pids - num_train)
                )
        return splits


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
