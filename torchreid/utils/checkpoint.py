"""Saving and loading checkpoints and pretrained weights.

Checkpoint format (compatible with the original Torchreid): a dict with ``state_dict``, ``epoch``, ``rank1``,
``optimizer`` and ``scheduler``; we also store ``rng_state`` and ``config`` so a resumed run continues
identically. Files are written atomically (temporary file + ``os.replace``) so a crash never leaves a truncated
checkpoint behind; the temporary file a killed process leaves is removed by the next save in that folder.

Resuming validates the whole checkpoint (:func:`validate_checkpoint`) and compares its stored config with the run's
(:func:`compare_resume_config`) before anything is restored, so a bad file leaves the model, optimizer and
scheduler untouched.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import shutil
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint_checks import _check_fits, compare_resume_config, validate_checkpoint
from .tools import atomic_output, remove_stale_temp_files, temp_file_pattern

logger = logging.getLogger(__name__)

__all__ = [
    "compare_resume_config",
    "get_rng_state",
    "load_checkpoint",
    "load_pretrained_weights",
    "resume_from_checkpoint",
    "save_checkpoint",
    "set_rng_state",
    "validate_checkpoint",
]

#: the temporary files of :func:`save_checkpoint` (``.model.pth.tar-3.k2j4_x9a.tmp``, ``.model-best.pth.tar...``)
CHECKPOINT_TEMP_PATTERN = temp_file_pattern(r"model\.pth\.tar-\d+|model-best\.pth\.tar")


def _safe_globals() -> list[Any]:
    """Types that checkpoints written by the original Torchreid contain besides tensors.

    The original stored ``rank1`` as a NumPy scalar; ``torch.load(weights_only=True)`` rejects those on
    torch >= 2.6 unless they are allow-listed. We allow exactly NumPy scalars/dtypes, nothing executable.
    """
    allowed: list[Any] = [np.dtype, np.ndarray]
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core to numpy._core
    for name in ("scalar", "_reconstruct"):
        fn = getattr(core.multiarray, name, None)
        if fn is not None:
            allowed.append(fn)
            # files pickled under NumPy 1.x name the old module path
            allowed.append((fn, f"numpy.core.multiarray.{name}"))
    for name in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType"):
        dtype_cls = getattr(np.dtypes, name, None)
        if dtype_cls is not None:
            allowed.append(dtype_cls)
    return allowed


def load_checkpoint(fpath: str | os.PathLike, weights_only: bool = True) -> dict[str, Any]:
    """Load a checkpoint onto the CPU.

    ``weights_only=True`` (default) refuses arbitrary pickled code but still reads checkpoints written by the
    original Torchreid (NumPy scalars are allow-listed). Pass ``weights_only=False`` only for files you trust.
    """
    path = Path(fpath).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: '{path}'")
    try:
        if weights_only:
            with torch.serialization.safe_globals(_safe_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=False)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(
            f"Could not load checkpoint '{path}' safely: {exc}\n"
            "If you trust this file, load it with load_checkpoint(path, weights_only=False)."
        ) from exc
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        AttributeError,
    ) as exc:
        # garbage bytes surface as any of these from the unpickler / zip reader
        raise RuntimeError(f"Checkpoint '{path}' is corrupt or not a PyTorch file: {exc}") from exc


def get_rng_state() -> dict[str, Any]:
    """Snapshot of every RNG a training run consumes (Python, NumPy, torch CPU and CUDA)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].copy()),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),  # the cached second value of a Box-Muller pair
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot made by :func:`get_rng_state`."""
    if "python" in state:
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
    if "numpy" in state:
        keys = state["numpy"]["keys"]
        keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
        np_state = state["numpy"]
        np.random.set_state(
            (
                "MT19937",
                keys.astype(np.uint32),
                int(np_state["pos"]),
                int(np_state.get("has_gauss", 0)),
                float(np_state.get("cached_gaussian", 0.0)),
            )
        )
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def _atomic_save(obj: Any, path: Path) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(
    state: dict[str, Any],
    save_dir: str | os.PathLike,
    is_best: bool = False,
    remove_module_from_keys: bool = False,
) -> str:
    """Write ``state`` to ``save_dir/model.pth.tar-<epoch>`` atomically; return the path.

    With ``is_best`` a copy is kept as ``model-best.pth.tar``. ``remove_module_from_keys`` strips the
    ``module.`` prefix that (Distributed)DataParallel adds. Temporary files that an earlier save in ``save_dir``
    left behind when its process was killed are removed (only the names this function writes, older than this
    save).
    """
    started = time.time()
    save_dir = Path(save_dir)
    if remove_module_from_keys:
        state = dict(state)
        state["state_dict"] = _strip_module_prefix(state["state_dict"])
    path = save_dir / f"model.pth.tar-{state['epoch']}"
    _atomic_save(state, path)
    logger.info(f'Checkpoint saved to "{path}"')
    if is_best:
        with atomic_output(save_dir / "model-best.pth.tar") as tmp:
            shutil.copyfile(path, tmp)
    remove_stale_temp_files(save_dir, CHECKPOINT_TEMP_PATTERN, older_than=started)
    return str(path)


# ------------------------------------------------------------------------------------------------ validation


def resume_from_checkpoint(
    fpath: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    restore_rng: bool = True,
    *,
    config: Mapping | None = None,
    allow_config_change: bool = False,
    on_loaded: Any = None,
) -> int:
    """Restore model/optimizer/scheduler (and RNG states when stored) and return the epoch to start from.

    ``on_loaded(checkpoint)``, when given, is called with the checkpoint dict after a successful restore, so a
    caller can take further entries (e.g. the engine's ``amp`` scaler state) without reading the file again.

    Everything is checked first (:func:`validate_checkpoint`, the state dict against ``model``, the optimizer's
    parameter groups, the RNG states): on any problem a ``ValueError`` names it and nothing is restored. With
    ``config`` (this run's config as a dict) the checkpoint's stored config is compared
    (:func:`compare_resume_config`): differences raise a ``ValueError`` listing them unless
    ``allow_config_change`` (config key ``model.resume_allow_config_change``), which only warns.
    """
    logger.info(f'Loading checkpoint from "{fpath}"')
    checkpoint = load_checkpoint(fpath)
    validate_checkpoint(checkpoint, fpath)
    target = model.module if hasattr(model, "module") else model
    state_dict = _check_fits(checkpoint, fpath, target, optimizer)
    if config is not None:
        diffs = compare_resume_config(checkpoint.get("config"), config)
        if diffs:
            listing = "\n  ".join(diffs)
            if not allow_config_change:
                raise ValueError(
                    f"Checkpoint '{fpath}' was trained with another recipe than this run:\n  {listing}\n"
                    "Resume with the checkpoint's settings, or set `model.resume_allow_config_change True` to "
                    "continue anyway (the optimizer and scheduler states are restored as saved)."
                )
            warnings.warn(
                f"Resuming '{fpath}' with another recipe (model.resume_allow_config_change is set):\n  {listing}",
                stacklevel=2,
            )
    target.load_state_dict(state_dict)
    logger.info("Loaded model weights")
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        logger.info("Loaded optimizer")
    if scheduler is not None and checkpoint.get("scheduler") is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
        logger.info("Loaded scheduler")
    if restore_rng and checkpoint.get("rng_state") is not None:
        set_rng_state(checkpoint["rng_state"])
    start_epoch = int(checkpoint["epoch"])
    logger.info(f"Last epoch = {start_epoch}")
    if checkpoint.get("rank1") is not None:
        logger.info(f"Last rank1 = {float(checkpoint['rank1']):.1%}")
    if on_loaded is not None:
        on_loaded(checkpoint)
    return start_epoch


def _strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> OrderedDict:
    out: OrderedDict = OrderedDict()
    for k, v in state_dict.items():
        out[k[7:] if k.startswith("module.") else k] = v
    return out


def load_pretrained_weights(model: nn.Module, weight_path: str | os.PathLike) -> dict[str, list[str]]:
    """Load every weight of ``weight_path`` whose name and shape match ``model``; report the rest.

    Accepts a checkpoint (``{'state_dict': ...}``) or a raw state dict, with or without ``module.`` prefixes.
    Returns ``{'loaded': [...], 'skipped': [...], 'missing': [...]}``: ``skipped`` are keys of the file that
    did not fit (unknown name or other shape, e.g. a classifier trained on another dataset), ``missing`` are
    model keys the file did not provide. ``weight_path`` may also be a zoo name (``'osnet_x0_25_msmt17'``, see
    :mod:`torchreid.models.zoo`).
    """
    if not os.path.isfile(os.fspath(weight_path)):
        from ..models.zoo import is_zoo_name, resolve_weights

        if is_zoo_name(os.fspath(weight_path)):
            weight_path = resolve_weights(weight_path)
    try:
        checkpoint = load_checkpoint(weight_path)
    except (FileNotFoundError, RuntimeError):
        raise
    except Exception as exc:  # the unpickler raises IndexError/ValueError/... on arbitrary bytes
        raise RuntimeError(f"Checkpoint '{weight_path}' is corrupt or not a PyTorch file: {exc!r}") from exc
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state_dict, dict):
        raise TypeError(f"'{weight_path}' does not contain a state dict (found {type(state_dict).__name__})")
    state_dict = _strip_module_prefix(state_dict)
    target = model.module if hasattr(model, "module") else model
    model_dict = target.state_dict()
    matched: OrderedDict = OrderedDict()
    skipped: list[str] = []
    for k, v in state_dict.items():
        if k in model_dict and isinstance(v, torch.Tensor) and model_dict[k].shape == v.shape:
            matched[k] = v
        else:
            skipped.append(k)
    missing = [k for k in model_dict if k not in matched]
    # 0-d buffers (BatchNorm's num_batches_tracked) fit any model that has a BN of the same name, so they do not
    # count as evidence that the file belongs to this architecture; neither does a lone classifier that happens to
    # have the same size. A file of another architecture fits neither most of its own tensors nor most of the
    # model's.
    n_match = sum(1 for v in matched.values() if v.dim() > 0)
    n_file = sum(1 for v in state_dict.values() if isinstance(v, torch.Tensor) and v.dim() > 0)
    n_model = sum(1 for v in model_dict.values() if v.dim() > 0)
    if n_match == 0 or (2 * n_match < n_file and 2 * n_match < n_model):
        mismatched = [k for k in skipped if k in model_dict and isinstance(state_dict[k], torch.Tensor)]
        example = (
            f"e.g. {mismatched[0]!r} has shape {tuple(state_dict[mismatched[0]].shape)} in the file but "
            f"{tuple(model_dict[mismatched[0]].shape)} in the model"
            if mismatched
            else f"e.g. file key {next(iter(state_dict), None)!r} vs model key {next(iter(model_dict), None)!r}"
        )
        raise RuntimeError(
            f"Only {n_match} of the {n_file} weight tensors in '{weight_path}' fit this {type(target).__name__} "
            f"({n_model} tensors; {len(mismatched)} names match but with other shapes; {example}). "
            "Is it a checkpoint of another architecture or width?"
        )
    model_dict.update(matched)
    target.load_state_dict(model_dict)
    logger.info(f'Successfully loaded pretrained weights from "{weight_path}"')
    if skipped:
        reasons = []
        for k in skipped:
            if not isinstance(state_dict[k], torch.Tensor):
                reasons.append(f"{k} (not a tensor: {type(state_dict[k]).__name__})")
            elif k in model_dict:
                reasons.append(f"{k} (shape {tuple(state_dict[k].shape)} vs {tuple(model_dict[k].shape)})")
            else:
                reasons.append(f"{k} (not in model)")
        more = f", ... and {len(reasons) - 10} more" if len(reasons) > 10 else ""
        warnings.warn(
            f"** {len(skipped)} keys of '{weight_path}' were skipped: {', '.join(reasons[:10])}{more}",
            stacklevel=2,
        )
    return {"loaded": list(matched), "skipped": skipped, "missing": missing}
