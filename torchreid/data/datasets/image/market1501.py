"""Market-1501 (Zheng et al., ICCV 2015): 1,501 identities, 6 cameras."""

from __future__ import annotations

import os.path as osp
import warnings

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import market_style_dir

__all__ = ["Market1501"]


@register_image_dataset("market1501")
class Market1501(ImageDataset):
    """Market-1501.

    Reference: Zheng et al. Scalable Person Re-identification: A Benchmark. ICCV 2015.
    URL: http://www.liangzheng.org/Project/project_reid.html

    Subsets: train 751 ids / 12,936 images; query 750 ids / 3,368 images; gallery 751 ids / 15,913 images
    (including the pid-0 distractors), 6 cameras. File names ``0002_c1s1_000451_03.jpg``: pid 2, camera 1
    (camid 0). pid ``-1`` marks junk images (skipped); pid ``0`` marks distractors (kept in the gallery, left out
    by ``combineall``). ``market1501_500k=True`` adds the 500k distractor images of ``images/`` to the gallery.
    """

    _junk_pids = [0, -1]
    dataset_dir = "market1501"
    dataset_url = "http://188.138.127.15:81/Datasets/Market-1501-v15.09.15.zip"
    layout = (
        "<root>/market1501/Market-1501-v15.09.15/\n"
        "    bounding_box_train/0002_c1s1_000451_03.jpg ...   (12,936 images)\n"
        "    query/0001_c1s1_001051_00.jpg ...                (3,368 images)\n"
        "    bounding_box_test/0000_c1s1_000151_01.jpg ...    (19,732 images, pid -1 = junk)\n"
        "    images/...                                       (only for market1501_500k: the 500k distractors)\n"
        "(the old layout with these folders directly under <root>/market1501/ is accepted too)"
    )
    versioned_dir = "Market-1501-v15.09.15"
    max_cam = 6
    max_pid = 1501

    def __init__(self, root: str = "", market1501_500k: bool = False, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)

        # the versioned folder is the layout of the official archive; the old flat layout is still accepted
        self.data_dir = self.dataset_dir
        versioned = osp.join(self.dataset_dir, self.versioned_dir)
        if osp.isdir(versioned):
            self.data_dir = versioned
        elif not osp.isdir(osp.join(self.dataset_dir, "bounding_box_train")):
            self.data_dir = versioned  # neither layout: report the official one as missing
        else:
            warnings.warn(
                f'{self.dataset_dir} uses the old layout; the official one puts "bounding_box_train", "query" and '
                f'"bounding_box_test" under "{self.versioned_dir}/" (both are read).',
                stacklevel=2,
            )

        self.train_dir = osp.join(self.data_dir, "bounding_box_train")
        self.query_dir = osp.join(self.data_dir, "query")
        self.gallery_dir = osp.join(self.data_dir, "bounding_box_test")
        self.extra_gallery_dir = osp.join(self.data_dir, "images")
        self.market1501_500k = market1501_500k

        required = [self.data_dir, self.train_dir, self.query_dir, self.gallery_dir]
        if market1501_500k:
            required.append(self.extra_gallery_dir)
        self.check_before_run(required)

        train = self.process_dir(self.train_dir, relabel=True)
        query = self.process_dir(self.query_dir, relabel=False)
        gallery = self.process_dir(self.gallery_dir, relabel=False)
        if market1501_500k:
            gallery += self.process_dir(self.extra_gallery_dir, relabel=False)

        super().__init__(train, query, gallery, **kwargs)

    def process_dir(self, dir_path: str, relabel: bool = False) -> list[tuple[str, int, int]]:
        """Records of one folder of ``<pid>_c<cam>...jpg`` images (sorted by name; pid -1 skipped).

        ``relabel`` maps the pids to 0..N-1 in increasing raw-pid order (the training set).
        """
        return market_style_dir(dir_path, relabel, max_cam=self.max_cam, max_pid=self.max_pid, exts=(".jpg",))
