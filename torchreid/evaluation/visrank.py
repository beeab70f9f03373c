"""Visualisation of ranked retrieval results (``visualize_ranked_results``)."""

from __future__ import annotations

import logging
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["visualize_ranked_results"]

logger = logging.getLogger(__name__)

GRID_SPACING = 10
QUERY_EXTRA_SPACING = 90
BW = 5  # border width
GREEN = (0, 255, 0)
RED = (0, 0, 255)  # BGR


def _first_path(path: Any) -> str:
    """An image path, or the first frame of a tracklet (video records hold a tuple of frame paths)."""
    if isinstance(path, (tuple, list)):
        if not path:
            raise ValueError("empty tracklet in the visualised data")
        return str(path[0])
    return str(path)


def _read_resized(path: str, width: int, height: int) -> np.ndarray:
    from ..utils.optional import require

    cv2 = require("cv2", "Rank visualisation (visrank)")

    img = cv2.imread(path)
    if img is None:
        raise FileNotFoundError(f"Cannot read image '{path}' for rank visualisation")
    return cv2.resize(img, (width, height))


def visualize_ranked_results(
    distmat: np.ndarray,
    dataset: tuple[Sequence, Sequence],
    data_type: str,
    width: int = 128,
    height: int = 256,
    save_dir: str = "",
    topk: int = 10,
) -> None:
    """Visualize ranked results: one image per query with the query and its top-``topk`` gallery matches.

    Gallery items with the query's identity *and* camera are skipped (they are not evaluated). A green border
    marks a correct match, red a wrong one. Images are written to ``save_dir/<query file name>.jpg`` (for video
    data the first frame of each tracklet is shown).

    Args:
        distmat: distance matrix of shape (num_query, num_gallery).
        dataset: ``(query, gallery)``, each a list of records ``(img_path(s), pid, camid, ...)``.
        data_type: 'image' or 'video'.
        width, height: size of each image in the grid.
        save_dir: directory to save output images.
        topk: number of top-ranked gallery items to show.
    """
    import cv2

    distmat = np.asarray(distmat)
    num_q, num_g = distmat.shape
    query, gallery = dataset
    if num_q != len(query) or num_g != len(gallery):
        raise ValueError(
            f"distmat is {num_q}x{num_g} but there are {len(query)} queries and {len(gallery)} gallery items"
        )
    if data_type not in ("image", "video"):
        raise ValueError(f"data_type must be 'image' or 'video', got {data_type!r}")
    os.makedirs(save_dir, exist_ok=True)

    logger.info(f"# query: {num_q}\n# gallery {num_g}")
    logger.info(f"Visualizing top-{topk} ranks ...")

    indices = np.argsort(distmat, axis=1, kind="stable")
    used_names: set[str] = set()
    width, height = int(width), int(height)
    for q_idx in range(num_q):
        qimg_path, qpid, qcamid = query[q_idx][:3]
        qpath = _first_path(qimg_path)
        qimg = _read_resized(qpath, width, height)
        qimg = cv2.copyMakeBorder(qimg, BW, BW, BW, BW, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        qimg = cv2.resize(qimg, (width, height))
        num_cols = topk + 1
        grid_img = 255 * np.ones(
            (height, num_cols * width + topk * GRID_SPACING + QUERY_EXTRA_SPACING, 3), dtype=np.uint8
        )
        grid_img[:, :width, :] = qimg

        rank_idx = 1
        for g_idx in indices[q_idx, :]:
            gimg_path, gpid, gcamid = gallery[g_idx][:3]
            if qpid == gpid and qcamid == gcamid:
                continue  # not evaluated: same identity seen by the same camera
            border_color = GREEN if gpid == qpid else RED
            gimg = _read_resized(_first_path(gimg_path), width, height)
            gimg = cv2.copyMakeBorder(gimg, BW, BW, BW, BW, cv2.BORDER_CONSTANT, value=border_color)
            gimg = cv2.resize(gimg, (width, height))
            start = rank_idx * width + rank_idx * GRID_SPACING + QUERY_EXTRA_SPACING
            grid_img[:, start : start + width, :] = gimg
            rank_idx += 1
            if rank_idx > topk:
                break

        imname = osp.basename(osp.splitext(qpath)[0])
        if isinstance(qimg_path, (tuple, list)) or imname in used_names:
            # tracklets, and queries whose file name repeats (e.g. custom <pid>/<camid>/0.jpg folders), would
            # overwrite each other's image: prefix the query index
            imname = f"{q_idx:05d}_{imname}"
        used_names.add(imname)
        out = osp.join(save_dir, imname + ".jpg")
        if not cv2.imwrite(out, grid_img):
            raise OSError(f"Could not write '{out}'")

        if (q_idx + 1) % 100 == 0:
            logger.info(f"- done {q_idx + 1}/{num_q}")

    logger.info(f'Done. Images have been saved to "{save_dir}" ...')
