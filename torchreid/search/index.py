"""``FeatureIndex``: a persistent gallery of re-ID features that answers "where else does this person appear?".

Exact search is the default (blockwise, see :mod:`torchreid.search.exact`); ``backend='faiss'`` switches to an
approximate IVF or HNSW index when faiss is installed. Positions returned by :meth:`FeatureIndex.search` index the
gallery in insertion order (``index.ids[positions]`` gives the ids).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .exact import default_block_rows, iter_blocks, topk_blockwise
from .storage import read_folder, write_folder

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["FeatureIndex"]

logger = logging.getLogger(__name__)

METRICS = ("euclidean", "cosine")
DTYPES = {"float32": np.float32, "float16": np.float16}
BACKENDS = ("exact", "faiss")
_F16_MAX = float(np.finfo(np.float16).max)


def _as_2d_float(
    x: ArrayLike | torch.Tensor, what: str, dim: int, index_dtype: str, check_finite: bool = True
) -> torch.Tensor:
    """``x`` as a float32 CPU tensor ``(n, dim)``; a clear error naming both sides on a dimension/dtype mismatch."""
    t = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dim() == 1:
        t = t.unsqueeze(0)
    if t.dim() != 2:
        raise ValueError(f"{what} must be (n, {dim}) or ({dim},), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(
            f"{what} have dtype {t.dtype} but the index stores {index_dtype} features: pass floating-point features"
        )
    if t.size(1) != dim:
        raise ValueError(
            f"{what} have dimension {t.size(1)} but the index holds {dim}-dimensional features (shape "
            f"{tuple(t.shape)}); use features from the same model as the index"
        )
    t = t.to(torch.float32)
    if check_finite and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what} contain NaN or inf")
    return t


def _as_ids(x: ArrayLike | torch.Tensor | None, n: int, what: str, default: int | None) -> np.ndarray:
    if x is None:
        return np.full(n, default, dtype=np.int64)
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = a.reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"{what} has {a.shape[0]} entries for {n} features")
    integral = np.issubdtype(a.dtype, np.integer) or (
        np.issubdtype(a.dtype, np.floating) and np.array_equal(a, np.round(a))
    )
    if a.size and not integral:
        raise TypeError(f"{what} must be integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def clamp_k(k: int, n: int) -> int:
    """``k`` validated and clamped (with a warning) to a gallery of ``n`` items."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if n == 0:
        raise ValueError("the index is empty: add features before searching")
    if k > n:
        warnings.warn(
            f"k={k} is larger than the gallery ({n} items); returning {n} neighbours",
            UserWarning,
            stacklevel=4,
        )
        return n
    return int(k)


class FeatureIndex:
    """A gallery of feature vectors with ids, person ids and camera ids, searchable by k nearest neighbours.

    Args:
        dim: feature dimension.
        metric: ``'euclidean'`` (squared Euclidean, as ``compute_distance_matrix``) or ``'cosine'``
            (``1 - normalised dot``; the index stores L2-normalised rows).
        dtype: storage type, ``'float32'`` or ``'float16'`` (half the memory; distances are computed in float32
            from the stored values).
        device: where distances are computed (``'cpu'``, ``'cuda'``); the gallery stays in host memory (or on disk
            when memory-mapped) and travels block by block.
        backend: ``'exact'`` or ``'faiss'`` (approximate; falls back to exact with a logged message when faiss is
            not installed).
        faiss_index: ``'ivf'`` or ``'hnsw'``; ``faiss_params`` tunes it (``nlist``, ``nprobe``, ``M``,
            ``ef_search``, ``ef_construction``, ``train_size``).
        block_rows: gallery rows per block of the exact search (default: 8 MiB of float32 rows).
        num_threads: CPU threads for the search (default: torch's setting).
        model_info: how the features were produced (model name, weights, image size, mean/std); saved in the
            manifest so queries can be extracted the same way.

    Example::

        index = FeatureIndex(512, metric="cosine", dtype="float16")
        index.add(gallery_features, pids=g_pids, camids=g_camids)
        distances, positions = index.search(query_features, k=10)
        index.save("gallery_index")
        index = FeatureIndex.load("gallery_index")   # memory-mapped
    """

    def __init__(
        self,
        dim: int,
        metric: str = "euclidean",
        dtype: str = "float32",
        *,
        device: str | torch.device = "cpu",
        backend: str = "exact",
        faiss_index: str = "ivf",
        faiss_params: dict[str, Any] | None = None,
        block_rows: int | None = None,
        num_threads: int | None = None,
        model_info: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        dtype = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        block_rows = default_block_rows(dim) if block_rows is None else block_rows
        if block_rows < 1:
            raise ValueError(f"block_rows must be >= 1, got {block_rows}")
        from .approx import check_faiss_index

        check_faiss_index(faiss_index)
        self.dim, self.metric, self.dtype = int(dim), metric, dtype
        self.device = torch.device(device)
        self.backend, self.faiss_index, self.faiss_params = backend, faiss_index, dict(faiss_params or {})
        self.block_rows, self.num_threads = int(block_rows), num_threads
        self.model_info: dict[str, Any] = dict(model_info or {})
        # consecutive segments of rows: (features (n, dim) stored dtype, squared norms (n,) float32 or None)
        self._segments: list[tuple[np.ndarray, np.ndarray]] = []
        self._ids = np.zeros(0, dtype=np.int64)
        self._pids = np.zeros(0, dtype=np.int64)
        self._camids = np.zeros(0, dtype=np.int64)
        self._meta: list[Any] | None = None
        self._approx = None  # the faiss index, built on demand
        self._id_pos: dict[int, int] | None = None

    # ------------------------------------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def __repr__(self) -> str:
        return (
            f"FeatureIndex(dim={self.dim}, metric={self.metric!r}, dtype={self.dtype!r}, count={len(self)}, "
            f"backend={self.backend!r})"
        )

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    @property
    def pids(self) -> np.ndarray:
        return self._pids

    @property
    def camids(self) -> np.ndarray:
        return self._camids

    @property
    def meta(self) -> list[Any] | None:
        return self._meta

    @property
    def features(self) -> np.ndarray:
        """All stored rows as one array (a copy when the gallery is in several segments)."""
        if len(self._segments) == 1:
            return self._segments[0][0]
        if not self._segments:
            return np.zeros((0, self.dim), dtype=DTYPES[self.dtype])
        return np.concatenate([s[0] for s in self._segments])

    def _invalidate(self) -> None:
        self._approx = None
        self._id_pos = None

    def _prepare(self, features: ArrayLike | torch.Tensor, what: str) -> tuple[np.ndarray, np.ndarray]:
        f = _as_2d_float(features, what, self.dim, self.dtype, check_finite=False)
        if self.metric == "cosine":
            f = torch.nn.functional.normalize(f, p=2, dim=1)
        # torch converts to float16 ~10x faster than NumPy; float32 rows are copied (never alias the caller's array)
        rounded = f.to(torch.float16) if self.dtype == "float16" else f.clone()
        values = rounded.float() if self.dtype == "float16" else rounded
        # squared norms of the stored rows (the euclidean formula's |g|^2, the cosine's normaliser); a NaN/inf
        # anywhere in a row makes its norm non-finite, so this also checks the values without another pass
        sq = values.pow(2).sum(dim=1)
        if not bool(torch.isfinite(sq).all()):
            if not bool(torch.isfinite(f).all()):
                raise ValueError(f"{what} contain NaN or inf")
            if self.dtype == "float16" and not bool(torch.isfinite(values).all()):
                raise ValueError(
                    f"{what} exceed the float16 range (max |x| = {float(f.abs().max()):.4g} > {_F16_MAX:.0f}) of "
                    f"this float16 index; use dtype='float32'"
                )
            raise ValueError(f"{what} are too large: their squared norms overflow float32")
        return rounded.numpy(), sq.numpy()

    def add(
        self,
        features: ArrayLike | torch.Tensor,
        ids: ArrayLike | torch.Tensor | None = None,
        pids: ArrayLike | torch.Tensor | None = None,
        camids: ArrayLike | torch.Tensor | None = None,
        meta: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Append ``features`` ``(n, dim)`` (torch or NumPy). ``ids`` default to running numbers after the
        largest id so far; ``pids``/``camids`` default to -1; ``meta`` is one JSON value per row (e.g. a path).

        Returns the ids of the new rows. Raises ``ValueError`` for duplicate ids (within the batch or with the
        index), a dimension mismatch or non-finite values; nothing is added then.
        """
        stored, sq = self._prepare(features, "features")
        n = stored.shape[0]
        if ids is None:
            start = int(self._ids.max()) + 1 if len(self) else 0
            new_ids = np.arange(start, start + n, dtype=np.int64)
        else:
            new_ids = _as_ids(ids, n, "ids", None)
            uniq, counts = np.unique(new_ids, return_counts=True)
            dup = uniq[counts > 1]
            if dup.size:
                raise ValueError(f"duplicate ids in this batch: {dup[:10].tolist()}; every id must be unique")
            clash = new_ids[np.isin(new_ids, self._ids)]
            if clash.size:
                raise ValueError(
                    f"ids already in the index: {clash[:10].tolist()}{' ...' if clash.size > 10 else ''}; "
                    f"remove them first (index.remove) or use new ids"
                )
        new_pids = _as_ids(pids, n, "pids", -1)
        new_camids = _as_ids(camids, n, "camids", -1)
        if meta is not None:
            meta = list(meta)
            if len(meta) != n:
                raise ValueError(f"meta has {len(meta)} entries for {n} features")
        if n == 0:
            return new_ids
        if self._meta is None and meta is not None:
            self._meta = [None] * len(self)
        if self._meta is not None:
            self._meta.extend(meta if meta is not None else [None] * n)
        last = self._segments[-1] if self._segments else None
        if last is not None and last[0].base is None and last[0].shape[0] < self.block_rows:
            # a small in-memory segment absorbs small additions; larger ones become segments of their own, so
            # adding costs O(rows added), and memory-mapped or shared segments are never copied
            self._segments[-1] = (np.concatenate([last[0], stored]), np.concatenate([last[1], sq]))
        else:
            self._segments.append((stored, sq))
        self._ids = np.concatenate([self._ids, new_ids])
        self._pids = np.concatenate([self._pids, new_pids])
        self._camids = np.concatenate([self._camids, new_camids])
        self._invalidate()
        return new_ids

    def positions(self, ids: ArrayLike | torch.Tensor) -> np.ndarray:
        """Gallery positions of ``ids`` (``KeyError`` naming the unknown ones)."""
        if self._id_pos is None:
            self._id_pos = {int(v): i for i, v in enumerate(self._ids.tolist())}
        wanted = _as_ids(ids, np.asarray(ids).size, "ids", None)
        missing = [int(i) for i in wanted if int(i) not in self._id_pos]
        if missing:
            raise KeyError(f"ids not in the index: {missing[:10]}")
        return np.array([self._id_pos[int(i)] for i in wanted], dtype=np.int64)

    def remove(self, ids: ArrayLike | torch.Tensor) -> int:
        """Remove the rows with these ids (all must exist, else ``KeyError`` and nothing is removed).

        The kept rows are compacted into memory (a memory-mapped gallery is read once); save to persist.
        """
        pos = self.positions(ids)
        if pos.size == 0:
            return 0
        keep = np.ones(len(self), dtype=bool)
        keep[pos] = False
        feats, sq, start = [], [], 0
        for f, s in self._segments:
            m = keep[start : start + f.shape[0]]
            feats.append(f[m])
            sq.append(s[m])
            start += f.shape[0]
        self._segments = [(np.concatenate(feats), np.concatenate(sq))]
        self._ids, self._pids, self._camids = self._ids[keep], self._pids[keep], self._camids[keep]
        if self._meta is not None:
            self._meta = [m for m, k in zip(self._meta, keep.tolist()) if k]
        self._invalidate()
        return int(pos.size)

    def shard(self, rank: int, world_size: int) -> FeatureIndex:
        """The contiguous slice of rows rank ``rank`` of ``world_size`` searches (views, no copies)."""
        from ..utils.distributed import shard_range

        r = shard_range(len(self), rank, world_size)
        out = self._empty_like()
        start = 0
        for f, s in self._segments:
            a, b = max(r.start - start, 0), min(r.stop - start, f.shape[0])
            if a < b:
                out._segments.append((f[a:b], s[a:b]))
            start += f.shape[0]
        out._ids, out._pids, out._camids = (
            x[r.start : r.stop] for x in (self._ids, self._pids, self._camids)
        )
        out._meta = None if self._meta is None else self._meta[r.start : r.stop]
        return out

    def _empty_like(self) -> FeatureIndex:
        return FeatureIndex(
            self.dim, self.metric, self.dtype, device=self.device, backend=self.backend,
            faiss_index=self.faiss_index, faiss_params=self.faiss_params, block_rows=self.block_rows,
            num_threads=self.num_threads, model_info=self.model_info,
        )  # fmt: skip

    # -------------------------------------------------------------------------------------------------- search
    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        if self.num_threads is None or self.device.type != "cpu":
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(int(self.num_threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _queries(self, queries: ArrayLike | torch.Tensor) -> torch.Tensor:
        q = _as_2d_float(queries, "queries", self.dim, self.dtype)
        if self.metric == "cosine":
            q = torch.nn.functional.normalize(q, p=2, dim=1)
        return q

    def _clamp_k(self, k: int) -> int:
        return clamp_k(k, len(self))

    def _rows(self, positions: ArrayLike) -> np.ndarray:
        """float32 copies of the stored rows at ``positions`` (any order)."""
        pos = np.asarray(positions, dtype=np.int64).reshape(-1)
        out = np.empty((pos.size, self.dim), dtype=np.float32)
        start = 0
        for f, _ in self._segments:
            n = f.shape[0]
            m = (pos >= start) & (pos < start + n)
            if m.any():
                out[m] = f[pos[m] - start]
            start += n
        return out

    def _device(self) -> torch.device:
        if self.device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn("CUDA is not available; searching on the CPU", RuntimeWarning, stacklevel=3)
            self.device = torch.device("cpu")
        return self.device

    def search_exact(self, queries: ArrayLike | torch.Tensor, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k``: ``(distances float32, positions int64)``, each ``(nq, k)``, nearest first."""
        k = self._clamp_k(k)
        dev = self._device()
        q = self._queries(queries).to(dev)
        with self._threads():
            d, i = topk_blockwise(q, iter_blocks(self._segments, self.block_rows, dev), k, self.metric)
        return d.cpu().numpy(), i.cpu().numpy()

    def search(
        self,
        queries: ArrayLike | torch.Tensor,
        k: int = 10,
        *,
        rerank: bool = False,
        shortlist: int = 100,
        k1: int = 20,
        k2: int = 6,
        lambda_value: float = 0.3,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest gallery rows of each query.

        Args:
            queries: ``(nq, dim)`` or ``(dim,)`` features (torch or NumPy, any float dtype).
            k: neighbours per query (clamped with a warning to the gallery size).
            rerank: re-rank the ``shortlist`` best candidates of each query with k-reciprocal re-ranking
                (``k1``, ``k2``, ``lambda_value`` as :func:`torchreid.utils.rerank.re_ranking`); memory is
                bounded by ``shortlist**2`` per query. The distances returned are then the re-ranked ones.

        Returns:
            ``(distances, positions)``: NumPy ``(nq, k)`` float32 and int64, nearest first, ties by gallery order.
            ``self.ids[positions]`` are the ids of the matches.
        """
        if rerank:
            from .rerank import rerank_search

            return rerank_search(
                self, queries, k, shortlist=shortlist, k1=k1, k2=k2, lambda_value=lambda_value
            )
        if self.backend == "faiss":
            from .approx import approximate_search

            result = approximate_search(self, queries, k)
            if result is not None:
                return result
        return self.search_exact(queries, k)

    def recall(self, queries: ArrayLike | torch.Tensor, k: int = 10) -> float:
        """Recall@k of the configured backend against exact search: the mean fraction of the exact k nearest
        neighbours that :meth:`search` also returns (1.0 for the exact backend)."""
        _, approx = self.search(queries, k)
        _, exact = self.search_exact(queries, k)
        hits = sum(len(np.intersect1d(a, e)) for a, e in zip(approx, exact))
        return hits / float(exact.size)

    def evaluate(
        self,
        queries: ArrayLike | torch.Tensor,
        q_pids: ArrayLike,
        q_camids: ArrayLike,
        max_rank: int = 50,
        **kwargs: Any,
    ) -> Any:
        """CMC / mAP of ranking the whole gallery through the index (a full-k search), with the same protocol as
        :func:`torchreid.metrics.evaluate_rank` (same-pid-same-camera junk removed); kwargs go to it."""
        from ..metrics.rank import evaluate_rank

        n = len(self)
        _, pos = self.search(queries, n)
        ranks = np.empty(pos.shape, dtype=np.float32)  # rank of each gallery item in each query's list
        np.put_along_axis(ranks, pos, np.arange(n, dtype=np.float32)[None, :], axis=1)
        return evaluate_rank(ranks, q_pids, self._pids, q_camids, self._camids, max_rank=max_rank, **kwargs)

    # --------------------------------------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` atomically (see :mod:`torchreid.search.storage`)."""
        from .. import __version__

        n = len(self)
        manifest = {
            "dim": self.dim, "metric": self.metric, "dtype": self.dtype, "count": n, "model": self.model_info,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torchreid_version": __version__,
        }  # fmt: skip
        arrays = {
            "features": ([s[0] for s in self._segments], (n, self.dim), np.dtype(DTYPES[self.dtype])),
            "ids": ([self._ids], (n,), np.dtype(np.int64)),
            "pids": ([self._pids], (n,), np.dtype(np.int64)),
            "camids": ([self._camids], (n,), np.dtype(np.int64)),
        }
        arrays["sqnorms"] = ([s[1] for s in self._segments], (n,), np.dtype(np.float32))
        path = write_folder(Path(folder), manifest, arrays, self._meta)
        logger.debug(f"saved {self!r} to {path}")
        return path

    @classmethod
    def load(
        cls, folder: str | Path, mmap: bool = True, verify: bool | str = "auto", **kwargs: Any
    ) -> FeatureIndex:
        """Open a saved index. ``mmap=True`` maps the features from disk (galleries larger than memory; pages are
        read as searches touch them). ``verify``: ``'auto'`` checks sizes and headers always and content
        checksums of files up to 256 MiB, ``True`` checks every checksum, ``False`` only sizes and headers.
        Other keyword arguments (``device``, ``backend``, ``faiss_index``, ``num_threads``, ...) configure the
        index as in the constructor. Raises :class:`~torchreid.search.storage.IndexFormatError` on a damaged or
        edited folder."""
        data = read_folder(Path(folder), mmap=mmap, verify=verify)
        man = data["manifest"]
        index = cls(int(man["dim"]), man["metric"], man["dtype"], model_info=man.get("model") or {}, **kwargs)
        if int(man["count"]):
            index._segments = [(data["features"], data["sqnorms"])]
        index._ids = np.asarray(data["ids"])
        index._pids = np.asarray(data["pids"])
        index._camids = np.asarray(data["camids"])
        index._meta = data["meta"]
        index.source = Path(folder)
        return index
