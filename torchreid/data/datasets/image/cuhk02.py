"""CUHK02 (Li and Wang, CVPR 2013): 1,816 identities in 5 camera-view pairs P1..P5."""

from __future__ import annotations

import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import list_images

__all__ = ["CUHK02"]


@register_image_dataset("cuhk02")
class CUHK02(ImageDataset):
    """CUHK02.

    Reference: Li and Wang. Locally Aligned Feature Transforms across Views. CVPR 2013.
    URL: http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html (request from the authors).

    Statistics: 5 camera-view pairs with 971, 306, 107, 193 and 239 identities (P1..P5), two cameras each.
    ``P<k>/cam{1,2}/<pid>_<n>.png``: pid = name before the first ``_``.

    Protocol: P1-P4 are the training set (identities relabelled per pair, so the same number in two pairs is two
    identities); P5 is the test set, ``cam1`` the query and ``cam2`` the gallery (raw pids). Camera ids count the
    10 cameras in order: P1 cam1 → 0, P1 cam2 → 1, ..., P5 cam1 → 8, P5 cam2 → 9.
    """

    dataset_dir = "cuhk02"
    dataset_url = None
    cam_pairs = ["P1", "P2", "P3", "P4", "P5"]
    test_cam_pair = "P5"
    layout = "<root>/cuhk02/Dataset/P1..P5/{cam1,cam2}/*.png"
    obtain = "CUHK02 is distributed by its authors on request: http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html"

    def __init__(self, root: str = "", **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.data_dir = osp.join(self.dataset_dir, "Dataset")
        pair_dirs = [osp.join(self.data_dir, p, c) for p in self.cam_pairs for c in ("cam1", "cam2")]
        self.check_before_run([self.dataset_dir, self.data_dir, *pair_dirs])
        train, query, gallery = self._data_lists()
        super().__init__(train, query, gallery, **kwargs)

    @staticmethod
    def _pid(path: str) -> str:
        return osp.basename(path).split("_")[0]

    def _data_lists(self) -> tuple[list, list, list]:
        train, query, gallery = [], [], []
        num_train_pids, camid = 0, 0
        for pair in self.cam_pairs:
            paths1 = list_images(osp.join(self.data_dir, pair, "cam1"), (".png",))
            paths2 = list_images(osp.join(self.data_dir, pair, "cam2"), (".png",))
            if pair == self.test_cam_pair:
                try:
                    query += [(p, int(self._pid(p)), camid) for p in paths1]
                    gallery += [(p, int(self._pid(p)), camid + 1) for p in paths2]
                except ValueError as e:
                    raise ValueError(
                        f"CUHK02 {pair}: test image names must start with a numeric pid ({e})"
                    ) from e
            else:
                pids = sorted({self._pid(p) for p in paths1 + paths2})
                label = {pid: num_train_pids + i for i, pid in enumerate(pids)}
                train += [(p, label[self._pid(p)], camid) for p in paths1]
                train += [(p, label[self._pid(p)], camid + 1) for p in paths2]
                num_train_pids += len(pids)
            camid += 2
        return train, query, gallery
