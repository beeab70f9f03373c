"""MSMT17 (Wei et al., CVPR 2018): 4,101 identities, 15 cameras; versions V1 and V2 (faces blurred)."""

from __future__ import annotations

import os.path as osp

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import require_files

__all__ = ["MSMT17"]

# V1 and V2 differ only in the image folder names (V2 has blurred faces).
VERSIONS = {
    "MSMT17_V1": ("train", "test"),
    "MSMT17_V2": ("mask_train_v2", "mask_test_v2"),
}


@register_image_dataset("msmt17")
class MSMT17(ImageDataset):
    """MSMT17.

    Reference: Wei et al. Person Transfer GAN to Bridge Domain Gap for Person Re-Identification. CVPR 2018.
    URL: http://www.pkuvmc.com/publications/msmt17.html (request access from the authors: manual download).

    Statistics: 4,101 identities, 15 cameras; train 32,621 (1,041 ids) + query 11,659 + gallery 82,161 images.
    Each ``list_*.txt`` line is ``<relpath> <pid>``; the camera is ``int(relpath.split('_')[2]) - 1``.
    ``list_val.txt`` (images of train identities) joins the training set only with ``combineall=True``, as in the
    published protocol.
    """

    dataset_dir = "msmt17"
    dataset_url = None
    layout = (
        "<root>/msmt17/MSMT17_V1/{train/, test/, list_train.txt, list_val.txt, list_query.txt, list_gallery.txt}\n"
        "  or <root>/msmt17/MSMT17_V2/{mask_train_v2/, mask_test_v2/, list_train.txt, list_val.txt, ...}"
    )
    obtain = "MSMT17 is distributed by its authors on request: http://www.pkuvmc.com/publications/msmt17.html"

    def __init__(self, root: str = "", **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)

        version = next((v for v in VERSIONS if osp.isdir(osp.join(self.dataset_dir, v))), None)
        if version is None:
            raise FileNotFoundError(
                f"Neither MSMT17_V1 nor MSMT17_V2 found in {self.dataset_dir}.\n"
                + self.missing_data_message(osp.join(self.dataset_dir, "MSMT17_V1"))
            )
        main = osp.join(self.dataset_dir, version)
        train_name, test_name = VERSIONS[version]
        self.version = version
        self.train_dir = osp.join(main, train_name)
        self.test_dir = osp.join(main, test_name)
        lists = {k: osp.join(main, f"list_{k}.txt") for k in ("train", "val", "query", "gallery")}
        self.check_before_run([self.dataset_dir, self.train_dir, self.test_dir, *lists.values()])

        train = self._read_list(self.train_dir, lists["train"])
        val = self._read_list(self.train_dir, lists["val"])
        query = self._read_list(self.test_dir, lists["query"])
        gallery = self._read_list(self.test_dir, lists["gallery"])
        # To compare fairly with published results, val images join training only when combining everything.
        if kwargs.get("combineall", False):
            train = train + val
        pid2label = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _ in train}))}
        train = [(p, pid2label[pid], camid) for p, pid, camid in train]
        super().__init__(train, query, gallery, **kwargs)

    @staticmethod
    def _read_list(dir_path: str, list_path: str) -> list[tuple[str, int, int]]:
        data = []
        with open(list_path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rel, pid = line.split()
                    camid = int(osp.basename(rel).split("_")[2]) - 1
                    data.append((osp.join(dir_path, rel), int(pid), camid))
                except (ValueError, IndexError) as e:
                    raise ValueError(
                        f"{list_path}:{lineno}: expected '<pid>/<pid>_<n>_<cam>_....jpg <pid>', got {line!r}"
                    ) from e
        require_files((p for p, _, _ in data), f"MSMT17 listed in {list_path}")
        return data


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
TRAIN_DIR_KEY = "train_dir"
TEST_DIR_KEY = "test_dir"
VERSION_DICT = {v: {TRAIN_DIR_KEY: tr, TEST_DIR_KEY: te} for v, (tr, te) in VERSIONS.items()}
