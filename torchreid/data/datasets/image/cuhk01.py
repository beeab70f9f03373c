"""CUHK01 (Li et al., ACCV 2012): 971 identities, 3,884 images, 2 cameras (2 images per identity and camera)."""

from __future__ import annotations

import logging
import os.path as osp

import numpy as np

from .. import register_image_dataset
from ..dataset import ImageDataset
from ..download import extract_archive
from ._common import (
    SPLIT_SEED,
    list_images,
    load_cached_split,
    split_entry,
)

__all__ = ["CUHK01"]

logger = logging.getLogger(__name__)


@register_image_dataset("cuhk01")
class CUHK01(ImageDataset):
    """CUHK01.

    Reference: Li et al. Human Reidentification with Transferred Metric Learning. ACCV 2012.
    URL: http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html (request from the authors: manual download).

    Statistics: 971 identities, 3,884 images, 2 cameras. ``campus/0001001.png``: pid = first 4 digits - 1,
    camid = (next 3 digits - 1) // 2 (images 1-2 → camera 0, 3-4 → camera 1).

    Protocol: 10 random splits with 485 train identities (the rest test); each used both ways (camera 0 as query
    and camera 1 as gallery, then the reverse) → 20 split ids. Test identities keep their raw pid. Cached in
    ``cuhk01/splits.json`` (relative paths). ``CUHK01.zip`` placed in ``cuhk01/`` is extracted automatically.
    """

    dataset_dir = "cuhk01"
    dataset_url = None
    layout = (
        "<root>/cuhk01/campus/0001001.png ... (971 ids x 4 images)\n"
        "  or just <root>/cuhk01/CUHK01.zip (extracted on first use)."
    )
    obtain = "CUHK01 is distributed by its authors on request: http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html"

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.zip_path = osp.join(self.dataset_dir, "CUHK01.zip")
        self.campus_dir = osp.join(self.dataset_dir, "campus")
        self.split_path = osp.join(self.dataset_dir, "splits.json")
        if not osp.isdir(self.campus_dir) and osp.isfile(self.zip_path):
            logger.info(f"Extracting {self.zip_path}")
            extract_archive(self.zip_path, self.dataset_dir)
        self.check_before_run([self.dataset_dir, self.campus_dir])

        train, query, gallery = load_cached_split(self, "cuhk01", split_id, kwargs.get("verbose", True))
        super().__init__(train, query, gallery, **kwargs)

    def _make_splits(self) -> list[dict]:
        items = []
        for path in list_images(self.campus_dir, (".png",)):
            name = osp.basename(path)
            try:
                pid, camid = int(name[:4]) - 1, (int(name[4:7]) - 1) // 2
            except ValueError as e:
                raise ValueError(f"{path}: CUHK01 names are <pid:4 digits><image:3 digits>.png") from e
            items.append((path, pid, camid))
        pids = sorted({pid for _, pid, _ in items})
        if not pids:
            raise FileNotFoundError(f"no .png images in {self.campus_dir}")
        num_train = len(pids) // 2
        rng = np.random.RandomState(SPLIT_SEED)
        splits = []
        for _ in range(10):
            order = rng.permutation(len(pids))
            train_pids = sorted(pids[i] for i in order[:num_train])
            label = {pid: i for i, pid in enumerate(train_pids)}
            train, test_a, test_b = [], [], []
            for path, pid, camid in items:
                if pid in label:
                    train.append((path, label[pid], camid))
                elif camid == 0:
                    test_a.append((path, pid, camid))
                else:
                    test_b.append((path, pid, camid))
            for query, gallery in ((test_a, test_b), (test_b, test_a)):
                splits.append(
                    split_entry(self.dataset_dir, train, query, gallery, num_train, len(pids) - num_train)
                )
        return splits


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
