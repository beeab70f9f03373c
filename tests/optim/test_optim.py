"""build_optimizer / build_lr_scheduler: every choice, staged lr, warm-up and errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchreid.optim import WarmupScheduler, build_lr_scheduler, build_optimizer

# these tests step schedulers alone to read their learning rates; the engine steps the optimiser first
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Detected call of `lr_scheduler\.step\(\)` before:UserWarning"
)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 4)
        self.classifier = nn.Linear(4, 2)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("adam", torch.optim.Adam),
        ("amsgrad", torch.optim.Adam),
        ("sgd", torch.optim.SGD),
        ("rmsprop", torch.optim.RMSprop),
        ("radam", torch.optim.RAdam),
    ],
)
def test_each_optimizer(name, cls):
    opt = build_optimizer(Net(), optim=name, lr=0.01, weight_decay=1e-3)
    assert isinstance(opt, cls)
    g = opt.param_groups[0]
    assert g["lr"] == 0.01 and g["weight_decay"] == 1e-3
    if name == "amsgrad":
        assert g["amsgrad"] is True
    if name == "adam":
        assert g["amsgrad"] is False and g["betas"] == (0.9, 0.99)
    if name == "sgd":
        assert g["momentum"] == 0.9 and g["dampening"] == 0 and g["nesterov"] is False
    if name == "rmsprop":
        assert g["alpha"] == 0.99 and g["momentum"] == 0.9


def test_unknown_optimizer_lists_valid():
    with pytest.raises(ValueError) as info:
        build_optimizer(Net(), optim="adamw2")
    for n in ["adam", "amsgrad", "sgd", "rmsprop", "radam"]:
        assert n in str(info.value)
    with pytest.raises(TypeError):
        build_optimizer([nn.Parameter(torch.zeros(1))])


def test_staged_lr_groups():
    net = Net()
    opt = build_optimizer(
        net, optim="sgd", lr=0.1, staged_lr=True, new_layers=["fc", "classifier"], base_lr_mult=0.1
    )
    base, new = opt.param_groups
    assert base["lr"] == pytest.approx(0.01) and new["lr"] == pytest.approx(0.1)
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(base["params"]) == ids(net.backbone.parameters())
    assert ids(new["params"]) == ids(net.fc.parameters()) | ids(net.classifier.parameters())
    # a single name as a string works too, and unknown names warn
    opt = build_optimizer(net, staged_lr=True, new_layers="classifier")
    assert len(opt.param_groups[1]["params"]) == 2
    with pytest.warns(UserWarning, match="classsifier"):
        build_optimizer(net, staged_lr=True, new_layers=["classsifier"])


def _lrs(sched, opt, n):
    out = []
    for _ in range(n):
        out.append(round(opt.param_groups[0]["lr"], 10))
        sched.step()
    return out


def test_single_step():
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "single_step", stepsize=[2], gamma=0.1)
    assert _lrs(s, opt, 5) == [1.0, 1.0, 0.1, 0.1, 0.01]
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "single_step", stepsize=3, gamma=0.5)
    assert _lrs(s, opt, 4) == [1.0, 1.0, 1.0, 0.5]


def test_multi_step():
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "multi_step", stepsize=[1, 3], gamma=0.1)
    assert _lrs(s, opt, 4) == [1.0, 0.1, 0.1, 0.01]
    with pytest.raises(TypeError):
        build_lr_scheduler(opt, "multi_step", stepsize=3)


def test_cosine():
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "cosine", max_epoch=4)
    lrs = _lrs(s, opt, 5)
    assert lrs[0] == 1.0 and lrs[2] == pytest.approx(0.5) and lrs[4] == pytest.approx(0.0, abs=1e-9)


def test_unknown_scheduler():
    opt = build_optimizer(Net())
    with pytest.raises(ValueError, match="single_step"):
        build_lr_scheduler(opt, "cosin")


def test_warmup_linear_then_schedule():
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "single_step", stepsize=[4], gamma=0.1, warmup_epochs=2, warmup_factor=0.1)
    assert isinstance(s, WarmupScheduler)
    assert _lrs(s, opt, 6) == [0.1, 0.55, 1.0, 1.0, 0.1, 0.1]


def test_warmup_state_dict_round_trip():
    opt = build_optimizer(Net(), optim="sgd", lr=1.0)
    s = build_lr_scheduler(opt, "cosine", max_epoch=10, warmup_epochs=3)
    for _ in range(2):
        s.step()
    state = s.state_dict()
    opt2 = build_optimizer(Net(), optim="sgd", lr=1.0)
    s2 = build_lr_scheduler(opt2, "cosine", max_epoch=10, warmup_epochs=3)
    s2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    s.step()
    s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


def test_original_module_constants():
    """User code reads the original's lists of valid names."""
    from torchreid.optim import lr_scheduler, optimizer

    assert lr_scheduler.AVAI_SCH == ["single_step", "multi_step", "cosine"]
    assert optimizer.AVAI_OPTIMS == ["adam", "amsgrad", "sgd", "rmsprop", "radam"]
