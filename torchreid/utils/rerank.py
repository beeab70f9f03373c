"""Legacy path of :func:`torchreid.evaluation.rerank.re_ranking` (kept so original imports keep working)."""

from __future__ import annotations

from ..evaluation.rerank import re_ranking

__all__ = ["re_ranking"]
