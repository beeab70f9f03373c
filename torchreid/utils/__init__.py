"""Utilities: checkpoints, logging, meters, feature extraction, visualisation, re-ranking.

Names are resolved lazily from their modules so that ``import torchreid.utils`` is cheap.
"""

from __future__ import annotations

from .registry import lazy_exports

_EXPORTS: dict[str, str] = {
    # tools
    "mkdir_if_missing": "tools",
    "check_isfile": "tools",
    "read_json": "tools",
    "write_json": "tools",
    "set_random_seed": "tools",
    "download_url": "tools",
    "read_image": "tools",
    "collect_env_info": "tools",
    "listdir_nohidden": "tools",
    # meters and loggers
    "AverageMeter": "avgmeter",
    "MetricMeter": "avgmeter",
    "Logger": "loggers",
    "RankLogger": "loggers",
    # checkpoints and weights
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "resume_from_checkpoint": "checkpoint",
    "load_pretrained_weights": "checkpoint",
    # model helpers
    "open_all_layers": "torchtools",
    "open_specified_layers": "torchtools",
    "count_num_param": "torchtools",
    "set_bn_to_eval": "torchtools",
    "compute_model_complexity": "model_complexity",
    # inference and visualisation
    "FeatureExtractor": "feature_extractor",
    "OnnxFeatureExtractor": "onnx_extractor",
    "visualize_ranked_results": "reidtools",
    "re_ranking": "rerank",
    "write_html_report": "report",
    # registries
    "Registry": "registry",
    "RegistryKeyError": "registry",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
