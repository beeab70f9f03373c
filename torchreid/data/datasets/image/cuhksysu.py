"""CUHK-SYSU person crops (Xiao et al., CVPR 2017): a training-only source, one camera."""

from __future__ import annotations

import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import list_images

__all__ = ["CUHKSYSU"]


@register_image_dataset("cuhksysu")
class CUHKSYSU(ImageDataset):
    """CUHK-SYSU (cropped person images).

    Reference: Xiao et al. Joint Detection and Identification Feature Learning for Person Search. CVPR 2017.
    URL: https://github.com/ShuangLI59/person_search

    Statistics: 11,934 identities, 34,574 images, names ``p00001_s00001_1.jpg`` (pid = text before the first
    ``_``). Training only (``_train_only``): query and gallery hold a single placeholder image and the dataset
    cannot be a target. All images get camid 0.
    """

    dataset_dir = "cuhksysu"
    dataset_url = None
    _train_only = True
    layout = "<root>/cuhksysu/cropped_images/p00001_s00001_1.jpg ..."

    def __init__(self, root: str = "", **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.data_dir = osp.join(self.dataset_dir, "cropped_images")
        self.check_before_run([self.dataset_dir, self.data_dir])

        paths = list_images(self.data_dir, (".jpg",))
        if not paths:
            raise FileNotFoundError(f"no .jpg images in {self.data_dir}. Expected layout:\n{self.layout}")
        names = [osp.basename(p).split("_")[0] for p in paths]
        label = {name: i for i, name in enumerate(sorted(set(names)))}
        train = [(p, label[n], 0) for p, n in zip(paths, names)]
        query = [train[0]]  # placeholders: training-only dataset
        gallery = [train[0]]
        super().__init__(train, query, gallery, **kwargs)
