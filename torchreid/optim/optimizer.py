"""``build_optimizer``: the original Torchreid optimizer factory (adam, amsgrad, sgd, rmsprop, radam)."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from ..utils.distributed import unwrap_model
from .radam import RAdam

__all__ = ["AVAI_OPTIMS", "RAdam", "build_optimizer"]

AVAI_OPTIMS = ["adam", "amsgrad", "sgd", "rmsprop", "radam"]


def build_optimizer(
    model: nn.Module,
    optim: str = "adam",
    lr: float = 0.0003,
    weight_decay: float = 5e-04,
    momentum: float = 0.9,
    sgd_dampening: float = 0,
    sgd_nesterov: bool = False,
    rmsprop_alpha: float = 0.99,
    adam_beta1: float = 0.9,
    adam_beta2: float = 0.99,
    staged_lr: bool = False,
    new_layers: str | Sequence[str] = "",
    base_lr_mult: float = 0.1,
) -> torch.optim.Optimizer:
    """Build an optimizer for ``model``.

    With ``staged_lr``, the top-level children named in ``new_layers`` train with ``lr`` and every other
    parameter with ``lr * base_lr_mult`` (fine-tuning a pretrained backbone with a new head).
    """
    if optim not in AVAI_OPTIMS:
        close = difflib.get_close_matches(str(optim), AVAI_OPTIMS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unsupported optimizer: {optim!r}.{hint} Must be one of {AVAI_OPTIMS}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model given to build_optimizer must be an instance of nn.Module, got {type(model)}")

    if staged_lr:
        if isinstance(new_layers, str):
            if not new_layers:
                warnings.warn("new_layers is empty, therefore staged_lr is useless", stacklevel=2)
            new_layers = [new_layers] if new_layers else []
        new_layers = list(new_layers)
        net = unwrap_model(model)
        children = dict(net.named_children())
        for layer in new_layers:
            if layer not in children:
                close = difflib.get_close_matches(layer, list(children), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                warnings.warn(f"{layer!r} is not a child layer of the model{hint}; ignored", stacklevel=2)
        base_params, new_params = [], []
        for name, module in children.items():
            (new_params if name in new_layers else base_params).extend(module.parameters())
        # parameters registered directly on the model (not under a child) belong to the base
        child_ids = {id(p) for p in base_params} | {id(p) for p in new_params}
        base_params.extend(p for p in net.parameters() if id(p) not in child_ids)
        param_groups = [
            {"params": base_params, "lr": lr * base_lr_mult},
            {"params": new_params},
        ]
    else:
        param_groups = model.parameters()

    if optim == "adam":
        return torch.optim.Adam(
            param_groups, lr=lr, weight_decay=weight_decay, betas=(adam_beta1, adam_beta2)
        )
    if optim == "amsgrad":
        return torch.optim.Adam(
            param_groups, lr=lr, weight_decay=weight_decay, betas=(adam_beta1, adam_beta2), amsgrad=True
        )
    if optim == "sgd":
        return torch.optim.SGD(
            param_groups,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            dampening=sgd_dampening,
            nesterov=sgd_nesterov,
        )
    if optim == "rmsprop":
        return torch.optim.RMSprop(
            param_groups, lr=lr, momentum=momentum, weight_decay=weight_decay, alpha=rmsprop_alpha
        )
    # radam: the original's RAdam (decoupled weight decay)
    return RAdam(param_groups, lr=lr, weight_decay=weight_decay, betas=(adam_beta1, adam_beta2))
