"""Moved to :mod:`torchreid.inference.onnx_extractor`; this module keeps the old import path working."""

from __future__ import annotations

from ..inference.onnx_extractor import OnnxFeatureExtractor

__all__ = ["OnnxFeatureExtractor"]
