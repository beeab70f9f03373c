"""The engine end to end: scripts/main.py on tiny synthetic data (CPU), checkpoints, TensorBoard, visrank,
resume equivalence, test-only runs, the triplet engine, fixbase, and the NaN stop."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from _shared import TINY_SYNTHETIC
from torch import nn

REPO = Path(__file__).resolve().parents[2]

TINY = TINY_SYNTHETIC

RUNNER = textwrap.dedent(
    f"""
    import runpy, sys
    sys.path.insert(0, {str(REPO)!r})
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    class SyntheticTiny(Synthetic):
        def __init__(self, root="", **kwargs):
            super().__init__(root=root, **{TINY!r}, **kwargs)

    if "synthetic_tiny" not in IMAGE_DATASETS:
        register_image_dataset("synthetic_tiny", SyntheticTiny)
    sys.argv = ["scripts/main.py"] + sys.argv[1:]
    runpy.run_path({str(REPO / "scripts" / "main.py")!r}, run_name="__main__")
    """
)

LOG_LINE = re.compile(
    r"^epoch: \[(\d+)/(\d+)\]\[(\d+)/(\d+)\]\t"
    r"time (\d+\.\d{3}) \((\d+\.\d{3})\)\t"
    r"data (\d+\.\d{3}) \((\d+\.\d{3})\)\t"
    r"eta (\d+:\d\d:\d\d)\t"
    r"((?:\w+ -?\d+\.\d{4} \(-?\d+\.\d{4}\)\t)+)"
    r"lr (\d+\.\d{6})$"
)


def run_main(tmp: Path, save_dir: Path, *opts: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    runner = tmp / "run_main.py"
    if not runner.exists():
        runner.write_text(RUNNER)
    cmd = [
        sys.executable,
        str(runner),
        "--root",
        str(tmp / "data"),
        "-s",
        "synthetic_tiny",
        "-t",
        "synthetic_tiny",
        "model.name",
        "osnet_x0_25",
        "model.pretrained",
        "False",
        "data.height",
        "64",
        "data.width",
        "32",
        "data.workers",
        "0",
        "data.save_dir",
        str(save_dir),
        "train.batch_size",
        "16",
        "train.print_freq",
        "1",
        "train.optim",
        "amsgrad",
        "train.lr",
        "0.003",
        "train.lr_scheduler",
        "single_step",
        "train.stepsize",
        "[1]",
        "test.batch_size",
        "32",
        *opts,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp)
    if expect_ok and proc.returncode != 0:
        raise AssertionError(
            f"main.py failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("engine")


@pytest.fixture(scope="module")
def one_epoch(workdir):
    save_dir = workdir / "run1"
    proc = run_main(
        workdir, save_dir, "train.max_epoch", "1", "test.visrank", "True", "test.visrank_topk", "3"
    )
    return save_dir, proc


def _read_log(save_dir: Path, prefix: str) -> str:
    logs = sorted(glob.glob(str(save_dir / f"{prefix}.log-*")))
    assert logs, f"no {prefix}.log-* in {save_dir}: {os.listdir(save_dir)}"
    return Path(logs[-1]).read_text()


def _results(text: str) -> tuple[float, dict[int, float]]:
    maps = re.findall(r"^mAP: (\d+\.\d)%$", text, flags=re.M)
    ranks = {int(r): float(v) for r, v in re.findall(r"^Rank-(\d+) *: (\d+\.\d)%$", text, flags=re.M)}
    assert maps, text[-2000:]
    return float(maps[-1]), ranks


@pytest.mark.slow
def test_one_epoch_log_lines(one_epoch):
    save_dir, _proc = one_epoch
    text = _read_log(save_dir, "train")
    assert "Show configuration" in text and "** System info **" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch: [")]
    assert lines, text[-3000:]
    num_batches = None
    for ln in lines:
        m = LOG_LINE.match(ln)
        assert m, f"unparseable log line: {ln!r}"
        assert m.group(1) == "1" and m.group(2) == "1"
        num_batches = int(m.group(4))
        names = re.findall(r"(\w+) -?\d+\.\d{4} \(", m.group(10))
        assert names == ["loss", "acc"]
    assert len(lines) == num_batches  # print_freq 1
    assert "** Results **" in text and "CMC curve" in text
    for r in (1, 5, 10):  # the tiny gallery has 10 items, so Rank-20 is not defined
        assert re.search(rf"^Rank-{r:<3}: \d+\.\d%$", text, flags=re.M), f"Rank-{r} missing"
    mAP, ranks = _results(text)
    assert 0 < mAP <= 100 and 0 <= ranks[1] <= 100
    mINP = float(re.search(r"^mINP: (\d+\.\d)%$", text, flags=re.M).group(1))
    assert 0 < mINP <= mAP + 1e-9  # the hardest positive ranks no better than the average one


@pytest.mark.slow
def test_one_epoch_html_report(one_epoch):
    save_dir, _ = one_epoch
    page = (save_dir / "report_synthetic_tiny.html").read_text()
    text = _read_log(save_dir, "train")
    mAP, _ = _results(text)
    assert f"mAP</th><td>{mAP:.1f}%" in page
    assert "data:image/jpeg;base64," in page and "<polyline" in page


@pytest.mark.slow
def test_one_epoch_checkpoint(one_epoch):
    from torchreid.utils.checkpoint import load_checkpoint

    save_dir, _ = one_epoch
    path = save_dir / "model" / "model.pth.tar-1"
    assert path.is_file()
    assert not [p for p in (save_dir / "model").iterdir() if p.name.endswith(".tmp")]
    ckpt = load_checkpoint(path)
    assert set(ckpt) >= {"state_dict", "epoch", "rank1", "optimizer", "scheduler", "rng_state", "config"}
    assert ckpt["epoch"] == 1
    assert isinstance(ckpt["rank1"], float) and 0 <= ckpt["rank1"] <= 1
    assert ckpt["config"]["model"]["name"] == "osnet_x0_25"
    assert ckpt["config"]["data"]["sources"] == ["synthetic_tiny"]
    assert ckpt["scheduler"]["last_epoch"] == 1
    assert "classifier.weight" in ckpt["state_dict"]


@pytest.mark.slow
def test_one_epoch_tensorboard(one_epoch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    save_dir, _ = one_epoch
    events = glob.glob(str(save_dir / "events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(save_dir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    expected = {
        "Train/time",
        "Train/data",
        "Train/loss",
        "Train/acc",
        "Train/lr",
        "Test/synthetic_tiny/rank1",
        "Test/synthetic_tiny/mAP",
    }
    assert expected <= tags, tags
    n = len(acc.Scalars("Train/loss"))
    assert n >= 1 and [e.step for e in acc.Scalars("Train/loss")] == list(range(n))
    assert len(acc.Scalars("Test/synthetic_tiny/mAP")) == 1
    assert acc.Scalars("Train/lr")[0].value == pytest.approx(0.003)


@pytest.mark.slow
def test_one_epoch_visrank(one_epoch):
    import cv2

    save_dir, _ = one_epoch
    vis = save_dir / "visrank_synthetic_tiny"
    imgs = sorted(vis.glob("*.jpg"))
    # one image per query: 4 test ids x 2 cameras
    assert len(imgs) == TINY["num_test_ids"] * TINY["num_cams"]
    im = cv2.imread(str(imgs[0]))
    assert im.shape[0] == 64 and im.shape[1] == 4 * 32 + 3 * 10 + 90


@pytest.mark.slow
def test_test_only_with_load_weights_reproduces_final_result(one_epoch, workdir):
    save_dir, _ = one_epoch
    ckpt = save_dir / "model" / "model.pth.tar-1"
    out = workdir / "test_only"
    run_main(workdir, out, "test.evaluate", "True", "model.load_weights", str(ckpt))
    text = _read_log(out, "test")
    assert "=> Start training" not in text
    assert _results(text) == _results(_read_log(save_dir, "train"))
    assert not (out / "model").exists()


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(one_epoch, workdir):
    from torchreid.utils.checkpoint import load_checkpoint

    first, _ = one_epoch
    full = workdir / "full"
    run_main(workdir, full, "train.max_epoch", "2", "test.visrank", "True", "test.visrank_topk", "3")
    resumed = workdir / "resumed"
    run_main(
        workdir,
        resumed,
        "train.max_epoch",
        "2",
        "model.resume",
        str(first / "model" / "model.pth.tar-1"),
    )
    a = load_checkpoint(full / "model" / "model.pth.tar-2")
    b = load_checkpoint(resumed / "model" / "model.pth.tar-2")
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert a["scheduler"] == b["scheduler"]
    assert a["rank1"] == b["rank1"]
    text = _read_log(resumed, "train")
    assert "epoch: [2/2]" in text and "epoch: [1/2]" not in text


@pytest.mark.slow
def test_triplet_engine_one_epoch(workdir):
    out = workdir / "triplet"
    run_main(
        workdir,
        out,
        "loss.name",
        "triplet",
        "loss.triplet.weight_x",
        "1.0",
        "sampler.train_sampler",
        "RandomIdentitySampler",
        "sampler.num_instances",
        "4",
        "train.max_epoch",
        "1",
    )
    text = _read_log(out, "train")
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch: [")]
    assert lines and all(LOG_LINE.match(ln) for ln in lines)
    assert "loss_t " in lines[0] and "loss_x " in lines[0] and "acc " in lines[0]
    assert "** Results **" in text


def test_triplet_without_softmax_requires_fixbase_zero(workdir):
    proc = run_main(
        workdir,
        workdir / "bad",
        "loss.name",
        "triplet",
        "train.fixbase_epoch",
        "2",
        expect_ok=False,
    )
    assert proc.returncode != 0
    assert "fixbase_epoch" in proc.stderr and "weight_x" in proc.stderr


def test_unknown_cli_key_is_a_clear_error(workdir):
    proc = run_main(workdir, workdir / "bad2", "train.lrr", "0.1", expect_ok=False)
    assert proc.returncode != 0
    assert "train.lrr" in proc.stderr and "train.lr" in proc.stderr


# ---------------------------------------------------------------------------------------------- in-process


def _tiny_datamanager(root, **kw):
    from torchreid.data import ImageDataManager
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    args = {
        "root": str(root),
        "sources": "synthetic_tiny",
        "height": 64,
        "width": 32,
        "batch_size_train": 16,
        "batch_size_test": 32,
        "workers": 0,
        "use_gpu": False,
    }
    args.update(kw)
    return ImageDataManager(**args)


@pytest.fixture(scope="module")
def datamanager(tmp_path_factory):
    return _tiny_datamanager(tmp_path_factory.mktemp("dm"))


def _engine(dm, model=None, **kw):
    from torchreid.engine import ImageSoftmaxEngine
    from torchreid.models import build_model
    from torchreid.optim import build_optimizer

    torch.manual_seed(0)
    if model is None:
        model = build_model("osnet_x0_25", dm.num_train_pids, pretrained=False, use_gpu=False)
    opt = build_optimizer(model, optim="sgd", lr=0.01)
    return ImageSoftmaxEngine(dm, model, opt, use_gpu=False, **kw)


def test_fixbase_trains_only_open_layers(datamanager):
    engine = _engine(datamanager)
    model = engine.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    engine.max_epoch = 2
    engine.epoch = 0
    engine.train(print_freq=0, fixbase_epoch=1, open_layers=["classifier"])
    after = {k: v.clone() for k, v in model.state_dict().items()}
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("classifier.") for k in changed), changed
    assert not model.conv1.training and model.classifier.training
    # second epoch: everything trains
    engine.epoch = 1
    engine.train(print_freq=0, fixbase_epoch=1, open_layers=["classifier"])
    after2 = model.state_dict()
    assert not torch.equal(after["conv1.conv.weight"], after2["conv1.conv.weight"])


def test_misspelt_open_layer_is_mapped_with_warning(datamanager):
    engine = _engine(datamanager)
    engine.max_epoch = 1
    with pytest.warns(UserWarning, match="classsifier"):
        engine.two_stepped_transfer_learning(0, 1, ["classsifier"])
    assert engine.model.classifier.weight.requires_grad
    assert not engine.model.conv1.conv.weight.requires_grad
    with pytest.raises(ValueError, match="nonexistent"):
        engine.two_stepped_transfer_learning(0, 1, ["nonexistent"])


class NaNNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x):
        out = self.fc(x.mean(dim=(2, 3)))
        return out * float("nan") if self.training else out


def test_nan_loss_stops_with_epoch_and_hint(datamanager):
    from torchreid.engine import NonFiniteLossError

    model = NaNNet(datamanager.num_train_pids)
    engine = _engine(datamanager, model=model)
    before = model.fc.weight.clone()
    engine.max_epoch = 3
    engine.epoch = 1
    with pytest.raises(NonFiniteLossError) as info:
        engine.train(print_freq=0)
    msg = str(info.value)
    assert "epoch 2/3" in msg and "batch 1/" in msg and "lr" in msg
    assert torch.equal(model.fc.weight, before)


class _LenlessNet(nn.Module):
    """A model without __len__ (like every re-ID model): a torch.compile wrapper of it raises on bool()/len()."""

    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(3 * 64 * 32, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_forward_model_with_compiled_model(datamanager):
    # README fast path (train.compile ...) crashed at the first step: `fn or model` called the wrapper's __len__
    engine = _engine(datamanager, model=_LenlessNet(datamanager.num_train_pids), compile="default")
    engine.accel.compile_backend = "eager"  # no C compiler / inductor needed in the test
    engine._forwards["model"] = engine.accel.prepare_model(engine.model)
    x = torch.randn(2, 3, 64, 32)
    for training in (True, False):
        engine.model.train(training)
        with torch.no_grad():
            assert torch.allclose(engine.forward_model(x), engine.model(x))


def test_evaluation_does_not_change_training_rng(datamanager, tmp_path):
    """Weights after 2 epochs do not depend on whether we evaluated in between."""
    finals = []
    for eval_freq in (-1, 1):
        torch.manual_seed(1)
        engine = _engine(datamanager)
        torch.manual_seed(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine.run(
                save_dir=str(tmp_path / f"e{eval_freq}"), max_epoch=2, eval_freq=eval_freq, print_freq=0
            )
        finals.append({k: v.clone() for k, v in engine.model.state_dict().items()})
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k
    assert (tmp_path / "e1" / "model" / "model.pth.tar-1").is_file()
    assert (tmp_path / "e1" / "model" / "model.pth.tar-2").is_file()


def test_results_are_reported_and_returned(datamanager, capsys):
    engine = _engine(datamanager)
    rank1 = engine.test(ranks=[1, 3])
    out = capsys.readouterr().out
    assert "** Results **" in out and "Rank-1  :" in out and "Rank-3  :" in out
    res = engine.last_results["synthetic_tiny"]
    assert rank1 == pytest.approx(res["rank1"])
    assert 0 <= res["mAP"] <= 1


def test_query_without_cross_camera_match_surfaces_metrics_error(datamanager):
    engine = _engine(datamanager)
    imgs = torch.randn(2, 3, 64, 32)
    batch = {"img": imgs, "pid": torch.tensor([1, 2]), "camid": torch.tensor([0, 0])}
    with pytest.raises(ValueError, match="another camera"):
        engine._evaluate(dataset_name="x", query_loader=[batch], gallery_loader=[batch], ranks=[1])


def test_cpu_model_is_moved_to_the_engine_gpu(datamanager, monkeypatch):
    """The README example builds the model on the CPU; on a GPU machine the engine must move it (as the
    original's ``model.cuda()`` did) instead of failing on the first batch with a device mismatch."""
    from torchreid.engine import ImageSoftmaxEngine

    moved = []

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, datamanager.num_train_pids)

        def to(self, *args, **kwargs):  # no CUDA here: record the move instead of doing it
            moved.append(torch.device(args[0]))
            return self

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    engine = ImageSoftmaxEngine(datamanager, model, opt)
    assert engine.device.type == "cuda"
    assert [d.type for d in moved] == ["cuda"]


def test_eval_set_smaller_than_world_size_is_not_sharded(monkeypatch):
    """Under DDP a query set with fewer items than processes must not leave a rank with an empty shard."""
    import torch

    from torchreid.evaluation import shard_loader
    from torchreid.utils import distributed as dist_utils

    monkeypatch.setattr(dist_utils, "is_distributed", lambda: True)
    monkeypatch.setattr(dist_utils, "get_world_size", lambda: 4)
    monkeypatch.setattr(dist_utils, "get_rank", lambda: 3)
    small = torch.utils.data.DataLoader(list(range(3)), batch_size=2)
    assert shard_loader(small) is small
    big = torch.utils.data.DataLoader(list(range(10)), batch_size=2)
    sharded = shard_loader(big)
    assert isinstance(sharded.sampler, dist_utils.ShardSampler)


def test_base_classes_declare_their_hooks_abstract():
    """The template's one hook (and the data bases' item access) must be implemented by a subclass."""
    import inspect

    from torchreid.data.datasets.dataset import Dataset
    from torchreid.data.samplers import _EpochBatchSampler
    from torchreid.engine.engine import Engine

    assert Engine.__abstractmethods__ == {"forward_backward"}
    assert Dataset.__abstractmethods__ == {"__getitem__"}
    assert _EpochBatchSampler.__abstractmethods__ == {"_global_batches"}
    for concrete in ("ImageSoftmaxEngine", "ImageTripletEngine", "VideoSoftmaxEngine", "VideoTripletEngine"):
        import torchreid.engine as eng

        assert not inspect.isabstract(getattr(eng, concrete)), concrete
