"""SenseReID (Zhao et al., CVPR 2017): a test-only benchmark, 1,718 identities."""

from __future__ import annotations

import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import list_images

__all__ = ["SenseReID"]


@register_image_dataset("sensereid")
class SenseReID(ImageDataset):
    """SenseReID.

    Reference: Zhao et al. Spindle Net: Person Re-identification with Human Body Region Guided Feature
    Decomposition and Fusion. CVPR 2017.
    URL: https://drive.google.com/file/d/0B56OfSrVI8hubVJLTzkwV2VaOWM

    Statistics (test only): query 1,040 images / 521 ids, gallery 3,388 images / 1,718 ids. Names
    ``{pid}_{camid}.jpg``. Pids are relabelled 0..N-1 consistently over query and gallery. There is no training
    split: ``train`` repeats query + gallery only so the data manager can be built (use it as a target).
    """

    dataset_dir = "sensereid"
    dataset_url = None
    layout = "<root>/sensereid/SenseReID/\n  test_probe/0000_0.jpg ...\n  test_gallery/0000_1.jpg ..."
    obtain = "Download SenseReID from https://drive.google.com/file/d/0B56OfSrVI8hubVJLTzkwV2VaOWM"

    def __init__(self, root: str = "", **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.query_dir = osp.join(self.dataset_dir, "SenseReID", "test_probe")
        self.gallery_dir = osp.join(self.dataset_dir, "SenseReID", "test_gallery")
        self.check_before_run([self.dataset_dir, self.query_dir, self.gallery_dir])

        query = self._process(self.query_dir)
        gallery = self._process(self.gallery_dir)
        label = {pid: i for i, pid in enumerate(sorted({r[1] for r in query + gallery}))}
        query = [(p, label[pid], camid) for p, pid, camid in query]
        gallery = [(p, label[pid], camid) for p, pid, camid in gallery]
        train = query + gallery  # placeholder: SenseReID has no training split
        super().__init__(train, query, gallery, **kwargs)

    @staticmethod
    def _process(folder: str) -> list[tuple[str, int, int]]:
        data = []
        for path in list_images(folder, (".jpg",)):
            try:
                pid, camid = (int(x) for x in osp.splitext(osp.basename(path))[0].split("_"))
            except ValueError as e:
                raise ValueError(f"{path}: SenseReID names are <pid>_<camid>.jpg") from e
            data.append((path, pid, camid))
        return data
