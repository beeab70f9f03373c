"""University-1652 (Zheng et al., ACM MM 2020): drone ↔ satellite building re-identification."""

from __future__ import annotations

import glob
import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import IMG_EXTS

__all__ = ["University1652"]


@register_image_dataset("university1652")
class University1652(ImageDataset):
    """University-1652.

    Reference: Zheng et al. University-1652: A Multi-view Multi-source Benchmark for Drone-based Geo-localization.
    ACM Multimedia 2020. URL: https://github.com/layumi/University1652-Baseline

    Layout: ``University-Release/train/<view>/<building id>/<image>`` (views drone, satellite, street, google),
    ``test/query_drone/<id>/<image>`` (query) and ``test/gallery_satellite/<id>/<image>`` (gallery). The pid is
    the parent folder's number (relabelled 0..N-1 for training). There are no cameras: as in the original, every
    image gets its own camid (a running counter over train, query and gallery), so no gallery image is discarded
    as a same-camera match. Downloaded from Google Drive when the folder is absent.
    """

    dataset_dir = "university1652"
    dataset_url = "https://drive.google.com/uc?id=1iVnP4gjw-iHXa0KerZQ1IfIO0i1jADsR"
    layout = (
        "<root>/university1652/University-Release/\n"
        "  train/{drone,satellite,street,google}/<id>/*.jpg\n"
        "  test/query_drone/<id>/*.jpeg\n"
        "  test/gallery_satellite/<id>/*.jpg"
    )

    def __init__(self, root: str = "", **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        base = osp.join(self.dataset_dir, "University-Release")
        self.train_dir = osp.join(base, "train")
        self.query_dir = osp.join(base, "test", "query_drone")
        self.gallery_dir = osp.join(base, "test", "gallery_satellite")
        self.check_before_run([self.dataset_dir, self.train_dir, self.query_dir, self.gallery_dir])

        self._next_camid = 0
        train = self._process(self.train_dir, relabel=True, pattern="*/*/*")
        query = self._process(self.query_dir, relabel=False, pattern="*/*")
        gallery = self._process(self.gallery_dir, relabel=False, pattern="*/*")
        super().__init__(train, query, gallery, **kwargs)

    def _process(self, folder: str, relabel: bool, pattern: str) -> list[tuple[str, int, int]]:
        paths = sorted(p for p in glob.glob(osp.join(folder, pattern)) if p.lower().endswith(IMG_EXTS))
        items = []
        for p in paths:
            try:
                items.append((p, int(osp.basename(osp.dirname(p)))))
            except ValueError as e:
                raise ValueError(
                    f"{p}: University-1652 images sit in a folder named by the building number"
                ) from e
        label = {pid: i for i, pid in enumerate(sorted({pid for _, pid in items}))}
        data = []
        for p, pid in items:
            data.append((p, label[pid] if relabel else pid, self._next_camid))
            self._next_camid += 1
        return data
