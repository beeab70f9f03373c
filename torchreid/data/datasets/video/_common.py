"""Small helpers shared by the video dataset loaders (not a dataset module: the leading underscore keeps the
registry's auto-import from loading it on its own)."""

from __future__ import annotations

import os
import os.path as osp
import re
from typing import Any

from ..image._common import (
    GeneratedSpec,
    _rebase,
    cached_splits,
    ensure_generated,
    loadmat_checked,
    pick_split,
    read_json,
    write_json,
)

__all__ = [
    "GeneratedSpec",
    "cached_splits",
    "ensure_generated",
    "list_frames",
    "loadmat_checked",
    "pick_split",
    "read_json",
    "tracklets_from_json",
    "tracklets_to_json",
    "write_json",
]

_FRAME_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def _natural_key(name: str) -> list[Any]:
    """Sort key that orders ``f2`` before ``f10`` (frame numbers are not always zero-padded)."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str, exts: tuple[str, ...] = _FRAME_EXTS) -> list[str]:
    """Frame files of one tracklet folder in temporal (natural name) order.

    An empty or missing folder is an error naming it: a tracklet without frames cannot be sampled.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f"tracklet folder not found: {folder}")
    names = [n for n in os.listdir(folder) if n.lower().endswith(exts) and not n.startswith(".")]
    if not names:
        raise FileNotFoundError(
            f"tracklet folder {folder} holds no frames (expected {', '.join(exts)} files)"
        )
    return [osp.join(folder, n) for n in sorted(names, key=_natural_key)]


def tracklets_to_json(tracklets: list[tuple], base: str) -> list[list]:
    """Tracklet records with frame paths made relative to ``base`` (so moving the data root keeps caches valid)."""
    return [
        [[osp.relpath(p, base) for p in paths], int(pid), int(camid)] for paths, pid, camid, *_ in tracklets
    ]


def _resolve(path: str, base: str) -> str:
    if not osp.isabs(path):
        return osp.join(base, path)
    return path if osp.exists(path) else _rebase(path, base)


def tracklets_from_json(items: list[list], base: str) -> list[tuple]:
    """Inverse of :func:`tracklets_to_json`; absolute paths (caches written by the original Torchreid) are kept,
    or rebased onto ``base`` when they no longer exist."""
    return [
        (tuple(_resolve(p, base) for p in paths), int(pid), int(camid)) for paths, pid, camid, *_ in items
    ]
