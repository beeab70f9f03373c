"""Rank kernels and the choice of back-end: ``cython`` (compiled, OpenMP over queries), ``numpy`` (vectorised
fallback) and ``torch`` (batched, CPU or GPU).

Every kernel writes the 1-based rank of each query's positives among its valid items (ascending distance, ties
broken by gallery index, distances compared in float32) into ``out``; none sorts the gallery. All give identical
results on identical distances. The module state (``IS_CYTHON_AVAILABLE``, the once-only fallback warning, the
thread count) is also reachable, and patchable, as attributes of :mod:`torchreid.metrics.rank`.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["BACKENDS", "IS_CYTHON_AVAILABLE", "KERNELS", "available_backends", "resolve_backend"]

BACKENDS = ("auto", "cython", "numpy", "torch")

try:  # the compiled back-end is optional
    from torchreid.metrics.rank_cylib import rank_cy as _rank_cy

    IS_CYTHON_AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the build
    _rank_cy = None
    IS_CYTHON_AVAILABLE = False
IS_CYTHON_AVAI = IS_CYTHON_AVAILABLE  # the original's name

_warned_fallback = False


def _warn_fallback_once() -> None:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            "Cython rank evaluation is unavailable (build it with `python setup.py build_ext --inplace`); "
            "using the NumPy back-end, which gives identical results but is slower.",
            RuntimeWarning,
            stacklevel=3,
        )


def available_backends() -> list[str]:
    """Back-ends usable in this process (``'torch'`` needs PyTorch)."""
    names = ["numpy"]
    if IS_CYTHON_AVAILABLE:
        names.insert(0, "cython")
    try:
        import torch  # noqa: F401

        names.append("torch")
    except ImportError:  # pragma: no cover
        pass
    return names


def _num_threads() -> int:
    """CPUs this process may use, capped by OMP_NUM_THREADS when set (shared machines, test workers)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        n = min(n, int(env))
    return max(1, n)


# kernels: 1-based rank of each positive among the query's valid items, ascending, into `out`


def _ordered_keys_np(block: np.ndarray) -> np.ndarray:
    """int64 keys ordering (distance, gallery index) lexicographically; float32 distances, no NaN."""
    d = np.ascontiguousarray(block, dtype=np.float32) + np.float32(0.0)  # -0.0 -> +0.0
    bits = d.view(np.int32)
    key32 = np.where(bits < 0, bits ^ np.int32(0x7FFFFFFF), bits).astype(np.int64)
    key32 <<= 32
    key32 |= np.arange(block.shape[1], dtype=np.int64)
    return key32


def _ranks_numpy(
    dist: np.ndarray,
    pos_ptr: np.ndarray,
    pos_idx: np.ndarray,
    junk_ptr: np.ndarray,
    junk_idx: np.ndarray,
    out: np.ndarray,
    block_elems: int = 1 << 21,
) -> None:
    num_rows, num_g = dist.shape
    rows_per_block = max(1, block_elems // max(num_g, 1))
    for a in range(0, num_rows, rows_per_block):
        b = min(num_rows, a + rows_per_block)
        if pos_ptr[b] == pos_ptr[a]:
            continue
        keys = _ordered_keys_np(dist[a:b])
        for r in range(a, b):
            p0, p1 = pos_ptr[r], pos_ptr[r + 1]
            k = p1 - p0
            if k == 0:
                continue
            kr = keys[r - a]
            pk = np.sort(kr[pos_idx[p0:p1]])
            near = kr[kr <= pk[-1]]  # items beyond the hardest positive precede no positive
            hist = np.bincount(np.searchsorted(pk, near), minlength=k + 1)
            j0, j1 = junk_ptr[r], junk_ptr[r + 1]
            if j1 > j0:
                jk = kr[junk_idx[j0:j1]]
                hist -= np.bincount(np.searchsorted(pk, jk[jk <= pk[-1]]), minlength=k + 1)
            out[p0:p1] = np.cumsum(hist[:k])


def _ranks_cython(dist: np.ndarray, *csr_and_out: np.ndarray) -> None:
    """``csr_and_out``: ``pos_ptr, pos_idx, junk_ptr, junk_idx, out`` as for the other kernels (OpenMP over rows)."""
    _rank_cy.positive_ranks(np.ascontiguousarray(dist, dtype=np.float32), *csr_and_out, _num_threads())


def _ranks_torch(
    dist: np.ndarray | torch.Tensor,
    pos_ptr: np.ndarray,
    pos_idx: np.ndarray,
    junk_ptr: np.ndarray,
    junk_idx: np.ndarray,
    out: np.ndarray,
    block_elems: int = 1 << 23,
) -> None:
    """Batched torch kernel on ``dist``'s device (a tensor, or a NumPy array moved to CPU torch)."""
    import torch

    if not isinstance(dist, torch.Tensor):
        dist = torch.from_numpy(np.ascontiguousarray(dist, dtype=np.float32))
    dev = dist.device
    num_rows, num_g = dist.shape
    rows_per_block = max(1, block_elems // max(num_g, 1))
    big = torch.iinfo(torch.int64).max
    gar = torch.arange(num_g, device=dev, dtype=torch.int64)
    npos = np.diff(pos_ptr)
    for a in range(0, num_rows, rows_per_block):
        b = min(num_rows, a + rows_per_block)
        kmax = int(npos[a:b].max()) if b > a else 0
        if kmax == 0:
            continue
        c = b - a
        d = dist[a:b].to(torch.float32) + 0.0
        bits = d.view(torch.int32)
        keys = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(torch.int64)
        keys = (keys << 32) | gar
        # padded positive keys
        cnt = npos[a:b]
        rows = np.repeat(np.arange(c), cnt)
        cols = np.arange(rows.shape[0]) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        gsel = pos_idx[pos_ptr[a] : pos_ptr[b]]
        rows_t = torch.from_numpy(rows).to(dev)
        cols_t = torch.from_numpy(cols).to(dev)
        pk = torch.full((c, kmax), big, dtype=torch.int64, device=dev)
        pk[rows_t, cols_t] = keys[rows_t, torch.from_numpy(gsel).to(dev)]
        pk = pk.sort(dim=1).values
        # junk items never count
        jc = np.diff(junk_ptr[a : b + 1])
        if jc.sum() > 0:
            jrows = torch.from_numpy(np.repeat(np.arange(c), jc)).to(dev)
            jcols = torch.from_numpy(junk_idx[junk_ptr[a] : junk_ptr[b]]).to(dev)
            keys[jrows, jcols] = big
        bins = torch.searchsorted(pk, keys)
        del keys
        hist = torch.zeros((c, kmax + 1), dtype=torch.int64, device=dev)
        hist.scatter_add_(1, bins, torch.ones(1, dtype=torch.int64, device=dev).expand_as(bins))
        del bins
        ranks = hist[:, :kmax].cumsum(dim=1)
        out[pos_ptr[a] : pos_ptr[b]] = ranks[rows_t, cols_t].cpu().numpy()


KERNELS = {"cython": _ranks_cython, "numpy": _ranks_numpy, "torch": _ranks_torch}


def resolve_backend(backend: str, use_cython: bool, dist: Any = None) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        if dist is not None and getattr(dist, "is_cuda", False):
            return "torch"
        if use_cython and IS_CYTHON_AVAILABLE:
            return "cython"
        if use_cython:
            _warn_fallback_once()
        return "numpy"
    if backend == "cython" and not IS_CYTHON_AVAILABLE:
        raise RuntimeError(
            "backend='cython' requested but the extension is not built (python setup.py build_ext)"
        )
    return backend
