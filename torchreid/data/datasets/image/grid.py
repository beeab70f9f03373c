"""GRID (Loy et al., CVPR 2009): 250 paired identities + 775 gallery distractors, 8 cameras."""

from __future__ import annotations

import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import (
    list_images,
    load_cached_split,
    loadmat_checked,
    split_entry,
)

__all__ = ["GRID"]


@register_image_dataset("grid")
class GRID(ImageDataset):
    """GRID (QMUL underground re-id).

    Reference: Loy et al. Multi-camera activity correlation analysis. CVPR 2009.
    URL: http://personal.ie.cuhk.edu.hk/~ccloy/downloads_qmul_underground_reid.html

    Statistics: 250 identities seen in two cameras (``probe/`` 250 and ``gallery/`` 1,025 images, of which 775
    are distractors with pid 0), 8 cameras. Names ``0001_1_25004_107_32_130.jpeg``: pid, camera (1-based), ...

    Protocol: the 10 fixed partitions of ``features_and_partitions.mat`` (``trainIdxAll``: 125 train identities
    each); the other 125 identities' probe images are the query, their gallery images plus all distractors the
    gallery. Distractors (pid 0) are ``_junk_pids`` so ``combineall`` leaves them out. Cached in
    ``grid/splits.json`` (relative paths).
    """

    dataset_dir = "grid"
    dataset_url = "https://personal.ie.cuhk.edu.hk/~ccloy/files/datasets/underground_reid.zip"
    _junk_pids = [0]
    layout = (
        "<root>/grid/underground_reid/\n"
        "  probe/0001_1_25004_107_32_130.jpeg ...\n"
        "  gallery/0000_1_....jpeg ...\n"
        "  features_and_partitions.mat"
    )

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        base = osp.join(self.dataset_dir, "underground_reid")
        self.probe_path = osp.join(base, "probe")
        self.gallery_path = osp.join(base, "gallery")
        self.split_mat_path = osp.join(base, "features_and_partitions.mat")
        self.split_path = osp.join(self.dataset_dir, "splits.json")
        self.check_before_run([self.dataset_dir, self.probe_path, self.gallery_path, self.split_mat_path])

        train, query, gallery = load_cached_split(self, "grid", split_id, kwargs.get("verbose", True))
        super().__init__(train, query, gallery, **kwargs)

    def _train_ids(self) -> list[list[int]]:
        mat = loadmat_checked(self.split_mat_path)
        try:
            parts = mat["trainIdxAll"][0]
            # each cell holds a 1x1 struct whose third field is the 1x125 row of train identity numbers
            return [[int(i) for i in parts[k][0][0][2][0]] for k in range(len(parts))]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ValueError(
                f"{self.split_mat_path} does not hold the expected 'trainIdxAll' partitions ({type(e).__name__}: "
                f"{e}); download underground_reid.zip again"
            ) from e

    @staticmethod
    def _parse(path: str) -> tuple[int, int]:
        fields = osp.basename(path).split("_")
        try:
            return int(fields[0]), int(fields[1]) - 1
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path}: GRID names are <pid>_<camera>_....jpeg") from e

    def _make_splits(self) -> list[dict]:
        probe = [(p, *self._parse(p)) for p in list_images(self.probe_path, (".jpeg", ".jpg"))]
        gallery_imgs = [(p, *self._parse(p)) for p in list_images(self.gallery_path, (".jpeg", ".jpg"))]
        splits = []
        for train_ids in self._train_ids():
            label = {pid: i for i, pid in enumerate(train_ids)}
            train, query, gallery = [], [], []
            for src, dst in ((probe, query), (gallery_imgs, gallery)):
                for path, pid, camid in src:
                    if pid in label:
                        train.append((path, label[pid], camid))
                    else:
                        dst.append((path, pid, camid))
            splits.append(split_entry(self.dataset_dir, train, query, gallery, len(train_ids)))
        return splits


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
