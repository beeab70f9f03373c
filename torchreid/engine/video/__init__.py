"""Video (tracklet) re-ID engines."""

from __future__ import annotations

from .common import POOLING_METHODS, pool_features
from .softmax import VideoSoftmaxEngine
from .triplet import VideoTripletEngine

__all__ = ["POOLING_METHODS", "VideoSoftmaxEngine", "VideoTripletEngine", "pool_features"]
