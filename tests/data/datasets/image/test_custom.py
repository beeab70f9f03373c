"""Custom data (torchreid.data.datasets.image.custom): CSV / folder validation messages, target-only sets,
registration and pickling."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_datasets import img

from torchreid.data.datasets.image.custom import CustomDataError, check_evaluable, load_subset

# ------------------------------------------------------------------------------------------------ custom data


def _csv(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_custom_csv_format_errors_name_file_line_and_fix(tmp_path):
    img(tmp_path / "a.jpg")
    cases = {
        "": "is empty; expected the header line 'path,pid,camid'",
        "path,pid,camid,pid\n": "duplicate columns",
        "path,pid,camid\na.jpg,1\n": r":2: expected 3 values \(path,pid,camid\)",
        "path,pid,camid\n ,1,0\n": ":2: empty path",
        "path,pid,camid\na.jpg,1,-2\n": ":2: camid must be >= 0, got -2",
        "path,pid,camid\na.jpg,x,0\n": ":2: pid must be an integer, got 'x'",
    }
    for text, message in cases.items():
        path = _csv(tmp_path / "s.csv", text)
        with pytest.raises(CustomDataError, match=message):
            load_subset(path, "custom train")


def test_custom_csv_skips_blank_rows_and_resolves_relative_paths(tmp_path):
    img(tmp_path / "sub" / "a.jpg")
    img(tmp_path / "sub" / "b.jpg")
    path = _csv(tmp_path / "s.csv", "\ufeffPID,path,CamID\n\n3,sub/a.jpg,0\n , , \n4,sub/b.jpg,1\n")
    assert load_subset(path) == [
        (str(tmp_path / "sub" / "a.jpg"), 3, 0),
        (str(tmp_path / "sub" / "b.jpg"), 4, 1),
    ]


def test_custom_folder_errors(tmp_path):
    folder = tmp_path / "q"
    img(folder / "17" / "a.jpg")  # an image directly in the identity folder
    with pytest.raises(CustomDataError, match=r"<pid>/<camid>/<image>.*17/a\.jpg"):
        load_subset(str(folder), "custom query")

    folder = tmp_path / "q2"
    img(folder / "17" / "cam0" / "a.jpg")
    with pytest.raises(CustomDataError, match="camera folder names must be integers"):
        load_subset(str(folder), "custom query")

    folder = tmp_path / "q3"
    img(folder / "17" / "-1" / "a.jpg")
    with pytest.raises(CustomDataError, match=">= 0"):
        load_subset(str(folder), "custom query")

    folder = tmp_path / "q4"
    (folder / "17" / "0").mkdir(parents=True)
    with pytest.raises(CustomDataError, match="no images found in"):
        load_subset(str(folder), "custom query")


def test_custom_folder_ignores_hidden_entries_and_other_files(tmp_path):
    folder = tmp_path / "g"
    img(folder / "5" / "1" / "x.png")
    img(folder / "5" / "1" / ".hidden.png")
    img(folder / ".cache" / "0" / "y.png")
    img(folder / "5" / ".thumbs" / "z.png")
    (folder / "README.txt").write_text("not an image")
    (folder / "5" / "1" / "notes.txt").write_text("not an image")
    assert load_subset(str(folder)) == [(str(folder / "5" / "1" / "x.png"), 5, 1)]


def test_custom_subset_spec_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"custom train: .*nope\.csv does not exist"):
        load_subset(str(tmp_path / "nope.csv"), "custom train")
    with pytest.raises(
        FileNotFoundError, match=r"'rel/nope\.csv' was not found in the current directory .* or "
    ):
        load_subset("rel/nope.csv", "custom train", root=str(tmp_path))
    (tmp_path / "list.txt").write_text("a.jpg 1 0\n")
    with pytest.raises(CustomDataError, match=r"neither a folder nor a \.csv file"):
        load_subset(str(tmp_path / "list.txt"), "custom train")
    with pytest.raises(CustomDataError, match=r"item 1 must be \(path, pid, camid\)"):
        load_subset([(str(img(tmp_path / "a.jpg")), 1, 0), ("b.jpg", "one", 0)], "custom train")
    with pytest.raises(CustomDataError, match="item 0: camid must be >= 0"):
        load_subset([(str(tmp_path / "a.jpg"), 1, -1)], "custom train")
    with pytest.raises(CustomDataError, match="no images found in the given list"):
        load_subset([], "custom train")


def test_check_evaluable_returns_the_skipped_identities_with_a_warning():
    query = [("q1", 1, 0), ("q2", 2, 0)]
    gallery = [("g1", 1, 1), ("g2", 2, 0)]  # identity 2 only seen by the query's camera
    with pytest.warns(
        UserWarning, match="query identities 2 never appear in the gallery from another camera"
    ):
        assert check_evaluable(query, gallery) == [2]


def test_custom_target_only_has_placeholder_train_set(tmp_path):
    from torchreid.data.datasets import init_image_dataset

    q = [(str(img(tmp_path / f"q{i}.jpg")), pid, 0) for i, pid in enumerate((7, 9))]
    g = [(str(img(tmp_path / f"g{i}.jpg")), pid, 1) for i, pid in enumerate((7, 9, 11))]
    with pytest.warns(UserWarning, match="use it as a target only"):
        ds = init_image_dataset("custom", custom_query=q, custom_gallery=g, verbose=False)
    assert ds.has_train is False
    assert sorted({r[1] for r in ds.train}) == [0, 1, 2]  # relabelled test identities
    assert [r[1] for r in ds.query] == [7, 9]  # query/gallery keep their pids


def test_register_custom_dataset_without_subsets_is_an_error():
    from torchreid.data.datasets.image.custom import register_custom_dataset

    with pytest.raises(CustomDataError, match="give at least train, or query and gallery"):
        register_custom_dataset("cov_empty_custom")


def test_plain_custom_dataset_pickles_by_class(tmp_path):
    import pickle

    from torchreid.data.datasets import init_image_dataset

    q = [(str(img(tmp_path / f"q{i}.jpg")), pid, 0) for i, pid in enumerate((7, 9))]
    g = [(str(img(tmp_path / f"g{i}.jpg")), pid, 1) for i, pid in enumerate((7, 9))]
    t = [(str(img(tmp_path / f"t{i}.jpg")), i % 2, i % 2) for i in range(4)]
    ds = init_image_dataset("custom", custom_train=t, custom_query=q, custom_gallery=g, verbose=False)
    again = pickle.loads(pickle.dumps(ds))
    assert type(again) is type(ds) and again.train == ds.train and again.query == ds.query
