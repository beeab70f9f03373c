"""The image dataset zoo: every key on a generated tree in its exact layout, split caching, error messages, the
real VIPeR / PRID folders (when ../shared/data is there), safe download/extraction and custom data."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import urllib.error
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, require
from fixtures_datasets import (
    img,
    make_cuhk01,
    make_cuhk02,
    make_cuhk03,
    make_cuhksysu,
    make_duke,
    make_grid,
    make_ilids,
    make_msmt17,
    make_prid,
    make_sensereid,
    make_university1652,
    make_viper,
)

from torchreid.data.datasets import download as dl
from torchreid.data.datasets import image_dataset_names, init_image_dataset
from torchreid.data.datasets.image.custom import CustomDataError, register_custom_dataset

ZOO = [
    "dukemtmcreid",
    "msmt17",
    "cuhk03",
    "viper",
    "grid",
    "cuhk01",
    "ilids",
    "prid",
    "sensereid",
    "cuhk02",
    "cuhksysu",
    "university1652",
]


def stats(records) -> tuple[int, int, int]:
    """(#ids, #images, #cameras)"""
    return len({r[1] for r in records}), len(records), len({r[2] for r in records})


def load(key: str, root: Path, **kw):
    return init_image_dataset(key, root=str(root), verbose=False, **kw)


def paths(records) -> list[str]:
    return [r[0] for r in records]


def test_all_keys_registered():
    names = image_dataset_names()
    for key in [*ZOO, "custom"]:
        assert key in names


# ------------------------------------------------------------------------------------------- fixed protocols


def test_dukemtmcreid(tmp_path):
    make_duke(tmp_path)
    ds = load("dukemtmcreid", tmp_path)
    assert stats(ds.train) == (4, 12, 3)
    assert sorted({r[1] for r in ds.train}) == [0, 1, 2, 3]  # relabelled
    assert {r[2] for r in ds.train} == {0, 1, 7}  # cameras 1, 2, 8 → 0-based
    assert stats(ds.query) == (2, 2, 1) and {r[1] for r in ds.query} == {10, 11}  # raw pids
    assert stats(ds.gallery) == (3, 5, 2)
    assert ds.num_train_pids == 4


def test_dukemtmcreid_bad_camera(tmp_path):
    make_duke(tmp_path)
    img(tmp_path / "dukemtmc-reid/DukeMTMC-reID/query/0010_c9_f0000009.jpg")
    with pytest.raises(ValueError, match=r"camera 9 is outside 1\.\.8"):
        load("dukemtmcreid", tmp_path)


@pytest.mark.parametrize("version", ["MSMT17_V1", "MSMT17_V2"])
def test_msmt17(tmp_path, version):
    make_msmt17(tmp_path, version)
    ds = load("msmt17", tmp_path)
    assert stats(ds.train) == (3, 6, 4)
    assert {r[2] for r in ds.train} == {0, 1, 2, 14}  # cam = int(name.split('_')[2]) - 1
    assert stats(ds.query) == (2, 2, 1) and {r[2] for r in ds.query} == {2}
    assert stats(ds.gallery) == (2, 4, 2)
    assert all(version in p for p in paths(ds.train + ds.query + ds.gallery))


def test_msmt17_val_joins_train_only_with_combineall(tmp_path):
    make_msmt17(tmp_path)
    plain = load("msmt17", tmp_path)
    combined = load("msmt17", tmp_path, combineall=True)
    val = {p for p in paths(combined.train) if "_002_02_" in p}
    assert len(val) == 3 and not val & set(paths(plain.train))
    assert set(paths(plain.train)) | val | set(paths(plain.query + plain.gallery)) == set(
        paths(combined.train)
    )


def test_msmt17_missing_listed_image(tmp_path):
    make_msmt17(tmp_path)
    victim = next((tmp_path / "msmt17/MSMT17_V1/test").rglob("*.jpg"))
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        load("msmt17", tmp_path)


def test_msmt17_no_version_folder(tmp_path):
    (tmp_path / "msmt17").mkdir()
    with pytest.raises(FileNotFoundError, match="MSMT17_V1") as e:
        load("msmt17", tmp_path)
    # the error says how to obtain the data (manual download from the authors), not only the layout
    assert "pkuvmc.com" in str(e.value) and "list_train.txt" in str(e.value)


# ------------------------------------------------------------------------------------------------------ CUHK03


def test_cuhk03_new_protocol_and_pngs(tmp_path):
    d = make_cuhk03(tmp_path)
    ds = load("cuhk03", tmp_path)
    # pair 1 (3 persons, one empty cell) trains; pair 2 (4 persons, two empty cells) tests
    assert stats(ds.train) == (3, 29, 2) and sorted({r[1] for r in ds.train}) == [0, 1, 2]
    assert stats(ds.query) == (4, 7, 2)
    assert stats(ds.gallery) == (4, 31, 2)
    assert {r[1] for r in ds.query} == {4, 5, 6, 7}  # raw labels of the protocol file
    assert all("images_detected" in p for p in paths(ds.train + ds.query + ds.gallery))
    # PNGs written once, named {campair}_{pid:03d}_{view}_{img:02d}.png, camid = view - 1
    names = sorted(os.listdir(d / "images_detected"))
    assert len(names) == 67 and "1_001_1_01.png" in names and "1_002_2_08.png" not in names
    assert "2_004_1_01.png" not in names and "2_004_1_03.png" in names
    from PIL import Image

    with Image.open(d / "images_detected" / "1_003_2_07.png") as im:
        assert im.size == (4, 8) and im.getpixel((0, 0)) == (36, 36, 36)  # value 10 * pid + img index
    with Image.open(d / "images_labeled" / "1_003_2_07.png") as im:
        assert im.getpixel((0, 0)) == (136, 136, 136)
    for r in ds.train + ds.query + ds.gallery:
        assert r[2] == int(os.path.basename(r[0]).split("_")[2]) - 1
    # cached splits use relative paths
    split = json.loads((d / "splits_new_detected.json").read_text())
    assert len(split) == 1 and not os.path.isabs(split[0]["train"][0][0])
    mtime = (d / "images_detected" / "1_001_1_01.png").stat().st_mtime_ns
    load("cuhk03", tmp_path)  # second run: nothing rewritten
    assert (d / "images_detected" / "1_001_1_01.png").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match=r"valid split ids are 0\.\.0"):
        load("cuhk03", tmp_path, split_id=1)


def test_cuhk03_labeled_and_classic(tmp_path):
    d = make_cuhk03(tmp_path)
    lab = load("cuhk03", tmp_path, cuhk03_labeled=True)
    assert all("images_labeled" in p for p in paths(lab.train + lab.query + lab.gallery))
    assert stats(lab.train) == (3, 29, 2)
    for split_id in (0, 19):
        ds = load("cuhk03", tmp_path, cuhk03_classic_split=True, split_id=split_id)
        assert ds.num_train_pids == 5 and len({r[1] for r in ds.query}) == 2
        assert paths(ds.query) == paths(ds.gallery)  # classic: query = gallery = the test images
        assert len(ds.train) + len(ds.query) == 67
        assert sorted({r[1] for r in ds.query}) == [0, 1]
    assert len(json.loads((d / "splits_classic_labeled.json").read_text())) == 20
    with pytest.raises(ValueError, match=r"0\.\.19"):
        load("cuhk03", tmp_path, cuhk03_classic_split=True, split_id=20)


def test_cuhk03_unreadable_mat(tmp_path):
    d = make_cuhk03(tmp_path)
    (d / "cuhk03_release" / "cuhk-03.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"could not read .*cuhk-03\.mat"):
        load("cuhk03", tmp_path)


def test_cuhk03_missing_protocol_file(tmp_path):
    d = make_cuhk03(tmp_path)
    (d / "cuhk03_new_protocol_config_labeled.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"cuhk03_new_protocol_config_labeled.mat"):
        load("cuhk03", tmp_path)


# ------------------------------------------------------------------------------------------- random splits


def _assert_split_cache(root: Path, key: str, split_file: str, n_splits: int):
    """Relative paths in the cache; moving the root keeps it valid and gives the same split."""
    ds = load(key, root, split_id=1)
    cache = root / split_file
    splits = json.loads(cache.read_text())
    assert len(splits) == n_splits
    text = cache.read_text()
    assert str(root) not in text  # nothing absolute
    moved = root.parent / (root.name + "_moved")
    shutil.move(str(root), str(moved))
    again = load(key, moved, split_id=1)
    rel = lambda rs, base: [(os.path.relpath(r[0], base), r[1], r[2]) for r in rs]  # noqa: E731
    for a, b in ((ds.train, again.train), (ds.query, again.query), (ds.gallery, again.gallery)):
        assert rel(a, root) == rel(b, moved)
    assert all(os.path.exists(p) for p in paths(again.train + again.query + again.gallery))
    with pytest.raises(ValueError, match=rf"valid split ids are 0\.\.{n_splits - 1}"):
        load(key, moved, split_id=n_splits)
    return moved


def test_viper(tmp_path):
    root = tmp_path / "data"
    make_viper(root, n=10)
    ds = load("viper", root)
    assert stats(ds.train) == (5, 10, 2)
    assert stats(ds.query) == (5, 5, 1) and stats(ds.gallery) == (5, 5, 1)
    assert {r[2] for r in ds.query} == {0} and {r[2] for r in ds.gallery} == {1}
    ds1 = load("viper", root, split_id=1)  # same random split, used the other way round
    assert paths(ds1.train) == paths(ds.train)
    assert paths(ds1.query) == paths(ds.gallery) and paths(ds1.gallery) == paths(ds.query)
    # pairs by sorted index: the query's and gallery's image of one pid have the same number
    for q, g in zip(ds.query, ds.gallery):
        assert q[1] == g[1] and os.path.basename(q[0])[:3] == os.path.basename(g[0])[:3]
    _assert_split_cache(root, "viper", "viper/splits.json", 20)


def test_viper_regenerates_identically(tmp_path):
    make_viper(tmp_path, n=12)
    first = json.loads((load("viper", tmp_path) and (tmp_path / "viper/splits.json")).read_text())
    (tmp_path / "viper/splits.json").unlink()
    load("viper", tmp_path)
    assert json.loads((tmp_path / "viper/splits.json").read_text()) == first  # fixed seed


def test_viper_unpaired_folders(tmp_path):
    make_viper(tmp_path, n=4)
    (tmp_path / "viper/VIPeR/cam_b/003_90.bmp").unlink()
    with pytest.raises(ValueError, match="holds 4 and"):
        load("viper", tmp_path)


def test_viper_missing_camera_folder(tmp_path):
    make_viper(tmp_path, n=4)
    shutil.rmtree(tmp_path / "viper/VIPeR/cam_b")
    with pytest.raises(FileNotFoundError, match="cam_b"):
        load("viper", tmp_path)


def test_grid(tmp_path):
    root = tmp_path / "data"
    make_grid(root, num_ids=8, num_train=4, distractors=5)
    ds = load("grid", root)
    assert stats(ds.train)[:2] == (4, 8)
    assert stats(ds.query)[:2] == (4, 4)
    assert stats(ds.gallery)[:2] == (5, 9)  # 4 test ids + the pid-0 distractors
    assert sum(r[1] == 0 for r in ds.gallery) == 5
    assert {r[1] for r in ds.query} == {r[1] for r in ds.gallery} - {0}
    assert all(0 <= r[2] <= 7 for r in ds.train + ds.query + ds.gallery)
    from scipy.io import loadmat

    parts = loadmat(str(root / "grid/underground_reid/features_and_partitions.mat"))["trainIdxAll"][0]
    train_raw = sorted(int(os.path.basename(p)[:4]) for p in paths(ds.train) if "probe" in p)
    assert train_raw == sorted(parts[0][0][0][2][0].tolist())  # the .mat partition, not a random one
    moved = _assert_split_cache(root, "grid", "grid/splits.json", 10)
    combined = load("grid", moved, combineall=True)
    assert not any(os.path.basename(p).startswith("0000_") for p in paths(combined.train))  # junk pid 0


def test_grid_unreadable_mat(tmp_path):
    make_grid(tmp_path)
    (tmp_path / "grid/underground_reid/features_and_partitions.mat").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match=r"features_and_partitions.mat"):
        load("grid", tmp_path)


def test_cuhk01(tmp_path):
    root = tmp_path / "data"
    make_cuhk01(root, num_ids=6)
    ds = load("cuhk01", root)
    assert stats(ds.train) == (3, 12, 2)
    assert stats(ds.query) == (3, 6, 1) and {r[2] for r in ds.query} == {0}
    assert stats(ds.gallery) == (3, 6, 1) and {r[2] for r in ds.gallery} == {1}
    for p, pid, camid, *_ in ds.query + ds.gallery:
        name = os.path.basename(p)
        assert pid == int(name[:4]) - 1 and camid == (int(name[4:7]) - 1) // 2
    _assert_split_cache(root, "cuhk01", "cuhk01/splits.json", 20)


def test_cuhk01_extracts_zip(tmp_path):
    src = tmp_path / "src"
    make_cuhk01(src, num_ids=2)
    (tmp_path / "data/cuhk01").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "data/cuhk01/CUHK01.zip", "w") as zf:
        for f in sorted((src / "cuhk01/campus").iterdir()):
            zf.write(f, f"campus/{f.name}")
    ds = load("cuhk01", tmp_path / "data")
    assert stats(ds.train)[:2] == (1, 4)


def test_ilids(tmp_path):
    root = tmp_path / "data"
    make_ilids(root, num_ids=7)
    for split_id in range(10):
        ds = load("ilids", root, split_id=split_id)
        assert ds.num_train_pids == 3
        assert stats(ds.query)[:2] == (4, 4) and stats(ds.gallery)[:2] == (4, 4)
        assert {r[1] for r in ds.query} == {r[1] for r in ds.gallery}
        assert not set(paths(ds.query)) & set(paths(ds.gallery))
        train_raw = {int(os.path.basename(p)[:4]) for p in paths(ds.train)}
        assert not train_raw & {r[1] for r in ds.query}
        assert len(ds.train) == sum(2 + pid % 3 for pid in train_raw)  # all images of the train ids
    _assert_split_cache(root, "ilids", "ilids/splits.json", 10)


def test_prid(tmp_path):
    root = tmp_path / "data"
    make_prid(root)
    ds = load("prid", root)
    assert stats(ds.train) == (100, 200, 2)
    assert stats(ds.query) == (100, 100, 1) and {r[2] for r in ds.query} == {0}
    assert stats(ds.gallery) == (649, 649, 1) and {r[2] for r in ds.gallery} == {1}
    assert {r[1] for r in ds.query} <= set(range(1, 201))
    assert {r[1] for r in ds.gallery} == {r[1] for r in ds.query} | set(range(201, 750))
    _assert_split_cache(root, "prid", "prid2011/splits_single_shot.json", 10)


def test_prid_missing_image(tmp_path):
    make_prid(tmp_path)
    (tmp_path / "prid2011/prid_2011/single_shot/cam_b/person_0700.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"person_0700.png"):
        load("prid", tmp_path)


# ------------------------------------------------------------------------------------------ the other layouts


def test_sensereid(tmp_path):
    make_sensereid(tmp_path)
    ds = load("sensereid", tmp_path)
    assert stats(ds.query) == (2, 2, 1) and stats(ds.gallery) == (3, 3, 1)
    assert {r[1] for r in ds.gallery} == {0, 1, 2}  # relabelled consistently over query and gallery
    assert {r[1] for r in ds.query} == {0, 1}
    assert len(ds.train) == 5  # placeholder (test-only dataset)


def test_cuhk02(tmp_path):
    make_cuhk02(tmp_path)
    ds = load("cuhk02", tmp_path)
    assert stats(ds.train) == (8, 32, 8)  # P1-P4: 2 ids each, relabelled per pair
    assert {r[2] for r in ds.train} == set(range(8))
    assert stats(ds.query) == (3, 3, 1) and {r[2] for r in ds.query} == {8}
    assert stats(ds.gallery) == (3, 3, 1) and {r[2] for r in ds.gallery} == {9}
    assert {r[1] for r in ds.query} == {1, 2, 3}


def test_cuhksysu(tmp_path):
    make_cuhksysu(tmp_path)
    ds = load("cuhksysu", tmp_path)
    assert stats(ds.train) == (3, 9, 1)
    assert ds._train_only
    assert len(ds.query) == 1 and len(ds.gallery) == 1


def test_university1652(tmp_path):
    make_university1652(tmp_path)
    ds = load("university1652", tmp_path)
    assert stats(ds.train)[:2] == (3, 12)
    assert stats(ds.query)[:2] == (2, 4) and {r[1] for r in ds.query} == {11, 12}
    assert stats(ds.gallery)[:2] == (3, 3)
    camids = [r[2] for r in ds.train + ds.query + ds.gallery]
    assert len(set(camids)) == len(camids)  # one pseudo-camera per image


def test_university1652_downloads_when_absent(tmp_path, monkeypatch):
    """The folder is absent: the Drive archive is fetched (mocked gdown) and extracted safely."""
    src = tmp_path / "src"
    make_university1652(src)
    archive = tmp_path / "u.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted((src / "university1652").rglob("*")):
            if f.is_file():
                zf.write(f, str(f.relative_to(src / "university1652")))
    calls = []

    def fake_download(url=None, output=None, quiet=False, id=None, fuzzy=False, **kw):
        calls.append(url or id)
        shutil.copy(archive, output)
        return output

    import gdown

    monkeypatch.setattr(gdown, "download", fake_download)
    ds = load("university1652", tmp_path / "data")
    assert calls and "drive.google.com" in calls[0]
    assert stats(ds.query)[:2] == (2, 4)


@pytest.mark.parametrize(
    "key, maker",
    [
        ("dukemtmcreid", make_duke),
        ("sensereid", make_sensereid),
        ("cuhk02", make_cuhk02),
        ("cuhksysu", make_cuhksysu),
    ],
)
def test_manual_datasets_absent_folder(tmp_path, key, maker):
    """No URL and no folder: an error naming the dataset folder (nothing is downloaded)."""
    with pytest.raises((FileNotFoundError, RuntimeError)) as e:
        load(key, tmp_path)
    assert str(tmp_path) in str(e.value)


# --------------------------------------------------------------------------------------------- real data


def _link_tree(src: Path, dst: Path, folders: list[str]) -> None:
    """Recreate ``folders`` of ``src`` under ``dst`` as symlinks (read-only data, writable dataset folder)."""
    for rel in folders:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src / rel, dst / rel)


@pytest.mark.real_data
def test_real_viper(tmp_path):
    src = require(DATA / "viper" / "VIPeR")
    _link_tree(src.parent, tmp_path / "viper", ["VIPeR/cam_a", "VIPeR/cam_b"])
    seen_test = []
    for split_id in range(20):
        ds = load("viper", tmp_path, split_id=split_id)
        assert stats(ds.train) == (316, 632, 2)
        assert stats(ds.query) == (316, 316, 1) and stats(ds.gallery) == (316, 316, 1)
        assert not {os.path.basename(p)[:3] for p in paths(ds.train)} & {
            os.path.basename(p)[:3] for p in paths(ds.query)
        }
        seen_test.append(frozenset(paths(ds.query + ds.gallery)))
    assert len(set(seen_test)) == 10  # 10 random splits, each used both ways
    assert len({os.path.basename(p)[:3] for p in paths(ds.train + ds.query)}) == 632
    cache = json.loads((tmp_path / "viper/splits.json").read_text())
    assert len(cache) == 20 and cache[0]["train"][0][0].startswith("VIPeR/")


@pytest.mark.real_data
def test_real_prid(tmp_path):
    src = require(DATA / "prid2011" / "prid_2011" / "single_shot")
    _link_tree(
        src.parent.parent,
        tmp_path / "prid2011",
        ["prid_2011/single_shot/cam_a", "prid_2011/single_shot/cam_b"],
    )
    for split_id in range(10):
        ds = load("prid", tmp_path, split_id=split_id)
        assert stats(ds.train) == (100, 200, 2)
        assert stats(ds.query) == (100, 100, 1)
        assert stats(ds.gallery) == (649, 649, 1)
        assert {r[1] for r in ds.query} | {int(os.path.basename(p)[7:11]) for p in paths(ds.train)} == set(
            range(1, 201)
        )
        assert all(os.path.isfile(p) for p in paths(ds.train + ds.query + ds.gallery))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        load("prid", tmp_path, split_id=10)


# ------------------------------------------------------------------------------------------------ download.py


class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, length: int | None = None, fail_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self._fail_after = fail_after

    def read(self, n=-1):
        if self._fail_after is not None and self.tell() >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(n, 4) if self._fail_after is not None else n)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def _serve(monkeypatch, data: bytes, **kw):
    def fake_urlopen(request, timeout=None):
        return _FakeResponse(data, **kw)

    monkeypatch.setattr(dl.urllib.request, "urlopen", fake_urlopen)


def _leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".part") or n.startswith(".")]


def test_download_file_ok_and_checksum(tmp_path, monkeypatch):
    data = b"hello torchreid" * 100
    _serve(monkeypatch, data)
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    out = dl.download_file("https://example.org/x.bin", str(tmp_path / "x.bin"), sha256=sha, quiet=True)
    assert Path(out).read_bytes() == data and not _leftovers(tmp_path)


def test_download_checksum_mismatch_keeps_the_file_aside(tmp_path, monkeypatch):
    import hashlib

    _serve(monkeypatch, b"tampered")
    got = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(dl.DownloadError, match="Checksum mismatch") as e:
        dl.download_file("https://example.org/x.bin", str(tmp_path / "x.bin"), sha256="0" * 64, quiet=True)
    assert "0" * 64 in str(e.value) and got in str(e.value)  # both digests named
    assert os.listdir(tmp_path) == [f"x.bin.rejected-{got[:12]}"]  # kept aside, never used as x.bin


def test_download_interrupted_removes_partial(tmp_path, monkeypatch):
    _serve(monkeypatch, b"x" * 64, fail_after=16)
    with pytest.raises(dl.DownloadError, match="place it at"):
        dl.download_file("https://example.org/big.zip", str(tmp_path / "big.zip"), quiet=True)
    assert os.listdir(tmp_path) == []


def test_download_truncated_stream(tmp_path, monkeypatch):
    _serve(monkeypatch, b"x" * 10, length=100)
    with pytest.raises(dl.DownloadError, match="cut short"):
        dl.download_file("https://example.org/big.zip", str(tmp_path / "big.zip"), quiet=True)
    assert os.listdir(tmp_path) == []


def test_download_offline_message(tmp_path, monkeypatch):
    def offline(request, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(dl.DownloadError) as e:
        dl.download_file("https://example.org/VIPeR.zip", str(tmp_path / "VIPeR.zip"), quiet=True)
    msg = str(e.value)
    assert "name resolution" in msg and str(tmp_path / "VIPeR.zip") in msg and "no internet" in msg
    assert os.listdir(tmp_path) == []


def test_download_gdrive_failure(tmp_path, monkeypatch):
    import gdown

    monkeypatch.setattr(gdown, "download", lambda *a, **k: None)
    with pytest.raises(dl.DownloadError, match="gdown"):
        dl.download_file("https://drive.google.com/uc?id=abc", str(tmp_path / "d.zip"), quiet=True)
    assert os.listdir(tmp_path) == []

    def quota(*a, output=None, **k):
        Path(output).write_bytes(b"partial")
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setattr(gdown, "download", quota)
    with pytest.raises(dl.DownloadError, match="Too many users"):
        dl.download_file("gdrive://1iVnP4gjw-iHXa0KerZQ1IfIO0i1jADsR", str(tmp_path / "d.zip"), quiet=True)
    assert os.listdir(tmp_path) == []
    assert dl.is_google_drive("1iVnP4gjw-iHXa0KerZQ1IfIO0i1jADsR") and not dl.is_google_drive(
        "https://x.org/a"
    )


def test_download_unsupported_scheme(tmp_path):
    with pytest.raises(dl.DownloadError, match="scheme"):
        dl.download_file("gopher://x/y", str(tmp_path / "y"), quiet=True)


def test_download_and_extract_zip(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("VIPeR/cam_a/000_45.bmp", b"a")
        zf.writestr("VIPeR/cam_b/000_90.bmp", b"b")
    _serve(monkeypatch, buf.getvalue())
    dl.download_and_extract("https://example.org/VIPeR.v1.0.zip", str(tmp_path / "viper"), quiet=True)
    assert (tmp_path / "viper/VIPeR/cam_a/000_45.bmp").read_bytes() == b"a"
    assert (tmp_path / "viper/VIPeR.v1.0.zip").is_file()


def _zip_with(tmp_path, name: str) -> Path:
    p = tmp_path / "evil.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("good.txt", b"ok")
        zf.writestr(name, b"pwned")
    return p


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt"]
)
def test_extract_zip_rejects_traversal(tmp_path, name):
    archive = _zip_with(tmp_path, name)
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError):
        dl.extract_archive(str(archive), str(dest))
    assert not (dest / "good.txt").exists()  # validated before anything is written
    assert not (tmp_path / "evil.txt").exists()


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    p = tmp_path / "evil.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        ok = tarfile.TarInfo("good.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        member.size = len(data) if member.isfile() else 0
        tf.addfile(member, io.BytesIO(data) if data else None)
    return p


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "member",
    [
        lambda: tarfile.TarInfo("../evil.txt"),
        lambda: tarfile.TarInfo("/etc/evil.txt"),
        lambda: _link("link", "/etc/passwd"),
        lambda: _link("sub/link", "../../outside"),
        lambda: _link("hard", "../outside", tarfile.LNKTYPE),
        lambda: _link("dev", "", tarfile.CHRTYPE),
    ],
)
def test_extract_tar_rejects_unsafe_members(tmp_path, member):
    m = member()
    archive = _tar_with(tmp_path, m, b"pwned" if m.isfile() else b"")
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError):
        dl.extract_archive(str(archive), str(dest))
    assert not (dest / "good.txt").exists()


def test_extract_tar_refuses_even_an_internal_link(tmp_path):
    """Dataset archives hold files and folders only: a link is refused even when it stays inside."""
    info = tarfile.TarInfo("data/a.txt")
    archive = _tar_with(tmp_path, info, b"abc")
    with tarfile.open(tmp_path / "plain.tar", "w") as tf:
        a = tarfile.TarInfo("data/a.txt")
        a.size = 3
        tf.addfile(a, io.BytesIO(b"abc"))
        tf.addfile(_link("data/b.txt", "a.txt"))
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError, match=r"data/b\.txt"):
        dl.extract_archive(str(tmp_path / "plain.tar"), str(dest))
    assert not dest.exists()
    assert dl.extract_archive(str(archive), str(tmp_path / "out2")) == ["good.txt", "data/a.txt"]
    assert (tmp_path / "out2/data/a.txt").read_bytes() == b"abc"


def test_extract_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"named like a zip archive .* not a known archive format"):
        dl.extract_archive(str(tmp_path / "x.zip"), str(tmp_path / "out"))


# ------------------------------------------------------------------------------------------------ custom data


def _csv(path: Path, rows: list[tuple], header: str = "path,pid,camid") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] if header else []
    lines += [",".join(str(x) for x in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def custom_tree(tmp_path):
    """images/<pid>_<cam>_<k>.jpg + train/query/gallery CSVs with paths relative to their folder."""
    d = tmp_path / "mine"
    for pid in (3, 5, 9, 17, 21):
        for cam in (0, 1):
            for k in range(2):
                img(d / "images" / f"{pid}_{cam}_{k}.jpg")
    train = [(f"images/{pid}_{cam}_{k}.jpg", pid, cam) for pid in (3, 5) for cam in (0, 1) for k in range(2)]
    query = [(f"images/{pid}_0_0.jpg", pid, 0) for pid in (9, 17, 21)]
    gallery = [(f"images/{pid}_1_{k}.jpg", pid, 1) for pid in (9, 17, 21) for k in range(2)]
    return {
        "dir": d,
        "train": _csv(d / "train.csv", train),
        "query": _csv(d / "query.csv", query),
        "gallery": _csv(d / "gallery.csv", gallery),
    }


def _custom(**kw):
    return init_image_dataset("custom", verbose=False, **kw)


def test_custom_csv(custom_tree):
    t = custom_tree
    ds = _custom(custom_train=str(t["train"]), custom_query=str(t["query"]), custom_gallery=str(t["gallery"]))
    assert stats(ds.train) == (2, 8, 2) and sorted({r[1] for r in ds.train}) == [0, 1]
    assert stats(ds.query) == (3, 3, 1) and {r[1] for r in ds.query} == {9, 17, 21}
    assert stats(ds.gallery) == (3, 6, 1)
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths(ds.train + ds.query + ds.gallery))


def test_custom_csv_relative_to_root_and_column_order(custom_tree, tmp_path):
    t = custom_tree
    _csv(
        t["dir"] / "q2.csv",
        [(17, 0, "images/17_0_0.jpg"), (9, 0, "images/9_0_0.jpg")],
        header="pid,camid,path",
    )
    with pytest.warns(UserWarning, match="use it as a target only"):
        ds = _custom(root=str(t["dir"]), custom_query="q2.csv", custom_gallery="gallery.csv")
    assert {r[1] for r in ds.query} == {9, 17}
    assert not ds.has_train  # target-only custom data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a target (query/gallery mode) there is nothing to warn about
        _custom(root=str(t["dir"]), custom_query="q2.csv", custom_gallery="gallery.csv", mode="query")


def test_custom_folder_layout(tmp_path):
    for pid, cam in ((1, 0), (1, 1), (2, 0), (2, 1)):
        img(tmp_path / "train" / str(pid) / str(cam) / "a.jpg")
    for pid in (7, 8):
        img(tmp_path / "query" / str(pid) / "0" / "x.png")
        img(tmp_path / "gallery" / str(pid) / "1" / "y.png")
        img(tmp_path / "gallery" / str(pid) / "1" / "z.png")
    ds = _custom(
        custom_train=str(tmp_path / "train"),
        custom_query=str(tmp_path / "query"),
        custom_gallery=str(tmp_path / "gallery"),
    )
    assert stats(ds.train) == (2, 4, 2)
    assert stats(ds.query) == (2, 2, 1) and stats(ds.gallery) == (2, 4, 1)


def test_custom_folder_stray_images(tmp_path):
    img(tmp_path / "q" / "0001_c1_x.jpg")
    img(tmp_path / "g" / "1" / "1" / "a.jpg")
    with pytest.raises(CustomDataError, match=r"<pid>/<camid>/<image>.*0001_c1_x\.jpg"):
        _custom(custom_query=str(tmp_path / "q"), custom_gallery=str(tmp_path / "g"))


def test_custom_unknown_column(custom_tree):
    bad = _csv(
        custom_tree["dir"] / "bad.csv", [("images/3_0_0.jpg", 3, 0, "x")], header="path,pid,camid,person"
    )
    with pytest.raises(CustomDataError, match=r"unknown column.*'person'.*path,pid,camid"):
        _custom(custom_train=str(bad))


def test_custom_missing_column_and_header(custom_tree):
    bad = _csv(custom_tree["dir"] / "bad.csv", [("images/3_0_0.jpg", 3)], header="path,pid")
    with pytest.raises(CustomDataError, match=r"missing column.*'camid'"):
        _custom(custom_train=str(bad))
    nohdr = _csv(custom_tree["dir"] / "nohdr.csv", [("images/3_0_0.jpg", 3, 0)], header="")
    with pytest.raises(CustomDataError, match="no header"):
        _custom(custom_train=str(nohdr))


def test_custom_bad_value_names_line(custom_tree):
    bad = _csv(custom_tree["dir"] / "bad.csv", [("images/3_0_0.jpg", 3, 0), ("images/3_0_1.jpg", "three", 0)])
    with pytest.raises(CustomDataError, match=r"bad\.csv:3: pid must be an integer"):
        _custom(custom_train=str(bad))


def test_custom_missing_files_named(custom_tree):
    rows = [(f"images/missing_{i}.jpg", i, 0) for i in range(8)]
    bad = _csv(custom_tree["dir"] / "bad.csv", rows)
    with pytest.raises(FileNotFoundError) as e:
        _custom(custom_train=str(bad))
    msg = str(e.value)
    assert "8 of 8" in msg and "missing_0.jpg" in msg and "missing_4.jpg" in msg and "3 more" in msg
    assert "missing_7.jpg" not in msg


def test_custom_query_without_cross_camera_match(custom_tree):
    t = custom_tree
    # 3 and 17: 3 is not in the gallery at all, 17 only from the query's own camera
    gallery = [("images/9_1_0.jpg", 9, 1), ("images/17_0_1.jpg", 17, 0)]
    query = [("images/3_0_0.jpg", 3, 0), ("images/17_0_0.jpg", 17, 0), ("images/9_0_0.jpg", 9, 0)]
    q = _csv(t["dir"] / "q.csv", query)
    g = _csv(t["dir"] / "g.csv", gallery)
    with pytest.warns(
        UserWarning, match="query identities 3, 17 never appear in the gallery from another camera"
    ):
        _custom(custom_query=str(q), custom_gallery=str(g), mode="gallery")
    with warnings.catch_warnings():  # the data manager builds one dataset per subset: the warning came once
        warnings.simplefilter("error")
        _custom(custom_query=str(q), custom_gallery=str(g), mode="query")
    q_bad = _csv(t["dir"] / "q_bad.csv", query[:2])
    with pytest.raises(CustomDataError, match=r"query identities 3, 17 never appear.*every query identity"):
        _custom(custom_query=str(q_bad), custom_gallery=str(g))


def test_custom_single_camera_explained(custom_tree):
    t = custom_tree
    q = _csv(t["dir"] / "q.csv", [("images/9_0_0.jpg", 9, 0)])
    g = _csv(t["dir"] / "g.csv", [("images/9_0_1.jpg", 9, 0), ("images/17_0_1.jpg", 17, 0)])
    with pytest.raises(CustomDataError, match=r"single camera.*query camid 0 and the gallery camid 1"):
        _custom(custom_query=str(q), custom_gallery=str(g))


def test_custom_needs_data_and_pairs(custom_tree):
    with pytest.raises(CustomDataError, match=r"custom.train"):
        _custom()
    with pytest.raises(CustomDataError, match="gallery is not"):
        _custom(custom_query=str(custom_tree["query"]))
    with pytest.raises(FileNotFoundError, match=r"nope.csv"):
        _custom(custom_train="nope.csv")


def test_custom_train_only_source(custom_tree):
    ds = _custom(custom_train=str(custom_tree["train"]))
    assert ds._train_only and stats(ds.train) == (2, 8, 2)


def test_register_custom_dataset(custom_tree):
    t = custom_tree
    name = f"shop_{os.getpid()}"
    register_custom_dataset(name, train=str(t["train"]), query=str(t["query"]), gallery=str(t["gallery"]))
    ds = init_image_dataset(name, verbose=False)
    assert stats(ds.train) == (2, 8, 2) and stats(ds.query) == (3, 3, 1)
    with pytest.raises(ValueError, match="already registered"):
        register_custom_dataset(name, train=str(t["train"]))
    # records given directly from Python
    records = [(str(t["dir"] / "images" / f"{p}_{c}_0.jpg"), p, c) for p in (3, 5) for c in (0, 1)]
    ds2 = init_image_dataset("custom", train=records, verbose=False)
    assert stats(ds2.train) == (2, 4, 2)


def test_registered_custom_dataset_pickles(custom_tree, tmp_path):
    """DataLoader workers under spawn/forkserver pickle the dataset; the generated class is not a module attribute,
    and the child process never called register_custom_dataset."""
    import pickle
    import subprocess
    import sys

    t = custom_tree
    name = f"shop_pickle_{os.getpid()}"
    register_custom_dataset(name, train=str(t["train"]), query=str(t["query"]), gallery=str(t["gallery"]))
    ds = init_image_dataset(name, verbose=False, mode="query")
    blob = tmp_path / "ds.pkl"
    blob.write_bytes(pickle.dumps(ds))
    same = pickle.loads(blob.read_bytes())
    assert type(same) is type(ds) and same.data == ds.data
    code = (
        "import pickle, sys; ds = pickle.load(open(sys.argv[1], 'rb')); "
        "print(type(ds).__name__, len(ds), ds[0]['pid'], ds.train == ds.__dict__['train'])"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(blob)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [f"Custom_{name}", str(len(ds)), str(ds[0]["pid"]), "True"]


def test_custom_config_keys():
    from torchreid.config.defaults import get_default_config, imagedata_kwargs

    cfg = get_default_config()
    assert cfg.custom.train == "" and cfg.custom.query == "" and cfg.custom.gallery == ""
    assert not [k for k in imagedata_kwargs(cfg) if k.startswith("custom_")]  # only passed when set
    cfg.merge_from_list(["custom.train", "t.csv", "custom.query", "q/", "custom.gallery", "g.csv"])
    kw = imagedata_kwargs(cfg)
    assert (kw["custom_train"], kw["custom_query"], kw["custom_gallery"]) == ("t.csv", "q/", "g.csv")


def test_split_helpers_rebase_original_absolute_paths(tmp_path):
    """Caches written by the original Torchreid hold absolute paths; a moved root is rebased."""
    from torchreid.data.datasets.image._common import from_json_records

    make_viper(tmp_path, n=2)
    base = str(tmp_path / "viper")
    old = [["/old/place/reid-data/viper/VIPeR/cam_a/000_45.bmp", 0, 0]]
    assert from_json_records(old, base)[0][0] == os.path.join(base, "VIPeR/cam_a/000_45.bmp")


def test_split_cache_on_read_only_folder_warns(tmp_path, monkeypatch):
    from torchreid.data.datasets.image import _common

    make_viper(tmp_path, n=4)

    def deny(*a, **k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(_common.json, "dump", deny)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = load("viper", tmp_path)
    assert any("could not cache" in str(x.message) for x in w)
    assert stats(ds.train) == (2, 4, 2) and not (tmp_path / "viper/splits.json").exists()
    assert not [n for n in os.listdir(tmp_path / "viper") if ".tmp-" in n]


def test_zoo_records_are_ints(tmp_path):
    make_viper(tmp_path, n=4)
    ds = load("viper", tmp_path)
    for r in ds.train + ds.query + ds.gallery:
        assert isinstance(r[1], int) and isinstance(r[2], int) and not isinstance(r[1], np.integer)


_MAKERS = {
    "dukemtmcreid": make_duke,
    "msmt17": make_msmt17,
    "cuhk03": make_cuhk03,
    "viper": make_viper,
    "grid": make_grid,
    "cuhk01": make_cuhk01,
    "ilids": make_ilids,
    "prid": make_prid,
    "sensereid": make_sensereid,
    "cuhk02": make_cuhk02,
    "cuhksysu": make_cuhksysu,
    "university1652": make_university1652,
}


@pytest.mark.parametrize("key", ZOO)
def test_zoo_protocol_invariants(tmp_path, key):
    """Every dataset: train labels are exactly 0..N-1 (the classifier has num_train_pids outputs), camids are
    0-based ints, and combineall keeps the labels contiguous."""
    assert sorted(_MAKERS) == sorted(ZOO)
    _MAKERS[key](tmp_path)
    for kw in ({}, {"combineall": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load(key, tmp_path, **kw)
        labels = sorted({r[1] for r in ds.train})
        assert labels == list(range(ds.num_train_pids)), (key, kw)
        for r in ds.train + ds.query + ds.gallery:
            assert len(r) == 4 and all(type(v) is int for v in r[1:]), r
            assert r[2] >= 0 and os.path.isfile(r[0]), r


def test_split_id_types(tmp_path):
    make_viper(tmp_path, n=4)
    assert stats(load("viper", tmp_path, split_id=np.int64(3)).train) == (2, 4, 2)
    for bad in (-1, 1.0, "1", True):
        with pytest.raises(ValueError, match=r"valid split ids are 0\.\.19"):
            load("viper", tmp_path, split_id=bad)


def test_cached_split_with_vanished_image(tmp_path):
    make_viper(tmp_path, n=4)
    load("viper", tmp_path)
    (tmp_path / "viper/VIPeR/cam_a/002_45.bmp").unlink()
    (tmp_path / "viper/VIPeR/cam_b/002_90.bmp").unlink()
    with pytest.raises(FileNotFoundError, match=r"2 file\(s\) of viper split 0 .* are missing:\n.*002_"):
        load("viper", tmp_path)


def test_custom_through_config_and_datamanager(custom_tree):
    """custom.train/query/gallery in the config reach the 'custom' dataset through ImageDataManager."""
    import torchreid
    from torchreid.config.defaults import get_default_config, imagedata_kwargs

    t = custom_tree
    cfg = get_default_config()
    cfg.merge_from_list(
        ["data.sources", "['custom']", "data.targets", "['custom']", "data.workers", "0", "use_gpu", "False"]
        + ["data.height", "16", "data.width", "8", "train.batch_size", "4"]
        + [
            "custom.train",
            str(t["train"]),
            "custom.query",
            str(t["query"]),
            "custom.gallery",
            str(t["gallery"]),
        ]
    )
    dm = torchreid.data.ImageDataManager(**imagedata_kwargs(cfg))
    assert dm.num_train_pids == 2
    batch = next(iter(dm.train_loader))
    assert tuple(batch["img"].shape) == (4, 3, 16, 8)
    assert len(dm.test_loader["custom"]["query"].dataset) == 3
    assert len(dm.test_loader["custom"]["gallery"].dataset) == 6
