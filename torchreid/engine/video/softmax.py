"""Softmax engine for video (tracklet) re-ID."""

from __future__ import annotations

from typing import Any

import torch

from ..builder import ENGINES
from ..image.softmax import ImageSoftmaxEngine
from .common import DEFAULT_EVAL_CHUNK_SIZE, VideoEngineMixin

__all__ = ["VideoSoftmaxEngine"]


@ENGINES.register("video/softmax")
class VideoSoftmaxEngine(VideoEngineMixin, ImageSoftmaxEngine):
    r"""Softmax-engine for video-reid.

    Training flattens a batch of tracklets ``(B, S, C, H, W)`` into ``B*S`` frames that each carry their
    tracklet's identity; evaluation pools the frame features of each tracklet.

    Args:
        datamanager: a ``VideoDataManager``.
        model: model instance.
        optimizer: an Optimizer.
        scheduler: learning-rate scheduler.
        use_gpu: use CUDA when available.
        label_smooth: use label smoothing regularizer.
        pooling_method: how frame features are pooled into a tracklet feature: ``'avg'`` or ``'max'``.
        eval_chunk_size: at most this many frames go through the model at once during evaluation (bounds
            memory for long tracklets with ``sample_method='all'``).
        **engine_kwargs: ``amp``, ``channels_last``, ``compile``, ``clip_grad_norm`` (see ``Engine``).

    Examples::

        import torchreid
        datamanager = torchreid.data.VideoDataManager(root='path/to/reid-data', sources='mars', height=256,
                                                      width=128, batch_size_train=3, batch_size_test=3,
                                                      seq_len=15, sample_method='evenly')
        model = torchreid.models.build_model(name='osnet_x1_0', num_classes=datamanager.num_train_pids,
                                             loss='softmax')
        optimizer = torchreid.optim.build_optimizer(model, optim='adam', lr=0.0003)
        scheduler = torchreid.optim.build_lr_scheduler(optimizer, lr_scheduler='single_step', stepsize=20)
        engine = torchreid.engine.VideoSoftmaxEngine(datamanager, model, optimizer, scheduler=scheduler,
                                                     pooling_method='avg')
        engine.run(max_epoch=60, save_dir='log/osnet-softmax-mars', print_freq=10)
    """

    def __init__(
        self,
        datamanager: Any,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        use_gpu: bool = True,
        label_smooth: bool = True,
        pooling_method: str = "avg",
        eval_chunk_size: int = DEFAULT_EVAL_CHUNK_SIZE,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(datamanager, model, optimizer, scheduler, use_gpu, label_smooth, **engine_kwargs)
        self._setup_video(pooling_method, eval_chunk_size)
