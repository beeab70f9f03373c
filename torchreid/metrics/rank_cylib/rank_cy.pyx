# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels of the rank evaluation (see torchreid/metrics/rank.py for the protocol).

positive_ranks: for every query row, the 1-based rank of each of its positives among the query's valid gallery
items (all items except the same pid + same camera "junk"), ties broken by gallery index. One pass over the row,
no sort of the gallery: each item is binary-searched among the query's few sorted positives and counted in a
histogram; the junk items' counts are then subtracted. Queries run in parallel (OpenMP prange, no GIL).

legacy_choices: reproduces, from a raw stream of MT19937 32-bit outputs, the indices that successive
``np.random.choice(n)`` calls of NumPy's legacy RandomState return (masked rejection sampling).
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort


cdef struct Item:
    float d
    int64_t idx


cdef int _cmp_item(const void* a, const void* b) noexcept nogil:
    cdef const Item* x = <const Item*> a
    cdef const Item* y = <const Item*> b
    if x.d < y.d:
        return -1
    if x.d > y.d:
        return 1
    if x.idx < y.idx:
        return -1
    if x.idx > y.idx:
        return 1
    return 0


cdef inline Py_ssize_t _bin(const Item* pos, Py_ssize_t k, float d, int64_t j) noexcept nogil:
    """Number of positives whose (distance, index) key is smaller than (d, j)."""
    cdef Py_ssize_t lo = 0, hi = k, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if pos[mid].d < d or (pos[mid].d == d and pos[mid].idx < j):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _has_nan(const float* row, Py_ssize_t num_g) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(num_g):
        if row[j] != row[j]:
            return 1
    return 0


cdef int _row_ranks(const float* row, Py_ssize_t num_g, const int64_t* pidx, Py_ssize_t k,
                    const int64_t* jidx, Py_ssize_t nj, int64_t* out) noexcept nogil:
    """Returns 0, -1 (allocation failed) or -2 (NaN in the row)."""
    cdef Item* pos = <Item*> malloc(k * sizeof(Item))
    cdef int64_t* hist = <int64_t*> calloc(k + 1, sizeof(int64_t))
    cdef Py_ssize_t i, j
    cdef int64_t acc = 0
    cdef float d, dmax
    cdef int nan = 0
    if pos == NULL or hist == NULL:
        free(pos)
        free(hist)
        return -1
    for i in range(k):
        pos[i].d = row[pidx[i]]
        pos[i].idx = pidx[i]
        if pos[i].d != pos[i].d:
            nan = 1
    if nan:
        free(pos)
        free(hist)
        return -2
    qsort(pos, k, sizeof(Item), _cmp_item)
    dmax = pos[k - 1].d
    # items beyond the hardest positive precede no positive: skip them (most of the gallery)
    for j in range(num_g):
        d = row[j]
        if d > dmax:
            continue
        if d != d:
            nan = 1
            break
        hist[_bin(pos, k, d, j)] += 1
    if not nan:
        for i in range(nj):
            d = row[jidx[i]]
            if d <= dmax:
                hist[_bin(pos, k, d, jidx[i])] -= 1
        for i in range(k):
            acc += hist[i]
            out[i] = acc
    free(pos)
    free(hist)
    return -2 if nan else 0


def positive_ranks(const float[:, ::1] dist, const int64_t[::1] pos_ptr, const int64_t[::1] pos_idx,
                   const int64_t[::1] junk_ptr, const int64_t[::1] junk_idx, int64_t[::1] out,
                   int num_threads=1):
    """Fill ``out[pos_ptr[r]:pos_ptr[r+1]]`` with the ascending 1-based ranks of row ``r``'s positives.

    ``pos_ptr``/``junk_ptr`` have ``dist.shape[0] + 1`` entries and index ``pos_idx``/``junk_idx``/``out``
    (offsets may start anywhere, so a block of rows can be passed with its slice of the pointers).
    Raises ValueError if any distance is NaN (every row is checked).
    """
    cdef Py_ssize_t num_q = dist.shape[0], num_g = dist.shape[1], r
    cdef int failed = 0, nan = 0, rc
    if pos_ptr.shape[0] != num_q + 1 or junk_ptr.shape[0] != num_q + 1:
        raise ValueError("pointer arrays must have num_rows + 1 entries")
    if num_q == 0 or num_g == 0:
        return
    if num_threads < 1:
        num_threads = 1
    for r in prange(num_q, nogil=True, schedule="dynamic", chunksize=8, num_threads=num_threads):
        if pos_ptr[r + 1] > pos_ptr[r]:
            rc = _row_ranks(&dist[r, 0], num_g, &pos_idx[pos_ptr[r]], pos_ptr[r + 1] - pos_ptr[r],
                            &junk_idx[junk_ptr[r]] if junk_ptr[r + 1] > junk_ptr[r] else NULL,
                            junk_ptr[r + 1] - junk_ptr[r], &out[pos_ptr[r]])
            # in-place updates make these OpenMP reductions; a plain assignment would make them lastprivate
            # (the value of whichever thread ran the last iteration), silently losing an error seen elsewhere
            if rc == -1:
                failed += 1
            elif rc == -2:
                nan += 1
        elif _has_nan(&dist[r, 0], num_g):
            nan += 1
    if failed:
        raise MemoryError("positive_ranks: allocation failed")
    if nan:
        raise ValueError("distmat contains NaN")


def legacy_choices(const int64_t[::1] sizes, const uint32_t[::1] raw, Py_ssize_t start, int64_t[::1] out,
                   Py_ssize_t first=0):
    """Simulate ``np.random.choice(n)`` (legacy RandomState) for each ``n`` in ``sizes[first:]``.

    ``raw`` holds consecutive 32-bit MT19937 outputs; consumption starts at ``raw[start]``. Returns
    ``(done, position)``: the number of sizes fully drawn (``out[:done]`` filled) and the position in ``raw`` where
    the next draw starts. ``done < len(sizes)`` means the stream ran out: call again with more raw values.
    """
    cdef Py_ssize_t k, n_sizes = sizes.shape[0], n_raw = raw.shape[0], p = start, p0
    cdef uint64_t rng, mask, v
    with nogil:
        for k in range(first, n_sizes):
            if sizes[k] <= 1:
                out[k] = 0
                continue
            rng = <uint64_t> (sizes[k] - 1)
            mask = rng
            mask |= mask >> 1
            mask |= mask >> 2
            mask |= mask >> 4
            mask |= mask >> 8
            mask |= mask >> 16
            mask |= mask >> 32
            p0 = p
            while True:
                if p >= n_raw:
                    with gil:
                        return k, p0
                v = raw[p] & mask
                p += 1
                if v <= rng:
                    out[k] = <int64_t> v
                    break
    return n_sizes, p


# --- LEGACY: the original Torchreid v1.4.0's entry points of this extension ---------------------------------------
# Same arguments and results as the original's; they run the kernels above through the public
# torchreid.metrics.rank.evaluate_rank (Cython back-end), so there is one implementation of the protocol.
def evaluate_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03=False):
    """Return ``(cmc, mAP)``: the CUHK03 single-gallery-shot or the Market-1501 protocol."""
    from torchreid.metrics.rank import evaluate_rank

    return evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank,
                         use_metric_cuhk03=use_metric_cuhk03, use_cython=True)


def eval_cuhk03_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """CUHK03 single-gallery-shot protocol: ``(cmc, mAP)``."""
    return evaluate_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, True)


def eval_market1501_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """Market-1501 protocol: ``(cmc, mAP)``."""
    return evaluate_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, False)
