"""Run an OpenVINO IR written by ``tools/export.py --format openvino`` with :class:`FeatureExtractor`'s interface.

    from torchreid.inference import OpenVINOFeatureExtractor
    extractor = OpenVINOFeatureExtractor("osnet_x1_0.xml")   # size, mean, std, colour order from the file
    features = extractor(crops)                               # float32 torch tensor

Needs the optional ``openvino`` package (``pip install openvino`` or ``pip install 'torchreid[export]'``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .onnx_extractor import ExportedFeatureExtractor, import_optional

__all__ = ["OpenVINOFeatureExtractor", "read_openvino_metadata"]

RT_INFO_SECTION = "torchreid"


def read_openvino_metadata(model: Any) -> dict[str, Any]:
    """The ``torchreid`` section of an OpenVINO model's ``rt_info`` (written by the exporter), decoded."""
    from .metadata import METADATA_KEYS, PREFIX, decode_metadata

    props = {}
    for key in METADATA_KEYS:
        if model.has_rt_info([RT_INFO_SECTION, key]):
            props[PREFIX + key] = model.get_rt_info([RT_INFO_SECTION, key]).astype(str)
    return decode_metadata(props)


class OpenVINOFeatureExtractor(ExportedFeatureExtractor):
    """Features from an OpenVINO IR (``.xml`` + ``.bin``) or ONNX file, compiled for ``device`` ('CPU', 'GPU')."""

    backend = "OpenVINO"

    def __init__(
        self,
        model_path: str | os.PathLike,
        *args: Any,
        device: str = "CPU",
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> None:
        """``args`` and ``kwargs`` are :class:`ExportedFeatureExtractor`'s (``image_size``, ``pixel_mean``, ...)."""
        self._device = device
        self._num_threads = num_threads
        super().__init__(model_path, *args, **kwargs)

    def _open(self, path: str) -> None:
        ov = import_optional("openvino", "OpenVINOFeatureExtractor")
        core = ov.Core()
        model = core.read_model(path)
        self.metadata = read_openvino_metadata(model)
        config = {"INFERENCE_NUM_THREADS": int(self._num_threads)} if self._num_threads else {}
        self.compiled = core.compile_model(model, self._device, config)
        self._output = self.compiled.output(0)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled(batch)[self._output])
