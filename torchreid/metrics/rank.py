"""Rank evaluation of a re-ID retrieval problem: CMC, mAP and mINP.

Protocol (the original Torchreid's, with its defects fixed):

* for each query, gallery items with the same pid **and** the same camera id are removed ("junk");
* a query with no remaining positive (same pid) is skipped; the metrics average over the valid queries;
* distances are ranked ascending, **ties broken by gallery index** (a stable sort), so results do not depend on
  the machine; distances are compared in float32 (the original's default Cython path cast to float32 too);
* CMC@k = fraction of valid queries whose first positive is within the top k; AP is the non-interpolated average
  precision; mINP is the mean inverse negative penalty ``num_positives / rank_of_hardest_positive``;
* ``max_rank`` shrinks to the gallery size; a query with fewer remaining items than ``max_rank`` keeps its CMC at
  its last value (1) beyond its list (the original crashed or read stale values there);
* CUHK03 protocol (``use_metric_cuhk03=True``): the CMC averages 10 repeats in which one random gallery image per
  identity is kept; the draws consume NumPy's legacy global RNG exactly as the original did (``np.random.choice``
  once per gallery identity, identities in order of first appearance in the ranked list, valid queries in order),
  so ``np.random.seed(s)`` before the call reproduces the original's numbers. mAP is the market mAP.

Every back-end only needs the rank of each query's few positives among its valid items, so none sorts the
gallery: ``cython`` (compiled, OpenMP over queries), ``numpy`` (vectorised fallback) and ``torch`` (batched, CPU or
GPU, used by :func:`evaluate_rank_from_features`, which never builds the full queryxgallery matrix). All give
identical results on identical distances.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import torch
    from numpy.typing import ArrayLike

    # 1-D integer ids as accepted by the public functions: NumPy arrays, lists or tensors
    IdsLike = ArrayLike | torch.Tensor

__all__ = [
    "RankResult",
    "available_backends",
    "eval_cuhk03",
    "eval_market1501",
    "evaluate_py",
    "evaluate_rank",
    "evaluate_rank_from_features",
]

BACKENDS = ("auto", "cython", "numpy", "torch")
NUM_REPEATS_CUHK03 = 10

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


@dataclass
class RankResult:
    """Everything :func:`evaluate_rank` computes (``return_details=True``).

    ``all_AP``/``all_INP`` are per valid query (in query order); ``valid_query`` marks which queries were valid.
    """

    cmc: np.ndarray
    mAP: float
    mINP: float
    num_valid_q: int
    num_q: int
    num_skipped_same_cam_only: int
    num_skipped_absent: int
    all_AP: np.ndarray = field(repr=False)
    all_INP: np.ndarray = field(repr=False)
    valid_query: np.ndarray = field(repr=False)

    def __iter__(self) -> Iterator[Any]:  # ``cmc, mAP = result`` keeps working
        return iter((self.cmc, self.mAP))


# ----------------------------------------------------------------------------------------------------------------
# input checks and the per-query positive / junk lists
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# rank kernels: 1-based rank of each positive among the query's valid items, ascending, into `out`
# ----------------------------------------------------------------------------------------------------------------


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


def _ranks_cython(
    dist: np.ndarray,
    pos_ptr: np.ndarray,
    pos_idx: np.ndarray,
    junk_ptr: np.ndarray,
    junk_idx: np.ndarray,
    out: np.ndarray,
) -> None:
    _rank_cy.positive_ranks(
        np.ascontiguousarray(dist, dtype=np.float32),
        pos_ptr,
        pos_idx,
        junk_ptr,
        junk_idx,
        out,
        _num_threads(),
    )


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


_KERNELS = {"cython": _ranks_cython, "numpy": _ranks_numpy, "torch": _ranks_torch}


def _resolve_backend(backend: str, use_cython: bool, dist: Any = None) -> str:
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


# ----------------------------------------------------------------------------------------------------------------
# metrics from ranks
# ----------------------------------------------------------------------------------------------------------------


def _market_from_ranks(
    ranks: np.ndarray, lists: _Lists, max_rank: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    npos = lists.num_pos
    valid = npos > 0
    starts = lists.pos_ptr[:-1][valid]
    nv = npos[valid]
    within = np.arange(ranks.shape[0], dtype=np.float64) - np.repeat(lists.pos_ptr[:-1], npos) + 1.0
    all_ap = np.add.reduceat(within / ranks, starts) / nv
    first = ranks[starts]
    last = ranks[lists.pos_ptr[1:][valid] - 1]
    all_inp = nv / last
    hist = np.bincount(np.minimum(first, max_rank + 1) - 1, minlength=max_rank + 1)[:max_rank]
    cmc = (np.cumsum(hist) / float(valid.sum())).astype(np.float32)
    return cmc, all_ap, all_inp, valid


class _LegacyChoiceStream:
    """Draws ``np.random.choice(n)`` indices from the legacy global RNG in bulk, consuming exactly what the
    equivalent sequence of calls would (the global state ends where the original's would)."""

    def __init__(self, use_cython: bool) -> None:
        self.state = np.random.get_state()
        self.raw = np.empty(0, dtype=np.uint32)
        self.pos = 0  # position in self.raw
        self.consumed_before = 0  # raw values dropped from the front of self.raw
        self.use_cython = use_cython and IS_CYTHON_AVAILABLE

    def _more(self, n: int) -> None:
        extra = np.random.randint(0, 2**32, size=max(n, 4096), dtype=np.uint64).astype(np.uint32)
        self.consumed_before += self.pos
        self.raw = np.concatenate([self.raw[self.pos :], extra])
        self.pos = 0

    def _simulate(self, sizes: np.ndarray, out: np.ndarray, first: int) -> tuple[int, int]:
        if self.use_cython:
            return _rank_cy.legacy_choices(sizes, self.raw, self.pos, out, first)
        raw, p = self.raw, self.pos
        n_raw = raw.shape[0]
        for k in range(first, sizes.shape[0]):
            n = int(sizes[k])
            if n <= 1:
                out[k] = 0
                continue
            rng = n - 1
            mask = (1 << rng.bit_length()) - 1
            p0 = p
            while True:
                if p >= n_raw:
                    return k, p0
                v = int(raw[p]) & mask
                p += 1
                if v <= rng:
                    out[k] = v
                    break
        return sizes.shape[0], p

    def choices(self, sizes: np.ndarray) -> np.ndarray:
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        out = np.zeros(sizes.shape[0], dtype=np.int64)
        done = 0
        while done < sizes.shape[0]:
            need = 2 * int((sizes[done:] > 1).sum()) + 64
            if self.raw.shape[0] - self.pos < need:
                self._more(need)
            done, self.pos = self._simulate(sizes, out, done)
        return out

    def finish(self) -> None:
        total = self.consumed_before + self.pos
        np.random.set_state(self.state)
        while total > 0:  # advance the global RNG by exactly what was used
            n = min(total, 1 << 24)
            np.random.randint(0, 2**32, size=n, dtype=np.uint64)
            total -= n


def _cuhk03_hits(
    row: np.ndarray,
    q_pid: int,
    junk_idx_q: np.ndarray,
    g_pids: np.ndarray,
    stream: _LegacyChoiceStream,
    num_g: int,
) -> np.ndarray:
    """Masked-list position (0-based) of the sampled positive in each of the 10 repeats of one valid query."""
    keep = np.ones(num_g, dtype=bool)
    keep[junk_idx_q] = False
    kept = np.flatnonzero(keep)
    order = kept[np.argsort(np.asarray(row, dtype=np.float32)[kept], kind="stable")]
    pids = g_pids[order]
    uniq, first, inv, counts = np.unique(pids, return_index=True, return_inverse=True, return_counts=True)
    group_order = np.argsort(first, kind="stable")  # identities by first appearance
    relabel = np.empty_like(group_order)
    relabel[group_order] = np.arange(group_order.shape[0])
    lab = relabel[inv.reshape(-1)]
    sizes = counts[group_order]
    positions = np.argsort(lab, kind="stable")  # per identity, its ranked positions ascending
    ptr = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    draws = stream.choices(np.tile(sizes, NUM_REPEATS_CUHK03)).reshape(NUM_REPEATS_CUHK03, -1)
    chosen = positions[ptr[None, :] + draws]
    g_pos = relabel[np.searchsorted(uniq, q_pid)]
    return (chosen < chosen[:, g_pos : g_pos + 1]).sum(axis=1)


def _cuhk03_cmc(
    row_iter: Iterable[tuple[int | np.integer, np.ndarray]],
    lists: _Lists,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    num_g: int,
    max_rank: int,
    use_cython: bool,
) -> np.ndarray:
    """``row_iter`` yields ``(q_index, row)`` for every valid query in order."""
    stream = _LegacyChoiceStream(use_cython)
    hist = np.zeros(max_rank + 1, dtype=np.int64)
    nvalid = 0
    try:
        for q, row in row_iter:
            j = lists.junk_idx[lists.junk_ptr[q] : lists.junk_ptr[q + 1]]
            hits = _cuhk03_hits(row, int(q_pids[q]), j, g_pids, stream, num_g)
            hist += np.bincount(np.minimum(hits, max_rank), minlength=max_rank + 1)
            nvalid += 1
    finally:
        stream.finish()
    return (np.cumsum(hist[:max_rank]) / float(NUM_REPEATS_CUHK03 * nvalid)).astype(np.float32)


def _finish(
    ranks: np.ndarray, lists: _Lists, max_rank: int, cuhk03_cmc: np.ndarray | None = None
) -> RankResult:
    cmc, all_ap, all_inp, valid = _market_from_ranks(ranks, lists, max_rank)
    if cuhk03_cmc is not None:
        cmc = cuhk03_cmc
    absent = int((~lists.present).sum())
    same_cam = int((lists.present & ~valid).sum())
    return RankResult(
        cmc=cmc,
        mAP=float(np.mean(all_ap)),
        mINP=float(np.mean(all_inp)),
        num_valid_q=int(valid.sum()),
        num_q=int(valid.shape[0]),
        num_skipped_same_cam_only=same_cam,
        num_skipped_absent=absent,
        all_AP=all_ap,
        all_INP=all_inp,
        valid_query=valid,
    )


# ----------------------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------------------


def evaluate_rank(
    distmat: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    max_rank: int = 50,
    use_metric_cuhk03: bool = False,
    use_cython: bool = True,
    backend: str = "auto",
    return_details: bool = False,
) -> RankResult | tuple[np.ndarray, float]:
    """Evaluate a ranking given its queryxgallery distance matrix.

    Args:
        distmat: ``(num_q, num_g)`` distances (NumPy array or torch tensor; compared in float32). NaN is an error.
        q_pids, g_pids, q_camids, g_camids: 1-D integer ids (NumPy arrays, lists or tensors).
        max_rank: length of the CMC curve (shrinks to ``num_g``).
        use_metric_cuhk03: CUHK03 single-gallery-shot CMC (10 random repeats drawn from ``np.random``).
        use_cython: ``False`` never uses the compiled extension (``'auto'`` then picks NumPy).
        backend: ``'auto'`` (Cython if built, else NumPy; ``torch`` for a CUDA tensor), ``'cython'``, ``'numpy'``
            or ``'torch'``. All give identical results.
        return_details: return a :class:`RankResult` (cmc, mAP, mINP, num_valid_q, per-query AP/INP, ...)
            instead of ``(cmc, mAP)``.

    Returns:
        ``(cmc, mAP)``: float32 CMC of length ``min(max_rank, num_g)`` and the mAP as a float; or a
        :class:`RankResult` (which also unpacks as ``cmc, mAP``) when ``return_details``.

    Raises:
        ValueError: shapes/lengths disagree, empty query or gallery, NaN distances, or no valid query (the
            message gives the counts of queries skipped for each reason).
    """
    is_tensor = hasattr(distmat, "detach") and hasattr(distmat, "is_cuda")
    if not is_tensor:
        distmat = np.asarray(distmat)
    if distmat.ndim != 2:
        raise ValueError(f"distmat must be 2-D (num_query, num_gallery), got shape {tuple(distmat.shape)}")
    num_q, num_g = int(distmat.shape[0]), int(distmat.shape[1])
    q_pids, g_pids, q_camids, g_camids = _check_ids(num_q, num_g, q_pids, g_pids, q_camids, g_camids)
    max_rank = _check_max_rank(max_rank, num_g)
    name = _resolve_backend(backend, use_cython, distmat if is_tensor else None)
    if is_tensor:
        if bool(distmat.isnan().any()):
            raise ValueError("distmat contains NaN")
        if name != "torch":
            distmat = distmat.detach().float().cpu().numpy()
    else:
        if not np.issubdtype(distmat.dtype, np.number) or np.issubdtype(distmat.dtype, np.complexfloating):
            raise ValueError(f"distmat must be real-valued, got dtype {distmat.dtype}")
        distmat = np.ascontiguousarray(distmat, dtype=np.float32)
        if name != "cython" and np.isnan(distmat).any():  # the Cython kernel checks every row itself
            raise ValueError("distmat contains NaN")

    lists = _build_lists(q_pids, g_pids, q_camids, g_camids)
    if not (lists.num_pos > 0).any():
        raise _no_valid_query_error(lists, num_q)
    ranks = np.zeros(lists.pos_idx.shape[0], dtype=np.int64)
    _KERNELS[name](distmat, lists.pos_ptr, lists.pos_idx, lists.junk_ptr, lists.junk_idx, ranks)

    cuhk03 = None
    if use_metric_cuhk03:
        valid_q = np.flatnonzero(lists.num_pos > 0)
        if is_tensor and name == "torch":
            rows = ((q, distmat[q].detach().float().cpu().numpy()) for q in valid_q)
        else:
            rows = ((q, distmat[q]) for q in valid_q)
        cuhk03 = _cuhk03_cmc(rows, lists, q_pids, g_pids, num_g, max_rank, use_cython and name == "cython")
    result = _finish(ranks, lists, max_rank, cuhk03)
    return result if return_details else (result.cmc, result.mAP)


def evaluate_rank_from_features(
    qf: ArrayLike | torch.Tensor,
    gf: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    metric: str = "euclidean",
    max_rank: int = 50,
    use_metric_cuhk03: bool = False,
    backend: str = "auto",
    device: str | int | torch.device | None = None,
    chunk_size: int | None = None,
    return_details: bool = False,
) -> RankResult | tuple[np.ndarray, float]:
    """Evaluate directly from features, a block of queries at a time: the full QxG matrix never exists.

    Each block's distances come from :func:`torchreid.metrics.compute_distance_matrix` (same formula, same
    ``metric``), so results equal ``evaluate_rank(compute_distance_matrix(qf, gf, metric), ...)`` up to BLAS
    rounding of the block product (identical in practice; exactly identical whenever no two gallery distances of a
    row are within that rounding).

    Args:
        qf, gf: ``(num_q, d)`` and ``(num_g, d)`` feature tensors (or arrays).
        metric: ``'euclidean'`` (squared) or ``'cosine'``.
        backend: ``'auto'`` ranks each block with the Cython kernel on CPU (NumPy if not built) and with the
            torch kernel on a GPU; ``'cython'``, ``'numpy'`` or ``'torch'`` force one.
        device: where distances are computed (default: ``qf``'s device); e.g. ``'cuda'``.
        chunk_size: queries per block (default: about 32M distances per block).
        Other arguments as in :func:`evaluate_rank`.

    Returns:
        As :func:`evaluate_rank`.
    """
    import torch

    from .distance import compute_distance_matrix

    qf = torch.as_tensor(qf)
    gf = torch.as_tensor(gf)
    if qf.dim() != 2 or gf.dim() != 2:
        raise ValueError(f"qf and gf must be 2-D, got {tuple(qf.shape)} and {tuple(gf.shape)}")
    dev = torch.device(device) if device is not None else qf.device
    if dev.type == "cuda" and not torch.cuda.is_available():
        # the results are the same on any device: run on the CPU instead of failing deep inside torch
        warnings.warn(
            f"device={device!r}: CUDA is not available; evaluating on the CPU", RuntimeWarning, stacklevel=2
        )
        dev = torch.device("cpu")
    qf, gf = qf.to(dev), gf.to(dev)
    num_q, num_g = qf.shape[0], gf.shape[0]
    q_pids, g_pids, q_camids, g_camids = _check_ids(num_q, num_g, q_pids, g_pids, q_camids, g_camids)
    max_rank = _check_max_rank(max_rank, num_g)
    if backend == "auto" and dev.type != "cpu":
        name = "torch"
    else:
        name = _resolve_backend(backend, True)
    lists = _build_lists(q_pids, g_pids, q_camids, g_camids)
    if not (lists.num_pos > 0).any():
        raise _no_valid_query_error(lists, num_q)
    if chunk_size is None:
        chunk_size = max(1, (1 << 25) // max(num_g, 1))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    ranks = np.zeros(lists.pos_idx.shape[0], dtype=np.int64)
    cuhk03 = None
    stream = stream_hist = None
    if use_metric_cuhk03:
        stream = _LegacyChoiceStream(use_cython=True)
        stream_hist = np.zeros(max_rank + 1, dtype=np.int64)
    try:
        with torch.no_grad():
            for a in range(0, num_q, chunk_size):
                b = min(num_q, a + chunk_size)
                d = compute_distance_matrix(qf[a:b], gf, metric).float()
                if name != "cython" and bool(d.isnan().any()):  # the Cython kernel checks every row itself
                    raise ValueError("distances contain NaN (NaN or inf in the features?)")
                block = d if name == "torch" else d.cpu().numpy()
                ptrs = [lists.pos_ptr[a : b + 1], lists.pos_idx, lists.junk_ptr[a : b + 1], lists.junk_idx]
                _KERNELS[name](block, *ptrs, ranks)
                if use_metric_cuhk03:
                    host = block if isinstance(block, np.ndarray) else block.cpu().numpy()
                    for q in range(a, b):
                        if lists.pos_ptr[q + 1] > lists.pos_ptr[q]:
                            j = lists.junk_idx[lists.junk_ptr[q] : lists.junk_ptr[q + 1]]
                            hits = _cuhk03_hits(host[q - a], int(q_pids[q]), j, g_pids, stream, num_g)
                            stream_hist += np.bincount(np.minimum(hits, max_rank), minlength=max_rank + 1)
                del d, block
    finally:
        if stream is not None:
            stream.finish()
    if use_metric_cuhk03:
        nvalid = int((lists.num_pos > 0).sum())
        cuhk03 = (np.cumsum(stream_hist[:max_rank]) / float(NUM_REPEATS_CUHK03 * nvalid)).astype(np.float32)
    result = _finish(ranks, lists, max_rank, cuhk03)
    return result if return_details else (result.cmc, result.mAP)


# --- names of the original module, kept for scripts that import them ------------------------------------------


def eval_market1501(
    distmat: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    max_rank: int,
) -> tuple[np.ndarray, float]:
    """Market-1501 protocol with the NumPy back-end (name kept from the original)."""
    return evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, False, False, backend="numpy")


def eval_cuhk03(
    distmat: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    max_rank: int,
) -> tuple[np.ndarray, float]:
    """CUHK03 protocol with the NumPy back-end (name kept from the original)."""
    return evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, True, False, backend="numpy")


def evaluate_py(
    distmat: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    max_rank: int,
    use_metric_cuhk03: bool,
) -> tuple[np.ndarray, float]:
    """Pure NumPy evaluation (name kept from the original)."""
    return evaluate_rank(
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03, False, backend="numpy"
    )
