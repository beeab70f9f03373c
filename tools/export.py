"""Export a trained torchreid model to ONNX / OpenVINO IR with its metadata, verified against PyTorch.

Usage::

    python tools/export.py -w log/osnet/model/model.pth.tar-150 -o osnet_x1_0.onnx     # name and size from the file
    python tools/export.py -m osnet_x0_25 -w osnet_x0_25_msmt17 -o model.onnx --format all --images some/folder
    python tools/export.py -m osnet_x0_25 -w weights.pth -o model.onnx --height 256 --width 128 --fp16

The same command is ``torchreid export``; the implementation lives in :mod:`torchreid.inference.export`.
Run the files with :class:`torchreid.inference.OnnxFeatureExtractor` / ``OpenVINOFeatureExtractor``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running from a checkout without installing
    sys.path.insert(0, str(REPO))

from torchreid.inference.export import (  # noqa: E402
    DEFAULT_OPSET,
    ExportError,
    export_onnx,
    export_openvino,
    load_model_for_export,
    main,
    verify_onnx,
)

__all__ = [
    "DEFAULT_OPSET",
    "ExportError",
    "export_onnx",
    "export_openvino",
    "load_model_for_export",
    "main",
    "verify_onnx",
]

if __name__ == "__main__":
    sys.exit(main())
