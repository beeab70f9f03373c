"""Run a model exported by ``tools/export.py`` with ONNX Runtime, with :class:`FeatureExtractor`'s interface.

    from torchreid.inference import OnnxFeatureExtractor
    extractor = OnnxFeatureExtractor("osnet_x1_0.onnx")     # size, mean, std, colour order from the file
    features = extractor(["a.jpg", "b.jpg"])                 # (2, 512) float32 torch tensor

Inputs are the same as :class:`FeatureExtractor`'s and are preprocessed exactly like it (PIL bilinear resize →
ToTensor → Normalize). Files written by ``tools/export.py`` carry their input size, normalisation and colour
order in their metadata; an explicit argument that disagrees wins, with a warning.
"""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import torch

from .feature_extractor import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_IMAGE_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    apply_inference_settings,
    check_color_order,
    resolve_inference_settings,
)

__all__ = ["ExportedFeatureExtractor", "OnnxFeatureExtractor", "import_optional", "missing_package_message"]


def missing_package_message(package: str, what: str) -> str:
    """How to install an optional package (used for every optional export/inference back-end)."""
    return f"{what} needs the optional package '{package}': pip install {package}  (or: pip install 'torchreid[export]')"


def import_optional(package: str, what: str, error: type[Exception] = ImportError) -> ModuleType:
    """Import the optional ``package`` that ``what`` needs, or raise ``error`` saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise error(missing_package_message(package, what)) from exc


class ExportedFeatureExtractor(abc.ABC):
    """Shared logic of the exported-model extractors: metadata, preprocessing, batching, the returned type."""

    backend = "exported"

    def __init__(
        self,
        path: str | os.PathLike,
        image_size: Sequence[int] = DEFAULT_IMAGE_SIZE,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        pixel_norm: bool = True,
        *,
        color_order: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        normalize: bool = False,
    ) -> None:
        if color_order is not None:
            check_color_order(color_order)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(
                f"{self.backend} model not found: '{self.path}' (create it with tools/export.py or `torchreid export`)"
            )
        self._open(self.path)
        meta = self.metadata
        settings = resolve_inference_settings(
            meta, image_size, pixel_mean, pixel_std, color_order, f"'{self.path}'"
        )
        apply_inference_settings(
            self, meta.get("model_name", ""), settings, pixel_norm, batch_size, normalize
        )

    # back-ends implement these two
    metadata: dict[str, Any] = {}

    @abc.abstractmethod
    def _open(self, path: str) -> None:
        """Load the exported model at ``path`` and set ``self.metadata``."""

    @abc.abstractmethod
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Features of one preprocessed float32 ``(B, C, H, W)`` batch."""

    def __call__(self, input: Any) -> torch.Tensor:
        chunks = []
        for batch in self.images.batches(input, self.batch_size):
            out = self._run(batch.detach().cpu().float().numpy())
            chunks.append(torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)))
        features = torch.cat(chunks, dim=0)
        if self.normalize:
            features = torch.nn.functional.normalize(features, dim=1)
        return features


class OnnxFeatureExtractor(ExportedFeatureExtractor):
    """Features from an ONNX re-ID model (input ``images`` Nx3xHxW → output ``features`` NxD), as a torch tensor.

    ``num_threads`` caps ONNX Runtime's intra-op threads (default: its own choice, all cores).
    """

    backend = "ONNX"

    def __init__(
        self,
        onnx_path: str | os.PathLike,
        *args: Any,
        providers: Sequence[str] | None = None,
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> None:
        """``args`` and ``kwargs`` are :class:`ExportedFeatureExtractor`'s (``image_size``, ``pixel_mean``, ...)."""
        self._providers = list(providers or ["CPUExecutionProvider"])
        self._num_threads = num_threads
        super().__init__(onnx_path, *args, **kwargs)

    def _open(self, path: str) -> None:
        ort = import_optional("onnxruntime", "OnnxFeatureExtractor")
        from .metadata import decode_metadata

        options = ort.SessionOptions()
        if self._num_threads:
            options.intra_op_num_threads = int(self._num_threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, sess_options=options, providers=self._providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        self.metadata = decode_metadata(self.session.get_modelmeta().custom_metadata_map)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(self.dtype)})[0]
