"""Dataset base classes: records, counts, modes, combine_all, sums, summaries, errors, image/video items."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_datasets import img
from PIL import Image

from torchreid.data import Dataset, ImageDataset, VideoDataset, init_image_dataset, register_image_dataset
from torchreid.data.datasets import IMAGE_DATASETS
from torchreid.utils.tools import read_image


def _img(path, color=(10, 20, 30), size=(8, 16)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return str(path)


def _toy(tmp_path, **kw):
    a = _img(tmp_path / "a.jpg")
    b = _img(tmp_path / "b.png", (200, 0, 0))
    train = [(a, 0, 0), (b, 1, 1), (a, 1, 0)]
    query = [(a, 10, 0)]
    gallery = [(b, 10, 1), (a, 11, 1), (b, 0, 0)]
    return ImageDataset(train, query, gallery, verbose=False, **kw)


def test_records_padded_and_counted(tmp_path):
    ds = _toy(tmp_path)
    assert all(len(r) == 4 and r[3] == 0 for r in ds.train + ds.query + ds.gallery)
    assert (ds.num_train_pids, ds.num_train_cams, ds.num_datasets) == (2, 2, 1)
    assert len(ds) == 3
    assert Dataset.get_num_pids(ds.gallery) == 3 and Dataset.get_num_cams(ds.gallery) == 2


@pytest.mark.parametrize("mode,n", [("train", 3), ("query", 1), ("gallery", 3)])
def test_modes(tmp_path, mode, n):
    assert len(_toy(tmp_path, mode=mode)) == n


def test_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="train \\| query \\| gallery"):
        _toy(tmp_path, mode="val")


def test_combine_all_skips_junk_and_offsets(tmp_path):
    class Junky(ImageDataset):
        _junk_pids = [0]

    a = _img(tmp_path / "a.jpg")
    ds = Junky([(a, 0, 0), (a, 1, 0)], [(a, 7, 0), (a, 5, 0)], [(a, 5, 1), (a, 7, 1), (a, 0, 1)],
               combineall=True, verbose=False)  # fmt: skip
    assert ds.num_train_pids == 4
    added = ds.train[2:]
    assert len(added) == 4  # the pid-0 distractor is left out
    # test pids sorted (5 → 2, 7 → 3) and shared by query and gallery
    assert [r[1] for r in added] == [3, 2, 2, 3]


def test_combine_all_adds_an_image_in_query_and_gallery_once(tmp_path):
    # CUHK03's classic splits use the same test images as query and gallery
    a, b = _img(tmp_path / "a.jpg"), _img(tmp_path / "b.jpg", (1, 2, 3))
    test = [(a, 7, 0), (b, 7, 1)]
    ds = ImageDataset([(a, 0, 0)], test, list(test), combineall=True, verbose=False)
    assert ds.train[1:] == [(a, 1, 0, 0), (b, 1, 1, 0)] and ds.num_train_pids == 2


def test_train_only_skips_combine(tmp_path):
    class TrainOnly(ImageDataset):
        _train_only = True

    a = _img(tmp_path / "a.jpg")
    ds = TrainOnly([(a, 0, 0)], [(a, 3, 0)], [(a, 3, 1)], combineall=True, verbose=False)
    assert len(ds.train) == 1


def test_sum_offsets_and_keeps_k_tfm(tmp_path):
    a = _img(tmp_path / "a.jpg")
    d1 = ImageDataset([(a, 0, 0), (a, 1, 1)], [(a, 9, 0)], [(a, 9, 1)], k_tfm=3, verbose=False,
                      transform=lambda im: torch.zeros(1))  # fmt: skip
    d2 = ImageDataset([(a, 0, 0), (a, 1, 0), (a, 2, 2)], [(a, 9, 0)], [(a, 9, 1)], verbose=False)
    d3 = ImageDataset([(a, 0, 5)], [(a, 9, 0)], [(a, 9, 1)], verbose=False)
    total = sum([d1, d2, d3])
    assert isinstance(total, ImageDataset)
    assert total.k_tfm == 3
    assert total.num_train_pids == 2 + 3 + 1
    assert total.num_datasets == 3
    assert total.train[2:5] == [(a, 2, 2, 1), (a, 3, 2, 1), (a, 4, 4, 1)]
    # offsets accumulate past the largest label: pid 0+5, cam 5+5 (d1+d2 use cams 0,1,2,4), dsetid 2
    assert total.train[5] == (a, 5, 10, 2)
    # with a gap in the camera labels an offset by the count (4) would put d3's camera 0 on d2's camera 4
    d4 = ImageDataset([(a, 0, 0)], [(a, 9, 0)], [(a, 9, 1)], verbose=False)
    merged = d1 + d2 + d4
    assert merged.train[-1] == (a, 5, 5, 2) and merged.num_train_cams == 5
    assert total.query == d1.query and total.gallery == d1.gallery
    item = total[0]
    assert isinstance(item["img"], list) and len(item["img"]) == 3
    assert sum([d1]) is d1


def test_getitem_dict_and_k_tfm(tmp_path):
    ds = _toy(tmp_path, transform=lambda im: torch.as_tensor(np.array(im)).float())
    item = ds[1]
    assert set(item) == {"img", "pid", "camid", "impath", "dsetid"}
    assert item["pid"] == 1 and item["camid"] == 1 and item["dsetid"] == 0
    assert item["impath"].endswith("b.png") and item["img"].shape == (16, 8, 3)
    calls = []
    ds2 = _toy(tmp_path, k_tfm=4, transform=lambda im: calls.append(1) or torch.rand(3))
    img = ds2[0]["img"]
    assert isinstance(img, list) and len(img) == 4 and len(calls) == 4
    assert not torch.equal(img[0], img[1])  # independent draws
    with pytest.raises(ValueError, match="k_tfm"):
        _toy(tmp_path, k_tfm=0)


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    missing = str(tmp_path / "nope.jpg")
    ds = ImageDataset([(missing, 0, 0)], [], [], verbose=False)
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg"):
        ds[0]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    ds = ImageDataset([(str(bad), 0, 0)], [], [], verbose=False)
    with pytest.raises(OSError, match=r"bad\.jpg"):
        ds[0]
    truncated = tmp_path / "trunc.png"
    good = _img(tmp_path / "good.png", size=(64, 64))
    truncated.write_bytes(Path(good).read_bytes()[:60])
    with pytest.raises(OSError, match=r"trunc\.png"):
        read_image(str(truncated))


def test_summary_table(tmp_path, capsys):
    ds = _toy(tmp_path)
    ds.show_summary()
    out = capsys.readouterr().out
    assert "subset   | # ids | # images | # cameras" in out
    assert "train    |     2 |        3 |         2" in out
    assert "gallery  |     3 |        3 |         2" in out


def test_check_before_run_message(tmp_path):
    class MyData(ImageDataset):
        """My data.

        <root>/mydata/images/*.jpg
        """

        dataset_url = None

    ds = _toy(tmp_path)
    ds.__class__ = MyData
    with pytest.raises(FileNotFoundError) as info:
        ds.check_before_run([str(tmp_path), str(tmp_path / "mydata" / "images")])
    msg = str(info.value)
    assert str(tmp_path / "mydata" / "images") in msg
    assert "<root>/mydata/images/*.jpg" in msg  # layout from the docstring
    assert "cannot be downloaded automatically" in msg


def test_download_only_when_absent(tmp_path, monkeypatch):
    import torchreid.data.datasets.download as dl

    calls = []
    monkeypatch.setattr(dl, "download_and_extract", lambda url, d: calls.append((url, d)) or os.makedirs(d))
    ds = _toy(tmp_path)
    ds.download_dataset(str(tmp_path), "http://example.invalid/x.zip")  # exists → nothing
    assert calls == []
    target = tmp_path / "newdata"
    ds.download_dataset(str(target), "http://example.invalid/x.zip")
    assert calls == [("http://example.invalid/x.zip", str(target) + ".download")]
    assert target.is_dir()
    with pytest.raises(FileNotFoundError, match="cannot be downloaded automatically"):
        ds.download_dataset(str(tmp_path / "other"), None)


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    import torchreid.data.datasets.download as dl

    def fail(url, d):
        os.makedirs(d, exist_ok=True)  # the real one creates the staging folder first
        raise dl.DownloadError("no network")

    monkeypatch.setattr(dl, "download_and_extract", fail)
    ds = _toy(tmp_path)
    with pytest.raises(FileNotFoundError, match="no network"):
        ds.download_dataset(str(tmp_path / "x"), "http://example.invalid/x.zip")
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "x.download").exists()  # no empty staging folder left behind
    (tmp_path / "y.download").mkdir()
    (tmp_path / "y.download" / "y.zip").write_bytes(b"complete archive")
    with pytest.raises(FileNotFoundError, match="no network"):
        ds.download_dataset(str(tmp_path / "y"), "http://example.invalid/y.zip")
    assert (tmp_path / "y.download" / "y.zip").exists()  # kept for the next run


def test_registry_decorator_and_unknown_names(tmp_path):
    @register_image_dataset("toy_for_test_data_dataset")
    class Toy(ImageDataset):
        def __init__(self, root="", **kwargs):
            a = _img(os.path.join(root, "toy", "a.jpg"))
            super().__init__([(a, 0, 0)], [(a, 1, 0)], [(a, 1, 1)], **kwargs)

    try:
        ds = init_image_dataset("toy_for_test_data_dataset", root=str(tmp_path), verbose=False)
        assert ds.num_train_pids == 1
        with pytest.raises(ValueError, match="already registered"):
            register_image_dataset("toy_for_test_data_dataset", Toy)
        with pytest.raises(ValueError) as info:
            init_image_dataset("market1502")
        assert "market1501" in str(info.value) and "synthetic" in str(info.value)
    finally:
        IMAGE_DATASETS._items.pop("toy_for_test_data_dataset", None)


def test_registries_load_the_builtin_datasets_on_any_lookup():
    """IMAGE_DATASETS / VIDEO_DATASETS are public: .get / names / in must work in a fresh process too (not only
    after init_*_dataset imported the dataset modules)."""
    import subprocess
    import sys

    code = (
        "from torchreid.data.datasets import IMAGE_DATASETS, VIDEO_DATASETS\n"
        "print(IMAGE_DATASETS.get('market1501').__name__, 'mars' in VIDEO_DATASETS, "
        "'cuhk03' in IMAGE_DATASETS.names(), len(VIDEO_DATASETS) >= 4)"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Market1501", "True", "True", "True"]


def test_original_import_paths_of_dataset_classes():
    """The original exported the base classes and every dataset class from ``torchreid.data.datasets`` (and the
    classes from ``.image`` / ``.video``); user code subclasses e.g. ``Market1501`` through those paths."""
    import subprocess
    import sys

    code = (
        "from torchreid.data.datasets import Dataset, ImageDataset, VideoDataset, Market1501, Mars, iLIDS\n"
        "from torchreid.data.datasets.image import GRID, CUHK03, University1652, DukeMTMCreID\n"
        "from torchreid.data.datasets.video import PRID2011, iLIDSVID, DukeMTMCVidReID\n"
        "from torchreid.data import ImageDataset as I\n"
        "import torchreid.data.datasets as d\n"
        "assert ImageDataset is I and issubclass(Market1501, ImageDataset) and issubclass(Mars, VideoDataset)\n"
        "assert d.IMAGE_DATASETS.get('cuhk03') is CUHK03 and d.VIDEO_DATASETS.get('prid2011') is PRID2011\n"
        "try:\n"
        "    d.NoSuchDataset\n"
        "except AttributeError as e:\n"
        "    print('AttributeError', 'NoSuchDataset' in str(e))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["AttributeError", "True"]


# ------------------------------------------------------------------------------------------------------ video


def _video(tmp_path, n_frames, **kw):
    frames = tuple(_img(tmp_path / f"f{i:02d}.png", (i * 10, 0, 0)) for i in range(n_frames))
    tf = lambda im: torch.full((1, 2, 2), float(np.asarray(im)[0, 0, 0]))  # noqa: E731 - frame id from colour
    return VideoDataset(
        [(frames, 0, 0)], [(frames, 1, 0)], [(frames, 1, 1)], transform=tf, verbose=False, **kw
    )


def _frame_ids(item):
    return [int(v) // 10 for v in item["img"][:, 0, 0, 0].tolist()]


def test_video_evenly(tmp_path):
    ds = _video(tmp_path, 10, seq_len=4, sample_method="evenly")
    assert ds.sample_indices(10) == [0, 2, 4, 6]  # 10 → 8, stride 2
    assert ds.sample_indices(17) == [0, 4, 8, 12]
    assert ds.sample_indices(2) == [0, 1, 1, 1]  # short: repeat the last frame
    item = ds[0]
    assert item["img"].shape == (4, 1, 2, 2) and set(item) == {"img", "pid", "camid", "dsetid"}
    assert _frame_ids(item) == [0, 2, 4, 6]


def test_video_random_and_all(tmp_path):
    ds = _video(tmp_path, 10, seq_len=4, sample_method="random")
    torch.manual_seed(0)
    for _ in range(20):
        idx = ds.sample_indices(10)
        assert idx == sorted(idx) and len(set(idx)) == 4 and all(0 <= i < 10 for i in idx)
        short = ds.sample_indices(3)
        assert short == sorted(short) and len(short) == 4 and set(short) <= {0, 1, 2}
    ds = _video(tmp_path, 6, seq_len=4, sample_method="all")
    assert _frame_ids(ds[0]) == list(range(6))
    with pytest.raises(ValueError, match="sample_method"):
        _video(tmp_path, 3, sample_method="middle")


def test_video_sum_keeps_sampling(tmp_path):
    d1 = _video(tmp_path, 5, seq_len=3, sample_method="random")
    total = d1 + _video(tmp_path, 5, seq_len=3, sample_method="random")
    assert isinstance(total, VideoDataset) and total.seq_len == 3 and total.sample_method == "random"
    assert [r[1] for r in total.train] == [0, 1]


# ------------------------------------------------------------------------------------------------ utils.tools


def test_tools_helpers(tmp_path):
    import random as pyrandom

    from torchreid.utils import tools

    tools.mkdir_if_missing(str(tmp_path / "a" / "b"))
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "a" / ".hidden").write_text("x")
    (tmp_path / "a" / "f.txt").write_text("x")
    assert tools.listdir_nohidden(str(tmp_path / "a"), sort=True) == ["b", "f.txt"]
    with pytest.warns(UserWarning, match="No file found"):
        assert not tools.check_isfile(str(tmp_path / "missing"))
    path = str(tmp_path / "j" / "x.json")
    tools.write_json({"a": [1, 2]}, path)
    assert tools.read_json(path) == {"a": [1, 2]}
    assert [p.name for p in (tmp_path / "j").iterdir()] == ["x.json"]  # no temporary file left
    tools.set_random_seed(5)
    a = (pyrandom.random(), np.random.rand(), torch.rand(1).item())
    tools.set_random_seed(5)
    assert (pyrandom.random(), np.random.rand(), torch.rand(1).item()) == a
    assert "PyTorch" in tools.collect_env_info()


def test_download_url_atomic(tmp_path):
    from torchreid.utils.tools import download_url

    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 1000)
    dst = tmp_path / "out" / "dst.bin"
    download_url(src.as_uri(), str(dst))
    assert dst.read_bytes() == src.read_bytes()
    bad = tmp_path / "out" / "bad.bin"
    with pytest.raises(RuntimeError, match=r"bad\.bin"):
        download_url((tmp_path / "does-not-exist").as_uri(), str(bad))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dst.bin"]  # partial file removed


def test_atomic_output_keeps_the_old_file_on_failure(tmp_path):
    from torchreid.utils.tools import atomic_output

    dest = tmp_path / "sub" / "f.txt"
    with atomic_output(dest) as tmp:
        assert tmp.parent == dest.parent and not dest.exists()
        tmp.write_text("v1")
    assert dest.read_text() == "v1"
    with pytest.raises(KeyError), atomic_output(dest) as tmp:
        tmp.write_text("partial")
        raise KeyError("boom")
    assert dest.read_text() == "v1" and [p.name for p in dest.parent.iterdir()] == ["f.txt"]


def test_atomic_output_writes_where_chmod_is_refused(tmp_path, monkeypatch):
    # some mounts (FUSE, SMB, vboxsf) refuse chmod but store the file: the permissions are cosmetic there
    from torchreid.utils.tools import atomic_output

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    dest = tmp_path / "f.json"
    with atomic_output(dest) as tmp:
        tmp.write_text("{}")
    assert dest.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["f.json"]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_atomic_output_reads_the_umask_without_clearing_it(tmp_path, monkeypatch):
    # os.umask(0) to read it leaves a window in which other threads create world-writable files
    from torchreid.utils import tools

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("os.umask changed the process umask"))
        assert tools._umask() == 0o027
        dest = tmp_path / "f.txt"
        with tools.atomic_output(dest) as tmp:
            tmp.write_text("x")
        assert dest.stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(old)


# ------------------------------------------------------------------------------------------------ dataset base


def test_dataset_record_and_merge_guards(tmp_path):
    from torchreid.data import ImageDataset, VideoDataset

    a = str(img(tmp_path / "a.jpg"))
    with pytest.raises(ValueError, match=r"train record 0 has 2 fields; expected \(img_path, pid, camid"):
        ImageDataset([(a, 0)], [(a, 1, 0)], [(a, 1, 1)], verbose=False)
    ds = ImageDataset([(a, 0, 0)], [(a, 1, 0)], [(a, 1, 1)], verbose=False)
    with pytest.raises(TypeError):
        ds + 5
    assert sum([ds]) is ds
    assert repr(ds) == ds.summary_table() and "# ids" in repr(ds)

    video = VideoDataset([([a, a], 0, 0)], [([a], 1, 0)], [([a], 1, 1)], seq_len=2, verbose=False)
    assert video.train[0][0] == (a, a)  # lists of frames become tuples
    with pytest.raises(ValueError, match="seq_len must be >= 1, got 0"):
        VideoDataset([([a], 0, 0)], [], [], seq_len=0, verbose=False)
    with pytest.raises(ValueError, match="Unknown sample_method 'middle'; expected one of"):
        VideoDataset([([a], 0, 0)], [], [], sample_method="middle", verbose=False)
    with pytest.raises(ValueError, match="empty tracklet"):
        video.sample_indices(0)


def test_check_before_run_accepts_a_single_path(tmp_path):
    from torchreid.data import ImageDataset

    a = str(img(tmp_path / "a.jpg"))
    ds = ImageDataset([(a, 0, 0)], [(a, 1, 0)], [(a, 1, 1)], verbose=False)
    ds.check_before_run(a)  # exists: no error
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        ds.check_before_run(str(tmp_path / "missing_dir"))


def test_verbose_false_is_silent_and_the_summary_reaches_the_console(tmp_path, caplog, capsys):
    """Library messages go through the ``torchreid`` logger, whose default handler prints them to stdout."""
    import logging

    from torchreid.data import init_image_dataset

    tiny = {"num_train_ids": 4, "num_test_ids": 2, "num_cams": 2, "train_imgs_per_cam": 1, "test_imgs_per_cam": 2,
            "num_distractors": 0, "height": 32, "width": 16}  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="torchreid"):
        init_image_dataset("synthetic", root=str(tmp_path), verbose=False, **tiny)
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("torchreid.data")]
    assert capsys.readouterr().out == ""
    with caplog.at_level(logging.INFO, logger="torchreid"):
        ds = init_image_dataset("synthetic", root=str(tmp_path), verbose=True, **tiny)
    table = ds.summary_table()
    assert any(
        r.name == "torchreid.data.datasets.dataset" and r.getMessage() == table for r in caplog.records
    )
    assert table in capsys.readouterr().out
