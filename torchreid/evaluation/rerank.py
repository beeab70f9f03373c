"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal Encoding",
CVPR 2017), with the same inputs, defaults and outputs as the original Torchreid's ``re_ranking``.

Algorithm, over all ``N = num_q + num_g`` images:

1. ``original_dist``: the stacked ``[[q_q, q_g], [q_gᵀ, g_g]]`` matrix, squared, each column divided by its
   maximum, then transposed (row ``i`` holds the normalised distances from image ``i``), float32.
2. ``R(i, k)``, the k-reciprocal neighbours of ``i``: the members of ``i``'s top ``k+1`` (self included) that have
   ``i`` in their own top ``k+1``. Expansion: for each ``c`` in ``R(i, k1)``, add ``R(c, round(k1/2))`` when more
   than 2/3 of it lies in ``R(i, k1)``.
3. ``V[i]``: ``exp(-original_dist[i, j])`` on the expanded set, normalised to sum 1 (zero elsewhere).
4. Local query expansion: ``V[i] ← mean of V over i's top k2 neighbours`` (when ``k2 != 1``).
5. Jaccard distance ``1 - Σ min(V_i, V_j) / Σ max(V_i, V_j)``, computed as ``1 - t / (2 - t)`` with
   ``t = Σ_l min(V[i, l], V[j, l])`` (each row of V sums to 1).
6. ``final = (1 - λ)·jaccard + λ·original_dist``, query rows x gallery columns.

Unlike the original, V is never dense: it is kept as sparse rows (index lists), neighbour lists come from a
partial selection (no full argsort), and the Jaccard sums run over an inverted index in blocks of queries. The only
``NxN`` array is ``original_dist`` itself (float32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

__all__ = ["re_ranking"]


def _to_numpy(x: ArrayLike | torch.Tensor, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.dtype.is_floating_point and x.dtype.itemsize < 4:  # bf16 has no NumPy dtype; the work is float32
            x = x.float()
        x = x.numpy()
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    return a


def _copy_transposed(dst: np.ndarray, src: np.ndarray, tile: int = 512) -> None:
    """``dst[...] = src.T`` tile by tile (a plain strided copy of a large transpose thrashes the TLB)."""
    rows, cols = dst.shape
    for a in range(0, rows, tile):
        for c in range(0, cols, tile):
            dst[a : a + tile, c : c + tile] = src[c : c + tile, a : a + tile].T


def _original_dist(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray, block: int = 2048) -> np.ndarray:
    """Row i = column i of the squared stacked matrix divided by that column's maximum (float32)."""
    nq, ng = q_g.shape
    n = nq + ng
    out = np.empty((n, n), dtype=np.float32)
    # rows of the transposed stacked matrix: query i -> [q_q[:, i], q_g[i, :]]; gallery j -> [q_g[:, j], g_g[:, j]]
    for a in range(0, n, block):
        b = min(n, a + block)
        rows = out[a:b]
        qa, qb = min(a, nq), min(b, nq)
        if qb > qa:
            r = rows[: qb - qa]
            _copy_transposed(r[:, :nq], q_q[:, qa:qb])
            r[:, nq:] = q_g[qa:qb]
        ga, gb = max(a, nq) - nq, max(b, nq) - nq
        if gb > ga:
            r = rows[qb - qa :]
            _copy_transposed(r[:, :nq], q_g[:, ga:gb])
            _copy_transposed(r[:, nq:], g_g[:, ga:gb])
        np.square(rows, out=rows)
        rows /= rows.max(axis=1, keepdims=True)
    return out


def _top_neighbours(dist: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Indices of each row's ``k`` smallest entries, ascending by (distance, index)."""
    import torch

    n = dist.shape[0]
    k = min(k, dist.shape[1])
    out = np.empty((n, k), dtype=np.int64)
    dist_t = torch.from_numpy(dist)
    for a in range(0, n, block):
        b = min(n, a + block)
        vals, part = torch.topk(dist_t[a:b], k, dim=1, largest=False, sorted=False)
        vals, part = vals.numpy(), part.numpy()
        order = np.lexsort((part, vals), axis=1)
        out[a:b] = np.take_along_axis(part, order, axis=1)
    return out


def _reciprocal(top: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``R(i, k)`` as padded lists: (``top[:, :k+1]``, mask of the members that have i in their top k+1)."""
    fwd = top[:, : k + 1]
    n = fwd.shape[0]
    mask = np.empty(fwd.shape, dtype=bool)
    step = 4096
    for a in range(0, n, step):
        b = min(n, a + step)
        back = fwd[fwd[a:b]]  # (rows, k+1, k+1)
        mask[a:b] = (back == np.arange(a, b)[:, None, None]).any(axis=2)
    return fwd, mask


def _expanded_sets(top: np.ndarray, k1: int) -> tuple[np.ndarray, np.ndarray]:
    """Expanded k-reciprocal sets as a CSR structure (row pointers, column indices sorted per row)."""
    n = top.shape[0]
    kh = int(np.around(k1 / 2.0))
    fwd, rmask = _reciprocal(top, k1)
    hfwd, hmask = _reciprocal(top, kh)
    ptr = np.zeros(n + 1, dtype=np.int64)
    cols_all = []
    step = 1024
    for a in range(0, n, step):
        b = min(n, a + step)
        rows = b - a
        R = np.where(rmask[a:b], fwd[a:b], -1)  # (rows, k1+1), -1 = not a member
        cand = fwd[a:b]  # candidates (only members count)
        cR = np.where(hmask[cand], hfwd[cand], -1)  # (rows, k1+1, kh+1): R(c, kh) per candidate
        # |R(c, kh) ∩ R(i, k1)|: members of cR found in R
        inter = (cR[..., None] == R[:, None, None, :]).any(axis=3) & (cR >= 0)
        n_inter = inter.sum(axis=2)
        n_c = (cR >= 0).sum(axis=2)
        accept = rmask[a:b] & (n_inter > (2.0 / 3.0) * n_c)
        extra = np.where(accept[..., None], cR, -1).reshape(rows, -1)
        allc = np.sort(np.concatenate([R, extra], axis=1), axis=1)
        keep = allc >= 0
        keep[:, 1:] &= allc[:, 1:] != allc[:, :-1]
        ptr[a + 1 : b + 1] = keep.sum(axis=1)
        cols_all.append(allc[keep])
    np.cumsum(ptr, out=ptr)
    return ptr, np.concatenate(cols_all)


def _row_ids(ptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(ptr.shape[0] - 1, dtype=np.int64), np.diff(ptr))


def _csr_rows_mean(
    ptr: np.ndarray, cols: np.ndarray, vals: np.ndarray, nbrs: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse rows ``mean(V[nbrs[i]])`` for every i (CSR in, CSR out; columns sorted per row)."""
    k = nbrs.shape[1]
    lens = np.diff(ptr)
    out_ptr = np.zeros(nbrs.shape[0] + 1, dtype=np.int64)
    out_cols, out_vals = [], []
    step = 2048
    for a in range(0, nbrs.shape[0], step):
        b = min(nbrs.shape[0], a + step)
        src = nbrs[a:b].reshape(-1)
        cnt = lens[src]
        starts = np.repeat(ptr[src] - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        rows = np.repeat(np.repeat(np.arange(a, b, dtype=np.int64), k), cnt)
        key = rows * n + cols[starts]
        uk, inv = np.unique(key, return_inverse=True)
        sums = np.bincount(inv.reshape(-1), weights=vals[starts], minlength=uk.shape[0])
        urows = uk // n
        out_ptr[a + 1 : b + 1] = np.bincount(urows - a, minlength=b - a)
        out_cols.append(uk % n)
        out_vals.append(sums / k)
    np.cumsum(out_ptr, out=out_ptr)
    return out_ptr, np.concatenate(out_cols), np.concatenate(out_vals)


def re_ranking(
    q_g_dist: ArrayLike | torch.Tensor,
    q_q_dist: ArrayLike | torch.Tensor,
    g_g_dist: ArrayLike | torch.Tensor,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray | torch.Tensor:
    """k-reciprocal re-ranking of a queryxgallery distance matrix.

    Args:
        q_g_dist: ``(num_q, num_g)`` query-gallery distances (as the original engine: squared Euclidean).
        q_q_dist: ``(num_q, num_q)`` query-query distances.
        g_g_dist: ``(num_g, num_g)`` gallery-gallery distances.
        k1, k2: neighbourhood sizes (k-reciprocal sets and local query expansion).
        lambda_value: weight of the original distance in the final distance.

    Returns:
        ``(num_q, num_g)`` float32 re-ranked distances: a NumPy array, or a torch tensor on the input's device when
        ``q_g_dist`` is a tensor (the computation itself runs on the CPU).
    """
    like = q_g_dist if hasattr(q_g_dist, "detach") else None
    q_g = _to_numpy(q_g_dist, "q_g_dist").astype(np.float32, copy=False)
    q_q = _to_numpy(q_q_dist, "q_q_dist").astype(np.float32, copy=False)
    g_g = _to_numpy(g_g_dist, "g_g_dist").astype(np.float32, copy=False)
    nq, ng = q_g.shape
    if q_q.shape != (nq, nq) or g_g.shape != (ng, ng):
        raise ValueError(
            f"shapes do not fit: q_g {q_g.shape}, q_q {q_q.shape} (expected {(nq, nq)}), "
            f"g_g {g_g.shape} (expected {(ng, ng)})"
        )
    if nq == 0 or ng == 0:
        raise ValueError(f"re-ranking needs queries and gallery items, got {nq} x {ng}")
    k1, k2 = int(k1), int(k2)
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be >= 1, got k1={k1}, k2={k2}")
    for name, a in (("q_g_dist", q_g), ("q_q_dist", q_q), ("g_g_dist", g_g)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or inf")
    n = nq + ng

    od = _original_dist(q_g, q_q, g_g)
    top = _top_neighbours(od, max(k1 + 1, int(np.around(k1 / 2.0)) + 1, k2))

    # V: weights on the expanded k-reciprocal sets (sparse rows)
    ptr, cols = _expanded_sets(top, k1)
    rows = _row_ids(ptr)
    w = np.exp(-od[rows, cols].astype(np.float64))
    sums = np.bincount(rows, weights=w, minlength=n)
    vals = w / sums[rows]
    if k2 != 1:
        ptr, cols, vals = _csr_rows_mean(ptr, cols, vals, top[:, :k2], n)
        rows = _row_ids(ptr)

    # inverted index restricted to gallery images (only gallery columns of the result are returned)
    gsel = rows >= nq
    inv_order = np.argsort(cols[gsel], kind="stable")
    inv_rows = rows[gsel][inv_order] - nq
    inv_vals = vals[gsel][inv_order]
    inv_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols[gsel], minlength=n), out=inv_ptr[1:])
    inv_len = np.diff(inv_ptr)

    final = np.empty((nq, ng), dtype=np.float32)
    step = max(1, min(nq, (1 << 22) // max(ng, 1)))
    for a in range(0, nq, step):
        b = min(nq, a + step)
        p0, p1 = ptr[a], ptr[b]
        qcols, qvals, qrows = cols[p0:p1], vals[p0:p1], rows[p0:p1] - a
        cnt = inv_len[qcols]
        idx = np.repeat(inv_ptr[qcols] - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        contrib = np.minimum(np.repeat(qvals, cnt), inv_vals[idx])
        t = np.bincount(np.repeat(qrows, cnt) * ng + inv_rows[idx], weights=contrib, minlength=(b - a) * ng)
        t = t.reshape(b - a, ng)
        jac = (1.0 - t / (2.0 - t)).astype(np.float32)
        final[a:b] = jac * np.float32(1 - lambda_value) + od[a:b, nq:] * np.float32(lambda_value)
    if like is not None:
        import torch

        return torch.from_numpy(final).to(like.device)
    return final
