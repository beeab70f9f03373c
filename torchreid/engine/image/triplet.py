"""Triplet (+ optional softmax) engine for image re-ID."""

from __future__ import annotations

from typing import Any

import torch

from ...losses import TripletLoss
from .._legacy import module_getattr
from ..builder import ENGINES
from ..engine import Engine
from .softmax import _setup_model_and_ce, _top1_accuracy

__all__ = ["ImageTripletEngine"]
__getattr__ = module_getattr(__name__)  # names the original module re-exported (metrics, ...)


@ENGINES.register("image/triplet")
class ImageTripletEngine(Engine):
    r"""Triplet-loss engine for image-reid: ``loss = weight_t * triplet + weight_x * cross-entropy``.

    Use ``train_sampler='RandomIdentitySampler'`` so every batch holds several images per identity.

    Args:
        datamanager: an ``ImageDataManager``.
        model: model instance (in training mode it must return ``(logits, features)``: build it with
            ``loss='triplet'``).
        optimizer: an Optimizer.
        margin: margin for the triplet loss.
        weight_t: weight of the triplet loss.
        weight_x: weight of the softmax loss.
        scheduler: learning-rate scheduler.
        use_gpu: use CUDA when available.
        label_smooth: use label smoothing regularizer.
        **engine_kwargs: ``amp``, ``channels_last``, ``compile``, ``clip_grad_norm`` (see :class:`Engine`).
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
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(datamanager, use_gpu, **engine_kwargs)
        criterion_x = _setup_model_and_ce(self, model, optimizer, scheduler, label_smooth)

        if weight_t < 0 or weight_x < 0:
            raise ValueError(f"weight_t and weight_x must be >= 0, got {weight_t} and {weight_x}")
        if weight_t + weight_x <= 0:
            raise ValueError("weight_t + weight_x must be > 0 (at least one loss must be used)")
        self.weight_t = weight_t
        self.weight_x = weight_x
        # without the softmax loss the classifier gets no gradient; DDP must be told so
        self.ddp_find_unused_parameters = weight_x == 0

        self.criterion_t = TripletLoss(margin=margin)
        self.criterion_x = criterion_x

    def forward_backward(self, data: dict[str, Any]) -> dict[str, float]:
        imgs, pids = self.parse_data_for_train(data)
        imgs, pids = self.to_device(imgs, pids)
        with self.autocast():
            out = self.forward_model(imgs)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(
                    "ImageTripletEngine needs the model to return (logits, features) in training mode; "
                    "build it with loss='triplet'"
                )
            outputs, features = out
            loss: Any = 0.0
            loss_summary: dict[str, float] = {}
            if self.weight_t > 0:
                loss_t = self.compute_loss(self.criterion_t, features, pids)
                loss = loss + self.weight_t * loss_t
                loss_summary["loss_t"] = loss_t.item()
            if self.weight_x > 0:
                loss_x = self.compute_loss(self.criterion_x, outputs, pids)
                loss = loss + self.weight_x * loss_x
                loss_summary["loss_x"] = loss_x.item()
                loss_summary["acc"] = _top1_accuracy(outputs, pids)
        self.optimize(loss)
        return loss_summary
