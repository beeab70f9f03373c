"""Distributed training helpers (DDP launched by ``torchrun``).

One process per GPU (or several CPU processes with the gloo backend). ``torchrun`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and
creates the default process group (``nccl`` when CUDA is available, ``gloo`` otherwise). Without those variables
everything here degrades to the single-process case, so the same code path serves both.

Conventions used across torchreid:

- only the main process (rank 0) writes logs, checkpoints and TensorBoard files (:func:`is_main_process`);
- training samplers shard by rank and share the epoch seed (``sampler.set_epoch(epoch)``);
- evaluation shards the query/gallery sets contiguously with :class:`ShardSampler` and re-assembles the
  features in their original order with :func:`gather_features`.
"""

from __future__ import annotations

import datetime
import os
import random
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "ShardSampler",
    "all_gather_variable",
    "all_reduce_mean",
    "barrier",
    "broadcast_buffers",
    "broadcast_object",
    "cleanup",
    "convert_sync_bn",
    "gather_features",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "resolve_device",
    "seed_per_rank",
    "shard_range",
    "unwrap_model",
    "wrap_ddp",
]

_ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value != "" else default
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from exc


def launched_by_torchrun() -> bool:
    """True when the torchrun environment variables are present (even for a world size of 1)."""
    return all(k in os.environ for k in _ENV_KEYS)


def init_distributed(backend: str = "auto", use_gpu: bool = True, timeout_s: float = 1800.0) -> DistInfo:
    """Initialise the default process group from the ``torchrun`` environment.

    ``backend``: ``'auto'`` (``nccl`` when CUDA is used, ``gloo`` otherwise), ``'nccl'`` or ``'gloo'``.
    With a world size of 1 (plain ``python scripts/main.py``) no process group is created. On CUDA the process
    is bound to GPU ``LOCAL_RANK``. Calling it again once initialised returns the current state.
    """
    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    cuda = resolve_device(use_gpu).type == "cuda"

    if cuda:
        n_dev = torch.cuda.device_count()
        if world_size > 1 and local_rank >= n_dev:
            raise RuntimeError(
                f"LOCAL_RANK={local_rank} but only {n_dev} CUDA device(s) are visible on this node; "
                f"launch at most {n_dev} processes per node (torchrun --nproc_per_node {n_dev})"
            )
        torch.cuda.set_device(local_rank if world_size > 1 else torch.cuda.current_device())
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")

    if world_size <= 1:
        return DistInfo(0, 1, 0, "", device)

    backend = (backend or "auto").lower()
    if backend == "auto":
        backend = "nccl" if cuda else "gloo"
    if backend not in ("nccl", "gloo", "mpi", "ucc"):
        raise ValueError(f"unknown distributed backend {backend!r}; use 'auto', 'nccl' or 'gloo'")
    if backend == "nccl" and not cuda:
        raise RuntimeError(
            "train.dist_backend='nccl' needs CUDA GPUs; on CPU use 'gloo' (or 'auto', which picks it)"
        )
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed support")
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout_s)}
        if backend == "nccl":
            kwargs["device_id"] = device
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size, **kwargs)
    return DistInfo(rank, world_size, local_rank, backend, device)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def get_local_rank() -> int:
    return _env_int("LOCAL_RANK", 0) if is_distributed() else 0


def is_main_process() -> bool:
    """True on rank 0 (and always in a single-process run): the only process that writes files."""
    return get_rank() == 0


def resolve_device(use_gpu: bool = True) -> torch.device:
    """Where the model runs, decided in one place: CUDA when asked for and available (the current device, which
    :func:`init_distributed` bound to ``LOCAL_RANK``), else the CPU."""
    return torch.device("cuda") if use_gpu and torch.cuda.is_available() else torch.device("cpu")


def barrier() -> None:
    if is_distributed():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def cleanup() -> None:
    """Destroy the default process group (no-op when none exists)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def seed_per_rank(seed: int, rank: int | None = None) -> int:
    """Seed Python, NumPy and torch with ``seed + rank`` so augmentation differs between ranks.

    Model initialisation does not need equal seeds (DDP broadcasts rank 0's parameters when it wraps the
    model) and samplers derive their order from their own seed plus the epoch, not from the global RNG.
    Returns the seed used.
    """
    rank = get_rank() if rank is None else rank
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % (2**32))
    torch.manual_seed(s)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(s)
    return s


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The user's module under DDP / DataParallel / ``torch.compile`` wrappers (for state dicts)."""
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def convert_sync_bn(model: torch.nn.Module) -> torch.nn.Module:
    """BatchNorm → SyncBatchNorm under DDP on GPUs (in place for sub-modules; parameters keep their identity).

    A no-op on a single process; on CPU it warns and keeps per-rank BatchNorm (SyncBatchNorm has no CPU kernel).
    """
    if not is_distributed():
        return model
    param = next(model.parameters(), None)
    if param is None or not param.is_cuda:
        warn_main_process(
            "train.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); using per-rank BatchNorm"
        )
        return model
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def wrap_ddp(model: torch.nn.Module, sync_bn: bool = False, **ddp_kwargs: Any) -> torch.nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when a process group with several ranks exists.

    ``sync_bn`` converts BatchNorm layers to ``SyncBatchNorm`` first (in place: the parameters stay the same
    objects, so an optimiser built before keeps working). SyncBatchNorm needs GPUs; on CPU it is skipped with a
    warning. On a single process the model is returned unchanged.
    """
    if not is_distributed():
        return model
    if sync_bn:
        model = convert_sync_bn(model)
    param = next(model.parameters(), None)
    on_cuda = param is not None and param.is_cuda
    if on_cuda:
        ddp_kwargs.setdefault("device_ids", [param.device.index])
        ddp_kwargs.setdefault("output_device", param.device.index)
    return torch.nn.parallel.DistributedDataParallel(model, **ddp_kwargs)


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s Python object on every rank (e.g. a timestamp for the log folder)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def broadcast_buffers(model: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank, in place. No-op on one process."""
    if not is_distributed():
        return
    dev = _comm_device()
    with torch.no_grad():
        for buf in model.buffers():
            if buf.device == dev and buf.is_contiguous():
                dist.broadcast(buf, src)
            else:
                tmp = buf.detach().to(dev).contiguous()
                dist.broadcast(tmp, src)
                buf.copy_(tmp)


def _comm_device() -> torch.device:
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_gather_variable(tensor: torch.Tensor) -> list[torch.Tensor]:
    """All-gather tensors whose first dimension may differ between ranks.

    Every rank gets the list of all ranks' tensors (in rank order) on the tensor's original device. Other
    dimensions and the dtype must agree. Each tensor is padded to the largest length for the collective and
    trimmed afterwards.
    """
    if not is_distributed():
        return [tensor]
    world = get_world_size()
    orig_device = tensor.device
    dev = _comm_device()
    t = tensor.detach().to(dev).contiguous()
    n = torch.tensor([t.shape[0]], device=dev, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    lengths = [int(s.item()) for s in sizes]
    longest = max(lengths)
    if t.shape[0] < longest:
        pad = torch.zeros((longest - t.shape[0], *t.shape[1:]), dtype=t.dtype, device=dev)
        t = torch.cat([t, pad], 0)
    out = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(out, t)
    return [o[:length].to(orig_device) for o, length in zip(out, lengths)]


def _to_host(x: Any) -> Any:
    """A tensor on the CPU (NumPy cannot read CUDA tensors); anything else unchanged."""
    return x.detach().cpu() if isinstance(x, torch.Tensor) else x


def gather_features(
    features: torch.Tensor, pids: Any, camids: Any
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Concatenate every rank's evaluation shard, in rank order, on every rank.

    Used with :class:`ShardSampler` (contiguous shards), the result equals what one process would have
    extracted from the whole query or gallery set, in the dataset's order. ``pids``/``camids`` may be
    arrays, lists or tensors; they come back as int64 NumPy arrays.
    """
    pid_t = torch.as_tensor(np.asarray(_to_host(pids), dtype=np.int64))
    cam_t = torch.as_tensor(np.asarray(_to_host(camids), dtype=np.int64))
    if not is_distributed():
        return features, pid_t.numpy(), cam_t.numpy()
    if features.shape[0] != pid_t.shape[0] or pid_t.shape[0] != cam_t.shape[0]:
        raise ValueError(
            f"features ({features.shape[0]}), pids ({pid_t.shape[0]}) and camids ({cam_t.shape[0]}) "
            "must have the same length"
        )
    feats = torch.cat(all_gather_variable(features), 0)
    pid_all = torch.cat(all_gather_variable(pid_t), 0).numpy()
    cam_all = torch.cat(all_gather_variable(cam_t), 0).numpy()
    return feats, pid_all, cam_all


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Average a dict of scalars over ranks (for logging the loss of the whole global batch)."""
    if not is_distributed() or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= get_world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def shard_range(n: int, rank: int | None = None, world_size: int | None = None) -> range:
    """Contiguous, near-equal slice of ``range(n)`` owned by ``rank`` (no padding, no duplicates)."""
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


class ShardSampler(torch.utils.data.Sampler[int]):
    """Evaluation sampler: rank ``r`` reads a contiguous block of the dataset, in order.

    Unlike ``DistributedSampler`` it neither pads nor interleaves, so concatenating the ranks' outputs in rank
    order (:func:`gather_features`) restores the dataset order exactly.
    """

    def __init__(self, data_source: Sequence[Any], rank: int | None = None, world_size: int | None = None):
        self.indices = shard_range(len(data_source), rank, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def warn_main_process(message: str) -> None:
    """Emit a warning only on the main process (avoid N copies of the same warning)."""
    if is_main_process():
        warnings.warn(message, stacklevel=2)
