"""Legacy path of :mod:`torchreid.evaluation.visrank` (kept so original imports keep working)."""

from __future__ import annotations

from ..evaluation.visrank import BW, GREEN, GRID_SPACING, QUERY_EXTRA_SPACING, RED, visualize_ranked_results
from .tools import mkdir_if_missing

__all__ = [
    "BW",
    "GREEN",
    "GRID_SPACING",
    "QUERY_EXTRA_SPACING",
    "RED",
    "mkdir_if_missing",
    "visualize_ranked_results",
]
