"""Softmax (cross-entropy with label smoothing) engine for image re-ID."""

from __future__ import annotations

from typing import Any

import torch

from ...losses import CrossEntropyLoss
from .._legacy import module_getattr
from ..builder import ENGINES
from ..engine import Engine

__all__ = ["ImageSoftmaxEngine"]
__getattr__ = module_getattr(__name__)  # names the original module re-exported (metrics, ...)


def _top1_accuracy(outputs: Any, targets: torch.Tensor) -> float:
    """Top-1 accuracy in percent (of the first output when the model returns several)."""
    if isinstance(outputs, (tuple, list)):
        outputs = outputs[0]
    pred = outputs.detach().argmax(dim=1)
    return float(pred.eq(targets).float().mean().item() * 100.0)


def _setup_model_and_ce(
    engine: Engine, model: torch.nn.Module, optimizer: Any, scheduler: Any, label_smooth: bool
) -> CrossEntropyLoss:
    """Register ``model`` (+ optimizer, scheduler) as the engine's main model; return its cross-entropy loss."""
    engine.model = model
    engine.optimizer = optimizer
    engine.scheduler = scheduler
    engine.register_model("model", model, optimizer, scheduler)
    return CrossEntropyLoss(
        num_classes=engine.datamanager.num_train_pids, use_gpu=engine.use_gpu, label_smooth=label_smooth
    )


@ENGINES.register("image/softmax")
class ImageSoftmaxEngine(Engine):
    r"""Softmax-engine for image-reid.

    Args:
        datamanager: an ``ImageDataManager``.
        model: model instance.
        optimizer: an Optimizer.
        scheduler: learning-rate scheduler (stepped once per epoch).
        use_gpu: use CUDA when available.
        label_smooth: use label smoothing regularizer.
        **engine_kwargs: ``amp``, ``channels_last``, ``compile``, ``clip_grad_norm`` (see :class:`Engine`).

    Examples::

        import torchreid
        datamanager = torchreid.data.ImageDataManager(root='path/to/reid-data', sources='market1501',
                                                      height=256, width=128, batch_size_train=32)
        model = torchreid.models.build_model(name='resnet50', num_classes=datamanager.num_train_pids,
                                             loss='softmax')
        optimizer = torchreid.optim.build_optimizer(model, optim='adam', lr=0.0003)
        scheduler = torchreid.optim.build_lr_scheduler(optimizer, lr_scheduler='single_step', stepsize=20)
        engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, optimizer, scheduler=scheduler)
        engine.run(max_epoch=60, save_dir='log/resnet50-softmax-market1501', print_freq=10)
    """

    def __init__(
        self,
        datamanager: Any,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        use_gpu: bool = True,
        label_smooth: bool = True,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(datamanager, use_gpu, **engine_kwargs)
        self.criterion = _setup_model_and_ce(self, model, optimizer, scheduler, label_smooth)

    def forward_backward(self, data: dict[str, Any]) -> dict[str, float]:
        imgs, pids = self.parse_data_for_train(data)
        imgs, pids = self.to_device(imgs, pids)
        with self.autocast():
            outputs = self.forward_model(imgs)
            loss = self.compute_loss(self.criterion, outputs, pids)
        self.optimize(loss)
        return {"loss": loss.item(), "acc": _top1_accuracy(outputs, pids)}
