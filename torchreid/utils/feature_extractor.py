"""Moved to :mod:`torchreid.inference.feature_extractor`; this module keeps the original import path working.

The original module also exposed the helpers it imported (``build_model``, ``check_isfile``,
``compute_model_complexity``, ``load_pretrained_weights``); they resolve lazily to their current homes.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..inference.feature_extractor import IMAGENET_MEAN, IMAGENET_STD, FeatureExtractor, ImageBatcher

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "FeatureExtractor", "ImageBatcher"]

_LEGACY = {
    "build_model": "torchreid.models",
    "check_isfile": "torchreid.utils.tools",
    "compute_model_complexity": "torchreid.utils.model_complexity",
    "load_pretrained_weights": "torchreid.utils.checkpoint",
}


def __getattr__(name: str) -> Any:
    if name in _LEGACY:
        return getattr(importlib.import_module(_LEGACY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
