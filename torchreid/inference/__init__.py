"""Inference: feature extraction with PyTorch, ONNX Runtime or OpenVINO, and the metadata exports carry."""

from __future__ import annotations

from ..utils.registry import lazy_exports

_EXPORTS: dict[str, str] = {
    "FeatureExtractor": "feature_extractor",
    "ImageBatcher": "feature_extractor",
    "OnnxFeatureExtractor": "onnx_extractor",
    "OpenVINOFeatureExtractor": "openvino_extractor",
    "checkpoint_metadata": "metadata",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
