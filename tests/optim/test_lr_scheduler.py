"""Schedulers: warm-up resume and argument errors; staged-lr warnings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

# ------------------------------------------------------------------------------------------------ schedulers


def _opt(lr=0.1):
    return torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=lr)


def test_warmup_scheduler_resumes_from_a_checkpoint_written_without_warmup():
    """Resuming a plain StepLR run with warm-up now configured: the stored schedule and lr continue unchanged."""
    from torchreid.optim import build_lr_scheduler

    opt = _opt()
    plain = build_lr_scheduler(opt, "single_step", stepsize=2, gamma=0.1)
    for _ in range(3):
        opt.step()
        plain.step()
    opt_state, sched_state = opt.state_dict(), plain.state_dict()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)

    opt2 = _opt()
    warm = build_lr_scheduler(opt2, "single_step", stepsize=2, gamma=0.1, warmup_epochs=2, warmup_factor=0.5)
    assert warm.get_last_lr() == [pytest.approx(0.05)]  # epoch 0 of the warm-up
    opt2.load_state_dict(opt_state)
    warm.load_state_dict(sched_state)
    assert warm.last_epoch == 3
    assert warm.get_last_lr() == [pytest.approx(0.01)]  # past the warm-up: factor 1
    opt2.step()
    warm.step()
    assert warm.get_last_lr() == [pytest.approx(0.001)]  # StepLR decays at epoch 4


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"warmup_epochs": -1}, ValueError, "warmup_epochs must be >= 0, got -1"),
        (
            {"warmup_epochs": 2, "warmup_factor": 0.0},
            ValueError,
            r"warmup_factor must be in \(0, 1\], got 0.0",
        ),
        ({"warmup_epochs": 2, "warmup_factor": 1.5}, ValueError, "warmup_factor must be in"),
        ({"stepsize": []}, ValueError, "stepsize is empty; single_step needs one step size"),
        ({"stepsize": 2.5}, TypeError, "stepsize must be a positive integer, got 2.5"),
        ({"stepsize": [0]}, TypeError, "stepsize must be a positive integer, got 0"),
        ({"lr_scheduler": "multi_step", "stepsize": 5}, TypeError, "stepsize must be a list, got 5"),
        ({"lr_scheduler": "cosin"}, ValueError, "Did you mean 'cosine'"),
    ],
)
def test_scheduler_argument_errors(kwargs, error, message):
    from torchreid.optim import build_lr_scheduler
    from torchreid.optim.lr_scheduler import WarmupScheduler

    if "warmup_epochs" in kwargs and kwargs["warmup_epochs"] < 0:
        # build_lr_scheduler only wraps for a positive warm-up; the class itself rejects negatives
        with pytest.raises(error, match=message):
            WarmupScheduler(torch.optim.lr_scheduler.StepLR(_opt(), 1), **kwargs)
        return
    with pytest.raises(error, match=message):
        build_lr_scheduler(_opt(), **kwargs)


def test_staged_lr_with_empty_new_layers_warns_and_uses_one_group():
    from torchreid.optim import build_optimizer

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with pytest.warns(UserWarning, match="new_layers is empty, therefore staged_lr is useless"):
        opt = build_optimizer(model, optim="sgd", lr=0.1, staged_lr=True, new_layers="", base_lr_mult=0.5)
    # every layer is a base layer: all of them train with lr * base_lr_mult (the new-layer group is empty)
    assert [(len(g["params"]), g["lr"]) for g in opt.param_groups] == [(4, pytest.approx(0.05)), (0, 0.1)]
