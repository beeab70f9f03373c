"""Data-layer paths without tests: custom-data validation messages, transform registration, sampler guards,
dataset record/merge guards, split-cache helpers, synthetic-spec validation and archive safety with links."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
import torch
from fixtures_datasets import img
from PIL import Image

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


# ------------------------------------------------------------------------------------------------ transforms


def test_register_transform_places_pil_and_tensor_stages(monkeypatch):
    from torchvision.transforms import ColorJitter, Normalize, ToTensor

    from torchreid.data import transforms as T

    monkeypatch.setattr(T.TRANSFORMS, "_items", dict(T.TRANSFORMS._items))

    class Grey:
        def __call__(self, im):
            return im.convert("L").convert("RGB")

    class Zero:
        def __call__(self, t):
            return torch.zeros_like(t)

    T.register_transform("cov_grey", lambda h, w, m, s: Grey(), "pil", 100)
    T.register_transform("cov_zero", lambda h, w, m, s: Zero(), "tensor")
    with pytest.raises(ValueError, match="stage must be 'pil' or 'tensor', got 'numpy'"):
        T.register_transform("cov_bad", lambda h, w, m, s: Zero(), "numpy")
    with pytest.raises(KeyError, match="already registered"):
        T.register_transform("cov_grey", lambda h, w, m, s: Grey())

    tr, te = T.build_transforms(16, 8, ["cov_zero", "cov_grey", "color_jitter", "cov_grey"])
    kinds = [type(t) for t in tr.transforms]
    assert kinds[1:] == [ColorJitter, Grey, ToTensor, Normalize, Zero]  # pil ones by order, tensor ones last
    out = tr(Image.new("RGB", (8, 16), (200, 30, 30)))
    assert out.shape == (3, 16, 8) and torch.count_nonzero(out) == 0
    assert len(te.transforms) == 3


def test_transform_names_must_be_strings():
    from torchreid.data.transforms import build_transforms

    with pytest.raises(ValueError, match="transform names must be strings, got 3"):
        build_transforms(16, 8, ["random_flip", 3])
    with pytest.raises(ValueError, match="a string or a list of strings"):
        build_transforms(16, 8, {"random_flip": 1})


def test_random_erasing_single_channel_and_patch_on_tiny_image():
    from torchreid.data.transforms import Random2DTranslation, RandomErasing, RandomPatch

    torch.manual_seed(0)
    t = torch.ones(1, 32, 16)
    out = RandomErasing(probability=1.0, mean=[0.0])(t)
    assert 0 < int((out == 0).sum()) < 32 * 16
    assert "p=1.0" in repr(RandomErasing(probability=1.0))

    patch = RandomPatch(prob_happen=1.0, min_sample_size=1)
    one_px = Image.new("RGB", (1, 1))
    assert patch.generate_wh(1, 1) == (None, None)  # no patch fits a 1x1 image
    assert patch(one_px) is one_px and len(patch.patchpool) == 0
    assert "min_sample_size=1" in repr(patch)
    assert repr(Random2DTranslation(16, 8, p=0.25)) == "Random2DTranslation(height=16, width=8, p=0.25)"


# ------------------------------------------------------------------------------------------------ samplers


def _records(num_ids=6, num_cams=3, per_cam=2):
    return [
        (f"{p}_{c}_{k}.jpg", p, c, 0) for p in range(num_ids) for c in range(num_cams) for k in range(per_cam)
    ]


def test_domain_sampler_with_non_positive_num_cams_uses_every_camera():
    from collections import Counter

    from torchreid.data.samplers import build_train_sampler

    data = _records()
    sampler = build_train_sampler(data, "RandomDomainSampler", batch_size=6, num_cams=0)
    assert sampler.n_domain == 3 and sampler.domains == [0, 1, 2]
    idx = list(sampler)
    assert idx and len(idx) % 6 == 0
    for i in range(0, len(idx), 6):
        assert Counter(data[j][2] for j in idx[i : i + 6]) == {0: 2, 1: 2, 2: 2}


def test_sampler_argument_guards():
    from torchreid.data.samplers import RandomDomainSampler, RandomIdentitySampler

    data = _records()
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        RandomDomainSampler(data, 0, 1)
    with pytest.raises(ValueError, match=r"num_replicas \(world size\) must be >= 1, got 0"):
        RandomDomainSampler(data, 6, 1, num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="num_instances must be >= 1, got 0"):
        RandomIdentitySampler(data, 8, 0)


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


# ------------------------------------------------------------------------------------------------ split caches


def test_split_cache_helpers(tmp_path, capsys):
    from torchreid.data.datasets.image import _common as C

    bad = tmp_path / "splits.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"is not valid JSON .*delete it and it will be regenerated"):
        C.cached_splits(str(bad), lambda: [{"train": []}])
    bad.write_text("[]")
    with pytest.raises(ValueError, match="holds no splits; delete it"):
        C.cached_splits(str(bad), lambda: [{"train": []}])

    fresh = tmp_path / "sub" / "fresh.json"
    splits = C.cached_splits(str(fresh), lambda: [{"train": [["a.jpg", 0, 0]]}])
    assert "Created 1 split(s)" in capsys.readouterr().out
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


# ------------------------------------------------------------------------------------------------ synthetic


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"num_train_ids": 0}, "at least one train and one test identity"),
        ({"num_cams": 10}, "at most 9 cameras"),
        ({"train_imgs_per_cam": 0}, "train_imgs_per_cam >= 1"),
        ({"num_distractors": -1}, "num_distractors >= 0"),
        ({"height": 8}, "at least 16x8 pixels"),
        ({"num_train_ids": 9000, "num_test_ids": 1000}, "at most 9999 identities"),
    ],
)
def test_synthetic_spec_validation(kw, message):
    from torchreid.data.datasets.image.synthetic import SyntheticSpec

    with pytest.raises(ValueError, match=message):
        SyntheticSpec(**kw).validate()


# ------------------------------------------------------------------------------------------------ archives


def _zip_symlink(path: Path, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16) | 0x10  # a symlink entry: its target is the content
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        zf.writestr(info, target)


@pytest.mark.parametrize("target", ["../../outside.txt", "/etc/passwd"])
def test_zip_symlink_pointing_outside_is_rejected_before_extraction(tmp_path, target):
    from torchreid.data.datasets import download as dl

    archive = tmp_path / "evil.zip"
    _zip_symlink(archive, "data/link", target)
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError, match="data/link"):
        dl.extract_archive(str(archive), str(dest))
    assert not (dest / "ok.txt").exists()  # nothing written


def test_member_through_an_existing_symlink_out_of_dest_is_rejected(tmp_path):
    from torchreid.data.datasets import download as dl

    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "escape")
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("escape/evil.txt", b"pwned")
    with pytest.raises(dl.UnsafeArchiveError, match="outside"):
        dl.extract_archive(str(archive), str(dest))
    assert list(outside.iterdir()) == []


def test_download_reuses_a_verified_file_and_keeps_non_archives(tmp_path, monkeypatch):
    import hashlib

    from torchreid.data.datasets import download as dl

    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    sha = hashlib.sha256(b"payload").hexdigest()
    dest_dir = tmp_path / "ds"
    # a file:// URL needs no network; the file is not an archive, so it is kept as downloaded
    path = dl.download_and_extract(src.as_uri(), str(dest_dir), sha256=sha, quiet=True)
    assert Path(path) == dest_dir / "src.bin" and Path(path).read_bytes() == b"payload"

    def no_fetch(*a, **k):
        raise AssertionError("a verified existing file must not be downloaded again")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_fetch)
    monkeypatch.setattr(dl, "fetch_url", no_fetch, raising=False)
    assert dl.download_file("https://example.org/src.bin", path, sha256=sha.upper(), quiet=True) == path


def test_download_and_extract_corrupt_archive_is_a_download_error(tmp_path, monkeypatch):
    from torchreid.data.datasets import download as dl

    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("a.txt", b"x" * 1000)
    data = bytearray(good.getvalue())
    data[40:60] = b"\0" * 20  # damage the member data; the central directory still says "zip"
    src = tmp_path / "broken.zip"
    src.write_bytes(bytes(data))
    with pytest.raises(dl.DownloadError, match=r"Could not extract .*broken\.zip .*delete it and run again"):
        dl.download_and_extract(src.as_uri(), str(tmp_path / "ds"), quiet=True)


def test_manual_download_message_has_hint_and_layout():
    from torchreid.data.datasets.download import manual_download_message

    msg = manual_download_message(
        "msmt17", "/data/msmt17", layout="msmt17/\n  MSMT17_V1/\n", hint="Ask the authors."
    )
    assert msg.splitlines() == [
        "Dataset 'msmt17' was not found at /data/msmt17 and cannot be downloaded automatically.",
        "Ask the authors.",
        "Expected layout:",
        "msmt17/",
        "  MSMT17_V1/",
    ]


def test_plain_custom_dataset_pickles_by_class(tmp_path):
    import pickle

    from torchreid.data.datasets import init_image_dataset

    q = [(str(img(tmp_path / f"q{i}.jpg")), pid, 0) for i, pid in enumerate((7, 9))]
    g = [(str(img(tmp_path / f"g{i}.jpg")), pid, 1) for i, pid in enumerate((7, 9))]
    t = [(str(img(tmp_path / f"t{i}.jpg")), i % 2, i % 2) for i in range(4)]
    ds = init_image_dataset("custom", custom_train=t, custom_query=q, custom_gallery=g, verbose=False)
    again = pickle.loads(pickle.dumps(ds))
    assert type(again) is type(ds) and again.train == ds.train and again.query == ds.query
