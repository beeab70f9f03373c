"""ImageDataManager / VideoDataManager end to end on the built-in synthetic data (tiny sizes)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

import torchreid
from torchreid.data import ImageDataManager, ImageDataset, VideoDataManager, register_image_dataset
from torchreid.data.datasets import IMAGE_DATASETS

TINY = {"num_train_ids": 8, "num_test_ids": 4, "num_cams": 3, "train_imgs_per_cam": 2, "test_imgs_per_cam": 3,
            "num_distractors": 2, "height": 32, "width": 16}  # fmt: skip


def _dm(root, **kw):
    args = {"root": str(root), "sources": "synthetic", "height": 32, "width": 16, "workers": 0, "batch_size_train": 8,
                "batch_size_test": 5, "use_gpu": False, "dataset_kwargs": TINY}  # fmt: skip
    args.update(kw)
    return ImageDataManager(**args)


def test_public_names():
    for name in ("ImageDataManager", "VideoDataManager", "ImageDataset", "VideoDataset", "Dataset",
                 "register_image_dataset", "register_video_dataset", "init_image_dataset", "init_video_dataset",
                 "build_transforms", "build_train_sampler"):  # fmt: skip
        assert hasattr(torchreid.data, name), name


def test_image_datamanager_end_to_end(tmp_path):
    dm = _dm(tmp_path, transforms=["random_flip", "random_erase"])
    assert dm.num_train_pids == 8 and dm.num_train_cams == 3
    assert dm.sources == ["synthetic"] and dm.targets == ["synthetic"] and dm.data_type == "image"
    assert (dm.height, dm.width) == (32, 16)
    loader = dm.train_loader
    assert loader.drop_last and len(loader) == 48 // 8
    batch = next(iter(loader))
    assert batch["img"].shape == (8, 3, 32, 16) and batch["img"].dtype == torch.float32
    assert batch["pid"].shape == (8,) and batch["camid"].shape == (8,) and batch["dsetid"].shape == (8,)
    assert int(batch["pid"].max()) < 8 and len(batch["impath"]) == 8
    q = next(iter(dm.test_loader["synthetic"]["query"]))
    g = next(iter(dm.test_loader["synthetic"]["gallery"]))
    assert q["img"].shape == (5, 3, 32, 16) and g["img"].shape == (5, 3, 32, 16)
    assert len(dm.test_loader["synthetic"]["query"].dataset) == 4 * 3
    assert len(dm.test_loader["synthetic"]["gallery"].dataset) == 4 * 3 * 2 + 2
    query, gallery = dm.fetch_test_loaders("synthetic")
    assert query == dm.test_dataset["synthetic"]["query"] and len(gallery) == 26
    with pytest.raises(KeyError, match="synthetic"):
        dm.fetch_test_loaders("market1501")
    assert dm.train_loader_t is None
    assert dm.preprocess_pil_img(__import__("PIL").Image.new("RGB", (5, 9))).shape == (3, 32, 16)


def test_test_loader_order_is_the_dataset_order(tmp_path):
    dm = _dm(tmp_path)
    pids = torch.cat([b["pid"] for b in dm.test_loader["synthetic"]["query"]]).tolist()
    assert pids == [r[1] for r in dm.test_dataset["synthetic"]["query"]]


def test_identity_sampler_and_k_tfm(tmp_path):
    dm = _dm(tmp_path, train_sampler="RandomIdentitySampler", num_instances=2, k_tfm=2)
    for batch in dm.train_loader:
        assert isinstance(batch["img"], list) and len(batch["img"]) == 2
        assert batch["img"][0].shape == (8, 3, 32, 16)
        assert set(Counter(batch["pid"].tolist()).values()) == {2} and len(set(batch["pid"].tolist())) == 4


def test_workers_pin_memory_and_persistence(tmp_path):
    dm = _dm(tmp_path, workers=1, use_gpu=True)
    assert dm.train_loader.pin_memory == torch.cuda.is_available()
    assert dm.train_loader.persistent_workers and dm.train_loader.num_workers == 1
    # test loaders start their workers per evaluation (no processes held between evaluations)
    for loaders in dm.test_loader.values():
        assert loaders["query"].num_workers == 1 and not loaders["query"].persistent_workers
        assert not loaders["gallery"].persistent_workers
    batch = next(iter(dm.train_loader))
    assert batch["img"].shape == (8, 3, 32, 16)
    assert not _dm(tmp_path).train_loader.persistent_workers


def test_combineall(tmp_path):
    dm = _dm(tmp_path, combineall=True)
    assert dm.num_train_pids == 8 + 4  # the distractors are junk


def test_multi_source_and_train_targets(tmp_path):
    @register_image_dataset("tiny_copy_for_dm_test")
    class TinyCopy(ImageDataset):
        def __init__(self, root="", **kwargs):
            base = IMAGE_DATASETS.get("synthetic")(root=root, **{**TINY, "num_train_ids": 5},
                                                   verbose=False)  # fmt: skip
            kwargs.pop("verbose", None)
            super().__init__(base.train, base.query, base.gallery, verbose=False, **kwargs)

    try:
        dm = _dm(tmp_path, sources=["synthetic", "tiny_copy_for_dm_test"], targets="synthetic",
                 train_sampler="RandomDatasetSampler", num_datasets=2)  # fmt: skip
        assert dm.num_train_pids == 8 + 5 and dm.train_set.num_datasets == 2
        for batch in dm.train_loader:
            assert Counter(batch["dsetid"].tolist()) == {0: 4, 1: 4}
        dm = _dm(tmp_path, sources="tiny_copy_for_dm_test", targets="synthetic", load_train_targets=True)
        bt = next(iter(dm.train_loader_t))
        assert bt["img"].shape == (8, 3, 32, 16)
        with pytest.raises(ValueError, match="must not overlap"):
            _dm(tmp_path, load_train_targets=True)
    finally:
        IMAGE_DATASETS._items.pop("tiny_copy_for_dm_test", None)


def test_training_only_dataset_is_never_a_silent_target(tmp_path):
    @register_image_dataset("tiny_train_only_for_dm_test")
    class TinyTrainOnly(ImageDataset):
        _train_only = True

        def __init__(self, root="", **kwargs):
            base = IMAGE_DATASETS.get("synthetic")(root=root, **TINY, verbose=False)
            kwargs.pop("verbose", None)
            super().__init__(base.train, base.train[:1], base.train[:1], verbose=False, **kwargs)

    try:
        sources = ["synthetic", "tiny_train_only_for_dm_test"]
        with pytest.warns(UserWarning, match="'tiny_train_only_for_dm_test' is a training-only dataset"):
            # targets default to the sources: the train-only one is dropped
            dm = _dm(tmp_path, sources=sources)
        assert dm.targets == ["synthetic"] and list(dm.test_loader) == ["synthetic"]
        for targets in (sources, "tiny_train_only_for_dm_test"):  # named explicitly: an error before training
            with pytest.raises(ValueError, match="cannot be a target: name test datasets in targets"):
                _dm(tmp_path, sources="synthetic", targets=targets)
        with pytest.raises(ValueError, match="cannot be a target"):
            _dm(tmp_path, sources="tiny_train_only_for_dm_test")
    finally:
        IMAGE_DATASETS._items.pop("tiny_train_only_for_dm_test", None)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="sources"):
        ImageDataManager(root=str(tmp_path), sources=None)
    with pytest.raises(ValueError, match="market1501"):
        _dm(tmp_path, sources="market15O1")
    with pytest.raises(ValueError, match="random_flip"):
        _dm(tmp_path, transforms="flip")
    with pytest.raises(ValueError, match="RandomIdentitySampler"):
        _dm(tmp_path, train_sampler="IdentitySampler")


def test_distributed_split_of_the_global_batch(tmp_path, monkeypatch):
    import torchreid.data.datamanager as dmod

    shards = []
    for rank in range(2):
        monkeypatch.setattr(dmod, "_dist_info", lambda distributed, r=rank: (2, r))
        dm = _dm(tmp_path, train_sampler="RandomIdentitySampler", num_instances=2, seed=3)
        assert dm.train_loader.batch_size == 4
        dm.train_loader.batch_sampler.sampler.set_epoch(0)
        shards.append([b["impath"] for b in dm.train_loader])
    assert len(shards[0]) == len(shards[1]) > 0
    for b0, b1 in zip(*shards):
        assert not set(b0) & set(b1)
    with pytest.raises(ValueError, match=r"train\.batch_size.*world size"):
        _dm(tmp_path, batch_size_train=6, train_sampler="RandomIdentitySampler", num_instances=2)
    with pytest.raises(ValueError, match=r"train\.batch_size = 7.*world size 2"):
        _dm(tmp_path, batch_size_train=7)


def test_video_datamanager(tmp_path):
    dm = VideoDataManager(
        root=str(tmp_path), sources="synthetic_video", height=32, width=16, workers=0, batch_size_train=2,
        batch_size_test=2, seq_len=4, sample_method="evenly", use_gpu=False,
        dataset_kwargs={"num_train_ids": 4, "num_test_ids": 3, "num_cams": 2, "min_len": 3, "max_len": 6, "frame_size": (32, 16)},
    )  # fmt: skip
    assert dm.data_type == "video" and dm.num_train_pids == 4
    batch = next(iter(dm.train_loader))
    assert batch["img"].shape == (2, 4, 3, 32, 16)
    q = next(iter(dm.test_loader["synthetic_video"]["query"]))
    assert q["img"].shape[1:] == (4, 3, 32, 16)


# ---- the settings object and the original's strict keywords ---------------------------------------------------


def test_unknown_keyword_is_a_type_error_naming_the_closest_valid_one(tmp_path):
    """``ImageDataManager(..., batch_size=32)`` (the old docs' example) raised TypeError in the original."""
    with pytest.raises(
        TypeError, match=r"unexpected keyword argument 'batch_size' \(did you mean 'batch_size_train'\?\)"
    ):
        _dm(tmp_path, batch_size=32)
    with pytest.raises(TypeError, match=r"ImageDataManager.*'hieght' \(did you mean 'height'\?\)"):
        _dm(tmp_path, hieght=32)
    with pytest.raises(TypeError, match=r"'zzz_qqq' \(dataset-specific options go in dataset_kwargs"):
        _dm(tmp_path, zzz_qqq=1)
    with pytest.raises(TypeError, match=r"VideoDataManager.*'seqlen' \(did you mean 'seq_len'\?\)"):
        VideoDataManager(root=str(tmp_path), sources="synthetic_video", seqlen=4)


def test_options_declared_by_datasets_are_passed_through(tmp_path):
    """Keywords a registered dataset declares (custom_train, the synthetic sizes, ...) still reach the datasets."""
    dm = _dm(tmp_path, dataset_kwargs=None, **{**TINY, "num_train_ids": 6})
    assert dm.num_train_pids == 6


def test_settings_object_holds_the_arguments_and_matches_the_signatures(tmp_path):
    import inspect
    from dataclasses import fields

    from torchreid.data.settings import ImageDataSettings, VideoDataSettings

    dm = _dm(tmp_path, batch_size_train=4, num_instances=2, train_sampler="RandomIdentitySampler")
    assert isinstance(dm.settings, ImageDataSettings)
    assert (dm.settings.batch_size_train, dm.settings.num_instances, dm.settings.sources) == (
        4,
        2,
        "synthetic",
    )
    for manager, settings in ((ImageDataManager, ImageDataSettings), (VideoDataManager, VideoDataSettings)):
        params = {n: p.default for n, p in inspect.signature(manager.__init__).parameters.items()
                  if n not in ("self", "kwargs")}  # fmt: skip
        assert params == {f.name: f.default for f in fields(settings)}, manager


def _market(root, query=True, gallery=True):
    from fixtures_datasets import img

    base = root / "market1501" / "Market-1501-v15.09.15"
    for name in ("0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_077419_03.jpg",
                 "0007_c6s1_000126_02.jpg"):  # fmt: skip
        img(base / "bounding_box_train" / name)
    (base / "query").mkdir(parents=True)
    (base / "bounding_box_test").mkdir(parents=True)
    if query:
        img(base / "query" / "0001_c1s1_001051_00.jpg")
    if gallery:
        img(base / "bounding_box_test" / "0001_c2s1_000301_01.jpg")
    return base


@pytest.mark.parametrize("subset,folder", [("query", "query"), ("gallery", "bounding_box_test")])
def test_empty_query_or_gallery_is_an_error_when_the_manager_is_built(tmp_path, subset, folder):
    """Issue 12: the run must not train to the end and then fail at the final evaluation."""
    base = _market(tmp_path, query=subset != "query", gallery=subset != "gallery")
    args = {"root": str(tmp_path), "sources": "market1501", "height": 32, "width": 16, "workers": 0,
            "batch_size_train": 2, "use_gpu": False}  # fmt: skip
    with pytest.raises(ValueError, match=rf"'market1501' has an empty {subset} set.*{base / folder}"):
        ImageDataManager(**args)
    # the complete layout builds
    img_args = dict(args, root=str(tmp_path / "ok"))
    _market(tmp_path / "ok")
    dm = ImageDataManager(**img_args)
    assert (
        len(dm.test_dataset["market1501"]["query"]) == 1
        and len(dm.test_dataset["market1501"]["gallery"]) == 1
    )


def test_summary_goes_through_the_torchreid_logger(tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="torchreid"):
        _dm(tmp_path)
    text = caplog.text
    assert "=> Loading train (source) dataset" in text and "**************** Summary ****************" in text
    assert any(r.name == "torchreid.data.datamanager" for r in caplog.records)


def test_summaries_reach_stdout_in_a_fresh_process(tmp_path):
    """As in a ``scripts/main.py`` run: the torchreid logger's default handler prints the tables to stdout."""
    import subprocess
    import sys

    code = (
        "import torchreid\n"
        f"torchreid.data.ImageDataManager(root={str(tmp_path)!r}, sources='synthetic', height=32, width=16, "
        f"workers=0, batch_size_train=8, use_gpu=False, dataset_kwargs={TINY!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "Building train transforms ..." in out and "=> Loading train (source) dataset" in out
    assert "# ids | # images | # cameras" in out and "**************** Summary ****************" in out
