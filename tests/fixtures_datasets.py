"""Builders of tiny on-disk dataset trees in the exact layouts the image dataset loaders expect.

Images are 4x8 pixels; the .mat files are written with scipy.io.savemat (MATLAB v5) and h5py (the v7.3-style
``cuhk-03.mat``). Each builder returns the dataset folder it created under ``root``.
"""

from __future__ import annotations

import io
import os
import random
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image


@cache
def _image_bytes(ext: str) -> bytes:
    fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "bmp": "BMP"}[ext.lower()]
    buf = io.BytesIO()
    Image.new("RGB", (4, 8), (120, 60, 30)).save(buf, format=fmt)
    return buf.getvalue()


def img(path: Path | str) -> Path:
    """Write a tiny valid image at ``path`` (format from the extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_image_bytes(path.suffix[1:]))
    return path


# ------------------------------------------------------------------------------------------ market-style (Duke)


def make_duke(root: Path) -> Path:
    """train: 4 ids x 3 images (cams 1,2,8); query: ids 10,11 cam 1; gallery: ids 10,11 cam 2 + id 12 cam 5."""
    base = root / "dukemtmc-reid" / "DukeMTMC-reID"
    for pid in (1, 3, 5, 7):
        for cam in (1, 2, 8):
            img(base / "bounding_box_train" / f"{pid:04d}_c{cam}_f{pid * 100 + cam:07d}.jpg")
    for pid in (10, 11):
        img(base / "query" / f"{pid:04d}_c1_f0000001.jpg")
        img(base / "bounding_box_test" / f"{pid:04d}_c2_f0000002.jpg")
        img(base / "bounding_box_test" / f"{pid:04d}_c2_f0000003.jpg")
    img(base / "bounding_box_test" / "0012_c5_f0000004.jpg")
    return root / "dukemtmc-reid"


# ----------------------------------------------------------------------------------------------------- MSMT17


def make_msmt17(root: Path, version: str = "MSMT17_V1") -> Path:
    """train 3 ids x 2 imgs (+1 val img each), query 2 ids x 1, gallery 2 ids x 2 (cams 1..15)."""
    train_dir, test_dir = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}[
        version
    ]
    main = root / "msmt17" / version
    lists = {k: [] for k in ("train", "val", "query", "gallery")}

    def add(subset: str, folder: str, pid: int, cam: int, n: int) -> None:
        rel = f"{pid:04d}/{pid:04d}_{n:03d}_{cam:02d}_0303morning_{n:04d}_0.jpg"
        img(main / folder / rel)
        lists[subset].append(f"{rel} {pid}")

    for pid in range(3):
        add("train", train_dir, pid, 1 + pid, 0)
        add("train", train_dir, pid, 15, 1)
        add("val", train_dir, pid, 2, 2)
    for pid in range(2):
        add("query", test_dir, pid, 3, 0)
        add("gallery", test_dir, pid, 4, 1)
        add("gallery", test_dir, pid, 5, 2)
    for k, lines in lists.items():
        (main / f"list_{k}.txt").write_text("\n".join(lines) + "\n")
    return root / "msmt17"


# ----------------------------------------------------------------------------------------------------- CUHK03

# (campair, persons) of the fixture; every person has images 0..9 except the empty cells listed
CUHK03_PAIRS = {1: 3, 2: 4}
CUHK03_EMPTY = {(1, 2, 7), (2, 4, 0), (2, 4, 1)}  # (campair, pid, image index 0-based) left empty


def make_cuhk03(root: Path, num_testsets: int = 20) -> Path:
    """A v7.3-style (HDF5) ``cuhk-03.mat`` with 2 camera pairs (3 + 4 persons), 20 classic test sets of 2 persons
    each, and the two new-protocol config files (train = persons of pair 1, test = persons of pair 2)."""
    import h5py
    from scipy.io import savemat

    d = root / "cuhk03"
    (d / "cuhk03_release").mkdir(parents=True)
    ref_dtype = h5py.ref_dtype
    with h5py.File(d / "cuhk03_release" / "cuhk-03.mat", "w") as f:
        refs = f.create_group("#refs#")
        counter = iter(range(10**6))

        def store(arr: np.ndarray):
            return refs.create_dataset(f"r{next(counter)}", data=arr).ref

        for kind in ("detected", "labeled"):
            camp_refs = []
            for campid, npids in CUHK03_PAIRS.items():
                cell = np.empty((10, npids), dtype=ref_dtype)  # MATLAB stores (npids, 10) transposed
                for pid in range(1, npids + 1):
                    for i in range(10):
                        if (campid, pid, i) in CUHK03_EMPTY:
                            cell[i, pid - 1] = store(np.zeros(2, dtype=np.uint64))
                        else:
                            val = 10 * pid + i + (0 if kind == "detected" else 100)
                            cell[i, pid - 1] = store(np.full((3, 4, 8), val, dtype=np.uint8))  # (C, W, H)
                camp_refs.append(store(cell))
            f.create_dataset(kind, data=np.array([camp_refs], dtype=ref_dtype))
        rng = random.Random(0)
        everyone = [(c, p) for c, n in CUHK03_PAIRS.items() for p in range(1, n + 1)]
        test_refs = [
            store(np.array(rng.sample(everyone, 2), dtype=np.float64).T) for _ in range(num_testsets)
        ]
        f.create_dataset("testsets", data=np.array([test_refs], dtype=ref_dtype))

    for kind in ("detected", "labeled"):
        names, labels = [], []
        gid = 0
        for campid, npids in CUHK03_PAIRS.items():
            for pid in range(1, npids + 1):
                gid += 1
                for i in range(10):
                    if (campid, pid, i) not in CUHK03_EMPTY:
                        names.append(f"{campid}_{pid:03d}_{1 if i < 5 else 2}_{i + 1:02d}.png")
                        labels.append(gid)
        train_idx = [i + 1 for i, n in enumerate(names) if n.startswith("1_")]
        test = [i + 1 for i, n in enumerate(names) if n.startswith("2_")]
        query_idx = [i for i in test if names[i - 1].endswith(("_1_01.png", "_2_06.png"))]
        gallery_idx = [i for i in test if i not in query_idx]
        filelist = np.empty((len(names), 1), dtype=object)
        filelist[:, 0] = names
        savemat(
            d / f"cuhk03_new_protocol_config_{kind}.mat",
            {
                "filelist": filelist,
                "labels": np.array(labels, dtype=np.float64)[:, None],
                "train_idx": np.array(train_idx, dtype=np.float64)[:, None],
                "query_idx": np.array(query_idx, dtype=np.float64)[:, None],
                "gallery_idx": np.array(gallery_idx, dtype=np.float64)[:, None],
            },
        )
    return d


# ------------------------------------------------------------------------------------ VIPeR, GRID, CUHK01, ...


def make_viper(root: Path, n: int = 10) -> Path:
    for i in range(n):
        img(root / "viper" / "VIPeR" / "cam_a" / f"{i:03d}_45.bmp")
        img(root / "viper" / "VIPeR" / "cam_b" / f"{i:03d}_90.bmp")
    return root / "viper"


def make_grid(root: Path, num_ids: int = 8, num_train: int = 4, distractors: int = 5) -> Path:
    """ids 1..num_ids each in probe (cam 1..8) and gallery; ``distractors`` pid-0 gallery images; 10 partitions."""
    from scipy.io import savemat

    base = root / "grid" / "underground_reid"
    for pid in range(1, num_ids + 1):
        cam = (pid - 1) % 8 + 1
        img(base / "probe" / f"{pid:04d}_{cam}_25004_107_32_130.jpeg")
        img(base / "gallery" / f"{pid:04d}_{cam % 8 + 1}_25004_107_32_130.jpeg")
    for k in range(distractors):
        img(base / "gallery" / f"0000_{k % 8 + 1}_{k:05d}_1_1_1.jpeg")
    parts = np.empty((1, 10), dtype=object)
    rng = np.random.RandomState(0)
    for s in range(10):
        train = np.sort(rng.choice(np.arange(1, num_ids + 1), num_train, replace=False))
        test = np.setdiff1d(np.arange(1, num_ids + 1), train)
        parts[0, s] = {"idxProbe": test[None, :], "idxGallery": test[None, :], "idxtrain": train[None, :]}
    savemat(base / "features_and_partitions.mat", {"trainIdxAll": parts})
    return root / "grid"


def make_cuhk01(root: Path, num_ids: int = 6) -> Path:
    for pid in range(1, num_ids + 1):
        for k in range(1, 5):
            img(root / "cuhk01" / "campus" / f"{pid:04d}{k:03d}.png")
    return root / "cuhk01"


def make_ilids(root: Path, num_ids: int = 7) -> Path:
    for pid in range(1, num_ids + 1):
        for k in range(1, 2 + pid % 3 + 1):  # 2..4 images each
            img(root / "ilids" / "i-LIDS_Pedestrian" / "Persons" / f"{pid:04d}{k:03d}.jpg")
    return root / "ilids"


def make_prid(root: Path) -> Path:
    base = root / "prid2011" / "prid_2011" / "single_shot"
    for pid in range(1, 386):
        img(base / "cam_a" / f"person_{pid:04d}.png")
    for pid in range(1, 750):
        img(base / "cam_b" / f"person_{pid:04d}.png")
    return root / "prid2011"


def make_sensereid(root: Path) -> Path:
    base = root / "sensereid" / "SenseReID"
    for pid in (3, 8):
        img(base / "test_probe" / f"{pid:04d}_0.jpg")
    for pid in (3, 8, 20):
        img(base / "test_gallery" / f"{pid:04d}_1.jpg")
    return root / "sensereid"


def make_cuhk02(root: Path) -> Path:
    """P1..P4: 2 ids each (2 images per camera); P5: 3 ids (1 image per camera)."""
    base = root / "cuhk02" / "Dataset"
    for p in range(1, 6):
        ids = (1, 2, 3) if p == 5 else (1, 2)
        per_cam = 1 if p == 5 else 2
        for pid in ids:
            for cam in (1, 2):
                for n in range(per_cam):
                    img(base / f"P{p}" / f"cam{cam}" / f"{pid:03d}_{cam}{n}.png")
    return root / "cuhk02"


def make_cuhksysu(root: Path) -> Path:
    for pid in (1, 2, 5):
        for s in range(3):
            img(root / "cuhksysu" / "cropped_images" / f"p{pid:05d}_s{s:05d}_{s}.jpg")
    return root / "cuhksysu"


def make_university1652(root: Path) -> Path:
    base = root / "university1652" / "University-Release"
    for bid in (1, 4, 9):
        for view, n in (("drone", 2), ("satellite", 1), ("street", 1)):
            for k in range(n):
                img(base / "train" / view / f"{bid:04d}" / f"image-{k:02d}.jpeg")
    for bid in (11, 12):
        img(base / "test" / "query_drone" / f"{bid:04d}" / "image-01.jpeg")
        img(base / "test" / "query_drone" / f"{bid:04d}" / "image-02.jpeg")
        img(base / "test" / "gallery_satellite" / f"{bid:04d}" / f"{bid:04d}.jpg")
    os.makedirs(base / "test" / "gallery_satellite" / "0013", exist_ok=True)
    img(base / "test" / "gallery_satellite" / "0013" / "0013.jpg")
    return root / "university1652"
