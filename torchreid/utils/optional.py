"""Optional packages: import them when a feature needs them, with an error that says how to install them.

The core install is light (torch, torchvision, numpy, Pillow, yacs, PyYAML); the rest comes with extras:
``torchreid[vis]`` (opencv), ``[datasets]`` (h5py, scipy, gdown), ``[tb]`` (tensorboard), ``[export]`` (onnx,
onnxruntime, openvino), ``[search]`` (faiss-cpu), ``[all]`` (what the original Torchreid installed).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["OPTIONAL_PACKAGES", "require"]

# import name -> (pip package, extra)
OPTIONAL_PACKAGES: dict[str, tuple[str, str]] = {
    "cv2": ("opencv-python-headless", "vis"),
    "h5py": ("h5py", "datasets"),
    "scipy": ("scipy", "datasets"),
    "gdown": ("gdown", "datasets"),
    "tensorboard": ("tensorboard", "tb"),
    "torch.utils.tensorboard": ("tensorboard", "tb"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "openvino": ("openvino", "export"),
    "faiss": ("faiss-cpu", "search"),
    "huggingface_hub": ("huggingface-hub", "all"),
}


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` naming ``what`` needs it and the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        package, extra = OPTIONAL_PACKAGES.get(module) or OPTIONAL_PACKAGES.get(top, (top, "all"))
        raise ImportError(
            f"{what} needs the optional package '{package}': pip install {package}  "
            f"(or: pip install 'torchreid[{extra}]')"
        ) from exc
