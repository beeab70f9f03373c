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

This module is the public API; the work is split by job: :mod:`~torchreid.metrics.rank_inputs` (input checks and
the positive / junk lists), :mod:`~torchreid.metrics.rank_backends` (kernels and back-end choice),
:mod:`~torchreid.metrics.rank_cuhk03` (the CUHK03 CMC and its legacy RNG stream) and
:mod:`~torchreid.metrics.rank_legacy` (the original's ``eval_market1501`` / ``eval_cuhk03`` / ``evaluate_py``).
Every name the module had stays importable from here.
"""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import rank_backends as _backends
from . import rank_cuhk03 as _cuhk03
from . import rank_inputs as _inputs
from .rank_backends import BACKENDS as BACKENDS  # names the module had, importable from here as before
from .rank_backends import KERNELS, available_backends, resolve_backend
from .rank_cuhk03 import NUM_REPEATS_CUHK03 as NUM_REPEATS_CUHK03
from .rank_cuhk03 import Cuhk03CMC
from .rank_inputs import _build_lists, _check_ids, _check_max_rank, _Lists, _no_valid_query_error

if TYPE_CHECKING:
    from collections.abc import Iterator

    import torch
    from numpy.typing import ArrayLike

    from .rank_inputs import IdsLike

__all__ = [
    "RankResult",
    "available_backends",
    "eval_cuhk03",
    "eval_market1501",
    "evaluate_py",
    "evaluate_rank",
    "evaluate_rank_from_features",
]


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
    name = resolve_backend(backend, use_cython, distmat if is_tensor else None)
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
    KERNELS[name](distmat, lists.pos_ptr, lists.pos_idx, lists.junk_ptr, lists.junk_idx, ranks)

    cuhk03 = None
    if use_metric_cuhk03:
        valid_q = np.flatnonzero(lists.num_pos > 0)
        if is_tensor and name == "torch":
            rows = ((q, distmat[q].detach().float().cpu().numpy()) for q in valid_q)
        else:
            rows = ((q, distmat[q]) for q in valid_q)
        cuhk03 = Cuhk03CMC(lists, q_pids, g_pids, num_g, max_rank, use_cython and name == "cython").over(rows)
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
        name = resolve_backend(backend, True)
    lists = _build_lists(q_pids, g_pids, q_camids, g_camids)
    if not (lists.num_pos > 0).any():
        raise _no_valid_query_error(lists, num_q)
    if chunk_size is None:
        chunk_size = max(1, (1 << 25) // max(num_g, 1))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    ranks = np.zeros(lists.pos_idx.shape[0], dtype=np.int64)
    cuhk03 = Cuhk03CMC(lists, q_pids, g_pids, num_g, max_rank, use_cython=True) if use_metric_cuhk03 else None
    try:
        with torch.no_grad():
            for a in range(0, num_q, chunk_size):
                b = min(num_q, a + chunk_size)
                d = compute_distance_matrix(qf[a:b], gf, metric).float()
                if name != "cython" and bool(d.isnan().any()):  # the Cython kernel checks every row itself
                    raise ValueError("distances contain NaN (NaN or inf in the features?)")
                block = d if name == "torch" else d.cpu().numpy()
                ptrs = [lists.pos_ptr[a : b + 1], lists.pos_idx, lists.junk_ptr[a : b + 1], lists.junk_idx]
                KERNELS[name](block, *ptrs, ranks)
                if cuhk03 is not None:
                    host = block if isinstance(block, np.ndarray) else block.cpu().numpy()
                    for q in range(a, b):
                        if lists.pos_ptr[q + 1] > lists.pos_ptr[q]:
                            cuhk03.add(q, host[q - a])
                del d, block
    finally:
        if cuhk03 is not None:
            cuhk03.finish()
    result = _finish(ranks, lists, max_rank, cuhk03.cmc() if cuhk03 is not None else None)
    return result if return_details else (result.cmc, result.mAP)


# the original module's names, kept for scripts that import them
from .rank_legacy import eval_cuhk03, eval_market1501, evaluate_py  # noqa: E402

# Back-end state lives in rank_backends; reading or setting it here (``rank.IS_CYTHON_AVAILABLE = False``, a test's
# monkeypatch of ``rank._num_threads``) reads or sets it there, so there is one owner.
_BACKEND_STATE = ("IS_CYTHON_AVAILABLE", "IS_CYTHON_AVAI", "_rank_cy", "_warned_fallback", "_num_threads",
                  "_warn_fallback_once", "_ranks_cython", "_ranks_numpy", "_ranks_torch", "_ordered_keys_np")  # fmt: skip


def _forward(name: str) -> property:
    return property(lambda _m: getattr(_backends, name), lambda _m, value: setattr(_backends, name, value))


class _RankModule(types.ModuleType):
    """This module's type: the back-end state names are data descriptors forwarding to rank_backends."""


for _name in _BACKEND_STATE:
    setattr(_RankModule, _name, _forward(_name))
sys.modules[__name__].__class__ = _RankModule


def __getattr__(name: str) -> Any:
    if name in ("_KERNELS", "_resolve_backend"):  # the former private names
        return KERNELS if name == "_KERNELS" else resolve_backend
    for module in (_inputs, _cuhk03):  # helpers that lived in this module before the split
        if name in vars(module):
            return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
