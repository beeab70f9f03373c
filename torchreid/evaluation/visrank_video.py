"""Ranked-result images for tracklets: each query becomes one strip image, the query's frames on the first row
and the frames of its top-k gallery tracklets on the following rows (green border: same identity, red: not)."""

from __future__ import annotations

import logging
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["visualize_ranked_tracklets"]

logger = logging.getLogger(__name__)

BW = 4  # border width
GAP = 6  # space between frames of a row
ROW_GAP = 8  # space between rows
QUERY_GAP = 24  # extra space under the query row
LABEL_W = 56  # left margin holding "query" / "#rank"
GREEN, RED, BLACK = (0, 200, 0), (0, 0, 230), (0, 0, 0)  # BGR


def _pick(paths: Sequence[str], n: int) -> list[str]:
    """``n`` frames spread evenly over the tracklet (all of them when shorter)."""
    if len(paths) <= n:
        return list(paths)
    return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, n).round()]


def _row(paths: Sequence[str], n: int, width: int, height: int, color: tuple[int, int, int]) -> np.ndarray:
    from ..utils.optional import require

    cv2 = require("cv2", "Rank visualisation (visrank)")

    cells = []
    for path in _pick(paths, n):
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f"cannot read frame '{path}' for rank visualisation")
        img = cv2.resize(img, (width - 2 * BW, height - 2 * BW))
        cells.append(cv2.copyMakeBorder(img, BW, BW, BW, BW, cv2.BORDER_CONSTANT, value=color))
    row = 255 * np.ones((height, n * width + (n - 1) * GAP, 3), dtype=np.uint8)
    for i, cell in enumerate(cells):
        x = i * (width + GAP)
        row[:, x : x + width] = cell
    return row


def visualize_ranked_tracklets(
    distmat: Any,
    dataset: tuple[Sequence, Sequence],
    width: int = 128,
    height: int = 256,
    save_dir: str = "",
    topk: int = 10,
    frames_per_tracklet: int = 8,
) -> list[str]:
    """Write ``save_dir/<query index>_<first frame name>.jpg`` for every query tracklet; return the paths.

    Gallery tracklets of the query's identity seen by the query's camera are skipped (they are not evaluated),
    as in the image visualisation. Each row shows up to ``frames_per_tracklet`` frames spread over the tracklet.
    """
    import cv2

    distmat = np.asarray(distmat)
    query, gallery = dataset
    num_q, num_g = distmat.shape
    if num_q != len(query) or num_g != len(gallery):
        raise ValueError(
            f"distmat is {num_q}x{num_g} but there are {len(query)} query and {len(gallery)} gallery tracklets"
        )
    width, height, n = int(width), int(height), max(1, int(frames_per_tracklet))
    os.makedirs(save_dir, exist_ok=True)
    logger.info(f"# query: {num_q}\n# gallery {num_g}\nVisualizing top-{topk} ranks of tracklets ...")

    order = np.argsort(distmat, axis=1, kind="stable")
    row_w = LABEL_W + n * width + (n - 1) * GAP
    written = []
    for q_idx in range(num_q):
        q_paths, qpid, qcamid = query[q_idx][:3]
        rows = [("query", _row(q_paths, n, width, height, BLACK))]
        for g_idx in order[q_idx]:
            g_paths, gpid, gcamid = gallery[g_idx][:3]
            if gpid == qpid and gcamid == qcamid:
                continue
            rows.append((f"#{len(rows)}", _row(g_paths, n, width, height, GREEN if gpid == qpid else RED)))
            if len(rows) > topk:
                break
        canvas_h = len(rows) * height + (len(rows) - 1) * ROW_GAP + QUERY_GAP
        canvas = 255 * np.ones((canvas_h, row_w, 3), dtype=np.uint8)
        y = 0
        for i, (label, row) in enumerate(rows):
            canvas[y : y + height, LABEL_W : LABEL_W + row.shape[1]] = row
            cv2.putText(
                canvas, label, (4, y + height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BLACK, 1, cv2.LINE_AA
            )
            y += height + ROW_GAP + (QUERY_GAP if i == 0 else 0)
        name = f"{q_idx:05d}_{osp.splitext(osp.basename(q_paths[0]))[0]}.jpg"
        out = osp.join(save_dir, name)
        if not cv2.imwrite(out, canvas):
            raise OSError(f"could not write '{out}'")
        written.append(out)
        if (q_idx + 1) % 100 == 0:
            logger.info(f"- done {q_idx + 1}/{num_q}")
    logger.info(f'Done. Images have been saved to "{save_dir}" ...')
    return written
