"""Market-1501 parser on generated fixture trees in the exact layout, plus the real training folder when present."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

import pytest
from conftest import DATA, require
from PIL import Image

from torchreid.data import init_image_dataset
from torchreid.data.datasets.image.market1501 import Market1501


@cache
def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 8), (90, 40, 10)).save(buf, format="JPEG")
    return buf.getvalue()


def _write(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_jpeg())


TRAIN = [
    "0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_077419_03.jpg",
    "0007_c6s1_000126_02.jpg", "0010_c5s2_009877_01.jpg", "Thumbs.db",
]  # fmt: skip
QUERY = ["0001_c1s1_001051_00.jpg", "0003_c2s1_000276_00.jpg"]
GALLERY = [
    "-1_c1s1_000401_03.jpg", "-1_c3s1_000026_04.jpg",  # junk: skipped
    "0000_c1s1_000151_01.jpg", "0000_c4s2_010001_02.jpg",  # distractors: kept
    "0001_c2s1_000301_01.jpg", "0003_c5s1_000201_02.jpg", "0003_c1s1_000176_01.jpg",
]  # fmt: skip
EXTRA = ["0000_c1s1_9000001_00.jpg", "0000_c3s4_9000002_00.jpg"]


def make_market(root: Path, versioned: bool = True, extra: bool = False) -> Path:
    base = root / "market1501"
    data = base / "Market-1501-v15.09.15" if versioned else base
    _write(data / "bounding_box_train", TRAIN)
    (data / "bounding_box_train" / "Thumbs.db").write_bytes(b"not an image")
    _write(data / "query", QUERY)
    _write(data / "bounding_box_test", GALLERY)
    if extra:
        _write(data / "images", EXTRA)
    return data


def _load(root: Path, **kw):
    return init_image_dataset("market1501", root=str(root), verbose=False, **kw)


def test_versioned_layout(tmp_path):
    data = make_market(tmp_path)
    ds = _load(tmp_path)
    assert ds.data_dir == str(data)
    # train: sorted by name, pids relabelled in raw-pid order, camids 0-based
    assert [(Path(p).name, pid, cam) for p, pid, cam, _ in ds.train] == [
        ("0002_c1s1_000451_03.jpg", 0, 0),
        ("0002_c2s1_000301_01.jpg", 0, 1),
        ("0007_c3s3_077419_03.jpg", 1, 2),
        ("0007_c6s1_000126_02.jpg", 1, 5),
        ("0010_c5s2_009877_01.jpg", 2, 4),
    ]
    assert [(pid, cam) for _, pid, cam, _ in ds.query] == [(1, 0), (3, 1)]
    gallery = sorted((pid, cam) for _, pid, cam, _ in ds.gallery)
    assert gallery == [(0, 0), (0, 3), (1, 1), (3, 0), (3, 4)]  # -1 skipped, pid 0 kept
    assert ds.num_train_pids == 3 and ds.num_train_cams == 5
    assert all(r[3] == 0 for r in ds.train)


def test_old_layout_accepted(tmp_path):
    data = make_market(tmp_path, versioned=False)
    with pytest.warns(UserWarning, match="old layout"):
        ds = _load(tmp_path)
    assert ds.data_dir == str(data) and len(ds.train) == 5 and len(ds.gallery) == 5


def test_combineall_counts(tmp_path):
    make_market(tmp_path)
    ds = _load(tmp_path, combineall=True)
    # junk pids [0, -1]: distractors are not added; query+gallery ids 1 and 3 become labels 3 and 4
    assert ds.num_train_pids == 5
    assert len(ds.train) == 5 + 2 + 3
    assert sorted({r[1] for r in ds.train[5:]}) == [3, 4]


def test_500k_distractors(tmp_path):
    make_market(tmp_path, extra=True)
    ds = _load(tmp_path, market1501_500k=True)
    assert len(ds.gallery) == 5 + 2
    assert sum(Path(r[0]).parent.name == "images" for r in ds.gallery) == 2
    # without the flag, images/ is ignored
    assert len(_load(tmp_path).gallery) == 5


def test_500k_requires_images_folder(tmp_path):
    make_market(tmp_path)
    with pytest.raises(FileNotFoundError, match="images"):
        _load(tmp_path, market1501_500k=True)


def test_camera_out_of_range_names_the_file(tmp_path):
    data = make_market(tmp_path)
    _write(data / "query", ["0004_c7s1_000001_00.jpg"])
    with pytest.raises(ValueError, match=r"0004_c7s1_000001_00\.jpg.*camera 7 is outside 1\.\.6"):
        _load(tmp_path)


def test_bad_name_names_the_file(tmp_path):
    data = make_market(tmp_path)
    _write(data / "bounding_box_test", ["frame_0001.jpg"])
    with pytest.raises(ValueError, match=r"frame_0001\.jpg"):
        _load(tmp_path)


def test_missing_folder_shows_the_layout_and_never_downloads(tmp_path, monkeypatch):
    # the folder exists (so no download is attempted) but holds neither layout
    (tmp_path / "market1501").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        _load(tmp_path)
    msg = str(info.value)
    assert "Market-1501-v15.09.15" in msg and "bounding_box_train" in msg and "bounding_box_test" in msg
    assert Market1501.dataset_url in msg  # how to obtain it


def test_missing_subfolder(tmp_path):
    data = make_market(tmp_path)
    for f in (data / "query").iterdir():
        f.unlink()
    (data / "query").rmdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(data / "query"))):
        _load(tmp_path)


def test_absent_root_would_download_only_then(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(Market1501, "download_dataset", lambda self, d, url: calls.append((d, url)))
    with pytest.raises(FileNotFoundError):
        _load(tmp_path)
    assert calls == [(str(tmp_path / "market1501"), Market1501.dataset_url)]


def test_real_market_train_names():
    """Parse the names of the real bounding_box_train (12,936 images, 751 ids, 6 cameras) without reading images."""
    folder = require(DATA / "market1501" / "bounding_box_train")
    parser = Market1501.__new__(Market1501)
    records = parser.process_dir(str(folder), relabel=True)
    assert len(records) == 12936
    assert len({r[1] for r in records}) == 751 and {r[1] for r in records} == set(range(751))
    assert {r[2] for r in records} == set(range(6))
