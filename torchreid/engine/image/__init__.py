"""Image re-ID engines."""

from __future__ import annotations

from .softmax import ImageSoftmaxEngine
from .triplet import ImageTripletEngine

__all__ = ["ImageSoftmaxEngine", "ImageTripletEngine"]
