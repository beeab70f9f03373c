"""Run a model exported by ``tools/export.py`` with onnxruntime, with :class:`FeatureExtractor`'s interface.

    from torchreid.utils.onnx_extractor import OnnxFeatureExtractor
    extractor = OnnxFeatureExtractor("osnet_x1_0.onnx", image_size=(256, 128))
    features = extractor(["a.jpg", "b.jpg"])   # (2, 512) numpy array

Inputs are preprocessed exactly like :class:`FeatureExtractor` (PIL bilinear resize → ToTensor → Normalize).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .feature_extractor import IMAGENET_MEAN, IMAGENET_STD, ImageBatcher

__all__ = ["OnnxFeatureExtractor"]


class OnnxFeatureExtractor:
    """Features from an ONNX re-ID model (input ``images`` Nx3xHxW → output ``features`` NxD)."""

    def __init__(
        self,
        onnx_path: str | os.PathLike,
        image_size: Sequence[int] = (256, 128),
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        pixel_norm: bool = True,
        providers: Sequence[str] | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("OnnxFeatureExtractor needs onnxruntime: pip install onnxruntime") from exc
        path = os.fspath(onnx_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ONNX model not found: '{path}' (create it with tools/export.py)")
        self.session = ort.InferenceSession(path, providers=list(providers or ["CPUExecutionProvider"]))
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        self.images = ImageBatcher(image_size, pixel_mean, pixel_std, pixel_norm)

    def __call__(self, input: Any) -> np.ndarray:
        batch = self.images(input).cpu().numpy().astype(self.dtype)
        return self.session.run(None, {self.input_name: batch})[0].astype(np.float32)
