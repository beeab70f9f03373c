"""Training/evaluation engines: the :class:`Engine` template and image/video x softmax/triplet engines.

``ENGINES`` maps ``(data type, loss name)`` to the engine class, e.g. ``ENGINES[('image', 'softmax')]``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .engine import Engine, NonFiniteLossError
from .image import ImageSoftmaxEngine, ImageTripletEngine

__all__ = [
    "ENGINES",
    "Engine",
    "ImageSoftmaxEngine",
    "ImageTripletEngine",
    "NonFiniteLossError",
    "VideoSoftmaxEngine",
    "VideoTripletEngine",
    "get_engine_class",
]

# (data type, loss) -> "module:Class"; video engines are resolved lazily (another module owns them).
ENGINES: dict[tuple[str, str], str] = {
    ("image", "softmax"): "torchreid.engine.image.softmax:ImageSoftmaxEngine",
    ("image", "triplet"): "torchreid.engine.image.triplet:ImageTripletEngine",
    ("video", "softmax"): "torchreid.engine.video:VideoSoftmaxEngine",
    ("video", "triplet"): "torchreid.engine.video:VideoTripletEngine",
}


def get_engine_class(data_type: str, loss: str) -> type:
    """The engine class for ``data_type`` ('image'|'video') and ``loss`` ('softmax'|'triplet')."""
    key = (data_type, loss)
    if key not in ENGINES:
        valid = ", ".join(f"{d}/{lo}" for d, lo in ENGINES)
        raise KeyError(f"No engine for data.type={data_type!r} and loss.name={loss!r}; valid: {valid}")
    module, cls = ENGINES[key].split(":")
    return getattr(importlib.import_module(module), cls)


def __getattr__(name: str) -> Any:
    if name in ("VideoSoftmaxEngine", "VideoTripletEngine"):
        return getattr(importlib.import_module(f"{__name__}.video"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
