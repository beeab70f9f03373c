"""Triplet (+ optional softmax) engine for video (tracklet) re-ID."""

from __future__ import annotations

from typing import Any

import torch

from ..builder import ENGINES
from ..image.triplet import ImageTripletEngine
from .common import DEFAULT_EVAL_CHUNK_SIZE, VideoEngineMixin

__all__ = ["VideoTripletEngine"]


@ENGINES.register("video/triplet")
class VideoTripletEngine(VideoEngineMixin, ImageTripletEngine):
    r"""Triplet-loss engine for video-reid: ``loss = weight_t * triplet + weight_x * cross-entropy`` on frames.

    Training flattens a batch of tracklets ``(B, S, C, H, W)`` into ``B*S`` frames that each carry their
    tracklet's identity; evaluation pools the frame features of each tracklet with ``pooling_method`` (the
    original Torchreid ignored this argument in its triplet engine; it is honoured here).

    Args:
        datamanager: a ``VideoDataManager`` (use ``train_sampler='RandomIdentitySampler'``).
        model: model instance (built with ``loss='triplet'``).
        optimizer: an Optimizer.
        margin: margin for the triplet loss.
        weight_t: weight of the triplet loss.
        weight_x: weight of the softmax loss.
        scheduler: learning-rate scheduler.
        use_gpu: use CUDA when available.
        label_smooth: use label smoothing regularizer.
        pooling_method: ``'avg'`` or ``'max'`` pooling of frame features into a tracklet feature.
        eval_chunk_size: at most this many frames go through the model at once during evaluation.
        **engine_kwargs: ``amp``, ``channels_last``, ``compile``, ``clip_grad_norm`` (see ``Engine``).
    """

    def __init__(
        self,
        datamanager: Any,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        margin: float = 0.3,
        weight_t: float = 1,
        weight_x: float = 1,
        scheduler: Any = None,
        use_gpu: bool = True,
        label_smooth: bool = True,
        pooling_method: str = "avg",
        eval_chunk_size: int = DEFAULT_EVAL_CHUNK_SIZE,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(
            datamanager,
            model,
            optimizer,
            margin,
            weight_t,
            weight_x,
            scheduler,
            use_gpu,
            label_smooth,
            **engine_kwargs,
        )
        self._setup_video(pooling_method, eval_chunk_size)
