"""Input checks of the rank evaluation and the per-query positive / junk lists every back-end ranks.

Ids may be NumPy arrays, lists or tensors; they must be 1-D integers whose lengths match the distance matrix.
For each query, gallery items of its identity are split into positives (another camera) and junk (its own
camera, removed by the protocol), stored as CSR lists by gallery index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

    # 1-D integer ids as accepted by the public functions: NumPy arrays, lists or tensors
    IdsLike = ArrayLike | torch.Tensor

__all__: list[str] = []  # private helpers of torchreid.metrics.rank


def _as_ids(x: IdsLike, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_ids(
    num_q: int, num_g: int, q_pids: IdsLike, g_pids: IdsLike, q_camids: IdsLike, g_camids: IdsLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    q_pids, g_pids = _as_ids(q_pids, "q_pids"), _as_ids(g_pids, "g_pids")
    q_camids, g_camids = _as_ids(q_camids, "q_camids"), _as_ids(g_camids, "g_camids")
    if num_q == 0 or num_g == 0:
        raise ValueError(
            f"cannot evaluate with an empty query or gallery set (num_query={num_q}, num_gallery={num_g})"
        )
    for name, arr, n, what in (
        ("q_pids", q_pids, num_q, "queries"),
        ("q_camids", q_camids, num_q, "queries"),
        ("g_pids", g_pids, num_g, "gallery items"),
        ("g_camids", g_camids, num_g, "gallery items"),
    ):
        if arr.shape[0] != n:
            raise ValueError(
                f"len({name})={arr.shape[0]} does not match the {n} {what} of the distance matrix"
            )
    return q_pids, g_pids, q_camids, g_camids


def _check_max_rank(max_rank: int, num_g: int) -> int:
    max_rank = int(max_rank)
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    return min(max_rank, num_g)


@dataclass
class _Lists:
    """CSR lists per query: positives (same pid, other camera) and junk (same pid, same camera), by gallery index."""

    pos_ptr: np.ndarray
    pos_idx: np.ndarray
    junk_ptr: np.ndarray
    junk_idx: np.ndarray
    present: np.ndarray  # query pid occurs in the gallery at all

    @property
    def num_pos(self) -> np.ndarray:
        return np.diff(self.pos_ptr)


def _build_lists(
    q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray
) -> _Lists:
    num_q = q_pids.shape[0]
    order = np.argsort(g_pids, kind="stable")
    uniq, start, counts = np.unique(g_pids[order], return_index=True, return_counts=True)
    loc = np.minimum(np.searchsorted(uniq, q_pids), len(uniq) - 1)
    present = uniq[loc] == q_pids
    lens = np.where(present, counts[loc], 0).astype(np.int64)
    qrep = np.repeat(np.arange(num_q, dtype=np.int64), lens)
    offs = np.arange(qrep.shape[0], dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    gidx = order[np.repeat(start[loc], lens) + offs].astype(np.int64)
    junk = g_camids[gidx] == q_camids[qrep]

    def csr(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ptr = np.zeros(num_q + 1, dtype=np.int64)
        np.cumsum(np.bincount(qrep[mask], minlength=num_q), out=ptr[1:])
        return ptr, np.ascontiguousarray(gidx[mask])

    pos_ptr, pos_idx = csr(~junk)
    junk_ptr, junk_idx = csr(junk)
    return _Lists(pos_ptr, pos_idx, junk_ptr, junk_idx, present)


def _no_valid_query_error(lists: _Lists, num_q: int) -> ValueError:
    absent = int((~lists.present).sum())
    same_cam = int((lists.present & (lists.num_pos == 0)).sum())
    return ValueError(
        f"no query has a positive in the gallery from another camera, so rank metrics are undefined: "
        f"of {num_q} queries, {same_cam} have gallery images of their identity only from their own camera "
        f"(removed by the protocol) and {absent} have an identity absent from the gallery"
    )
