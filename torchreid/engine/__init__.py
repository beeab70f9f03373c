"""Training/evaluation engines: the :class:`Engine` template and image/video x softmax/triplet engines.

``ENGINES`` (a :class:`~torchreid.utils.registry.Registry`) maps ``"<data type>/<loss>"`` to the engine class;
:func:`build_engine` builds the engine of a run config.
"""

from __future__ import annotations

from .builder import ENGINES, build_engine, get_engine_class
from .engine import Engine, NonFiniteLossError
from .image import ImageSoftmaxEngine, ImageTripletEngine
from .video import VideoSoftmaxEngine, VideoTripletEngine

__all__ = [
    "ENGINES",
    "Engine",
    "ImageSoftmaxEngine",
    "ImageTripletEngine",
    "NonFiniteLossError",
    "VideoSoftmaxEngine",
    "VideoTripletEngine",
    "build_engine",
    "get_engine_class",
]
