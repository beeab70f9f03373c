"""Checkpoint options: best copy, module. stripping, partial resume, trusted loading, weight reports."""

from __future__ import annotations

import pytest
import torch
from torch import nn

# ------------------------------------------------------------------------------------------------ checkpoints


def _state(epoch=3):
    model = nn.Linear(3, 2)
    return model, {"state_dict": model.state_dict(), "epoch": epoch, "rank1": 0.5, "optimizer": None}


def test_save_checkpoint_best_copy_and_module_prefix(tmp_path):
    from torchreid.utils import load_checkpoint, save_checkpoint

    model, state = _state()
    state["state_dict"] = {f"module.{k}": v for k, v in state["state_dict"].items()}
    path = save_checkpoint(state, tmp_path, is_best=True, remove_module_from_keys=True)
    assert path == str(tmp_path / "model.pth.tar-3")
    ckpt = load_checkpoint(path)
    assert set(ckpt["state_dict"]) == {"weight", "bias"}
    best = load_checkpoint(tmp_path / "model-best.pth.tar")
    assert torch.equal(best["state_dict"]["weight"], model.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-best.pth.tar", "model.pth.tar-3"]
    assert "module.weight" in state["state_dict"]  # the caller's dict is not modified


def test_resume_restores_weights_only_when_nothing_else_is_stored(tmp_path, capsys):
    from torchreid.utils import resume_from_checkpoint, save_checkpoint

    src, state = _state(epoch=7)
    del state["rank1"]
    path = save_checkpoint(state, tmp_path)
    dst = nn.Linear(3, 2)
    opt = torch.optim.SGD(dst.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    rng_before = torch.get_rng_state()
    assert resume_from_checkpoint(path, nn.DataParallel(dst), optimizer=opt, scheduler=sched) == 7
    assert torch.equal(dst.weight, src.weight)
    out = capsys.readouterr().out
    assert "Loaded optimizer" not in out and "Loaded scheduler" not in out and "Last rank1" not in out
    assert torch.equal(torch.get_rng_state(), rng_before)  # no stored RNG state: nothing restored
    assert opt.param_groups[0]["lr"] == 0.1


def test_partial_rng_state_restores_only_what_it_holds():
    import random

    from torchreid.utils.checkpoint import get_rng_state, set_rng_state

    state = get_rng_state()
    expected_torch = torch.rand(3)
    random.seed(123)
    py_after = random.random()
    random.seed(123)
    set_rng_state({"torch": state["torch"]})  # only torch's generator
    assert torch.equal(torch.rand(3), expected_torch)
    assert random.random() == py_after  # Python's generator untouched


class Note:
    """An arbitrary picklable object (refused by weights_only loading)."""


def test_trusted_loading_and_non_state_dict_files(tmp_path):
    from torchreid.utils import load_checkpoint, load_pretrained_weights

    path = tmp_path / "obj.pth"
    torch.save({"note": Note(), "epoch": 1}, path)
    with pytest.raises(RuntimeError, match=r"weights_only=False"):
        load_checkpoint(path)
    assert load_checkpoint(path, weights_only=False)["epoch"] == 1

    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(TypeError, match=r"does not contain a state dict .*found list"):
        load_pretrained_weights(nn.Linear(1, 1), lst)


def test_load_pretrained_weights_reports_loaded_skipped_and_missing(tmp_path):
    from torchreid.utils import load_pretrained_weights

    src = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    dst = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 5))
    sd = {f"module.{k}": v for k, v in src.state_dict().items()}
    sd["extra.weight"] = torch.zeros(2)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.warns(UserWarning) as rec:
        report = load_pretrained_weights(dst, path)
    msg = str(rec[0].message)
    assert "2.weight (shape (3, 4) vs (5, 4))" in msg and "extra.weight (not in model)" in msg
    assert report["skipped"] == ["2.weight", "2.bias", "extra.weight"]
    assert report["missing"] == ["2.weight", "2.bias"]
    assert "0.weight" in report["loaded"] and "1.running_mean" in report["loaded"]
    assert torch.equal(dst[0].weight, src[0].weight)


def test_load_pretrained_weights_reports_non_tensor_entries_instead_of_crashing(tmp_path):
    """A state dict may hold non-tensor values (lists, numbers); they are skipped and named in the report."""
    from torchreid.utils import load_pretrained_weights

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    sd = dict(model.state_dict())
    sd["1.bias"] = [0.0, 0.0]
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    with pytest.warns(UserWarning, match=r"1\.bias \(not a tensor: list\)"):
        report = load_pretrained_weights(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), path)
    assert report["skipped"] == ["1.bias"] and report["missing"] == ["1.bias"]
