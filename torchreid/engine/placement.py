"""Preparing a model the way the engine runs it, in one place: device, sync-BN, channels_last/compile, DDP.

:func:`prepare_model` is called once per registered model (move to the engine's device with its optimiser state,
``SyncBatchNorm`` under DDP, channels_last, ``torch.compile``); :func:`ddp_forward` builds the training forward
under ``torchrun`` (DistributedDataParallel, then compiled) the first time a training epoch needs it.
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any

import torch
from torch import nn

from ..utils import distributed as dist_utils
from .accel import StepAccelerator

__all__ = ["ddp_forward", "move_to_device", "prepare_model", "resolve_open_layers"]


def move_to_device(model: nn.Module, optim: Any, device: torch.device) -> None:
    """Put a model left on the CPU onto ``device`` (the original's examples called ``model.cuda()``; without it
    the first batch fails with an input/weight device mismatch). ``Module.to`` keeps the parameter objects, so
    ``optim`` stays valid; its state tensors follow (``step`` counters stay put)."""
    param = next(model.parameters(), None)
    if device.type == "cpu" or param is None or param.device.type == device.type:
        return
    model.to(device)
    if optim is not None:
        for state in optim.state.values():
            for k, v in state.items():
                if k != "step" and isinstance(v, torch.Tensor):
                    state[k] = v.to(device)


def prepare_model(
    model: nn.Module, optim: Any, device: torch.device, accel: StepAccelerator, sync_bn: bool = False
) -> tuple[nn.Module, Any, Any]:
    """``(module, forward, optimizer)`` for a registered model.

    ``module`` is the user's model on ``device`` (BatchNorm converted to SyncBatchNorm with ``sync_bn`` under
    DDP on GPUs); ``forward`` is what evaluation (and single-process training) calls: the module itself or its
    compiled wrapper; ``optimizer`` is switched to fused kernels where the accelerator allows it.
    """
    move_to_device(model, optim, device)
    if sync_bn:
        model = dist_utils.convert_sync_bn(model)  # no-op (with a warning) off CUDA or on one process
    forward = accel.prepare_model(model)
    if optim is not None:
        optim = accel.prepare_optimizer(optim)
    return model, forward, optim


def ddp_forward(model: nn.Module, accel: StepAccelerator, find_unused: bool = False) -> Any:
    """The training forward under ``torchrun``: ``model`` wrapped in DistributedDataParallel, then compiled when
    ``train.compile`` is set (DDP's bucketing must see the original parameters). ``None`` in one process."""
    if not dist_utils.is_distributed():
        return None
    return accel.compile(dist_utils.wrap_ddp(model, find_unused_parameters=find_unused))


def resolve_open_layers(model: nn.Module, open_layers: Any) -> list[str]:
    """Map misspelt layer names to their close match with a warning (the original's shipped configs said
    'classsifier'); an unknown name without a close match is left for ``open_specified_layers`` to reject."""
    layers = [open_layers] if isinstance(open_layers, str) else list(open_layers)
    children = [n for n, _ in dist_utils.unwrap_model(model).named_children()]
    out = []
    for layer in layers:
        if layer not in children:
            close = difflib.get_close_matches(layer, children, n=1, cutoff=0.8)
            if close:
                warnings.warn(
                    f"open_layers: {layer!r} is not a layer of the model; using {close[0]!r}", stacklevel=3
                )
                layer = close[0]
        if layer not in out:
            out.append(layer)
    return out
