"""A gallery sharded across processes: each rank searches its own rows, the top-k are merged on every rank.

Launch as training is launched (``torchrun --nproc_per_node N script.py``); every rank passes the same queries::

    from torchreid.search import load_shard, sharded_search
    shard = load_shard("gallery_index")             # this rank's rows, memory-mapped
    distances, positions = sharded_search(shard, queries, k=10)   # positions in the whole gallery

Outside an initialised process group these are the single-process calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist

from .exact import merge_topk
from .index import FeatureIndex, clamp_k

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["load_shard", "sharded_search"]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def load_shard(folder: str | Path, rank: int | None = None, world_size: int | None = None, **kwargs: Any
               ) -> FeatureIndex:  # fmt: skip
    """This rank's contiguous share of a saved index (memory-mapped: only those rows are ever read)."""
    index = FeatureIndex.load(folder, mmap=True, **kwargs)
    if rank is None:
        rank = dist.get_rank() if _active() else 0
    if world_size is None:
        world_size = dist.get_world_size() if _active() else 1
    return index.shard(rank, world_size)


def sharded_search(
    shard: FeatureIndex, queries: ArrayLike | torch.Tensor, k: int = 10, group: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` over the union of every rank's shard: ``(distances, positions)`` with positions in the
    concatenation of the shards in rank order (``shard(rank, world_size)`` order, i.e. the saved index's order).
    A collective: every rank must call it with the same queries and ``k``."""
    if not _active():
        return shard.search(queries, k)
    ws = dist.get_world_size(group)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(ws)]
    dist.all_gather(sizes, torch.tensor([len(shard)], dtype=torch.int64), group=group)
    sizes = [int(s) for s in sizes]
    rank = dist.get_rank(group)
    total, offset = sum(sizes), sum(sizes[:rank])
    if total == 0:
        raise ValueError("the sharded index is empty on every rank")
    k_eff = clamp_k(k, total)
    q = shard._queries(queries) if len(shard) else torch.as_tensor(np.asarray(queries), dtype=torch.float32)
    nq = q.shape[0] if q.dim() == 2 else 1
    d = torch.full((nq, k_eff), float("inf"), dtype=torch.float32)
    i = torch.full((nq, k_eff), -1, dtype=torch.int64)
    if len(shard):
        ld, li = shard.search(q, min(k_eff, len(shard)))
        d[:, : ld.shape[1]] = torch.from_numpy(ld)
        i[:, : li.shape[1]] = torch.from_numpy(li) + offset
    all_d = [torch.empty_like(d) for _ in range(ws)]
    all_i = [torch.empty_like(i) for _ in range(ws)]
    dist.all_gather(all_d, d, group=group)
    dist.all_gather(all_i, i, group=group)
    i_cat = torch.cat(all_i, dim=1)
    i_cat = torch.where(i_cat < 0, torch.full_like(i_cat, total), i_cat)  # padding sorts after real rows
    vd, vi = merge_topk(None, (torch.cat(all_d, dim=1), i_cat), k_eff)
    return vd.numpy(), vi.numpy()
