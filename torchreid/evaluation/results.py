"""Results as data: one JSON record per evaluated dataset, appended to ``<save_dir>/results.jsonl``.

A record holds what a paper table needs and where it came from::

    {"dataset": "market1501", "mAP": 0.412, "cmc": [0.65, ...], "ranks": {"1": 0.65, "5": ...}, "mINP": 0.12,
     "model": "osnet_x1_0", "checkpoint": "log/model/model.pth.tar-250", "config_sha256": "3f2a...",
     "epoch": 250, "date": "2026-12-03T18:20:00+00:00", "rerank": false, "dist_metric": "euclidean"}

Each record is one line written with a single ``write`` on a file opened for appending, so a crash leaves
either the whole line or nothing (a torn last line is skipped with a warning by :func:`read_results`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RESULTS_FILE", "append_result", "config_hash", "make_record", "read_results"]

RESULTS_FILE = "results.jsonl"

logger = logging.getLogger(__name__)


def config_hash(config: Mapping[str, Any] | None) -> str | None:
    """sha256 of the config dumped as canonical JSON (sorted keys): equal configs give equal hashes."""
    if config is None:
        return None
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(x: Any) -> Any:
    """NumPy / torch scalars and arrays as JSON-friendly Python values."""
    if hasattr(x, "tolist"):
        return x.tolist()
    return x


def make_record(
    dataset: str,
    mAP: float,
    cmc: Sequence[float],
    *,
    mINP: float | None = None,
    ranks: Sequence[int] = (1, 5, 10, 20),
    model: str | None = None,
    checkpoint: str | None = None,
    config_sha256: str | None = None,
    epoch: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One evaluation as a plain dict (JSON-serialisable); ``extra`` keys are added as they are."""
    cmc_list = [float(v) for v in np.asarray(cmc, dtype=np.float64).ravel()]
    record: dict[str, Any] = {
        "dataset": dataset,
        "mAP": float(mAP),
        "cmc": cmc_list,
        "ranks": {str(r): cmc_list[r - 1] for r in ranks if 1 <= r <= len(cmc_list)},
        "mINP": None if mINP is None else float(mINP),
        "model": model,
        "checkpoint": checkpoint,
        "config_sha256": config_sha256,
        "epoch": epoch,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    record.update({k: _plain(v) for k, v in extra.items()})
    return record


def append_result(path: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Append ``record`` as one JSON line to ``path`` (created with its folder when missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(dict(record), sort_keys=False, default=_plain) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        written = os.write(fd, line)  # one write: the whole line or (on a crash) nothing of it
        if written != len(line):  # a full disk: never leave half a line for the next record to follow
            raise OSError(f"only {written} of {len(line)} bytes of the result record reached '{path}'")
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a ``results.jsonl`` file, oldest first; unreadable lines are skipped with a warning."""
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                logger.warning(f"{path}:{n}: not a JSON record (torn write?); skipped")
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records
