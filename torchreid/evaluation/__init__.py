"""Evaluation: the :class:`Evaluator` an engine calls, re-ranking, ranked-result images, the HTML report and the
JSON-lines result records."""

from __future__ import annotations

from .evaluator import EvalSettings, Evaluator, host_distance_matrix, shard_loader
from .report import write_html_report
from .rerank import re_ranking
from .results import RESULTS_FILE, append_result, config_hash, make_record, read_results
from .visrank import visualize_ranked_results
from .visrank_video import visualize_ranked_tracklets

__all__ = [
    "RESULTS_FILE",
    "EvalSettings",
    "Evaluator",
    "append_result",
    "config_hash",
    "host_distance_matrix",
    "make_record",
    "re_ranking",
    "read_results",
    "shard_loader",
    "visualize_ranked_results",
    "visualize_ranked_tracklets",
    "write_html_report",
]
