"""Helpers to freeze/unfreeze layers and count parameters.

The checkpoint functions that lived here in the original Torchreid are re-exported from
:mod:`torchreid.utils.checkpoint`, so ``from torchreid.utils.torchtools import load_pretrained_weights`` keeps
working.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from .checkpoint import (
    get_rng_state,
    load_checkpoint,
    load_pretrained_weights,
    resume_from_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from .distributed import unwrap_model

__all__ = [
    "count_num_param",
    "get_rng_state",
    "load_checkpoint",
    "load_pretrained_weights",
    "open_all_layers",
    "open_specified_layers",
    "resume_from_checkpoint",
    "save_checkpoint",
    "set_bn_to_eval",
    "set_rng_state",
]


def set_bn_to_eval(m: nn.Module) -> None:
    """Put a BatchNorm layer in eval mode (frozen running statistics); use as ``model.apply(set_bn_to_eval)``."""
    if m.__class__.__name__.find("BatchNorm") != -1:
        m.eval()


def open_all_layers(model: nn.Module) -> None:
    """Train mode and ``requires_grad=True`` for every parameter."""
    model.train()
    for p in model.parameters():
        p.requires_grad = True


def open_specified_layers(model: nn.Module, open_layers: str | Iterable[str]) -> None:
    """Train only the named top-level children (e.g. ``['fc', 'classifier']``); freeze and eval the rest.

    Raises ``ValueError`` naming any layer the model does not have (and listing the ones it has).
    """
    model = unwrap_model(model)
    if isinstance(open_layers, str):
        open_layers = [open_layers]
    open_layers = list(open_layers)
    children = dict(model.named_children())
    unknown = [name for name in open_layers if name not in children]
    if unknown:
        raise ValueError(
            f"{', '.join(repr(u) for u in unknown)} {'is not a layer' if len(unknown) == 1 else 'are not layers'} "
            f"of {type(model).__name__}; its layers are: {', '.join(children)}"
        )
    for name, module in children.items():
        is_open = name in open_layers
        module.train(is_open)
        for p in module.parameters():
            p.requires_grad = is_open


def count_num_param(model: nn.Module, include_classifier: bool = False) -> int:
    """Number of parameters, each shared parameter once.

    As in the original, the ``classifier`` attribute (dropped at test time) is excluded unless
    ``include_classifier=True``; this is the size the model zoo quotes (osnet_x1_0: 2.2 M).
    """
    model = unwrap_model(model)
    num = sum(p.numel() for p in model.parameters())
    classifier = getattr(model, "classifier", None)
    if not include_classifier and isinstance(classifier, nn.Module):
        num -= sum(p.numel() for p in classifier.parameters())
    return num


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/utils/_legacy.py) ---
from ._legacy import adjust_learning_rate  # noqa: E402, F401
from .tools import mkdir_if_missing  # noqa: E402, F401
