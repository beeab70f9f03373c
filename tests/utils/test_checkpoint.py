"""Checkpoint I/O: atomic writes, original-format files under weights_only, partial weight loading, RNG."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from torchreid.utils.checkpoint import (
    get_rng_state,
    load_checkpoint,
    load_pretrained_weights,
    resume_from_checkpoint,
    save_checkpoint,
    set_rng_state,
)


class Net(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.classifier = nn.Linear(4, num_classes)


def test_save_load_round_trip(tmp_path):
    net = Net()
    path = save_checkpoint({"state_dict": net.state_dict(), "epoch": 3, "rank1": 0.5}, tmp_path)
    assert path.endswith("model.pth.tar-3")
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 3 and ckpt["rank1"] == 0.5
    for k, v in net.state_dict().items():
        assert torch.equal(ckpt["state_dict"][k], v)


def test_atomic_save_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    net = Net()
    good = save_checkpoint({"state_dict": net.state_dict(), "epoch": 1, "rank1": 0.1}, tmp_path)
    before = (tmp_path / "model.pth.tar-1").read_bytes()

    def boom(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"state_dict": net.state_dict(), "epoch": 1, "rank1": 0.2}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth.tar-1"]
    assert (tmp_path / "model.pth.tar-1").read_bytes() == before
    assert load_checkpoint(good)["rank1"] == 0.1


@pytest.mark.parametrize("rank1", [np.float64(0.875), np.float32(0.875), np.array(0.875)])
def test_original_checkpoint_with_numpy_scalar_loads_weights_only(tmp_path, rank1):
    net = Net()
    opt = torch.optim.Adam(net.parameters())
    path = tmp_path / "model.pth.tar-60"
    # what the original Torchreid wrote: rank1 was a NumPy scalar
    torch.save(
        {"state_dict": net.state_dict(), "epoch": 60, "rank1": rank1, "optimizer": opt.state_dict()}, path
    )
    ckpt = load_checkpoint(path)  # weights_only=True by default
    assert float(ckpt["rank1"]) == pytest.approx(0.875)
    assert ckpt["epoch"] == 60


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_arbitrary_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": _Evil()}, path)
    with pytest.raises(RuntimeError, match="weights_only=False"):
        load_checkpoint(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError):
        load_checkpoint(bad)


def test_classifier_shape_mismatch_reports_skipped_keys(tmp_path):
    src = Net(num_classes=751)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, path)
    dst = Net(num_classes=10)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        report = load_pretrained_weights(dst, path)
    assert sorted(report["skipped"]) == ["classifier.bias", "classifier.weight"]
    assert "conv.weight" in report["loaded"]
    assert torch.equal(dst.conv.weight, src.conv.weight)
    assert any("classifier.weight" in str(w.message) and "751" in str(w.message) for w in rec)


def test_raw_state_dict_and_wrong_architecture(tmp_path):
    path = tmp_path / "raw.pth"
    torch.save(Net().state_dict(), path)
    assert load_pretrained_weights(Net(), path)["skipped"] == []
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(RuntimeError, match="fit this Net"):
        load_pretrained_weights(Net(), other)


def test_rng_state_round_trip_and_resume(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    state = get_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]

    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    set_rng_state(state)
    path = save_checkpoint(
        {
            "state_dict": net.state_dict(),
            "epoch": 4,
            "rank1": 0.3,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng_state": get_rng_state(),
        },
        tmp_path,
    )
    torch.rand(10)
    net2 = Net()
    opt2 = torch.optim.SGD(net2.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 2)
    assert resume_from_checkpoint(path, net2, opt2, sched2) == 4
    assert torch.equal(torch.rand(3), a[0])
    assert torch.equal(net2.conv.weight, net.conv.weight)


def test_rng_state_keeps_numpys_cached_gaussian(tmp_path):
    """NumPy's legacy generator caches the second value of each Box-Muller pair: a resumed run must draw the same
    normals too (a snapshot taken between the two draws of a pair), also through a checkpoint file."""
    np.random.seed(5)
    np.random.randn()  # leaves one cached gaussian
    state = get_rng_state()
    expected = np.random.randn(3)
    set_rng_state(state)
    assert np.array_equal(np.random.randn(3), expected)
    path = save_checkpoint({"state_dict": {}, "epoch": 1, "rng_state": state}, tmp_path)
    np.random.seed(6)
    set_rng_state(load_checkpoint(path)["rng_state"])
    assert np.array_equal(np.random.randn(3), expected)


@pytest.mark.parametrize(
    "payload", [b"", b"\x80\x02garbage", bytes(range(256)) * 4, b"PK\x03\x04truncated zip"]
)
def test_load_checkpoint_of_arbitrary_bytes_is_a_clear_error(tmp_path, payload):
    from torchreid.utils.checkpoint import load_checkpoint

    path = tmp_path / "broken.pth"
    path.write_bytes(payload)
    with pytest.raises(RuntimeError, match=r"broken\.pth"):
        load_checkpoint(path)


def test_resume_restores_the_fp16_grad_scaler(tmp_path):
    """main.py writes the GradScaler state under 'amp'; resuming must read it back (fp16 runs on CUDA; the
    CPU scaler stands in for it here)."""
    import importlib.util
    import types
    from pathlib import Path

    from torchreid.engine.accel import StepAccelerator

    path = Path(__file__).resolve().parents[2] / "scripts" / "main.py"
    spec = importlib.util.spec_from_file_location("torchreid_main_script_ckpt", path)
    main = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(main)

    saved = StepAccelerator(device="cpu")
    saved.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    ckpt = save_checkpoint(
        {"state_dict": Net().state_dict(), "epoch": 3, "amp": saved.state_dict()}, tmp_path
    )

    accel = StepAccelerator(device="cpu")
    accel.scaler = torch.amp.GradScaler("cpu")  # a fresh scaler starts at 65536
    main.restore_amp_state(types.SimpleNamespace(accel=accel), ckpt)
    assert accel.scaler.get_scale() == 1024.0


def test_checkpoint_file_has_the_usual_permissions(tmp_path):
    import os

    from torchreid.utils.tools import write_json

    mask = os.umask(0o022)
    try:
        path = save_checkpoint({"state_dict": Net().state_dict(), "epoch": 1}, tmp_path, is_best=True)
        write_json({"a": 1}, str(tmp_path / "splits.json"))
    finally:
        os.umask(mask)
    # not mkstemp's 0600: others on the cluster can read them
    for p in (path, tmp_path / "model-best.pth.tar", tmp_path / "splits.json"):
        assert os.stat(p).st_mode & 0o777 == 0o644, p
    assert sorted(q.name for q in tmp_path.iterdir()) == [
        "model-best.pth.tar",
        "model.pth.tar-1",
        "splits.json",
    ]
