"""Build an index from images, resumably.

Features are extracted in batches and checkpointed every ``checkpoint_every`` images into a work folder beside the
index (``.<name>.partial/``): each checkpoint is one ``chunk_NNNNNN.npy`` with the features plus a
``chunk_NNNNNN.json`` with the paths they belong to, both written atomically. A rerun with the same model skips
every path already in a complete chunk, so an interrupted build (Ctrl-C, a crash, a killed job) loses at most the
images since the last checkpoint; when all images are done the index is saved atomically and the work folder
removed.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .index import FeatureIndex

__all__ = [
    "IMAGE_EXTENSIONS",
    "Item",
    "build_from_items",
    "extract_resumable",
    "list_items",
    "model_mismatch",
    "partial_dir",
    "paths_in",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Item:
    """One image to index: its path and, when known (from a CSV), its person id and camera id."""

    path: str
    pid: int = -1
    camid: int = -1


def _read_csv(path: Path) -> list[Item]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    if "path" not in rows[0]:
        raise ValueError(f"{path}: the CSV needs a header with a 'path' column (optional: pid, camid)")
    items = []
    for n, r in enumerate(rows, start=2):
        p = Path(r["path"])
        p = p if p.is_absolute() else path.parent / p
        try:
            items.append(Item(str(p), int(r.get("pid") or -1), int(r.get("camid") or -1)))
        except ValueError as e:
            raise ValueError(f"{path} line {n}: pid and camid must be integers ({e})") from e
    return items


def list_items(inputs: Sequence[str | os.PathLike]) -> list[Item]:
    """Images from files, folders (recursively, sorted) and CSV files (``path[,pid,camid]``), without repeats."""
    items: list[Item] = []
    for x in inputs:
        p = Path(x)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTENSIONS and q.is_file())
            items += [Item(str(q)) for q in found]
        elif p.suffix.lower() == ".csv" and p.is_file():
            items += _read_csv(p)
        elif p.is_file():
            items.append(Item(str(p)))
        else:
            raise FileNotFoundError(f"{p} is not an image, a folder or a CSV file")
    seen: set[str] = set()
    unique = []
    for it in items:
        key = os.path.abspath(it.path)
        if key not in seen:
            seen.add(key)
            unique.append(Item(key, it.pid, it.camid))
    return unique


_MODEL_KEYS = ("name", "weights_sha256", "image_size", "pixel_mean", "pixel_std", "pixel_norm")


def model_mismatch(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between two model descriptions (what decides the features)."""
    diffs = []
    for key in _MODEL_KEYS:
        a, b = stored.get(key), current.get(key)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            same = len(a) == len(b) and all(abs(float(x) - float(y)) < 1e-9 for x, y in zip(a, b))
        else:
            same = a == b
        if not same:
            diffs.append(f"{key}: index has {a!r}, now {b!r}")
    return diffs


def partial_dir(out: Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _signature(path: str) -> list[Any]:
    """What identifies an image's content cheaply: path, size and modification time."""
    st = os.stat(path)
    return [path, st.st_size, st.st_mtime_ns]


def _load_chunks(work: Path) -> tuple[list[np.ndarray], list[list[Any]]]:
    feats, paths = [], []
    for js in sorted(work.glob("chunk_*.json")):
        npy = js.with_suffix(".npy")
        try:
            names = json.loads(js.read_text(encoding="utf-8"))
            f = np.load(npy, allow_pickle=False)
        except (OSError, ValueError) as e:  # a chunk caught mid-write by a crash: redo its images
            logger.warning(f"ignoring damaged checkpoint {npy.name} ({e}); its images are extracted again")
            continue
        if f.ndim != 2 or f.shape[0] != len(names):
            logger.warning(f"ignoring inconsistent checkpoint {npy.name}; its images are extracted again")
            continue
        feats.append(f)
        paths.append(names)
    return feats, paths


def extract_resumable(
    items: Sequence[Item],
    extractor: Callable[[list[str]], torch.Tensor],
    work: Path,
    model_info: dict[str, Any],
    batch_size: int = 32,
    checkpoint_every: int = 1000,
    progress: bool = True,
) -> tuple[np.ndarray, list[Item], dict[str, float]]:
    """Features (float32 ``(n, d)``) of ``items`` in the order of ``items``, resuming from ``work``.

    Returns ``(features, items, timing)`` where ``timing`` has the seconds spent in the extractor and in total.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / "state.json"
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        diffs = model_mismatch(state.get("model", {}), model_info)
        if diffs:
            raise ValueError(
                f"{work} holds a partial build from another model ({'; '.join(diffs)}); rerun with the same model, "
                f"or delete {work} to start over"
            )
    else:
        _atomic_bytes(state_path, json.dumps({"model": model_info}).encode())
    done_feats, done_paths = _load_chunks(work)
    # an image counts as done when a checkpoint holds it with the same size and modification time
    done = {tuple(sig): (c, r) for c, sigs in enumerate(done_paths) for r, sig in enumerate(sigs)}
    sigs = {it.path: tuple(_signature(it.path)) for it in items}
    todo = [it for it in items if sigs[it.path] not in done]
    if done and progress:
        logger.info(f"resuming: {len(items) - len(todo)} of {len(items)} images already extracted in {work}")
    next_chunk = len(list(work.glob("chunk_*.json")))
    t0, t_model = time.perf_counter(), 0.0
    pending_f: list[np.ndarray] = []
    pending_p: list[str] = []

    def flush() -> None:
        nonlocal next_chunk, pending_f, pending_p
        if not pending_p:
            return
        f = np.concatenate(pending_f).astype(np.float32, copy=False)
        stem = work / f"chunk_{next_chunk:06d}"
        _atomic_bytes(stem.with_suffix(".npy"), _npy_bytes(f))
        batch_sigs = [list(sigs[p]) for p in pending_p]
        _atomic_bytes(stem.with_suffix(".json"), json.dumps(batch_sigs).encode())  # the chunk counts from now
        c = len(done_feats)
        done_feats.append(f)
        done_paths.append(batch_sigs)
        for r, p in enumerate(pending_p):
            done[sigs[p]] = (c, r)
        next_chunk += 1
        pending_f, pending_p = [], []

    n_done = 0
    for a in range(0, len(todo), batch_size):
        batch = [it.path for it in todo[a : a + batch_size]]
        t = time.perf_counter()
        f = extractor(batch)
        t_model += time.perf_counter() - t
        f = (
            f.detach().float().cpu().numpy()
            if isinstance(f, torch.Tensor)
            else np.asarray(f, dtype=np.float32)
        )
        if f.ndim != 2 or f.shape[0] != len(batch):
            raise ValueError(f"the extractor returned shape {f.shape} for {len(batch)} images")
        pending_f.append(f)
        pending_p.extend(batch)
        n_done += len(batch)
        if len(pending_p) >= checkpoint_every:
            flush()
            if progress:
                el = time.perf_counter() - t0
                rate = n_done / max(el, 1e-9)
                logger.info(
                    f"extracted {len(items) - len(todo) + n_done}/{len(items)} images ({rate:.1f} img/s, "
                    f"about {(len(todo) - n_done) / max(rate, 1e-9):.0f} s left)"
                )
    flush()
    if not items:
        return (
            np.zeros((0, 0), dtype=np.float32),
            [],
            {"model_s": t_model, "total_s": time.perf_counter() - t0},
        )
    order = [done[sigs[it.path]] for it in items]
    feats = np.stack([done_feats[c][r] for c, r in order]) if order else np.zeros((0, 0), np.float32)
    return feats, list(items), {"model_s": t_model, "total_s": time.perf_counter() - t0}


def build_from_items(
    items: Sequence[Item],
    extractor: Callable[[list[str]], torch.Tensor],
    out: str | os.PathLike,
    model_info: dict[str, Any],
    *,
    base: FeatureIndex | None = None,
    metric: str = "euclidean",
    dtype: str = "float32",
    batch_size: int = 32,
    checkpoint_every: int = 1000,
    progress: bool = True,
) -> tuple[FeatureIndex, dict[str, float]]:
    """Extract ``items`` (resumably), add them to ``base`` (or a new index) and save to ``out`` atomically.

    Returns the index and the timing (``model_s``: in the extractor, ``index_s``: adding + saving, ``total_s``).
    """
    out = Path(out)
    work = partial_dir(out)
    t0 = time.perf_counter()
    feats, items, timing = extract_resumable(
        items, extractor, work, model_info, batch_size=batch_size, checkpoint_every=checkpoint_every,
        progress=progress,
    )  # fmt: skip
    t1 = time.perf_counter()
    index = base
    if index is None:
        if feats.shape[0] == 0:
            raise ValueError("no images to index")
        index = FeatureIndex(feats.shape[1], metric=metric, dtype=dtype, model_info=model_info)
    if len(items):
        index.add(feats, pids=[it.pid for it in items], camids=[it.camid for it in items],
                  meta=[{"path": it.path} for it in items])  # fmt: skip
    index.save(out)
    shutil.rmtree(work, ignore_errors=True)
    t2 = time.perf_counter()
    timing = {"model_s": timing["model_s"], "index_s": t2 - t1, "total_s": t2 - t0}
    if progress:
        logger.info(f"indexed {len(items)} images in {timing['total_s']:.1f} s ({len(index)} in {out})")
    return index, timing


def paths_in(index: FeatureIndex) -> set[str]:
    """The image paths an index already holds (from its meta)."""
    return {m["path"] for m in (index.meta or []) if isinstance(m, dict) and "path" in m}
