"""Index folders: round trip (memory-mapped), atomic saves, and clear errors for damaged or edited folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchreid.search import FeatureIndex, IndexFormatError, storage


def _index(n: int = 50, dtype: str = "float16", metric: str = "euclidean") -> tuple[FeatureIndex, np.ndarray]:
    rng = np.random.default_rng(0)
    index = FeatureIndex(16, metric, dtype, model_info={"name": "osnet_x0_25", "image_size": [256, 128]})
    index.add(rng.standard_normal((n, 16)).astype(np.float32), pids=np.arange(n) % 7, camids=np.arange(n) % 3,
              meta=[{"path": f"/imgs/{i}.jpg"} for i in range(n)])  # fmt: skip
    return index, rng.standard_normal((4, 16)).astype(np.float32)


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_round_trip_keeps_everything(tmp_path, mmap, metric):
    index, q = _index(metric=metric)
    index.save(tmp_path / "idx")
    loaded = FeatureIndex.load(tmp_path / "idx", mmap=mmap)
    assert (loaded.dim, loaded.metric, loaded.dtype, len(loaded)) == (16, metric, "float16", 50)
    assert loaded.model_info == index.model_info and loaded.meta == index.meta
    for name in ("features", "ids", "pids", "camids"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(index, name))
    assert isinstance(loaded._segments[0][0], np.memmap) == mmap
    for a, b in zip(loaded.search(q, 5), index.search(q, 5)):
        np.testing.assert_array_equal(a, b)
    man = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert man["format"] == storage.FORMAT and man["count"] == 50 and man["model"]["name"] == "osnet_x0_25"
    assert set(man["files"]) == {
        "features.npy",
        "sqnorms.npy",
        "ids.npy",
        "pids.npy",
        "camids.npy",
        "meta.json",
    }
    # a memory-mapped index takes new rows (kept in memory) and saves over its own folder
    loaded.add(q, ids=[1000, 1001, 1002, 1003])
    loaded.save(tmp_path / "idx")
    again = FeatureIndex.load(tmp_path / "idx")
    assert len(again) == 54 and again.ids[-1] == 1003 and again.meta[-1] is None
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temporary folders left behind


def test_truncated_file_is_a_clear_error(tmp_path):
    index, _ = _index()
    index.save(tmp_path / "idx")
    f = tmp_path / "idx" / "features.npy"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(
        IndexFormatError, match=r"features.npy is truncated: \d+ bytes, the manifest says \d+"
    ):
        FeatureIndex.load(tmp_path / "idx")


def test_hand_edited_manifest_and_arrays_are_refused(tmp_path):
    index, _ = _index()
    index.save(tmp_path / "idx")
    mpath = tmp_path / "idx" / "manifest.json"
    good = mpath.read_text()
    man = json.loads(good)
    man["model"]["name"] = "resnet50"
    mpath.write_text(json.dumps(man))
    with pytest.raises(IndexFormatError, match=r"manifest\.json was modified after it was saved"):
        FeatureIndex.load(tmp_path / "idx")
    mpath.write_text(good)
    ids = tmp_path / "idx" / "ids.npy"
    good_ids = ids.read_bytes()
    np.save(ids, np.arange(100, 150, dtype=np.int64))  # same size, other content
    with pytest.raises(IndexFormatError, match=r"content of ids\.npy changed"):
        FeatureIndex.load(tmp_path / "idx")
    ids.write_bytes(good_ids)
    (tmp_path / "idx" / "meta.json").unlink()
    with pytest.raises(IndexFormatError, match=r"meta\.json is missing"):
        FeatureIndex.load(tmp_path / "idx")
    mpath.write_text("{not json")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        FeatureIndex.load(tmp_path / "idx")
    with pytest.raises(FileNotFoundError):
        FeatureIndex.load(tmp_path / "nowhere")


def test_large_files_are_checked_by_size_and_header_and_fully_on_request(tmp_path, monkeypatch):
    index, _ = _index()
    index.save(tmp_path / "idx")
    f = tmp_path / "idx" / "features.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the features
    f.write_bytes(bytes(data))
    monkeypatch.setattr(storage, "AUTO_VERIFY_BYTES", 100)  # as if features.npy were a huge file
    assert len(FeatureIndex.load(tmp_path / "idx", verify="auto")) == 50  # fast path: sizes + headers only
    with pytest.raises(IndexFormatError, match=r"content of features\.npy changed"):
        FeatureIndex.load(tmp_path / "idx", verify=True)


def test_pickled_arrays_are_never_loaded(tmp_path):
    index, _ = _index()
    index.save(tmp_path / "idx")
    folder = tmp_path / "idx"
    np.save(folder / "pids.npy", np.array([object()] * 50, dtype=object), allow_pickle=True)
    man = json.loads((folder / "manifest.json").read_text())
    man["files"]["pids.npy"] = {"bytes": (folder / "pids.npy").stat().st_size,
                                "sha256": storage.sha256_file(folder / "pids.npy")}  # fmt: skip
    man["checksum"] = storage._manifest_checksum(man)  # a forged, consistent manifest
    (folder / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(IndexFormatError, match="without unpickling"):
        FeatureIndex.load(folder)


def test_a_failed_save_keeps_the_previous_index(tmp_path, monkeypatch):
    index, q = _index()
    index.save(tmp_path / "idx")
    before = {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()}
    index.add(q)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "_write_npy", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path / "idx")
    assert {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]
    assert len(FeatureIndex.load(tmp_path / "idx")) == 50


def test_save_never_replaces_a_folder_that_is_not_an_index(tmp_path):
    index, _ = _index()
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not an index folder"):
        index.save(tmp_path / "photos")
    assert (tmp_path / "photos" / "a.jpg").read_bytes() == b"x"
