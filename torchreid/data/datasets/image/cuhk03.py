"""CUHK03 (Li et al., CVPR 2014): 1,467 identities, 5 camera pairs, labelled and detected boxes."""

from __future__ import annotations

import logging
import os
import os.path as osp
from typing import TYPE_CHECKING

import numpy as np

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import from_json_records, loadmat_checked, pick_split, read_json, require_files, to_json_records
from ._common import write_json as _write_json

if TYPE_CHECKING:
    import h5py

__all__ = ["CUHK03"]

logger = logging.getLogger(__name__)


@register_image_dataset("cuhk03")
class CUHK03(ImageDataset):
    """CUHK03.

    Reference: Li et al. DeepReID: Deep Filter Pairing Neural Network for Person Re-identification. CVPR 2014.
    URL: http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html (request from the authors); the new protocol
    files come from https://github.com/zhunzhong07/person-re-ranking/tree/master/CUHK03-NP.

    ``cuhk03_release/cuhk-03.mat`` (MATLAB v7.3, read with h5py) holds the images; on first use they are written
    once as PNGs ``images_{detected,labeled}/{campair}_{pid:03d}_{view}_{img:02d}.png`` (image index < 5 → view 1,
    else view 2; camid = view - 1), and the splits are cached as ``splits_{classic,new}_{detected,labeled}.json``
    (paths relative to the dataset folder).

    Protocols: the new 767/700 protocol (Zhong et al. CVPR 2017; one split, from
    ``cuhk03_new_protocol_config_{detected,labeled}.mat``) by default, or with ``cuhk03_classic_split=True`` the
    20 classic 1,367/100 splits stored in the .mat (query = gallery = all test images; evaluate with
    ``use_metric_cuhk03``). ``cuhk03_labeled=True`` uses the manually labelled boxes instead of the detected ones.
    """

    dataset_dir = "cuhk03"
    dataset_url = None
    layout = (
        "<root>/cuhk03/\n"
        "  cuhk03_release/cuhk-03.mat\n"
        "  cuhk03_new_protocol_config_detected.mat\n"
        "  cuhk03_new_protocol_config_labeled.mat"
    )
    obtain = (
        "cuhk-03.mat comes from the authors (http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html); the two "
        "protocol files from https://github.com/zhunzhong07/person-re-ranking/tree/master/CUHK03-NP"
    )

    def __init__(
        self,
        root: str = "",
        split_id: int = 0,
        cuhk03_labeled: bool = False,
        cuhk03_classic_split: bool = False,
        **kwargs,
    ):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        d = self.dataset_dir
        self.data_dir = osp.join(d, "cuhk03_release")
        self.raw_mat_path = osp.join(self.data_dir, "cuhk-03.mat")
        self.imgs_dir = {t: osp.join(d, f"images_{t}") for t in ("detected", "labeled")}
        self.imgs_detected_dir, self.imgs_labeled_dir = self.imgs_dir["detected"], self.imgs_dir["labeled"]
        self.split_json = {
            (proto, t): osp.join(d, f"splits_{proto}_{t}.json")
            for proto in ("classic", "new")
            for t in ("detected", "labeled")
        }
        self.split_new_mat = {
            t: osp.join(d, f"cuhk03_new_protocol_config_{t}.mat") for t in ("detected", "labeled")
        }
        self.check_before_run([d, self.data_dir, self.raw_mat_path, *self.split_new_mat.values()])

        computed = self.preprocess_split(verbose=kwargs.get("verbose", True))

        key = ("classic" if cuhk03_classic_split else "new", "labeled" if cuhk03_labeled else "detected")
        split_path = self.split_json[key]
        splits = computed[key] if computed else read_json(split_path)
        split = pick_split(splits, split_id, f"cuhk03 ({split_path})")
        train, query, gallery = (from_json_records(split[k], d) for k in ("train", "query", "gallery"))
        require_files((r[0] for r in train + query + gallery), f"CUHK03 split {split_id} ({split_path})")
        super().__init__(train, query, gallery, **kwargs)

    # ---------------------------------------------------------------------------------------------- preprocess

    def preprocess_split(self, verbose: bool = True) -> dict | None:
        """Write the PNGs and the four split files once (skipped, returning None, when they all exist).

        Returns the splits computed, keyed like ``split_json`` (used directly if a split file cannot be written).
        """
        if all(osp.isdir(p) for p in self.imgs_dir.values()) and all(
            osp.exists(p) for p in self.split_json.values()
        ):
            return None
        from ....utils.optional import require

        h5py = require("h5py", "Preparing CUHK03 from its .mat file")

        try:
            mat = h5py.File(self.raw_mat_path, "r")
        except OSError as e:
            raise ValueError(
                f"could not read {self.raw_mat_path} ({e}). It must be the MATLAB v7.3 (HDF5) file of the CUHK03 "
                "release; re-download it if it is truncated"
            ) from e
        with mat:
            try:
                meta = {t: self._extract_images(mat, t, verbose) for t in ("detected", "labeled")}
                test_sets = [
                    {(int(c), int(p)) for c, p in np.asarray(mat[ref][:]).T.tolist()}
                    for ref in mat["testsets"][0]
                ]
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise ValueError(
                    f"{self.raw_mat_path} does not have the CUHK03 structure (expected 'detected', 'labeled' and "
                    f"'testsets' cell arrays): {type(e).__name__}: {e}"
                ) from e

        if verbose:
            logger.info(f"Creating the {len(test_sets)} classic splits ...")
        computed = {}
        for t in ("detected", "labeled"):
            computed[("classic", t)] = [self._classic_split(meta[t], test) for test in test_sets]
        for t in ("detected", "labeled"):
            if verbose:
                logger.info(f"Creating the new (767/700) split for {t} images ...")
            computed[("new", t)] = [self._new_split(self.split_new_mat[t], self.imgs_dir[t])]
        for key, splits in computed.items():
            _write_json(splits, self.split_json[key])
        return computed

    def _extract_images(
        self, mat: h5py.File, image_type: str, verbose: bool
    ) -> list[tuple[int, int, list[str]]]:
        from PIL import Image

        save_dir = self.imgs_dir[image_type]
        try:
            os.makedirs(save_dir, exist_ok=True)
        except OSError as e:
            raise OSError(
                f"cannot create {save_dir} to write the CUHK03 images ({e}); make {self.dataset_dir} writable"
            ) from e
        meta = []
        for campid, camp_ref in enumerate(mat[image_type][0]):
            camp = np.asarray(mat[camp_ref][:]).T  # (num_pids, 10) object references
            for pid in range(camp.shape[0]):
                paths = []
                for imgid, img_ref in enumerate(camp[pid, :]):
                    img = np.asarray(mat[img_ref][:]).T
                    if img.size == 0 or img.ndim < 3:
                        continue  # empty cell: some persons have images in one view only
                    viewid = 1 if imgid < 5 else 2
                    name = f"{campid + 1:01d}_{pid + 1:03d}_{viewid:01d}_{imgid + 1:02d}.png"
                    path = osp.join(save_dir, name)
                    if not osp.isfile(path):
                        tmp = f"{path}.tmp-{os.getpid()}.png"
                        Image.fromarray(np.ascontiguousarray(img.astype(np.uint8))).save(tmp)
                        os.replace(tmp, path)
                    paths.append(path)
                if not paths:
                    raise ValueError(
                        f"{self.raw_mat_path}: camera pair {campid + 1}, person {pid + 1} has no images"
                    )
                meta.append((campid + 1, pid + 1, paths))
            if verbose:
                logger.info(f"- {image_type}: camera pair {campid + 1} done ({camp.shape[0]} identities)")
        return meta

    def _classic_split(self, meta: list, test_set: set[tuple[int, int]]) -> dict:
        train, test = [], []
        num_train_pids = num_test_pids = 0
        for campid, pid, paths in meta:
            is_test = (campid, pid) in test_set
            label = num_test_pids if is_test else num_train_pids
            records = [(p, label, int(osp.basename(p).split("_")[2]) - 1) for p in paths]
            if is_test:
                test += records
                num_test_pids += 1
            else:
                train += records
                num_train_pids += 1
        test_json = to_json_records(test, self.dataset_dir)
        return {
            "train": to_json_records(train, self.dataset_dir),
            "query": test_json,
            "gallery": test_json,
            "num_train_pids": num_train_pids,
            "num_train_imgs": len(train),
            "num_query_pids": num_test_pids,
            "num_query_imgs": len(test),
            "num_gallery_pids": num_test_pids,
            "num_gallery_imgs": len(test),
        }

    def _new_split(self, mat_path: str, img_dir: str) -> dict:
        cfg = loadmat_checked(mat_path)
        try:
            filelist = [str(np.asarray(x).ravel()[0]) for x in cfg["filelist"].ravel()]
            labels = cfg["labels"].ravel().astype(int)
            idxs = {k: cfg[f"{k}_idx"].ravel().astype(int) - 1 for k in ("train", "query", "gallery")}
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f"{mat_path} does not hold the CUHK03 new-protocol fields (filelist, labels, train_idx, "
                f"query_idx, gallery_idx): {type(e).__name__}: {e}"
            ) from e
        train_pids = sorted({int(labels[i]) for i in idxs["train"]})
        label = {pid: i for i, pid in enumerate(train_pids)}

        def records(key: str, relabel: bool) -> list:
            out = []
            for i in idxs[key]:
                name = filelist[i]
                pid = int(labels[i])
                out.append(
                    (osp.join(img_dir, name), label[pid] if relabel else pid, int(name.split("_")[2]) - 1)
                )
            return out

        train, query, gallery = records("train", True), records("query", False), records("gallery", False)
        return {
            "train": to_json_records(train, self.dataset_dir),
            "query": to_json_records(query, self.dataset_dir),
            "gallery": to_json_records(gallery, self.dataset_dir),
            "num_train_pids": len(train_pids),
            "num_train_imgs": len(train),
            "num_query_pids": len({r[1] for r in query}),
            "num_query_imgs": len(query),
            "num_gallery_pids": len({r[1] for r in gallery}),
            "num_gallery_imgs": len(gallery),
        }


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import mkdir_if_missing, write_json  # noqa: E402, F401
