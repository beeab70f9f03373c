"""The Engine template: the training loop, logging, TensorBoard and checkpoints.

A concrete engine implements only :meth:`Engine.forward_backward`. One optimisation step (AMP, channels_last,
compile, clipping, the NaN check) is :meth:`Engine.optimize` (:mod:`~torchreid.engine.accel`); model placement
(device, sync-BN, compile, DDP) is :mod:`~torchreid.engine.placement`; evaluation is ``engine.evaluator``
(:class:`torchreid.evaluation.Evaluator`, configured by ``engine.eval_settings``). Overridable methods keep the
original v1.4.0 signatures: new options reach them through ``engine.eval_settings``, never as new keywords.
"""

from __future__ import annotations

import abc
import datetime
import logging
import math
import os.path as osp
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data.prefetch import DevicePrefetcher
from ..evaluation.evaluator import EvalSettings, Evaluator
from ..utils import distributed as dist_utils
from ..utils.avgmeter import AverageMeter, MetricMeter
from ..utils.checkpoint import get_rng_state, save_checkpoint, set_rng_state
from ._legacy import module_getattr
from .accel import NonFiniteLossError, StepAccelerator
from .placement import ddp_forward, prepare_model, resolve_open_layers

__all__ = ["AverageMeter", "Engine", "MetricMeter", "NonFiniteLossError", "save_checkpoint"]

logger = logging.getLogger(__name__)
_TEST_OPTIONS = ("dist_metric", "normalize_feature", "visrank", "visrank_topk", "save_dir", "use_metric_cuhk03",
                 "ranks", "rerank")  # fmt: skip
__getattr__ = module_getattr(__name__)  # the original's re-exported names (DeepSupervision, re_ranking, ...)


class Engine(abc.ABC):
    """Base engine: owns the loop, logging, TensorBoard and checkpointing; evaluation is ``self.evaluator``.

    Args:
        datamanager: an ``ImageDataManager`` / ``VideoDataManager`` (needs ``train_loader``, ``test_loader``,
            ``sources``, and for visrank ``fetch_test_loaders``, ``data_type``, ``height``, ``width``).
        use_gpu: use CUDA when available.
        amp, channels_last, compile, clip_grad_norm: how the training step runs (see
            :class:`~torchreid.engine.accel.StepAccelerator`); the defaults give the original fp32 step.
        sync_bn: SyncBatchNorm under DDP on GPUs.
        eval_settings: an :class:`~torchreid.evaluation.EvalSettings` (report, results file, provenance, ...).
    """

    def __init__(
        self,
        datamanager: Any,
        use_gpu: bool = True,
        amp: str = "off",
        channels_last: bool = False,
        compile: Any = False,
        clip_grad_norm: float = 0.0,
        sync_bn: bool = False,
        eval_settings: EvalSettings | None = None,
    ) -> None:
        self.datamanager = datamanager
        self.train_loader = getattr(datamanager, "train_loader", None)
        self.test_loader = getattr(datamanager, "test_loader", {})
        self.device = dist_utils.resolve_device(use_gpu)
        self.use_gpu = self.device.type == "cuda"
        self.writer: Any = None
        self.epoch = self.start_epoch = self.max_epoch = self.batch_idx = self.num_batches = 0

        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self._models: OrderedDict[str, nn.Module] = OrderedDict()
        self._optims: OrderedDict[str, Any] = OrderedDict()
        self._scheds: OrderedDict[str, Any] = OrderedDict()
        self._forwards: dict[str, Any] = {}  # evaluation / single-process training (maybe compiled)
        self._train_forwards: dict[str, Any] = {}  # DDP training
        self.sync_bn = bool(sync_bn)
        # set by engines whose loss leaves parameters without a gradient (triplet with weight_x=0: the classifier)
        self.ddp_find_unused_parameters = False

        self.accel = StepAccelerator(amp=amp, channels_last=channels_last, compile=compile,
                                     clip_grad_norm=clip_grad_norm, device=self.device)  # fmt: skip
        self.config: dict | None = None  # the run's config as a plain dict, stored in checkpoints
        self.last_checkpoint: tuple[int, str] | None = None  # (epoch, path) of the latest checkpoint written
        self.evaluator = Evaluator(self, eval_settings)

    @property
    def eval_settings(self) -> EvalSettings:
        return self.evaluator.settings

    @eval_settings.setter
    def eval_settings(self, settings: EvalSettings) -> None:
        self.evaluator.settings = settings

    @property
    def last_results(self) -> dict[str, dict[str, Any]]:
        """``{dataset: {"rank1", "mAP", "mINP", "cmc"}}`` of the latest evaluation of each dataset."""
        return self.evaluator.last_results

    # ------------------------------------------------------------------------------------------------ models
    def register_model(
        self, name: str = "model", model: nn.Module = None, optim: Any = None, sched: Any = None
    ) -> None:
        for attr in ("_models", "_optims", "_scheds"):
            if self.__dict__.get(attr) is None:
                raise AttributeError(f"Cannot assign {attr[1:-1]} before super().__init__() call")
        self._models[name] = model
        self._optims[name] = optim
        self._scheds[name] = sched
        if model is not None:
            model, forward, optim = prepare_model(model, optim, self.device, self.accel, self.sync_bn)
            self._models[name], self._forwards[name], self._optims[name] = model, forward, optim

    def get_model_names(self, names: str | Sequence[str] | None = None) -> list[str]:
        names_real = list(self._models.keys())
        if names is None:
            return names_real
        names = [names] if isinstance(names, str) else names
        for name in names:
            if name not in names_real:
                raise KeyError(f"Unknown model name {name!r}; registered: {names_real}")
        return list(names)

    def forward_model(self, inputs: Any, name: str = "model") -> Any:
        """Call the (possibly compiled / DDP-wrapped) model registered as ``name``."""
        model = self._models[name]
        fn = self._train_forwards.get(name) if model.training else None
        # `is None`, not truthiness: a torch.compile wrapper's __len__ raises TypeError for most models
        if fn is None:
            fn = self._forwards.get(name)
        if fn is None:
            fn = model
        return fn(inputs) if model.training else self.accel.eval_call(fn, inputs)

    def set_model_mode(self, mode: str = "train", names: str | Sequence[str] | None = None) -> None:
        if mode not in ("train", "eval", "test"):
            raise ValueError(f"mode must be 'train', 'eval' or 'test', got {mode!r}")
        for name in self.get_model_names(names):
            self._models[name].train(mode == "train")

    def get_current_lr(self, names: str | Sequence[str] | None = None) -> float:
        name = self.get_model_names(names)[0]
        return self._optims[name].param_groups[-1]["lr"]

    def update_lr(self, names: str | Sequence[str] | None = None) -> None:
        for name in self.get_model_names(names):
            if self._scheds[name] is not None:
                self._scheds[name].step()

    def save_model(
        self, epoch: int, rank1: float, save_dir: str, is_best: bool = False, rng_state: dict | None = None
    ) -> list[str]:
        """Write ``save_dir/<name>/model.pth.tar-<epoch+1>`` for each registered model (atomically)."""
        if not dist_utils.is_main_process():
            return []
        rng_state = rng_state if rng_state is not None else get_rng_state()
        paths = []
        for name in self.get_model_names():
            sched, optim = self._scheds[name], self._optims[name]
            state = {
                "state_dict": dist_utils.unwrap_model(self._models[name]).state_dict(),
                "epoch": epoch + 1,
                "rank1": float(rank1),
                "optimizer": optim.state_dict() if optim is not None else None,
                "scheduler": sched.state_dict() if sched is not None else None,
                "rng_state": rng_state,
                "config": self.config,
                "amp": self.accel.state_dict(),
            }
            paths.append(save_checkpoint(state, osp.join(save_dir, name), is_best=is_best))
        self.last_checkpoint = (epoch + 1, paths[0]) if paths else self.last_checkpoint
        return paths

    # ------------------------------------------------------------------------------------------------ run
    # fmt: off
    def run(
        self, save_dir: str = "log", max_epoch: int = 0, start_epoch: int = 0, print_freq: int = 10,
        fixbase_epoch: int = 0, open_layers: str | Sequence[str] | None = None, start_eval: int = 0,
        eval_freq: int = -1, test_only: bool = False, dist_metric: str = "euclidean",
        normalize_feature: bool = False, visrank: bool = False, visrank_topk: int = 10,
        use_metric_cuhk03: bool = False, ranks: Sequence[int] = (1, 5, 10, 20), rerank: bool = False,
        report: bool | None = None,
    ) -> None:
        # fmt: on
        """Train ``max_epoch`` epochs (from ``start_epoch``), evaluating every ``eval_freq`` epochs and at the end;
        or only evaluate with ``test_only``. The last checkpoint is written before the final evaluation (its
        ``rank1`` filled in after it), so a failing evaluation never loses the weights. ``report`` (default
        ``engine.eval_settings.report``) writes ``save_dir/report_<dataset>.html``. Evaluation restores the RNG
        states, so the weights do not depend on ``eval_freq``."""
        if report is not None:
            self.eval_settings = self.eval_settings.replace(report=bool(report))
        test_kwargs = {"dist_metric": dist_metric, "normalize_feature": normalize_feature, "save_dir": save_dir,
                       "use_metric_cuhk03": use_metric_cuhk03, "ranks": ranks, "rerank": rerank}  # fmt: skip
        if test_only:
            self.test(visrank=visrank, visrank_topk=visrank_topk, **test_kwargs)
            return
        if max_epoch > 0 and self.train_loader is None:
            raise ValueError("This data manager has no train_loader; use test_only=True to evaluate")
        if start_epoch >= max_epoch > 0:
            warnings.warn(
                f"start_epoch={start_epoch} >= max_epoch={max_epoch}: nothing to train (resumed a finished run?)",
                stacklevel=2,
            )
        if self.writer is None and dist_utils.is_main_process():
            from ..utils.optional import require

            SummaryWriter = require("torch.utils.tensorboard", "TensorBoard logging").SummaryWriter

            self.writer = SummaryWriter(log_dir=save_dir)

        time_start = time.time()
        self.start_epoch = start_epoch
        self.max_epoch = max_epoch
        logger.info("=> Start training")
        rng_state = None
        for epoch in range(self.start_epoch, self.max_epoch):
            self.epoch = epoch
            self.train(print_freq=print_freq, fixbase_epoch=fixbase_epoch, open_layers=open_layers)
            rng_state = get_rng_state()
            done = self.epoch + 1
            if eval_freq > 0 and done >= start_eval and done % eval_freq == 0 and done != self.max_epoch:
                rank1 = self.test(**test_kwargs)
                set_rng_state(rng_state)
                self.save_model(self.epoch, rank1, save_dir, rng_state=rng_state)

        if self.max_epoch > 0 and self.start_epoch < self.max_epoch:
            # weights first: a failing final evaluation must not lose the run
            self.save_model(self.epoch, math.nan, save_dir, rng_state=rng_state)
            logger.info("=> Final test")
            rank1 = self.test(visrank=visrank, visrank_topk=visrank_topk, **test_kwargs)
            if rng_state is not None:
                set_rng_state(rng_state)
            self.save_model(self.epoch, rank1, save_dir, rng_state=rng_state)

        elapsed = str(datetime.timedelta(seconds=round(time.time() - time_start)))
        logger.info(f"Elapsed {elapsed}")
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # ------------------------------------------------------------------------------------------------ train
    def train(self, print_freq: int = 10, fixbase_epoch: int = 0, open_layers: Any = None) -> None:
        losses = MetricMeter()
        batch_time = AverageMeter()
        data_time = AverageMeter()

        self.set_model_mode("train")
        # wrap in DDP while every layer is trainable (frozen layers are then "unused" during fixbase epochs)
        self._prepare_ddp(
            find_unused=(fixbase_epoch > self.epoch and open_layers is not None)
            or self.ddp_find_unused_parameters
        )
        self.two_stepped_transfer_learning(self.epoch, fixbase_epoch, open_layers)

        for attr in ("sampler", "batch_sampler"):
            obj = getattr(self.train_loader, attr, None)
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(self.epoch)

        self.num_batches = len(self.train_loader)
        if self.num_batches == 0:
            raise RuntimeError(
                "The training loader yields no batch (fewer training images than train.batch_size with "
                "drop_last); lower train.batch_size"
            )
        end = time.time()
        for batch_idx, data in enumerate(self._train_iterable()):
            self.batch_idx = batch_idx
            data_time.update(time.time() - end)
            self.accel.mark_step_begin()
            loss_summary = self.forward_backward(data)
            batch_time.update(time.time() - end)
            losses.update(loss_summary)

            if print_freq > 0 and (self.batch_idx + 1) % print_freq == 0:
                remaining = (self.max_epoch - self.epoch) * self.num_batches - (self.batch_idx + 1)
                eta_str = str(datetime.timedelta(seconds=int(batch_time.avg * remaining)))
                logger.info(
                    f"epoch: [{self.epoch + 1}/{self.max_epoch}][{self.batch_idx + 1}/{self.num_batches}]\t"
                    f"time {batch_time.val:.3f} ({batch_time.avg:.3f})\t"
                    f"data {data_time.val:.3f} ({data_time.avg:.3f})\t"
                    f"eta {eta_str}\t"
                    f"{losses}\t"
                    f"lr {self.get_current_lr():.6f}"
                )

            if self.writer is not None:
                n_iter = self.epoch * self.num_batches + self.batch_idx
                self.writer.add_scalar("Train/time", batch_time.avg, n_iter)
                self.writer.add_scalar("Train/data", data_time.avg, n_iter)
                for name, meter in losses.meters.items():
                    self.writer.add_scalar("Train/" + name, meter.avg, n_iter)
                self.writer.add_scalar("Train/lr", self.get_current_lr(), n_iter)
            end = time.time()

        self.update_lr()

    @abc.abstractmethod
    def forward_backward(self, data: dict[str, Any]) -> dict[str, float]:
        """One training step on ``data``; return ``{loss_name: value}`` (floats) for logging."""

    def _prepare_ddp(self, find_unused: bool = False) -> None:
        """Under ``torchrun`` (several processes) build each model's DDP training forward once."""
        for name, model in self._models.items():
            if model is not None and name not in self._train_forwards:
                forward = ddp_forward(model, self.accel, find_unused)
                if forward is None:
                    return  # a single process
                self._train_forwards[name] = forward

    def _train_iterable(self) -> Any:
        """The training loader, on CUDA wrapped in a side-stream prefetcher that also applies the datamanager's
        on-device augmentation (``data.gpu_augment``)."""
        gpu_tf = getattr(self.datamanager, "gpu_transform", None)
        if self.use_gpu or gpu_tf is not None:
            return DevicePrefetcher(
                self.train_loader,
                device=self.device if self.use_gpu else None,
                transform=gpu_tf,
                channels_last=self.accel.channels_last,
            )
        return self.train_loader

    def optimize(self, loss: torch.Tensor, name: str = "model") -> None:
        """``zero_grad`` → ``backward`` → NaN/inf check → (clip) → ``step`` for the model ``name``; a non-finite
        loss raises :class:`NonFiniteLossError` naming the epoch and batch, before the weights change."""
        where = f"epoch {self.epoch + 1}/{self.max_epoch}, batch {self.batch_idx + 1}/{self.num_batches} "
        where += f"(lr {self.get_current_lr(name):.6g})"
        self.accel.backward_and_step(loss, self._optims[name], where=where)

    def autocast(self) -> Any:
        return self.accel.autocast()

    def to_device(self, *tensors: Any) -> Any:
        """Move tensors to the engine's device (and channels_last for 4-D images when enabled)."""
        out = [self.accel.prepare_inputs(t) for t in tensors]
        return out[0] if len(out) == 1 else tuple(out)

    # ------------------------------------------------------------------------------------------------ test
    # fmt: off
    @torch.no_grad()
    def test(
        self, dist_metric: str = "euclidean", normalize_feature: bool = False, visrank: bool = False,
        visrank_topk: int = 10, save_dir: str = "", use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20), rerank: bool = False,
    ) -> float:
        # fmt: on
        """Evaluate on every target dataset; return rank-1 of the last one."""
        self.set_model_mode("eval")
        # under DDP the ranks' BatchNorm statistics drift apart after the last training forward: evaluate every
        # shard with rank 0's, the model rank 0 checkpoints
        for model in self._models.values():
            if model is not None:
                dist_utils.broadcast_buffers(model)
        targets = list(self.test_loader.keys())
        if not targets:
            raise ValueError("No test dataset: set data.targets")
        rank1 = 0.0
        sources = getattr(self.datamanager, "sources", []) or []
        for name in targets:
            domain = "source" if name in sources else "target"
            logger.info(f"##### Evaluating {name} ({domain}) #####")
            loaders = self.test_loader[name]
            rank1, mAP = self._evaluate(
                dataset_name=name, query_loader=loaders["query"], gallery_loader=loaders["gallery"],
                dist_metric=dist_metric, normalize_feature=normalize_feature, visrank=visrank,
                visrank_topk=visrank_topk, save_dir=save_dir, use_metric_cuhk03=use_metric_cuhk03, ranks=ranks,
                rerank=rerank,
            )  # fmt: skip
            if self.writer is not None:
                self.writer.add_scalar(f"Test/{name}/rank1", rank1, self.epoch)
                self.writer.add_scalar(f"Test/{name}/mAP", mAP, self.epoch)
        return rank1

    # fmt: off
    @torch.no_grad()
    def _evaluate(
        self, dataset_name: str = "", query_loader: Any = None, gallery_loader: Any = None,
        dist_metric: str = "euclidean", normalize_feature: bool = False, visrank: bool = False,
        visrank_topk: int = 10, save_dir: str = "", use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20), rerank: bool = False,
    ) -> tuple[float, float]:
        # fmt: on
        """Evaluate one dataset with ``self.evaluator`` (the arguments override ``self.eval_settings``)."""
        options = {k: v for k, v in locals().items() if k in _TEST_OPTIONS}  # the original test() arguments
        settings = self.eval_settings.replace(**options)
        return self.evaluator.evaluate(dataset_name, query_loader, gallery_loader, settings)

    @torch.no_grad()
    def _feature_extraction(self, data_loader: Any) -> tuple[torch.Tensor, Any, Any]:
        """``(features, pids, camids)`` of a loader, through ``parse_data_for_eval`` and ``extract_features``."""
        return self.evaluator.extract(data_loader)

    # ------------------------------------------------------------------------------------------------ hooks
    def visualize_ranked_results(self, distmat: Any, dataset_name: str, save_dir: str, topk: int) -> None:
        """Write ranked-result images of ``dataset_name`` under ``save_dir/visrank_<dataset_name>`` (video
        engines override this to draw tracklets as strips of frames)."""
        from ..evaluation.visrank import visualize_ranked_results

        visualize_ranked_results(
            distmat,
            self.datamanager.fetch_test_loaders(dataset_name),
            self.datamanager.data_type,
            width=self.datamanager.width,
            height=self.datamanager.height,
            save_dir=osp.join(save_dir, "visrank_" + dataset_name),
            topk=topk,
        )

    def compute_loss(self, criterion: Any, outputs: Any, targets: torch.Tensor) -> torch.Tensor:
        """``criterion(outputs, targets)``; averaged over the outputs when the model returns several."""
        if isinstance(outputs, (tuple, list)):
            from ..losses import DeepSupervision

            return DeepSupervision(criterion, outputs, targets)
        return criterion(outputs, targets)

    def extract_features(self, input: torch.Tensor) -> torch.Tensor:
        return self.forward_model(input)

    def parse_data_for_train(self, data: dict[str, Any]) -> tuple[Any, torch.Tensor]:
        return data["img"], data["pid"]

    def parse_data_for_eval(self, data: dict[str, Any]) -> tuple[Any, torch.Tensor, torch.Tensor]:
        return data["img"], data["pid"], data["camid"]

    def two_stepped_transfer_learning(
        self, epoch: int, fixbase_epoch: int, open_layers: Any, model: nn.Module | None = None
    ) -> None:
        """Train only ``open_layers`` for the first ``fixbase_epoch`` epochs, then every layer."""
        from ..utils.torchtools import open_all_layers, open_specified_layers

        model = self.model if model is None else model
        if model is None:
            return
        if (epoch + 1) <= fixbase_epoch and open_layers is not None:
            layers = self._resolve_open_layers(model, open_layers)
            logger.info(f"* Only train {layers} (epoch: {epoch + 1}/{fixbase_epoch})")
            open_specified_layers(model, layers)
        else:
            open_all_layers(model)

    _resolve_open_layers = staticmethod(resolve_open_layers)
