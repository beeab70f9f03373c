"""Model size and cost: ``compute_model_complexity(model, (1, 3, 256, 128))`` → ``(num_params, flops)``.

One eval-mode forward pass on a zero input is traced with forward hooks.

- ``num_params``: parameters of every module that ran, each parameter counted once even when its module is used
  several times (the original counted a shared module once per call). Because the pass is in eval mode the
  classifier does not run, so the figure is the size the model zoo quotes (osnet_x1_0: 2.17 M, resnet50: 23.5 M).
- ``flops``: multiply-accumulate operations, counted per call (a module used twice costs twice), with the
  original Torchreid's per-layer formulas (the ``hook_*`` functions below). With ``only_conv_linear=True``
  (default, as the zoo figures) only convolutions and linear layers count; otherwise pooling, ReLU/ReLU6/LeakyReLU
  and normalisation layers count too, and other layers (Sigmoid, Dropout, ...) cost nothing, as in the original.
  Two deliberate differences: a convolution's bias costs one operation per output element (the original divided
  it by ``groups``), and transposed convolutions are counted (the original gave them 0).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["compute_model_complexity"]

logger = logging.getLogger(__name__)

_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
Hook = Callable[[nn.Module, tuple[Any, ...], torch.Tensor], int]


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    return tuple([value] * n) if isinstance(value, int) else tuple(value)


def _adaptive_window(m: nn.Module, x: tuple[Any, ...], n: int) -> int:
    """Largest window of an adaptive pool: ``prod(ceil(in / out))`` over the last ``n`` dimensions."""
    sizes = x[0].shape[-n:]
    out = _ntuple(m.output_size, n)
    return math.prod(math.ceil(s / (o if o is not None else s)) for s, o in zip(sizes, out))


# --- per-layer formulas (the original's public ``hook_*`` names; ``x`` is the input tuple, ``y`` the output) ---
def hook_convNd(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
    """``kernel · in_channels / groups`` multiply-adds per output element, plus one for the bias."""
    k = math.prod(m.kernel_size)
    if isinstance(m, _TRANSPOSED):  # every input element is spread over k·out_channels/groups outputs
        flops = x[0].numel() * k * m.out_channels // m.groups
    else:
        flops = y.numel() * (k * m.in_channels // m.groups)
    return int(flops + (y.numel() if m.bias is not None else 0))


def _maxpool(n: int) -> Hook:
    def hook(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
        return int((math.prod(_ntuple(m.kernel_size, n)) - 1) * y.numel())  # comparisons

    return hook


def _avgpool(n: int) -> Hook:
    def hook(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
        return int(math.prod(_ntuple(m.kernel_size, n)) * y.numel())

    return hook


def _adapmaxpool(n: int) -> Hook:
    def hook(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
        return int((_adaptive_window(m, x, n) - 1) * y.numel())

    return hook


def _adapavgpool(n: int) -> Hook:
    def hook(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
        return int(_adaptive_window(m, x, n) * y.numel())

    return hook


hook_maxpool1d, hook_maxpool2d, hook_maxpool3d = _maxpool(1), _maxpool(2), _maxpool(3)
hook_avgpool1d, hook_avgpool2d, hook_avgpool3d = _avgpool(1), _avgpool(2), _avgpool(3)
hook_adapmaxpool1d, hook_adapmaxpool2d, hook_adapmaxpool3d = _adapmaxpool(1), _adapmaxpool(2), _adapmaxpool(3)
hook_adapavgpool1d, hook_adapavgpool2d, hook_adapavgpool3d = _adapavgpool(1), _adapavgpool(2), _adapavgpool(3)


def hook_relu(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
    """``max(0, x)``: one operation per element."""
    return int(y.numel())


def hook_leakyrelu(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
    """``max(0, x) + slope · min(0, x)``: three operations per element."""
    return int(3 * y.numel())


def hook_batchnormNd(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
    """Two operations per element (mean, std), two more with an affine transform."""
    affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
    return int(y.numel() * (4 if affine else 2))


hook_instancenormNd = hook_groupnorm = hook_layernorm = hook_batchnormNd


def hook_linear(m: nn.Module, x: tuple[Any, ...], y: torch.Tensor) -> int:
    """``in_features`` multiply-adds per output element, plus one for the bias."""
    return int((m.in_features + (1 if m.bias is not None else 0)) * y.numel())


_CONV_LINEAR: dict[type[nn.Module], Hook] = {
    nn.Conv1d: hook_convNd,
    nn.Conv2d: hook_convNd,
    nn.Conv3d: hook_convNd,
    nn.ConvTranspose1d: hook_convNd,
    nn.ConvTranspose2d: hook_convNd,
    nn.ConvTranspose3d: hook_convNd,
    nn.Linear: hook_linear,
}
_ALL_LAYERS: dict[type[nn.Module], Hook] = {
    **_CONV_LINEAR,
    nn.MaxPool1d: hook_maxpool1d,
    nn.MaxPool2d: hook_maxpool2d,
    nn.MaxPool3d: hook_maxpool3d,
    nn.AvgPool1d: hook_avgpool1d,
    nn.AvgPool2d: hook_avgpool2d,
    nn.AvgPool3d: hook_avgpool3d,
    nn.AdaptiveMaxPool1d: hook_adapmaxpool1d,
    nn.AdaptiveMaxPool2d: hook_adapmaxpool2d,
    nn.AdaptiveMaxPool3d: hook_adapmaxpool3d,
    nn.AdaptiveAvgPool1d: hook_adapavgpool1d,
    nn.AdaptiveAvgPool2d: hook_adapavgpool2d,
    nn.AdaptiveAvgPool3d: hook_adapavgpool3d,
    nn.ReLU: hook_relu,
    nn.ReLU6: hook_relu,
    nn.LeakyReLU: hook_leakyrelu,
    nn.BatchNorm1d: hook_batchnormNd,
    nn.BatchNorm2d: hook_batchnormNd,
    nn.BatchNorm3d: hook_batchnormNd,
    nn.InstanceNorm1d: hook_instancenormNd,
    nn.InstanceNorm2d: hook_instancenormNd,
    nn.InstanceNorm3d: hook_instancenormNd,
    nn.GroupNorm: hook_groupnorm,
    nn.LayerNorm: hook_layernorm,
}


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
    if y is None or not inputs or _first_tensor(inputs[0]) is None:
        return 0
    counters = _CONV_LINEAR if only_conv_linear else _ALL_LAYERS
    for cls in type(m).__mro__:  # the layer's own type first, then the counted type it derives from
        hook = counters.get(cls)
        if hook is not None:
            return hook(m, inputs, y)
    return 0


def compute_model_complexity(
    model: nn.Module,
    input_size: tuple[int, ...] | list[int],
    verbose: bool = False,
    only_conv_linear: bool = True,
) -> tuple[int, int]:
    """Return ``(num_params, flops)`` of ``model`` for one input of shape ``input_size`` (e.g. ``(1, 3, 256, 128)``).

    See the module docstring for what is counted. ``verbose`` logs a per-layer-type table (the original's
    layout) through the ``torchreid`` logger; without it nothing is printed.
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
        if next(m.children(), None) is None or next(m.parameters(recurse=False), None) is not None:
            calls_by_type[name] += 1  # a table row per layer type (containers without weights are left out)
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
            # a CPU torch.rand input as the original: it draws from the global RNG, so scripts/main.py's random
            # stream after building the model (sampler order, flips for a given train.seed) is the original's
            model(torch.rand(*input_size).to(device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    if verbose:  # the original's layout
        rule = "  " + "-" * 55
        lines = [rule, f"  Model complexity with input size {input_size}", rule]
        lines += [
            f"  {name} (params={params_by_type[name]:,}, flops={flops_by_type[name]:,})"
            for name in calls_by_type
        ]
        lines += [rule, f"  Total (params={total['params']:,}, flops={total['flops']:,})", rule]
        logger.info("\n".join(lines))
    return total["params"], total["flops"]
