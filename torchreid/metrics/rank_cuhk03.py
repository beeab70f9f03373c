"""The CUHK03 single-gallery-shot CMC and the legacy RNG stream it draws from.

The CMC averages 10 repeats in which one random gallery image per identity is kept. The draws consume NumPy's
legacy global RNG exactly as the original Torchreid did (``np.random.choice`` once per gallery identity,
identities in order of first appearance in the ranked list, valid queries in order), so ``np.random.seed(s)``
before the evaluation reproduces the original's numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import rank_backends as _backends

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .rank_inputs import _Lists

__all__ = ["NUM_REPEATS_CUHK03", "Cuhk03CMC"]

NUM_REPEATS_CUHK03 = 10


class _LegacyChoiceStream:
    """Draws ``np.random.choice(n)`` indices from the legacy global RNG in bulk, consuming exactly what the
    equivalent sequence of calls would (the global state ends where the original's would)."""

    def __init__(self, use_cython: bool) -> None:
        self.state = np.random.get_state()
        self.raw = np.empty(0, dtype=np.uint32)
        self.pos = 0  # position in self.raw
        self.consumed_before = 0  # raw values dropped from the front of self.raw
        self.use_cython = use_cython and _backends.IS_CYTHON_AVAILABLE

    def _more(self, n: int) -> None:
        extra = np.random.randint(0, 2**32, size=max(n, 4096), dtype=np.uint64).astype(np.uint32)
        self.consumed_before += self.pos
        self.raw = np.concatenate([self.raw[self.pos :], extra])
        self.pos = 0

    def _simulate(self, sizes: np.ndarray, out: np.ndarray, first: int) -> tuple[int, int]:
        if self.use_cython:
            return _backends._rank_cy.legacy_choices(sizes, self.raw, self.pos, out, first)
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


class Cuhk03CMC:
    """Accumulates the CUHK03 CMC one valid query row at a time (in query order); call :meth:`finish` always.

    ``finish`` returns the global RNG to where the original's draws would have left it.
    """

    def __init__(
        self,
        lists: _Lists,
        q_pids: np.ndarray,
        g_pids: np.ndarray,
        num_g: int,
        max_rank: int,
        use_cython: bool,
    ) -> None:
        self.lists, self.q_pids, self.g_pids = lists, q_pids, g_pids
        self.num_g, self.max_rank = num_g, max_rank
        self.stream = _LegacyChoiceStream(use_cython)
        self.hist = np.zeros(max_rank + 1, dtype=np.int64)
        self.nvalid = 0

    def add(self, q: int | np.integer, row: np.ndarray) -> None:
        """Draw the 10 repeats of valid query ``q`` whose distances to the gallery are ``row``."""
        lists = self.lists
        j = lists.junk_idx[lists.junk_ptr[q] : lists.junk_ptr[q + 1]]
        hits = _cuhk03_hits(row, int(self.q_pids[q]), j, self.g_pids, self.stream, self.num_g)
        self.hist += np.bincount(np.minimum(hits, self.max_rank), minlength=self.max_rank + 1)
        self.nvalid += 1

    def finish(self) -> None:
        self.stream.finish()

    def over(self, rows: Iterable[tuple[int | np.integer, np.ndarray]]) -> np.ndarray:
        """Add every ``(q_index, row)`` of ``rows`` (all valid queries, in order), finish, return the CMC."""
        try:
            for q, row in rows:
                self.add(q, row)
        finally:
            self.finish()
        return self.cmc()

    def cmc(self) -> np.ndarray:
        denom = float(NUM_REPEATS_CUHK03 * self.nvalid)
        return (np.cumsum(self.hist[: self.max_rank]) / denom).astype(np.float32)
