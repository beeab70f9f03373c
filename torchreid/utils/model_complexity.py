"""Model size and cost: ``compute_model_complexity(model, (1, 3, 256, 128))`` → ``(num_params, flops)``.

One eval-mode forward pass on a zero input is traced with forward hooks.

- ``num_params``: parameters of every module that ran, each parameter counted once even when its module is used
  several times (the original counted a shared module once per call). Because the pass is in eval mode the
  classifier does not run, so the figure is the size the model zoo quotes (osnet_x1_0: 2.17 M, resnet50: 23.5 M).
- ``flops``: multiply-accumulate operations, counted per call (a module used twice costs twice). With
  ``only_conv_linear=True`` (default, as the zoo figures) only convolutions and linear layers count (one
  multiply-add per weight use, plus one per output element for a bias); otherwise normalisation, activation and
  pooling layers add one operation per element they read (two for affine normalisation, the window size for
  pooling).
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from typing import Any

import torch
from torch import nn

__all__ = ["compute_model_complexity"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.GroupNorm,
    nn.LayerNorm,
)
_ACT = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.SiLU,
)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_APOOL = (
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)


def _first_tensor(obj: Any) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(obj, dict):
        return _first_tensor(list(obj.values()))
    return None


def _flops(m: nn.Module, inputs: tuple[Any, ...], output: Any, only_conv_linear: bool) -> int:
    y = _first_tensor(output)
    x = _first_tensor(inputs)
    if y is None:
        return 0
    if isinstance(m, _CONV):
        k = math.prod(m.kernel_size)
        per_out = k * m.in_channels // m.groups
        if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            # every input element is spread over k·out_channels/groups outputs
            flops = (x.numel() if x is not None else 0) * k * m.out_channels // m.groups
        else:
            flops = y.numel() * per_out
        return flops + (y.numel() if m.bias is not None else 0)
    if isinstance(m, nn.Linear):
        return y.numel() * m.in_features + (y.numel() if m.bias is not None else 0)
    if only_conv_linear or x is None:
        return 0
    if isinstance(m, _NORM):
        affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
        return x.numel() * (2 if affine else 1)
    if isinstance(m, _ACT):
        return x.numel()
    if isinstance(m, _POOL):
        ks = m.kernel_size
        k = math.prod(ks) if isinstance(ks, (tuple, list)) else ks ** (x.dim() - 2)
        return y.numel() * k
    if isinstance(m, _APOOL):
        return x.numel()
    return 0


def compute_model_complexity(
    model: nn.Module,
    input_size: tuple[int, ...] | list[int],
    verbose: bool = False,
    only_conv_linear: bool = True,
) -> tuple[int, int]:
    """Return ``(num_params, flops)`` of ``model`` for one input of shape ``input_size`` (e.g. ``(1, 3, 256, 128)``).

    See the module docstring for what is counted. ``verbose`` prints a per-layer-type breakdown.
    """
    if len(input_size) < 2:
        raise ValueError(
            f"input_size must include the batch dimension, e.g. (1, 3, 256, 128); got {input_size}"
        )
    seen_params: set[int] = set()
    params_by_type: dict[str, int] = defaultdict(int)
    flops_by_type: dict[str, int] = defaultdict(int)
    calls_by_type: dict[str, int] = defaultdict(int)
    total = {"params": 0, "flops": 0}

    def hook(m: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        name = type(m).__name__
        calls_by_type[name] += 1
        for p in m.parameters(recurse=False):
            if id(p) not in seen_params:
                seen_params.add(id(p))
                total["params"] += p.numel()
                params_by_type[name] += p.numel()
        f = _flops(m, inputs, output, only_conv_linear)
        total["flops"] += f
        flops_by_type[name] += f

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        model.eval()
        with torch.no_grad():
            model(torch.zeros(*input_size, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    if verbose:
        rows = OrderedDict(sorted(flops_by_type.items(), key=lambda kv: -kv[1]))
        for name in params_by_type:
            rows.setdefault(name, 0)
        print(f"  -- Model complexity for input {tuple(input_size)} --")
        print(f"  {'layer type':<28}{'calls':>8}{'params':>14}{'flops':>18}")
        for name in rows:
            if params_by_type[name] == 0 and flops_by_type[name] == 0:
                continue  # containers and layers that cost nothing under only_conv_linear
            print(
                f"  {name:<28}{calls_by_type[name]:>8}{params_by_type[name]:>14,}{flops_by_type[name]:>18,}"
            )
        print(f"  {'total':<28}{'':>8}{total['params']:>14,}{total['flops']:>18,}")
    return total["params"], total["flops"]
