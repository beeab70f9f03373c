"""Helpers shared by the image datasets (torchreid.data.datasets.image._common): split caches, Market-style
file names, MATLAB files."""

from __future__ import annotations

import logging

import pytest
from fixtures_datasets import img

# ------------------------------------------------------------------------------------------------ split caches


def test_split_cache_helpers(tmp_path, caplog):
    from torchreid.data.datasets.image import _common as C

    bad = tmp_path / "splits.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"is not valid JSON .*delete it and it will be regenerated"):
        C.cached_splits(str(bad), lambda: [{"train": []}])
    bad.write_text("[]")
    with pytest.raises(ValueError, match="holds no splits; delete it"):
        C.cached_splits(str(bad), lambda: [{"train": []}])

    fresh = tmp_path / "sub" / "fresh.json"
    with caplog.at_level(logging.INFO, logger="torchreid"):
        splits = C.cached_splits(str(fresh), lambda: [{"train": [["a.jpg", 0, 0]]}])
    assert "Created 1 split(s)" in caplog.text
    assert C.cached_splits(str(fresh), lambda: pytest.fail("must read the cache")) == splits

    # an absolute path from another machine without the dataset folder's name is kept as is
    assert C.from_json_records([["/elsewhere/x.jpg", 1, 2]], str(tmp_path / "viper")) == [
        ("/elsewhere/x.jpg", 1, 2)
    ]


def test_market_style_names_are_validated(tmp_path):
    from torchreid.data.datasets.image._common import market_style_dir

    img(tmp_path / "0001_c1s1_000001_00.jpg")
    img(tmp_path / "-1_c2s1_000002_00.jpg")  # junk: skipped
    assert [r[1:] for r in market_style_dir(str(tmp_path), relabel=False, max_cam=6)] == [(1, 0)]
    img(tmp_path / "person1.jpg")
    with pytest.raises(ValueError, match=r"person1\.jpg: file name does not follow the '<pid>_c<camera>"):
        market_style_dir(str(tmp_path), relabel=False, max_cam=6)


def test_loadmat_of_a_hdf5_file_names_the_format(tmp_path):
    import h5py

    from torchreid.data.datasets.image._common import loadmat_checked

    path = tmp_path / "v73.mat"
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
    # h5py writes no MATLAB header, so scipy may call it v7.3 or unreadable: either way the file is named
    with pytest.raises(ValueError, match=r"v73\.mat"):
        loadmat_checked(str(path))


def test_split_entry_and_load_cached_split_round_trip(tmp_path):
    from fixtures_datasets import img

    from torchreid.data.datasets.image import _common as C

    paths = [str(img(tmp_path / f"{i}.jpg")) for i in range(4)]
    train, query, gallery = [(paths[0], 0, 0)], [(paths[1], 5, 0)], [(paths[2], 5, 1), (paths[3], 6, 1)]
    entry = C.split_entry(str(tmp_path), train, query, gallery, 1)
    assert (entry["num_query_pids"], entry["num_gallery_pids"]) == (1, 2)  # counted from the records
    assert entry["train"] == [["0.jpg", 0, 0]]  # relative to the dataset folder
    assert C.split_entry(str(tmp_path), train, query, gallery, 1, 7)["num_gallery_pids"] == 7

    class Toy:
        dataset_dir = str(tmp_path)
        split_path = str(tmp_path / "splits.json")

        def _make_splits(self):
            return [entry]

    assert C.load_cached_split(Toy(), "toy", 0, verbose=False) == (train, query, gallery)
    with pytest.raises(ValueError, match="toy"):
        C.load_cached_split(Toy(), "toy", 3, verbose=False)
    (tmp_path / "3.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"toy split 0 .*splits\.json"):
        C.load_cached_split(Toy(), "toy", 0, verbose=False)


# ------------------------------------------------------------------------------------- generated datasets


def _writer(calls: list, value: int):
    import json

    def generate(folder: str) -> None:
        calls.append(folder)
        with open(f"{folder}/data.txt", "w") as f:
            f.write(str(value))
        with open(f"{folder}/manifest.json", "w") as f:  # last, as the real generators do
            json.dump({"value": value}, f)

    return generate


def test_ensure_generated_generates_once_then_reuses(tmp_path):
    from torchreid.data.datasets.image._common import ensure_generated

    calls: list = []
    args = (str(tmp_path), "tag", _writer(calls, 1), lambda m: m.get("value") == 1, "test data")
    data_dir, manifest = ensure_generated(*args, verbose=False)
    assert manifest == {"value": 1} and data_dir == str(tmp_path / "tag")
    assert (tmp_path / "tag" / "data.txt").read_text() == "1"
    assert ensure_generated(*args, verbose=False) == (data_dir, manifest) and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tag"]  # no temporary folder left behind


def test_ensure_generated_redoes_interrupted_or_stale_folders(tmp_path):
    from torchreid.data.datasets.image._common import ensure_generated

    (tmp_path / "tag").mkdir()
    (tmp_path / "tag" / "half.txt").write_text("interrupted: no manifest")
    calls: list = []
    ensure_generated(str(tmp_path), "tag", _writer(calls, 1), lambda m: True, "test data", verbose=False)
    assert len(calls) == 1 and not (tmp_path / "tag" / "half.txt").exists()
    # a manifest that is_current rejects (another format version) is generated again
    _, manifest = ensure_generated(
        str(tmp_path), "tag", _writer(calls, 2), lambda m: m.get("value") == 2, "test data", verbose=False
    )
    assert manifest == {"value": 2} and len(calls) == 2
    assert (tmp_path / "tag" / "data.txt").read_text() == "2"


def test_ensure_generated_keeps_a_copy_a_concurrent_process_finished_first(tmp_path):
    import json

    from torchreid.data.datasets.image._common import ensure_generated

    def generate(folder: str) -> None:  # while this process generates, another one completes the folder
        (tmp_path / "tag").mkdir()
        (tmp_path / "tag" / "manifest.json").write_text(json.dumps({"by": "other"}))
        _writer([], 1)(folder)

    _, manifest = ensure_generated(str(tmp_path), "tag", generate, lambda m: True, "test data", verbose=False)
    assert manifest == {"by": "other"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tag"]
