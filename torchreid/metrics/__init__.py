"""Evaluation metrics: classification accuracy, distance matrices, rank metrics (CMC, mAP, mINP)."""

from __future__ import annotations

from .accuracy import accuracy
from .distance import compute_distance_matrix, cosine_distance, euclidean_squared_distance
from .rank import (
    IS_CYTHON_AVAILABLE,
    RankResult,
    available_backends,
    eval_cuhk03,
    eval_market1501,
    evaluate_py,
    evaluate_rank,
    evaluate_rank_from_features,
)

__all__ = [
    "IS_CYTHON_AVAILABLE",
    "RankResult",
    "accuracy",
    "available_backends",
    "compute_distance_matrix",
    "cosine_distance",
    "euclidean_squared_distance",
    "eval_cuhk03",
    "eval_market1501",
    "evaluate_py",
    "evaluate_rank",
    "evaluate_rank_from_features",
]
