"""Video datasets: loaders on tiny fixtures written in each dataset's real layout, and the synthetic video data."""

from __future__ import annotations

import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from PIL import Image

from torchreid.data.datasets import VIDEO_DATASETS, init_video_dataset, video_dataset_names


def _frame(path: str, value: int = 0) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    ext = osp.splitext(path)[1].lower()
    img = Image.fromarray(np.full((8, 4, 3), value % 256, dtype=np.uint8))
    img.save(path, format="JPEG" if ext == ".jpg" else "PNG")


def _ids(items) -> set[int]:
    return {pid for _, pid, *_ in items}


# ------------------------------------------------------------------------------------------------ fixtures


def make_mars(root: str) -> dict:
    """MARS layout: bbox_{train,test}/<pid>/<pid>C<cam>T<track>F<frame>.jpg + info/ (.txt name lists, .mat tracks).

    Train: pids 0003 (2 tracklets), 0007 (1), 0011 (1). Test: pids 0002 / 0005 seen by two cameras, a distractor
    pid 0000 and a junk pid -1 tracklet (dropped). query_IDX selects the cam-1 tracklets of 0002 and 0005.
    """
    from scipy.io import savemat

    base = osp.join(root, "mars")
    info = osp.join(base, "info")
    os.makedirs(info, exist_ok=True)

    def build(home: str, tracks: list[tuple[str, int, int, int]]) -> tuple[list[str], np.ndarray]:
        names, rows = [], []
        for folder, pid, cam, n in tracks:
            start = len(names) + 1
            tno = sum(1 for r in rows if r[2] == pid) + 1
            for f in range(n):
                name = f"{folder}C{cam}T{tno:04d}F{f + 1:03d}.jpg"
                names.append(name)
                _frame(osp.join(base, home, folder, name), f * 10)
            rows.append([start, len(names), pid, cam])
        return names, np.array(rows, dtype=np.float64)  # the real files hold doubles

    train_names, train_tracks = build(
        "bbox_train", [("0003", 3, 1, 5), ("0003", 3, 2, 3), ("0007", 7, 4, 4), ("0011", 11, 6, 2)]
    )
    test_names, test_tracks = build(
        "bbox_test",
        [("0002", 2, 1, 4), ("0002", 2, 3, 6), ("0005", 5, 1, 3), ("0005", 5, 2, 5), ("0000", 0, 5, 2)]
        + [("00-1", -1, 2, 2)],
    )
    for fname, names in (("train_name.txt", train_names), ("test_name.txt", test_names)):
        with open(osp.join(info, fname), "w") as f:
            f.write("\n".join(names) + "\n")
    savemat(osp.join(info, "tracks_train_info.mat"), {"track_train_info": train_tracks})
    savemat(osp.join(info, "tracks_test_info.mat"), {"track_test_info": test_tracks})
    savemat(osp.join(info, "query_IDX.mat"), {"query_IDX": np.array([[1, 3]], dtype=np.float64)})
    return {"train": (4, 3), "query": (2, 2), "gallery": (3, 3)}  # (#tracklets, #ids), junk dropped


def make_ilidsvid(root: str, num_persons: int = 6) -> dict:
    """iLIDS-VID layout: i-LIDS-VID/sequences/{cam1,cam2}/personXXX/*.png + the ls_set split .mat (10 rows)."""
    from scipy.io import savemat

    base = osp.join(root, "ilids-vid")
    persons = [f"person{i:03d}" for i in (1, 2, 4, 5, 7, 9)[:num_persons]]
    for cam in ("cam1", "cam2"):
        for k, person in enumerate(persons):
            for f in range(3 + k):
                # unpadded frame numbers on purpose: order must be numeric, not lexicographic
                _frame(
                    osp.join(base, "i-LIDS-VID", "sequences", cam, person, f"{cam}_{person}_{f * 5 + 1}.png"),
                    f,
                )
    rng = np.random.default_rng(0)
    ls_set = np.stack([rng.permutation(num_persons) + 1 for _ in range(10)]).astype(np.float64)
    split_dir = osp.join(base, "train-test people splits")
    os.makedirs(split_dir, exist_ok=True)
    savemat(osp.join(split_dir, "train_test_splits_ilidsvid.mat"), {"ls_set": ls_set})
    return {"persons": persons, "ls_set": ls_set}


def make_prid2011(root: str) -> dict:
    """PRID2011 layout: prid_2011/multi_shot/{cam_a,cam_b}/person_XXXX/*.png + splits_prid2011.json."""
    base = osp.join(root, "prid2011")
    persons = [f"person_{i:04d}" for i in range(1, 7)]
    for cam in ("cam_a", "cam_b"):
        for k, person in enumerate(persons):
            for f in range(2 + k):
                _frame(osp.join(base, "prid_2011", "multi_shot", cam, person, f"{f + 1:04d}.png"), f)
    # a cam_a-only person that no split uses
    _frame(osp.join(base, "prid_2011", "multi_shot", "cam_a", "person_0300", "0001.png"))
    splits = [{"train": persons[:3], "test": persons[3:]}, {"train": persons[3:], "test": persons[:3]}]
    with open(osp.join(base, "splits_prid2011.json"), "w") as f:
        json.dump(splits, f)
    return {"persons": persons, "splits": splits}


def make_dukevid(root: str) -> dict:
    """DukeMTMC-VideoReID layout: DukeMTMC-VideoReID/{train,query,gallery}/<pid>/<tracklet>/0001_C6_F0001_X1.jpg."""
    base = osp.join(root, "dukemtmc-vidreid", "DukeMTMC-VideoReID")

    def tracklet(split: str, pid: int, tno: int, cam: int, frames: list[int]) -> None:
        for f in frames:
            name = f"{pid:04d}_C{cam}_F{f:04d}_X{1000 + f}.jpg"
            _frame(osp.join(base, split, f"{pid:04d}", f"{tno:04d}", name), f)

    tracklet("train", 12, 1, 1, [1, 2, 3])
    tracklet("train", 12, 2, 3, [2, 3, 4, 5])  # starts at F0002 (happens in the real data)
    tracklet("train", 40, 1, 8, [1, 2, 3, 4, 5, 6])
    tracklet("train", 7, 1, 2, [1, 2, 4, 5])  # F0003 missing
    tracklet("query", 100, 1, 2, [1, 2, 3])
    tracklet("query", 101, 1, 5, [1, 2])
    tracklet("gallery", 100, 2, 4, [1, 2, 3, 4])
    tracklet("gallery", 101, 2, 1, [1, 2, 3])
    tracklet("gallery", 555, 1, 6, [1, 2])  # distractor identity
    return {"train": (4, 3), "query": (2, 2), "gallery": (3, 3)}


def _counts(items) -> tuple[int, int]:
    return len(items), len(_ids(items))


# ------------------------------------------------------------------------------------------------ registry


def test_all_video_datasets_are_registered():
    names = set(video_dataset_names())
    assert {"mars", "ilidsvid", "prid2011", "dukemtmcvidreid", "synthetic_video"} <= names
    with pytest.raises(ValueError, match="mars"):
        init_video_dataset("marss", root="/nonexistent")


@pytest.mark.parametrize("name", ["mars", "ilidsvid", "prid2011", "dukemtmcvidreid"])
def test_missing_folder_names_the_layout(tmp_path, name):
    with pytest.raises(FileNotFoundError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init_video_dataset(name, root=str(tmp_path), verbose=False)
    msg = str(info.value)
    assert str(tmp_path) in msg
    layout = VIDEO_DATASETS.get(name).layout.splitlines()[0]
    assert layout.strip() in msg or VIDEO_DATASETS.get(name).dataset_dir in msg


# ------------------------------------------------------------------------------------------------ MARS


def test_mars_fixture(tmp_path):
    expected = make_mars(str(tmp_path))
    ds = init_video_dataset("mars", root=str(tmp_path), verbose=False)
    assert _counts(ds.train) == expected["train"]
    assert _counts(ds.query) == expected["query"]
    assert _counts(ds.gallery) == expected["gallery"]
    # train pids relabelled 0..N-1 in sorted raw-pid order; test pids raw; cameras 0-based
    assert sorted(_ids(ds.train)) == [0, 1, 2]
    assert [r[1] for r in ds.train] == [0, 0, 1, 2]
    assert [r[2] for r in ds.train] == [0, 1, 3, 5]
    assert [(r[1], r[2]) for r in ds.query] == [(2, 0), (5, 0)]
    assert sorted((r[1], r[2]) for r in ds.gallery) == [(0, 4), (2, 2), (5, 1)]
    assert -1 not in _ids(ds.gallery) | _ids(ds.query)
    # frames: full paths in name-list order
    paths = ds.train[0][0]
    assert isinstance(paths, tuple) and len(paths) == 5
    assert paths[0].endswith(osp.join("bbox_train", "0003", "0003C1T0001F001.jpg"))
    assert all(osp.isfile(p) for r in ds.train + ds.query + ds.gallery for p in r[0])
    assert [len(r[0]) for r in ds.query] == [4, 3]


def test_mars_combineall_is_a_no_op_with_a_warning(tmp_path):
    make_mars(str(tmp_path))
    with pytest.warns(UserWarning, match="combineall"):
        ds = init_video_dataset("mars", root=str(tmp_path), combineall=True, verbose=False)
    assert len(ds.train) == 4


def test_mars_bad_track_rows_are_named(tmp_path):
    from scipy.io import savemat

    make_mars(str(tmp_path))
    bad = np.array([[1, 99, 3, 1]], dtype=np.float64)  # rows beyond the name list
    savemat(osp.join(tmp_path, "mars", "info", "tracks_train_info.mat"), {"track_train_info": bad})
    with pytest.raises(ValueError, match=r"row 1 .*out of range"):
        init_video_dataset("mars", root=str(tmp_path), verbose=False)


# ------------------------------------------------------------------------------------------------ iLIDS-VID


def test_ilidsvid_fixture_and_splits(tmp_path):
    fx = make_ilidsvid(str(tmp_path))
    persons, ls_set = fx["persons"], fx["ls_set"]
    for split_id in (0, 9):
        ds = init_video_dataset("ilidsvid", root=str(tmp_path), split_id=split_id, verbose=False)
        assert _counts(ds.train) == (6, 3)  # 3 train persons x 2 cameras
        assert _counts(ds.query) == (3, 3) and _counts(ds.gallery) == (3, 3)
        assert {r[2] for r in ds.query} == {0} and {r[2] for r in ds.gallery} == {1}
        # the first half of an ls_set row is the test set (1-based indices into the sorted person folders)
        test_persons = {persons[int(i) - 1] for i in ls_set[split_id, :3]}
        got = {osp.basename(osp.dirname(r[0][0])) for r in ds.query}
        assert got == test_persons
        # query pid k and gallery pid k are the same person folder
        q = {r[1]: osp.basename(osp.dirname(r[0][0])) for r in ds.query}
        g = {r[1]: osp.basename(osp.dirname(r[0][0])) for r in ds.gallery}
        assert q == g
    # splits are cached as JSON of folder names
    splits = json.loads((tmp_path / "ilids-vid" / "splits.json").read_text())
    assert len(splits) == 10 and all(len(s["train"]) == 3 and len(s["test"]) == 3 for s in splits)
    # frames in numeric order (1, 6, 11, 16 ... not 1, 11, 16, 6)
    longest = max(ds.train, key=lambda r: len(r[0]))[0]
    nums = [int(osp.splitext(p)[0].rsplit("_", 1)[1]) for p in longest]
    assert nums == sorted(nums)
    with pytest.raises(ValueError, match="split_id"):
        init_video_dataset("ilidsvid", root=str(tmp_path), split_id=10, verbose=False)


def test_ilidsvid_empty_tracklet_is_named(tmp_path):
    make_ilidsvid(str(tmp_path))
    folder = osp.join(tmp_path, "ilids-vid", "i-LIDS-VID", "sequences", "cam2", "person001")
    for name in os.listdir(folder):
        os.remove(osp.join(folder, name))
    with pytest.raises(FileNotFoundError, match="person001"):
        for split_id in range(10):  # person001 is used (train or test) in every split
            init_video_dataset("ilidsvid", root=str(tmp_path), split_id=split_id, verbose=False)


# ------------------------------------------------------------------------------------------------ PRID2011


def test_prid2011_fixture(tmp_path):
    fx = make_prid2011(str(tmp_path))
    ds = init_video_dataset("prid2011", root=str(tmp_path), verbose=False)
    assert _counts(ds.train) == (6, 3)
    assert _counts(ds.query) == (3, 3) and _counts(ds.gallery) == (3, 3)
    assert {r[2] for r in ds.query} == {0} and {r[2] for r in ds.gallery} == {1}
    assert {osp.basename(osp.dirname(r[0][0])) for r in ds.query} == set(fx["splits"][0]["test"])
    assert sorted(len(r[0]) for r in ds.query) == [5, 6, 7]
    ds1 = init_video_dataset("prid2011", root=str(tmp_path), split_id=1, verbose=False)
    assert {osp.basename(osp.dirname(r[0][0])) for r in ds1.query} == set(fx["splits"][1]["test"])
    with pytest.raises(ValueError, match="split_id"):
        init_video_dataset("prid2011", root=str(tmp_path), split_id=2, verbose=False)


def test_prid2011_missing_split_file_is_explained(tmp_path):
    make_prid2011(str(tmp_path))
    os.remove(osp.join(tmp_path, "prid2011", "splits_prid2011.json"))
    with pytest.raises(FileNotFoundError, match=r"splits_prid2011\.json"):
        init_video_dataset("prid2011", root=str(tmp_path), verbose=False)


# ------------------------------------------------------------------------------------------------ DukeMTMC-VideoReID


def test_dukevid_fixture(tmp_path):
    expected = make_dukevid(str(tmp_path))
    with pytest.warns(UserWarning, match=r"0007.*missing 1 frame.*F0003"):
        ds = init_video_dataset("dukemtmcvidreid", root=str(tmp_path), verbose=False)
    assert _counts(ds.train) == expected["train"]
    assert _counts(ds.query) == expected["query"]
    assert _counts(ds.gallery) == expected["gallery"]
    assert sorted(_ids(ds.train)) == [0, 1, 2]  # raw 7, 12, 40 relabelled in sorted order
    by_dir = {osp.relpath(osp.dirname(r[0][0]), osp.join(tmp_path, "dukemtmc-vidreid")): r for r in ds.train}
    assert by_dir[osp.join("DukeMTMC-VideoReID", "train", "0012", "0002")][1:3] == (
        1,
        2,
    )  # pid 12 -> 1, C3 -> 2
    assert by_dir[osp.join("DukeMTMC-VideoReID", "train", "0040", "0001")][1:3] == (2, 7)
    gap = by_dir[osp.join("DukeMTMC-VideoReID", "train", "0007", "0001")][0]
    assert [osp.basename(p)[8:13] for p in gap] == ["F0001", "F0002", "F0004", "F0005"]
    late = by_dir[osp.join("DukeMTMC-VideoReID", "train", "0012", "0002")][0]
    assert len(late) == 4  # a tracklet starting at F0002 keeps all its frames (the original dropped the last)
    assert sorted((r[1], r[2]) for r in ds.gallery) == [(100, 3), (101, 0), (555, 5)]

    # cached with paths relative to the dataset folder; a moved root still works
    cache = json.loads((tmp_path / "dukemtmc-vidreid" / "split_train.json").read_text())
    assert all(not osp.isabs(p) for t in cache["tracklets"] for p in t[0])
    moved = tmp_path / "moved"
    moved.mkdir()
    os.rename(osp.join(tmp_path, "dukemtmc-vidreid"), moved / "dukemtmc-vidreid")
    ds2 = init_video_dataset("dukemtmcvidreid", root=str(moved), verbose=False)
    assert _counts(ds2.train) == expected["train"]
    assert all(osp.isfile(p) for r in ds2.train + ds2.query + ds2.gallery for p in r[0])


def test_dukevid_min_seq_len(tmp_path):
    make_dukevid(str(tmp_path))
    cls = VIDEO_DATASETS.get("dukemtmcvidreid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(cls(root=str(tmp_path), verbose=False).train) == 4  # writes the caches
        ds = cls(root=str(tmp_path), min_seq_len=4, verbose=False)  # filters the cached tracklets too
    assert sorted(len(r[0]) for r in ds.train) == [4, 4, 6]
    # a min_seq_len that drops every tracklet of some identities keeps the train labels 0..N-1 (the classifier
    # has num_train_pids outputs); here only raw pid 40 (label 2 before filtering) survives
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cls(root=str(tmp_path), min_seq_len=5, verbose=False)
    assert [(len(r[0]), r[1], r[2]) for r in ds.train] == [(6, 0, 7)] and ds.num_train_pids == 1


def test_synthetic_video_takes_numpy_integers(tmp_path):
    """Sizes from NumPy (or a YAML loader giving other int types) become plain ints: the spec is hashed as JSON."""
    from torchreid.data.datasets.video.synthetic_video import SyntheticVideo

    kw = {"num_train_ids": np.int64(2), "num_test_ids": np.int64(2), "num_cams": np.int32(2),
          "min_len": np.int64(2), "max_len": np.int64(3), "frame_size": (np.int64(32), 16), "seed": np.int64(1)}  # fmt: skip
    ds = SyntheticVideo(root=str(tmp_path), verbose=False, **kw)
    assert all(type(v) is int for v in vars(ds.spec).values())
    assert ds.spec.num_train_ids == 2 and ds.num_train_pids == 2
