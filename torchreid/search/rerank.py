"""k-reciprocal re-ranking of each query's shortlist (bounded memory: ``shortlist**2`` distances per query)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .index import FeatureIndex

__all__ = ["rerank_search"]


def _re_ranking() -> Any:
    from ..evaluation.rerank import re_ranking

    return re_ranking


def rerank_search(
    index: FeatureIndex,
    queries: ArrayLike | torch.Tensor,
    k: int,
    shortlist: int = 100,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Search ``shortlist`` candidates per query with the index's backend, re-rank them with k-reciprocal
    re-ranking (that query plus its candidates form the neighbourhood graph), return the best ``k``.

    Distances returned are the re-ranked ones. ``k1``/``k2`` shrink to fit a short shortlist.
    """
    from ..metrics.distance import compute_distance_matrix

    re_ranking = _re_ranking()
    k = index._clamp_k(k)
    m = max(k, min(int(shortlist), len(index)))
    base_d, base_i = index.search(queries, m)
    q = index._queries(queries)
    m = base_i.shape[1]
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    out_i = np.empty((q.shape[0], k), dtype=np.int64)
    kk1, kk2 = max(1, min(int(k1), m)), max(1, min(int(k2), m + 1))
    for r in range(q.shape[0]):
        g = torch.from_numpy(index._rows(base_i[r]))
        qq = compute_distance_matrix(q[r : r + 1], q[r : r + 1], index.metric).numpy()
        gg = compute_distance_matrix(g, g, index.metric).numpy()
        final = re_ranking(base_d[r : r + 1], qq, gg, k1=kk1, k2=kk2, lambda_value=lambda_value)[0]
        order = np.argsort(final, kind="stable")[:k]
        out_d[r], out_i[r] = final[order], base_i[r][order]
    return out_d, out_i
