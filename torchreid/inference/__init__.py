"""Inference: feature extraction with PyTorch, ONNX Runtime or OpenVINO, and the metadata exports carry."""

from __future__ import annotations

from ..utils.registry import lazy_getattr

_EXPORTS: dict[str, str] = {
    "FeatureExtractor": "feature_extractor",
    "ImageBatcher": "feature_extractor",
    "OnnxFeatureExtractor": "onnx_extractor",
    "OpenVINOFeatureExtractor": "openvino_extractor",
    "checkpoint_metadata": "metadata",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__
