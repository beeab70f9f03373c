"""Video re-ID: tracklet sampling, the synthetic video data, the video engines (pooling, frame flattening,
chunked evaluation, visrank) and an end-to-end run through scripts/main.py."""

from __future__ import annotations

import glob
import importlib.util
import os
import os.path as osp
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image
from torch import nn

from torchreid.data.datasets import init_video_dataset
from torchreid.data.datasets.dataset import VideoDataset

# ------------------------------------------------------------------------------------------------ sampling


def _coded_tracklet(folder, n: int) -> tuple[str, ...]:
    """``n`` frames whose pixel value encodes their index (frame i is filled with 10*i)."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        p = osp.join(folder, f"f{i:03d}.png")
        Image.fromarray(np.full((4, 2, 3), 10 * i, dtype=np.uint8)).save(p)
        paths.append(p)
    return tuple(paths)


def _read_indices(item: dict) -> list[int]:
    """Frame indices of a sampled item (inverse of the pixel coding; to_tensor scales by 1/255)."""
    vals = item["img"][:, 0, 0, 0] * 255
    return [round(float(v) / 10) for v in vals]


@pytest.fixture
def tracklets(tmp_path):
    """Tracklets of 3, 15 and 23 frames."""
    return [_coded_tracklet(tmp_path / f"t{n}", n) for n in (3, 15, 23)]


def _dataset(tracks, **kw) -> VideoDataset:
    train = [(paths, i, 0) for i, paths in enumerate(tracks)]
    return VideoDataset(train, [], [], verbose=False, **kw)


def test_sample_evenly(tracklets):
    ds = _dataset(tracklets, seq_len=5, sample_method="evenly")
    # 3 frames < seq_len: every frame once, then the last frame repeated
    assert _read_indices(ds[0]) == [0, 1, 2, 2, 2]
    # 15 frames: stride 3
    assert _read_indices(ds[1]) == [0, 3, 6, 9, 12]
    # 23 frames: n -= n % seq_len -> 20, stride 4 (the last 3 frames are never used)
    assert _read_indices(ds[2]) == [0, 4, 8, 12, 16]
    assert ds[2]["img"].shape == (5, 3, 4, 2)
    assert ds.sample_indices(23) == [0, 4, 8, 12, 16]
    assert ds.sample_indices(5) == [0, 1, 2, 3, 4]
    assert ds.sample_indices(1) == [0] * 5


def test_sample_random(tracklets):
    torch.manual_seed(0)
    ds = _dataset(tracklets, seq_len=5, sample_method="random")
    seen = set()
    for _ in range(30):
        long_idx = _read_indices(ds[2])
        assert len(long_idx) == 5
        assert long_idx == sorted(long_idx)  # temporal order kept
        assert len(set(long_idx)) == 5  # no repetition when the tracklet is long enough
        assert all(0 <= i < 23 for i in long_idx)
        seen.update(long_idx)
        short_idx = _read_indices(ds[0])  # 3 frames < 5: drawn with replacement
        assert len(short_idx) == 5 and short_idx == sorted(short_idx)
        assert set(short_idx) <= {0, 1, 2}
    assert len(seen) > 15  # actually random over the whole tracklet


def test_sample_all(tracklets):
    ds = _dataset(tracklets, seq_len=5, sample_method="all")
    assert _read_indices(ds[0]) == [0, 1, 2]
    assert _read_indices(ds[2]) == list(range(23))
    item = ds[1]
    assert item["img"].shape == (15, 3, 4, 2)
    assert (item["pid"], item["camid"], item["dsetid"]) == (1, 0, 0)


def test_unknown_sample_method_is_an_error(tracklets):
    with pytest.raises(ValueError, match="sample_method"):
        _dataset(tracklets, sample_method="uniform")


def test_missing_frame_is_named(tracklets):
    ds = _dataset(tracklets, seq_len=5, sample_method="all")
    os.remove(tracklets[1][7])
    with pytest.raises(FileNotFoundError, match=r"f007\.png"):
        ds[1]


# ------------------------------------------------------------------------------------------------ synthetic data


SMALL = {
    "num_train_ids": 4,
    "num_test_ids": 3,
    "num_cams": 2,
    "min_len": 2,
    "max_len": 5,
    "frame_size": (32, 16),
}


def test_synthetic_video_is_generated_once_and_deterministic(tmp_path):
    a = init_video_dataset("synthetic_video", root=str(tmp_path / "a"), verbose=False, **SMALL)
    assert (len(a.train), a.num_train_pids, a.num_train_cams) == (8, 4, 2)
    assert (
        len(a.query) == 3 and len(a.gallery) == 3
    )  # one query per test id, its other-camera tracklet in gallery
    assert {r[1] for r in a.query} == {r[1] for r in a.gallery} == {4, 5, 6}
    for (_, qpid, qcam, _), (_, gpid, gcam, _) in zip(
        sorted(a.query, key=lambda r: r[1]), sorted(a.gallery, key=lambda r: r[1])
    ):
        assert qpid == gpid and qcam != gcam
    assert all(2 <= len(r[0]) <= 5 for r in a.train + a.query + a.gallery)
    (data_dir,) = glob.glob(str(tmp_path / "a" / "synthetic_video" / "4+3ids_2cams_32x16_seed0_*"))
    manifest = Path(data_dir) / "manifest.json"
    mtime = manifest.stat().st_mtime_ns
    again = init_video_dataset("synthetic_video", root=str(tmp_path / "a"), verbose=False, **SMALL)
    assert manifest.stat().st_mtime_ns == mtime  # not regenerated
    assert again.train == a.train
    # same spec elsewhere: byte-identical frames
    b = init_video_dataset("synthetic_video", root=str(tmp_path / "b"), verbose=False, **SMALL)
    for ra, rb in zip(a.train + a.gallery, b.train + b.gallery):
        assert Path(ra[0][-1]).read_bytes() == Path(rb[0][-1]).read_bytes()
    # frames of a tracklet differ (motion + noise)
    f0, f1 = (np.asarray(Image.open(p), dtype=np.float32) for p in a.train[0][0][:2])
    assert np.abs(f0 - f1).mean() > 1
    # another spec gets its own folder; the first copy stays valid
    c = init_video_dataset(
        "synthetic_video", root=str(tmp_path / "a"), verbose=False, **{**SMALL, "num_test_ids": 2}
    )
    assert len(c.query) == 2 and manifest.stat().st_mtime_ns == mtime
    assert len(glob.glob(str(tmp_path / "a" / "synthetic_video" / "*"))) == 2
    assert not glob.glob(str(tmp_path / "a" / "synthetic_video" / ".*"))  # no temporary folders left
    # an interrupted generation (no manifest) is redone
    manifest.unlink()
    again = init_video_dataset("synthetic_video", root=str(tmp_path / "a"), verbose=False, **SMALL)
    assert manifest.is_file() and again.train == a.train


def test_synthetic_video_items(tmp_path):
    ds = init_video_dataset(
        "synthetic_video", root=str(tmp_path), verbose=False, seq_len=4, sample_method="evenly", **SMALL
    )
    item = ds[0]
    assert item["img"].shape == (4, 3, 32, 16) and item["pid"] == ds.train[0][1]


def test_synthetic_video_tracklet_with_missing_frame_is_named(tmp_path):
    ds = init_video_dataset(
        "synthetic_video", root=str(tmp_path), verbose=False, sample_method="all", **SMALL
    )
    victim = ds.train[2][0][1]
    os.remove(victim)
    with pytest.raises(FileNotFoundError, match=osp.basename(victim)):
        ds[2]


# ------------------------------------------------------------------------------------------------ engines


class MeanColour(nn.Module):
    """Eval: the per-channel mean of each frame, plus its squared values (a nonlinear but hand-computable
    feature). Train: logits (softmax) or (logits, features) (triplet)."""

    def __init__(self, num_classes: int = 3, loss: str = "softmax"):
        super().__init__()
        self.loss = loss
        self.fc = nn.Linear(6, num_classes)
        self.calls: list[int] = []

    def forward(self, x):
        self.calls.append(x.shape[0])
        m = x.mean(dim=(2, 3))
        f = torch.cat([m, m**2], dim=1)
        if not self.training:
            return f
        logits = self.fc(f)
        return (logits, f) if self.loss == "triplet" else logits


def _fake_datamanager(test_sample_method="evenly", test_batch_size=2, train_batch_size=2):
    def loader(batch_size, method):
        return SimpleNamespace(batch_size=batch_size, dataset=SimpleNamespace(sample_method=method))

    return SimpleNamespace(
        num_train_pids=3,
        train_loader=loader(train_batch_size, "evenly"),
        test_loader={
            "fake": {
                "query": loader(test_batch_size, test_sample_method),
                "gallery": loader(test_batch_size, test_sample_method),
            }
        },
        sources=["fake"],
    )


def _engine(kind: str, pooling: str = "avg", dm=None, **kw):
    from torchreid.engine import VideoSoftmaxEngine, VideoTripletEngine

    model = MeanColour(loss="triplet" if kind == "triplet" else "softmax")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cls = VideoTripletEngine if kind == "triplet" else VideoSoftmaxEngine
    extra = {"weight_x": 1.0} if kind == "triplet" else {}
    engine = cls(dm or _fake_datamanager(), model, opt, use_gpu=False, pooling_method=pooling, **extra, **kw)
    return engine, model


@pytest.mark.parametrize("positional", [False, True])
def test_video_engines_pass_every_image_engine_argument_on(positional):
    """The video engines hand the original arguments to the image engines (keywords or the original order)."""
    from torchreid.engine import VideoSoftmaxEngine, VideoTripletEngine

    model = MeanColour(loss="triplet")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    dm = _fake_datamanager()
    if positional:
        t = VideoTripletEngine(dm, model, opt, 0.7, 0.25, 2.0, sched, False, False, "max")
        s = VideoSoftmaxEngine(dm, model, opt, sched, False, False, "max")
    else:
        t = VideoTripletEngine(dm, model, opt, margin=0.7, weight_t=0.25, weight_x=2.0, scheduler=sched,
                               use_gpu=False, label_smooth=False, pooling_method="max")  # fmt: skip
        s = VideoSoftmaxEngine(dm, model, opt, scheduler=sched, use_gpu=False, label_smooth=False,
                               pooling_method="max")  # fmt: skip
    assert (t.criterion_t.margin, t.weight_t, t.weight_x) == (0.7, 0.25, 2.0)
    for engine in (t, s):
        assert engine.scheduler is sched and engine.optimizer is opt and engine.model is model
        assert engine.use_gpu is False and engine.pooling_method == "max"
        crit = engine.criterion_x if engine is t else engine.criterion
        assert crit.eps == 0.0  # label_smooth=False reached the cross-entropy loss


def _hand_features(x: np.ndarray, pooling: str) -> np.ndarray:
    """Hand computation of the pooled MeanColour features of ``x`` (B, S, C, H, W)."""
    b, s = x.shape[:2]
    out = np.zeros((b, 6))
    for i in range(b):
        per_frame = []
        for j in range(s):
            m = [x[i, j, c].mean() for c in range(3)]
            per_frame.append(m + [v * v for v in m])
        per_frame = np.array(per_frame)
        out[i] = per_frame.mean(0) if pooling == "avg" else per_frame.max(0)
    return out


@pytest.mark.parametrize("kind", ["softmax", "triplet"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_matches_hand_computation(kind, pooling):
    engine, _ = _engine(kind, pooling)
    engine.set_model_mode("eval")
    x = torch.rand(3, 5, 3, 4, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = engine.extract_features(x)
    assert got.shape == (3, 6)
    np.testing.assert_allclose(got.numpy(), _hand_features(x.double().numpy(), pooling), rtol=1e-5, atol=1e-6)
    # avg and max really differ on this input
    other = "max" if pooling == "avg" else "avg"
    assert not np.allclose(got.numpy(), _hand_features(x.double().numpy(), other), atol=1e-4)


@pytest.mark.parametrize("kind", ["softmax", "triplet"])
def test_long_tracklets_are_evaluated_in_chunks(kind):
    engine, model = _engine(kind, "max", eval_chunk_size=4)
    engine.set_model_mode("eval")
    x = torch.rand(
        1, 11, 3, 4, 2, generator=torch.Generator().manual_seed(2)
    )  # one 'all' tracklet of 11 frames
    with torch.no_grad():
        got = engine.extract_features(x)
    assert model.calls == [4, 4, 3]  # never more than eval_chunk_size frames at once
    np.testing.assert_allclose(got.numpy(), _hand_features(x.double().numpy(), "max"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["softmax", "triplet"])
def test_training_flattens_frames_and_repeats_labels(kind):
    engine, model = _engine(kind)
    imgs = torch.rand(2, 3, 3, 4, 2)
    pids = torch.tensor([2, 0])
    flat, labels = engine.parse_data_for_train({"img": imgs, "pid": pids, "camid": torch.tensor([0, 1])})
    assert flat.shape == (6, 3, 4, 2)
    assert labels.tolist() == [2, 2, 2, 0, 0, 0]
    assert torch.equal(flat[4], imgs[1, 1])
    engine.set_model_mode("train")
    before = model.fc.weight.detach().clone()
    summary = engine.forward_backward({"img": imgs, "pid": pids, "camid": torch.tensor([0, 1])})
    assert model.calls[-1] == 6  # one forward over all 6 frames
    assert all(np.isfinite(v) for v in summary.values())
    assert not torch.equal(before, model.fc.weight)


@pytest.mark.parametrize("kind", ["softmax", "triplet"])
def test_unknown_pooling_method_is_an_error(kind):
    with pytest.raises(ValueError, match=r"pooling_method 'mean'.*avg, max"):
        _engine(kind, "mean")


@pytest.mark.parametrize("kind", ["softmax", "triplet"])
def test_sample_all_needs_test_batch_size_1(kind):
    with pytest.raises(ValueError, match=r"sample_method 'all'.*batch size 4.*test.batch_size 1"):
        _engine(kind, dm=_fake_datamanager(test_sample_method="all", test_batch_size=4))
    _engine(kind, dm=_fake_datamanager(test_sample_method="all", test_batch_size=1))  # fine


def test_visrank_strips(tmp_path):
    from torchreid.evaluation.visrank_video import visualize_ranked_tracklets

    ds = init_video_dataset("synthetic_video", root=str(tmp_path / "data"), verbose=False, **SMALL)
    rng = np.random.default_rng(0)
    distmat = rng.random((len(ds.query), len(ds.gallery)))
    out = visualize_ranked_tracklets(
        distmat,
        (ds.query, ds.gallery),
        width=16,
        height=32,
        save_dir=str(tmp_path / "vis"),
        topk=2,
        frames_per_tracklet=3,
    )
    assert len(out) == len(ds.query) and all(osp.isfile(p) for p in out)
    img = np.asarray(Image.open(out[0]))
    # rows: query + 2 ranked gallery tracklets, each 32 px high, separated by gaps
    assert img.shape[0] > 3 * 32 and img.shape[1] >= 3 * 16


# ------------------------------------------------------------------------------------------------ end to end


def _load_main():
    # one thread: the tiny convolutions gain nothing from two, and `make test` runs two pytest workers on
    # a 2-core machine (two threads each would oversubscribe it, which slows OpenMP down by an order of magnitude)
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("torchreid_main_script", REPO / "scripts" / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize(
    ("loss", "pooling", "extra"),
    [
        ("softmax", "avg", []),
        ("triplet", "max", ["sampler.train_sampler", "RandomIdentitySampler", "sampler.num_instances", "2"]),
    ],
)
def test_end_to_end_video_run_through_main(tmp_path, loss, pooling, extra):
    main = _load_main()
    save_dir = tmp_path / "log"
    argv = [
        "--root", str(tmp_path / "data"),
        "-s", "synthetic_video", "-t", "synthetic_video",
        "data.type", "video",
        "data.height", "32", "data.width", "16",
        "data.workers", "0",
        "data.save_dir", str(save_dir),
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "loss.name", loss,
        "video.seq_len", "2", "video.pooling_method", pooling,
        "train.batch_size", "4", "train.max_epoch", "1", "train.print_freq", "5",
        "train.fixbase_epoch", "0",
        "test.batch_size", "8",
        "use_gpu", "False",
        *extra,
    ]  # fmt: skip
    main.main(argv)
    logs = glob.glob(str(save_dir / "train.log-*"))
    assert logs
    text = Path(logs[0]).read_text()
    assert "Rank-1  :" in text and "mAP:" in text
    assert glob.glob(str(save_dir / "model" / "model.pth.tar-1"))


@pytest.mark.slow
def test_end_to_end_sample_all_and_visrank(tmp_path):
    """test-only run with sample_method 'all' (test batch size 1) and tracklet visrank strips."""
    main = _load_main()
    save_dir = tmp_path / "log"
    argv = [
        "--root", str(tmp_path / "data"),
        "-s", "synthetic_video", "-t", "synthetic_video",
        "data.type", "video", "data.height", "32", "data.width", "16", "data.workers", "0",
        "data.save_dir", str(save_dir),
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "video.sample_method", "all", "train.batch_size", "1",
        "test.batch_size", "1", "test.evaluate", "True", "test.visrank", "True", "test.visrank_topk", "3",
        "use_gpu", "False",
    ]  # fmt: skip
    main.main(argv)
    strips = glob.glob(str(save_dir / "visrank_synthetic_video" / "*.jpg"))
    assert len(strips) == 24  # one per query tracklet


def test_quickstart_video_config_is_valid():
    from torchreid.config import get_default_config, merge_from_file

    cfg = get_default_config()
    merge_from_file(cfg, str(REPO / "configs" / "quickstart_video.yaml"))
    assert cfg.data.type == "video" and cfg.data.sources == ["synthetic_video"]
    assert cfg.model.pretrained is False  # runs offline


def test_main_rejects_sample_all_with_batched_test_loader(tmp_path):
    main = _load_main()
    argv = [
        "--root", str(tmp_path / "data"),
        "-s", "synthetic_video", "-t", "synthetic_video",
        "data.type", "video", "data.height", "32", "data.width", "16", "data.workers", "0",
        "data.save_dir", str(tmp_path / "log"),
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "video.sample_method", "all", "train.batch_size", "1", "test.batch_size", "3",
        "use_gpu", "False",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="sample_method 'all'"):
        main.main(argv)


def test_video_datamanager_rejects_sample_all_with_batched_test_loader(tmp_path):
    """The check runs when the data manager is built, before any model exists."""
    from torchreid.data import VideoDataManager

    kwargs = {
        "root": str(tmp_path), "sources": "synthetic_video", "height": 32, "width": 16, "workers": 0,
        "use_gpu": False, "sample_method": "all", "batch_size_train": 1, "dataset_kwargs": SMALL,
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"sample_method 'all'.*test\.batch_size 1"):
        VideoDataManager(batch_size_test=3, **kwargs)
    dm = VideoDataManager(batch_size_test=1, **kwargs)
    assert dm.sample_method == "all"
