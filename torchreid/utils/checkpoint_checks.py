"""Checks made before a checkpoint is restored: its entries and types, whether it fits the model and optimizer,
and whether it was written by the same recipe (optimizer, scheduler, model, loss) as the run resuming it.

Nothing here modifies anything: :func:`~torchreid.utils.checkpoint.resume_from_checkpoint` calls these first, so a
bad file leaves the model, optimizer and scheduler untouched.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_int(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() == 0 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_rng_state(rng: Any, where: str) -> None:
    if not isinstance(rng, Mapping):
        raise ValueError(f"{where}: 'rng_state' must be a dict, found {_type_name(rng)}")
    py = rng.get("python")
    if py is not None and not (
        isinstance(py, (tuple, list))
        and len(py) == 3
        and isinstance(py[1], (tuple, list))
        and len(py[1]) == 625
    ):
        raise ValueError(f"{where}: 'rng_state.python' is not a Python random state (random.getstate())")
    npst = rng.get("numpy")
    if npst is not None:
        keys = npst.get("keys") if isinstance(npst, Mapping) else None
        if keys is None or tuple(getattr(keys, "shape", ())) != (624,) or not _is_int(npst.get("pos", None)):
            raise ValueError(f"{where}: 'rng_state.numpy' is not a NumPy MT19937 state (keys[624], pos)")
    tst = rng.get("torch")
    if tst is not None and not (
        isinstance(tst, torch.Tensor) and tst.dtype == torch.uint8 and tst.dim() == 1
    ):
        raise ValueError(f"{where}: 'rng_state.torch' must be a uint8 tensor (torch.get_rng_state())")
    cuda = rng.get("cuda")
    if cuda is not None and not (
        isinstance(cuda, (list, tuple))
        and all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in cuda)
    ):
        raise ValueError(f"{where}: 'rng_state.cuda' must be a list of uint8 tensors")
    # a dry run proves the values are accepted; the current state is put back whatever happens
    from .checkpoint import get_rng_state, set_rng_state  # the checkpoint module imports this one

    current = get_rng_state()
    try:
        set_rng_state({k: v for k, v in rng.items() if k != "cuda"})
    except Exception as exc:
        raise ValueError(f"{where}: 'rng_state' cannot be restored ({type(exc).__name__}: {exc})") from exc
    finally:
        set_rng_state(current)


def validate_checkpoint(ckpt: Any, path: str | os.PathLike) -> None:
    """Raise one ``ValueError`` naming the entry and ``path`` when ``ckpt`` is not a usable training checkpoint.

    Required: ``state_dict`` (a dict of tensors) and ``epoch`` (an integer >= 0). Optional, checked when present
    and not None: ``optimizer`` (``state`` dict + ``param_groups`` list of dicts with ``params``), ``scheduler``
    (dict), ``rng_state`` (restorable RNG states), ``rank1`` (a number), ``config`` (dict), ``amp`` (dict).
    """
    where = f"Checkpoint '{path}'"
    if not isinstance(ckpt, Mapping):
        raise ValueError(
            f"{where} is not a training checkpoint: expected a dict with 'state_dict' and 'epoch', found "
            f"{_type_name(ckpt)}"
        )
    if "state_dict" not in ckpt:
        raise ValueError(f"{where} has no 'state_dict' entry (keys: {', '.join(map(str, ckpt)) or 'none'})")
    sd = ckpt["state_dict"]
    if not isinstance(sd, Mapping):
        raise ValueError(f"{where}: 'state_dict' must be a dict of tensors, found {_type_name(sd)}")
    for k, v in sd.items():
        if not isinstance(k, str) or (
            not isinstance(v, torch.Tensor) and not str(k).endswith("_extra_state")
        ):
            raise ValueError(f"{where}: 'state_dict' entry {k!r} is a {_type_name(v)}, not a tensor")
    if "epoch" not in ckpt:
        raise ValueError(f"{where} has no 'epoch' entry; it cannot be resumed (load its weights instead)")
    if not _is_int(ckpt["epoch"]) or int(ckpt["epoch"]) < 0:
        raise ValueError(f"{where}: 'epoch' must be an integer >= 0, found {ckpt['epoch']!r}")
    opt = ckpt.get("optimizer")
    if opt is not None:
        groups = opt.get("param_groups") if isinstance(opt, Mapping) else None
        if (
            not isinstance(opt, Mapping)
            or not isinstance(opt.get("state"), Mapping)
            or not isinstance(groups, list)
        ):
            raise ValueError(
                f"{where}: 'optimizer' must be an optimizer state dict ('state' and 'param_groups')"
            )
        for i, g in enumerate(groups):
            if not isinstance(g, Mapping) or not isinstance(g.get("params"), list):
                raise ValueError(f"{where}: 'optimizer.param_groups[{i}]' has no 'params' list")
    for key in ("scheduler", "config", "amp"):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], Mapping):
            raise ValueError(f"{where}: '{key}' must be a dict, found {_type_name(ckpt[key])}")
    rank1 = ckpt.get("rank1")
    if rank1 is not None:
        try:
            float(rank1)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: 'rank1' must be a number, found {_type_name(rank1)}") from None
    if ckpt.get("rng_state") is not None:
        _check_rng_state(ckpt["rng_state"], where)


def _check_fits(ckpt: Mapping, path: str | os.PathLike, model: nn.Module, optimizer: Any) -> OrderedDict:
    """The checkpoint's state dict (without ``module.``) after checking it fits ``model`` and ``optimizer``."""
    from .checkpoint import _strip_module_prefix

    sd = _strip_module_prefix(ckpt["state_dict"])
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in sd
        and isinstance(v, torch.Tensor)
        and isinstance(sd[k], torch.Tensor)
        and sd[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("other shape", shapes)):
            if items:
                more = f" and {len(items) - 5} more" if len(items) > 5 else ""
                parts.append(f"{label}: {', '.join(items[:5])}{more}")
        raise ValueError(
            f"Checkpoint '{path}' does not fit this {type(model).__name__} ({'; '.join(parts)}); nothing was "
            "restored. Is it a checkpoint of another model or another number of training identities?"
        )
    opt = ckpt.get("optimizer")
    if optimizer is not None and opt is not None:
        saved = [len(g["params"]) for g in opt["param_groups"]]
        current = [len(g["params"]) for g in optimizer.param_groups]
        if saved != current:
            raise ValueError(
                f"Checkpoint '{path}': its optimizer has parameter groups of sizes {saved}, this run's {current}; "
                "nothing was restored (another optimizer set-up, e.g. train.staged_lr?)"
            )
    return sd


# ------------------------------------------------------------------------------------------- resume config

_OPTIM_EXTRA = {
    "sgd": ("sgd.momentum", "sgd.dampening", "sgd.nesterov"),
    "rmsprop": ("sgd.momentum", "rmsprop.alpha"),
    "adam": ("adam.beta1", "adam.beta2"),
    "amsgrad": ("adam.beta1", "adam.beta2"),
    "adamw": ("adam.beta1", "adam.beta2"),
}


def _get(cfg: Mapping | None, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


_ABSENT = object()


def _resume_keys(cfg: Mapping) -> list[str]:
    """The config keys that define the training recipe of ``cfg`` (the current run's)."""
    keys = ["model.name", "train.optim", "train.lr", "train.weight_decay", "train.staged_lr"]
    if _get(cfg, "train.staged_lr") is True:
        keys += ["train.new_layers", "train.base_lr_mult"]
    keys += list(_OPTIM_EXTRA.get(str(_get(cfg, "train.optim")), ()))
    keys += ["train.lr_scheduler", "train.warmup_epochs", "train.warmup_factor"]
    sched = str(_get(cfg, "train.lr_scheduler"))
    if sched in ("single_step", "multi_step"):
        keys += ["train.stepsize", "train.gamma"]
    elif sched == "cosine":
        keys += ["train.max_epoch"]
    keys += ["loss.name"]
    loss = str(_get(cfg, "loss.name"))
    if loss == "softmax":
        keys += ["loss.softmax.label_smooth"]
    elif loss == "triplet":
        keys += [
            "loss.triplet.margin",
            "loss.triplet.weight_t",
            "loss.triplet.weight_x",
            "loss.softmax.label_smooth",
        ]
    return keys


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Number):
        return float(value)
    return value


def compare_resume_config(stored: Mapping | None, current: Mapping) -> list[str]:
    """Human-readable differences between a checkpoint's stored config and this run's, in the settings that make
    up the training recipe: model, optimizer (and its own settings), learning-rate scheduler, loss.

    E.g. ``"train.optim: checkpoint 'amsgrad', this run 'sgd'"``. Settings a checkpoint does not store (older
    files, the original Torchreid's) are not compared; ``stored=None`` gives ``[]``. Run-length settings
    (``train.max_epoch``, except for the cosine schedule whose period it is), data, logging and paths are free to
    change.
    """
    if not stored:
        return []
    out = []
    for key in _resume_keys(current):
        old, new = _get(stored, key), _get(current, key)
        if old is _ABSENT or new is _ABSENT:
            continue
        if _norm(old) != _norm(new):
            out.append(f"{key}: checkpoint {old!r}, this run {new!r}")
    return out
