"""Checkpoints are validated before anything is restored; resume compares the stored recipe with the run's."""

from __future__ import annotations

import copy
import os
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from torchreid.utils.checkpoint import (
    compare_resume_config,
    get_rng_state,
    resume_from_checkpoint,
    save_checkpoint,
    validate_checkpoint,
)


class Net(nn.Module):
    def __init__(self, num_classes: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.classifier = nn.Linear(4, num_classes)


def _setup(lr=0.1):
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    return net, opt, sched


def _good_state(tmp_path):
    torch.manual_seed(1)
    src, opt, sched = _setup()
    return {
        "state_dict": src.state_dict(),
        "epoch": 3,
        "rank1": 0.5,
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "rng_state": get_rng_state(),
        "config": {"model": {"name": "osnet_x1_0"}, "train": {"optim": "sgd", "lr": 0.1}},
    }


def _snapshot(net, opt, sched):
    return copy.deepcopy((net.state_dict(), opt.state_dict(), sched.state_dict()))


def _assert_untouched(before, net, opt, sched):
    sd, od, schd = before
    for k, v in net.state_dict().items():
        assert torch.equal(v, sd[k]), k
    assert opt.state_dict()["param_groups"] == od["param_groups"]
    assert sched.state_dict() == schd


def _bad_rng_torch(s):
    s["rng_state"]["torch"] = torch.zeros(7, dtype=torch.uint8)


def _bad_rng_python(s):
    s["rng_state"]["python"] = (3, (1, 2), None)


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda s: s.pop("state_dict"), "no 'state_dict'"),
        (lambda s: s.pop("epoch"), "no 'epoch'"),
        (lambda s: s.update(epoch="3"), "'epoch' must be an integer"),
        (lambda s: s.update(epoch=-1), "'epoch' must be an integer"),
        (lambda s: s["state_dict"].update({"conv.weight": [1, 2]}), "'conv.weight' is a list"),
        (lambda s: s.update(state_dict=[1, 2]), "'state_dict' must be a dict"),
        (lambda s: s.update(optimizer="adam"), "'optimizer' must be an optimizer state dict"),
        (lambda s: s["optimizer"]["param_groups"].append({"lr": 1}), r"param_groups\[1\]' has no 'params'"),
        (lambda s: s.update(scheduler=[1]), "'scheduler' must be a dict"),
        (lambda s: s.update(rank1="high"), "'rank1' must be a number"),
        (lambda s: s.update(rng_state=5), "'rng_state' must be a dict"),
        (_bad_rng_torch, "rng_state"),
        (_bad_rng_python, "rng_state.python"),
        (lambda s: s["state_dict"].pop("classifier.bias"), "missing: classifier.bias"),
        (lambda s: s["state_dict"].update({"classifier.weight": torch.zeros(9, 4)}), "other shape"),
    ],
)
def test_bad_checkpoint_is_one_clear_error_and_nothing_is_restored(tmp_path, corrupt, match):
    state = _good_state(tmp_path)
    corrupt(state)
    path = tmp_path / "model.pth.tar-3"
    torch.save(state, path)
    net, opt, sched = _setup(lr=0.5)
    before = _snapshot(net, opt, sched)
    torch.manual_seed(123)
    rng_before = torch.get_rng_state().clone()
    with pytest.raises(ValueError, match=match) as info:
        resume_from_checkpoint(path, net, opt, sched)
    assert str(path) in str(info.value)  # names the file
    _assert_untouched(before, net, opt, sched)
    assert torch.equal(torch.get_rng_state(), rng_before)  # a bad rng_state did not leak into the run either


@pytest.mark.parametrize("obj", [[1, 2], torch.zeros(3), "text"])
def test_checkpoint_that_is_not_a_dict(tmp_path, obj):
    with pytest.raises(ValueError, match="not a training checkpoint: expected a dict"):
        validate_checkpoint(obj, tmp_path / "x.pth")


def test_optimizer_of_another_layout_is_refused_before_restoring(tmp_path):
    state = _good_state(tmp_path)
    path = tmp_path / "ck"
    torch.save(state, path)
    net = Net()
    opt = torch.optim.SGD([{"params": [net.conv.weight]}, {"params": [p for n, p in net.named_parameters() if n != "conv.weight"]}], lr=0.5)  # fmt: skip
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(ValueError, match="parameter groups"):
        resume_from_checkpoint(path, net, opt)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


# ------------------------------------------------------------------------------------------- config compare

STORED = {
    "model": {"name": "osnet_x1_0", "pretrained": True, "resume": "", "load_weights": ""},
    "train": {
        "optim": "amsgrad",
        "lr": 0.0015,
        "weight_decay": 5e-4,
        "staged_lr": False,
        "lr_scheduler": "cosine",
        "max_epoch": 250,
        "stepsize": [20],
        "gamma": 0.1,
        "warmup_epochs": 0,
        "warmup_factor": 0.1,
        "seed": 1,
    },
    "adam": {"beta1": 0.9, "beta2": 0.999},
    "sgd": {"momentum": 0.9, "dampening": 0.0, "nesterov": False},
    "loss": {"name": "softmax", "softmax": {"label_smooth": True}},
    "data": {"workers": 4},
}


def _current(**changes):
    cfg = copy.deepcopy(STORED)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        cfg[section][key] = value
    return cfg


def test_compare_resume_config_names_each_difference():
    cur = _current(
        train__optim="sgd", train__lr=0.1, train__lr_scheduler="single_step", model__name="resnet50"
    )
    diffs = compare_resume_config(STORED, cur)
    assert "train.optim: checkpoint 'amsgrad', this run 'sgd'" in diffs
    assert "train.lr: checkpoint 0.0015, this run 0.1" in diffs
    assert "train.lr_scheduler: checkpoint 'cosine', this run 'single_step'" in diffs
    assert "model.name: checkpoint 'osnet_x1_0', this run 'resnet50'" in diffs
    assert compare_resume_config(STORED, _current(loss__name="triplet")) == [
        "loss.name: checkpoint 'softmax', this run 'triplet'"
    ]


def test_compare_resume_config_ignores_run_settings():
    # paths, data, seed and the run length (for a step schedule) may change; tuples equal lists; int equals float
    cur = _current(data__workers=0, train__seed=9, model__resume="/x/model.pth.tar-60", train__stepsize=(20,))
    cur["train"]["lr_scheduler"] = STORED["train"]["lr_scheduler"]
    assert compare_resume_config(STORED, cur) == []
    step = copy.deepcopy(STORED)
    step["train"]["lr_scheduler"] = "single_step"
    longer = copy.deepcopy(step)
    longer["train"]["max_epoch"] = 500
    assert compare_resume_config(step, longer) == []
    assert compare_resume_config(STORED, _current(train__max_epoch=500)) == [
        "train.max_epoch: checkpoint 250, this run 500"  # the cosine period
    ]
    assert compare_resume_config(None, cur) == [] and compare_resume_config({}, cur) == []
    older = copy.deepcopy(STORED)
    del older["train"]["warmup_epochs"]  # a setting the checkpoint does not know is not compared
    assert compare_resume_config(older, _current(train__warmup_epochs=5)) == []


def test_resume_refuses_another_recipe_unless_allowed(tmp_path):
    state = _good_state(tmp_path)
    state["config"] = STORED
    path = tmp_path / "model.pth.tar-3"
    torch.save(state, path)
    net, opt, sched = _setup(lr=0.5)
    before = _snapshot(net, opt, sched)
    cur = _current(train__optim="sgd")
    with pytest.raises(ValueError, match=r"model\.resume_allow_config_change True") as info:
        resume_from_checkpoint(path, net, opt, sched, config=cur)
    assert "train.optim: checkpoint 'amsgrad', this run 'sgd'" in str(info.value)
    _assert_untouched(before, net, opt, sched)
    with pytest.warns(UserWarning, match="train.optim: checkpoint 'amsgrad'"):
        assert resume_from_checkpoint(path, net, opt, sched, config=cur, allow_config_change=True) == 3
    assert torch.equal(net.conv.weight, state["state_dict"]["conv.weight"])
    assert resume_from_checkpoint(path, Net(), config=STORED) == 3  # same recipe: no error


# ------------------------------------------------------------------------------------------- stale temp files


def test_next_save_removes_only_stale_temp_files_of_checkpoints(tmp_path):
    old = time.time() - 60
    stale = [tmp_path / ".model.pth.tar-3.k2j4_x9a.tmp", tmp_path / ".model-best.pth.tar.abcdefgh.tmp"]
    keep = [
        tmp_path / ".splits.json.k2j4_x9a.tmp",  # another file's temp: not ours to judge
        tmp_path / ".model.pth.tar-3.k2j4_x9.tmp",  # not the pattern (7 characters)
        tmp_path / "model.pth.tar-3.k2j4_x9a.tmp",  # not hidden
        tmp_path / ".model.pth.tar-4.zzzzzzzz.tmp",  # newer than this save: maybe another writer's
    ]
    for p in stale + keep:
        p.write_bytes(b"partial")
    for p in stale + keep[:-1]:
        os.utime(p, (old, old))
    future = time.time() + 3600
    os.utime(keep[-1], (future, future))
    save_checkpoint({"state_dict": Net().state_dict(), "epoch": 5}, tmp_path)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in keep)


def test_rng_state_check_leaves_the_generators_as_they_were(tmp_path):
    state = _good_state(tmp_path)
    random.seed(4)
    np.random.seed(4)
    torch.manual_seed(4)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(4)
    np.random.seed(4)
    torch.manual_seed(4)
    validate_checkpoint(state, tmp_path / "x")  # the dry run restores the current state
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
