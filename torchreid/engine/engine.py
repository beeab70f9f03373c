"""The Engine template: training loop, logging, TensorBoard, checkpoints and evaluation.

A concrete engine (image/video x softmax/triplet) implements only :meth:`Engine.forward_backward`; video engines
additionally override the feature pooling (:meth:`Engine.extract_features`) and the ``parse_data_*`` hooks.
How one optimisation step runs (AMP, channels_last, ``torch.compile``, gradient clipping, the NaN check) lives in
one place, :meth:`Engine.optimize`, backed by :class:`~torchreid.engine.accel.StepAccelerator`.
"""

from __future__ import annotations

import abc
import datetime
import difflib
import os.path as osp
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.prefetch import DevicePrefetcher
from ..utils import distributed as dist_utils
from ..utils.avgmeter import AverageMeter, MetricMeter
from ..utils.checkpoint import get_rng_state, save_checkpoint, set_rng_state
from .accel import NonFiniteLossError, StepAccelerator

__all__ = ["Engine", "NonFiniteLossError"]


def _unwrap(model: nn.Module) -> nn.Module:
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _host_distance_matrix(a: torch.Tensor, b: torch.Tensor, metric: str, block_rows: int | None = None):
    """Dense ``a x b`` distance matrix as a NumPy array. On a GPU it is computed in blocks of rows copied to the
    host one by one: a gallery x gallery matrix (re-ranking) can be far larger than GPU memory (MSMT17: 27 GB)."""
    from ..metrics import compute_distance_matrix

    m, n = a.shape[0], b.shape[0]
    if block_rows is None:
        block_rows = m if a.device.type == "cpu" else max(1, (1 << 26) // max(n, 1))
    if block_rows >= m:
        return compute_distance_matrix(a, b, metric).cpu().numpy()
    out = np.empty((m, n), dtype=np.float32)
    for s in range(0, m, block_rows):
        out[s : s + block_rows] = compute_distance_matrix(a[s : s + block_rows], b, metric).cpu().numpy()
    return out


def _is_main_process() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class Engine(abc.ABC):
    """Base engine: owns the loop, logging, TensorBoard, checkpointing and evaluation.

    Args:
        datamanager: an ``ImageDataManager`` / ``VideoDataManager`` (needs ``train_loader``, ``test_loader``,
            ``sources``, and for visrank ``fetch_test_loaders``, ``data_type``, ``height``, ``width``).
        use_gpu: use CUDA when available.
        amp, channels_last, compile, clip_grad_norm: how the training step runs (see
            :class:`~torchreid.engine.accel.StepAccelerator`); the defaults give the original fp32 step.
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
    ) -> None:
        self.datamanager = datamanager
        self.train_loader = getattr(datamanager, "train_loader", None)
        self.test_loader = getattr(datamanager, "test_loader", {})
        self.use_gpu = bool(torch.cuda.is_available() and use_gpu)
        self.device = torch.device("cuda" if self.use_gpu else "cpu")
        self.writer: Any = None
        self.epoch = 0
        self.start_epoch = 0
        self.max_epoch = 0
        self.batch_idx = 0
        self.num_batches = 0

        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self._models: OrderedDict[str, nn.Module] = OrderedDict()
        self._optims: OrderedDict[str, Any] = OrderedDict()
        self._scheds: OrderedDict[str, Any] = OrderedDict()
        self._forwards: dict[str, Any] = {}
        # DDP (torchrun): training forwards wrap the models in DistributedDataParallel (built in train());
        # evaluation uses the plain (or compiled) model on each rank's shard of query/gallery.
        self.sync_bn = bool(sync_bn)
        self._train_forwards: dict[str, Any] = {}
        # set by engines whose loss leaves parameters without a gradient (triplet with weight_x=0: the classifier)
        self.ddp_find_unused_parameters = False

        self.accel = StepAccelerator(
            amp=amp,
            channels_last=channels_last,
            compile=compile,
            clip_grad_norm=clip_grad_norm,
            device=self.device,
        )
        self.config: dict | None = None  # plain dict stored in checkpoints (set by scripts/main.py)
        self.last_results: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------------------ models
    def register_model(
        self, name: str = "model", model: nn.Module = None, optim: Any = None, sched: Any = None
    ) -> None:
        if self.__dict__.get("_models") is None:
            raise AttributeError("Cannot assign model before super().__init__() call")
        if self.__dict__.get("_optims") is None:
            raise AttributeError("Cannot assign optim before super().__init__() call")
        if self.__dict__.get("_scheds") is None:
            raise AttributeError("Cannot assign sched before super().__init__() call")
        self._models[name] = model
        self._optims[name] = optim
        self._scheds[name] = sched
        if model is not None:
            self._move_to_device(model, optim)
            if self.sync_bn:
                model = dist_utils.convert_sync_bn(model)  # no-op (with a warning) off CUDA or on one process
                self._models[name] = model
            self._forwards[name] = self.accel.prepare_model(model)
            if optim is not None:
                self._optims[name] = self.accel.prepare_optimizer(optim)

    def _move_to_device(self, model: nn.Module, optim: Any) -> None:
        """Put a model left on the CPU onto the engine's GPU (the original's examples called ``model.cuda()``;
        without it the first batch fails with an input/weight device mismatch). ``Module.to`` keeps the
        parameter objects, so ``optim`` stays valid; its state tensors follow (``step`` counters stay put)."""
        param = next(model.parameters(), None)
        if not self.use_gpu or param is None or param.device.type == self.device.type:
            return
        model.to(self.device)
        if optim is not None:
            for state in optim.state.values():
                for k, v in state.items():
                    if k != "step" and isinstance(v, torch.Tensor):
                        state[k] = v.to(self.device)

    def get_model_names(self, names: str | Sequence[str] | None = None) -> list[str]:
        names_real = list(self._models.keys())
        if names is None:
            return names_real
        if isinstance(names, str):
            names = [names]
        for name in names:
            if name not in names_real:
                raise KeyError(f"Unknown model name {name!r}; registered: {names_real}")
        return list(names)

    def forward_model(self, inputs: Any, name: str = "model") -> Any:
        """Call the (possibly compiled) model registered as ``name``."""
        model = self._models[name]
        fn = self._train_forwards.get(name) if model.training else None
        # `is None`, not truthiness: a torch.compile wrapper's __len__ raises TypeError for most models
        if fn is None:
            fn = self._forwards.get(name)
        if fn is None:
            fn = model
        if model.training or not self.accel.uses_cudagraphs:
            return fn(inputs)
        # evaluation with CUDA graphs (compile 'reduce-overhead'/'max-autotune'): every call is a new graph
        # iteration whose replay overwrites the previous call's outputs, but evaluation keeps each batch's
        # features (and video engines each chunk's) until all are concatenated, so hand out copies
        self.accel.mark_step_begin()
        out = fn(inputs)
        if isinstance(out, torch.Tensor):
            return out.clone()
        if isinstance(out, (tuple, list)):
            return type(out)(o.clone() if isinstance(o, torch.Tensor) else o for o in out)
        return out

    def set_model_mode(self, mode: str = "train", names: str | Sequence[str] | None = None) -> None:
        if mode not in ("train", "eval", "test"):
            raise ValueError(f"mode must be 'train', 'eval' or 'test', got {mode!r}")
        for name in self.get_model_names(names):
            if mode == "train":
                self._models[name].train()
            else:
                self._models[name].eval()

    def get_current_lr(self, names: str | Sequence[str] | None = None) -> float:
        name = self.get_model_names(names)[0]
        return self._optims[name].param_groups[-1]["lr"]

    def update_lr(self, names: str | Sequence[str] | None = None) -> None:
        for name in self.get_model_names(names):
            if self._scheds[name] is not None:
                self._scheds[name].step()

    def save_model(
        self,
        epoch: int,
        rank1: float,
        save_dir: str,
        is_best: bool = False,
        rng_state: dict | None = None,
    ) -> list[str]:
        """Write ``save_dir/<name>/model.pth.tar-<epoch+1>`` for each registered model (atomically)."""
        if not _is_main_process():
            return []
        rng_state = rng_state if rng_state is not None else get_rng_state()
        paths = []
        for name in self.get_model_names():
            sched = self._scheds[name]
            optim = self._optims[name]
            state = {
                "state_dict": _unwrap(self._models[name]).state_dict(),
                "epoch": epoch + 1,
                "rank1": float(rank1),
                "optimizer": optim.state_dict() if optim is not None else None,
                "scheduler": sched.state_dict() if sched is not None else None,
                "rng_state": rng_state,
                "config": self.config,
                "amp": self.accel.state_dict(),
            }
            paths.append(save_checkpoint(state, osp.join(save_dir, name), is_best=is_best))
        return paths

    # ------------------------------------------------------------------------------------------------ run
    def run(
        self,
        save_dir: str = "log",
        max_epoch: int = 0,
        start_epoch: int = 0,
        print_freq: int = 10,
        fixbase_epoch: int = 0,
        open_layers: str | Sequence[str] | None = None,
        start_eval: int = 0,
        eval_freq: int = -1,
        test_only: bool = False,
        dist_metric: str = "euclidean",
        normalize_feature: bool = False,
        visrank: bool = False,
        visrank_topk: int = 10,
        use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20),
        rerank: bool = False,
        report: bool = False,
    ) -> None:
        """Train for ``max_epoch`` epochs (from ``start_epoch``), evaluating every ``eval_freq`` epochs and at the
        end; or only evaluate with ``test_only``.

        ``visrank`` writes ranked-result images during test-only runs and the final evaluation of a training run.
        ``report`` writes a self-contained HTML page per evaluated dataset (``save_dir/report_<dataset>.html``).
        Evaluation never changes the random-number streams of training: the RNG states are restored after each
        evaluation, so the weights do not depend on ``eval_freq``, and a checkpoint stores the training RNG
        state (a resumed run continues identically).
        """
        test_kwargs = {
            "dist_metric": dist_metric,
            "normalize_feature": normalize_feature,
            "save_dir": save_dir,
            "use_metric_cuhk03": use_metric_cuhk03,
            "ranks": ranks,
            "rerank": rerank,
            "report": report,
        }
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

        if self.writer is None and _is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=save_dir)

        time_start = time.time()
        self.start_epoch = start_epoch
        self.max_epoch = max_epoch
        print("=> Start training")
        rng_state = None
        for epoch in range(self.start_epoch, self.max_epoch):
            self.epoch = epoch
            self.train(print_freq=print_freq, fixbase_epoch=fixbase_epoch, open_layers=open_layers)
            rng_state = get_rng_state()
            if (
                (self.epoch + 1) >= start_eval
                and eval_freq > 0
                and (self.epoch + 1) % eval_freq == 0
                and (self.epoch + 1) != self.max_epoch
            ):
                rank1 = self.test(**test_kwargs)
                set_rng_state(rng_state)
                self.save_model(self.epoch, rank1, save_dir, rng_state=rng_state)

        if self.max_epoch > 0 and self.start_epoch < self.max_epoch:
            print("=> Final test")
            rank1 = self.test(visrank=visrank, visrank_topk=visrank_topk, **test_kwargs)
            if rng_state is not None:
                set_rng_state(rng_state)
            self.save_model(self.epoch, rank1, save_dir, rng_state=rng_state)

        elapsed = str(datetime.timedelta(seconds=round(time.time() - time_start)))
        print(f"Elapsed {elapsed}")
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

        sampler = getattr(self.train_loader, "sampler", None)
        for obj in (sampler, getattr(self.train_loader, "batch_sampler", None)):
            if obj is not None and hasattr(obj, "set_epoch"):
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
                nb_this_epoch = self.num_batches - (self.batch_idx + 1)
                nb_future_epochs = (self.max_epoch - (self.epoch + 1)) * self.num_batches
                eta_seconds = batch_time.avg * (nb_this_epoch + nb_future_epochs)
                eta_str = str(datetime.timedelta(seconds=int(eta_seconds)))
                print(
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
        """Under ``torchrun`` (several processes) wrap each registered model in DistributedDataParallel once,
        then compile it when ``train.compile`` is set. No-op in a single process."""
        if not dist_utils.is_distributed():
            return
        for name, model in self._models.items():
            if model is None or name in self._train_forwards:
                continue
            ddp = dist_utils.wrap_ddp(model, find_unused_parameters=find_unused)
            self._train_forwards[name] = self.accel.compile(ddp)

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

    @staticmethod
    def _shard_loader(loader: Any) -> Any:
        """Under DDP, a copy of an evaluation loader that reads only this rank's contiguous shard.

        A set smaller than the number of processes is not sharded (every rank reads all of it): an empty shard
        would leave that rank without features while the others wait for them.
        """
        sampler = getattr(loader, "sampler", None)
        if not dist_utils.is_distributed() or isinstance(sampler, dist_utils.ShardSampler):
            return loader
        if len(loader.dataset) < dist_utils.get_world_size():
            return loader
        return torch.utils.data.DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            sampler=dist_utils.ShardSampler(loader.dataset),
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            drop_last=False,
        )

    def optimize(self, loss: torch.Tensor, name: str = "model") -> None:
        """``zero_grad`` → ``backward`` → NaN/inf check → (clip) → ``step`` for the model ``name``.

        A non-finite loss raises :class:`NonFiniteLossError` naming the epoch and batch, before the weights
        change.
        """
        where = (
            f"epoch {self.epoch + 1}/{self.max_epoch}, batch {self.batch_idx + 1}/{self.num_batches} "
            f"(lr {self.get_current_lr(name):.6g})"
        )
        self.accel.backward_and_step(loss, self._optims[name], where=where)

    def autocast(self) -> Any:
        return self.accel.autocast()

    def to_device(self, *tensors: Any) -> Any:
        """Move tensors to the engine's device (and channels_last for 4-D images when enabled)."""
        out = [self.accel.prepare_inputs(t) for t in tensors]
        return out[0] if len(out) == 1 else tuple(out)

    # ------------------------------------------------------------------------------------------------ test
    @torch.no_grad()
    def test(
        self,
        dist_metric: str = "euclidean",
        normalize_feature: bool = False,
        visrank: bool = False,
        visrank_topk: int = 10,
        save_dir: str = "",
        use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20),
        rerank: bool = False,
        report: bool = False,
    ) -> float:
        """Evaluate on every target dataset; return rank-1 of the last one."""
        self.set_model_mode("eval")
        # under DDP each rank's BatchNorm running statistics drift apart after the last training forward (DDP
        # broadcasts buffers only at the start of a forward): evaluate every shard with rank 0's, the model that
        # rank 0 checkpoints
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
            print(f"##### Evaluating {name} ({domain}) #####")
            query_loader = self.test_loader[name]["query"]
            gallery_loader = self.test_loader[name]["gallery"]
            rank1, mAP = self._evaluate(
                dataset_name=name,
                query_loader=query_loader,
                gallery_loader=gallery_loader,
                dist_metric=dist_metric,
                normalize_feature=normalize_feature,
                visrank=visrank,
                visrank_topk=visrank_topk,
                save_dir=save_dir,
                use_metric_cuhk03=use_metric_cuhk03,
                ranks=ranks,
                rerank=rerank,
                report=report,
            )
            if self.writer is not None:
                self.writer.add_scalar(f"Test/{name}/rank1", rank1, self.epoch)
                self.writer.add_scalar(f"Test/{name}/mAP", mAP, self.epoch)
        return rank1

    @torch.no_grad()
    def _feature_extraction(self, data_loader: Any, batch_time: AverageMeter) -> tuple:
        f_, pids_, camids_ = [], [], []
        data_loader = self._shard_loader(data_loader)
        for data in data_loader:
            imgs, pids, camids = self.parse_data_for_eval(data)
            imgs = self.to_device(imgs)
            end = time.time()
            with self.autocast():
                features = self.extract_features(imgs)
            if isinstance(features, (tuple, list)):
                raise TypeError(
                    f"In eval mode the model must return a feature tensor, got a {type(features).__name__}"
                )
            features = features.float()
            if features.is_cuda:
                torch.cuda.synchronize()
            batch_time.update(time.time() - end)
            f_.append(features)  # kept on the device: evaluation runs there too
            pids_.extend(torch.as_tensor(pids).tolist())
            camids_.extend(torch.as_tensor(camids).tolist())
        if not f_:
            raise ValueError("An evaluation loader yielded no data (empty query or gallery set)")
        feats, pids_arr, camids_arr = torch.cat(f_, 0), np.asarray(pids_), np.asarray(camids_)
        if isinstance(getattr(data_loader, "sampler", None), dist_utils.ShardSampler):
            # every rank gets all shards, in dataset order
            feats, pids_arr, camids_arr = dist_utils.gather_features(feats, pids_arr, camids_arr)
        return feats, pids_arr, camids_arr

    @torch.no_grad()
    def _evaluate(
        self,
        dataset_name: str = "",
        query_loader: Any = None,
        gallery_loader: Any = None,
        dist_metric: str = "euclidean",
        normalize_feature: bool = False,
        visrank: bool = False,
        visrank_topk: int = 10,
        save_dir: str = "",
        use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20),
        rerank: bool = False,
        report: bool = False,
    ) -> tuple[float, float]:
        from ..metrics import evaluate_rank, evaluate_rank_from_features

        batch_time = AverageMeter()
        print("Extracting features from query set ...")
        qf, q_pids, q_camids = self._feature_extraction(query_loader, batch_time)
        print(f"Done, obtained {qf.size(0)}-by-{qf.size(1)} matrix")
        print("Extracting features from gallery set ...")
        gf, g_pids, g_camids = self._feature_extraction(gallery_loader, batch_time)
        print(f"Done, obtained {gf.size(0)}-by-{gf.size(1)} matrix")
        print(f"Speed: {batch_time.avg:.4f} sec/batch")

        if normalize_feature:
            print("Normalzing features with L2 norm ...")
            qf = F.normalize(qf, p=2, dim=1)
            gf = F.normalize(gf, p=2, dim=1)

        main = _is_main_process()
        distmat = None
        if rerank or (visrank and main):
            # these need the dense query x gallery matrix
            print(f"Computing distance matrix with metric={dist_metric} ...")
            distmat = _host_distance_matrix(qf, gf, dist_metric)
            if rerank:
                from ..utils.rerank import re_ranking

                print("Applying person re-ranking ...")
                distmat_qq = _host_distance_matrix(qf, qf, dist_metric)
                distmat_gg = _host_distance_matrix(gf, gf, dist_metric)
                distmat = re_ranking(distmat, distmat_qq, distmat_gg)
            print("Computing CMC and mAP ...")
            result = evaluate_rank(
                distmat,
                q_pids,
                g_pids,
                q_camids,
                g_camids,
                use_metric_cuhk03=use_metric_cuhk03,
                return_details=True,
            )
        else:
            # fastest path for the device: distances and ranks block by block (on the GPU when features are there),
            # the full query x gallery matrix never exists
            print(f"Computing CMC and mAP (metric={dist_metric}, on {qf.device.type}) ...")
            result = evaluate_rank_from_features(
                qf,
                gf,
                q_pids,
                g_pids,
                q_camids,
                g_camids,
                metric=dist_metric,
                use_metric_cuhk03=use_metric_cuhk03,
                return_details=True,
            )
        cmc = np.asarray(result.cmc)
        mAP = float(result.mAP)

        print("** Results **")
        print(f"mAP: {mAP:.1%}")
        print(f"mINP: {result.mINP:.1%}")
        print("CMC curve")
        for r in ranks:
            if 1 <= r <= len(cmc):
                print(f"Rank-{r:<3}: {cmc[r - 1]:.1%}")
        self.last_results[dataset_name] = {
            "rank1": float(cmc[0]),
            "mAP": mAP,
            "mINP": result.mINP,
            "cmc": cmc,
        }

        if visrank and main:
            self.visualize_ranked_results(distmat, dataset_name, save_dir, visrank_topk)
        if report and main:
            self._write_report(dataset_name, save_dir, result, qf, gf, distmat, dist_metric, ranks)
        return float(cmc[0]), mAP

    def _write_report(
        self,
        dataset_name: str,
        save_dir: str,
        result: Any,
        qf: torch.Tensor,
        gf: torch.Tensor,
        distmat: np.ndarray | None,
        dist_metric: str,
        ranks: Sequence[int],
    ) -> None:
        """HTML report of one evaluation; only the rows of the shown queries are needed, so no dense matrix."""
        from ..metrics import compute_distance_matrix
        from ..utils.report import write_html_report

        query, gallery = self.datamanager.fetch_test_loaders(dataset_name)
        valid = np.flatnonzero(result.valid_query)
        order = valid[np.argsort(-np.asarray(result.all_AP), kind="stable")]  # best AP first
        shown = np.unique(np.concatenate([order[:6], order[-6:]]))
        if distmat is not None:
            rows = distmat[shown]
        else:
            rows = compute_distance_matrix(qf[torch.as_tensor(shown, device=qf.device)], gf, dist_metric)
            rows = rows.cpu().numpy()
        path = write_html_report(
            osp.join(save_dir, f"report_{dataset_name}.html"),
            dataset_name,
            result.cmc,
            result.mAP,
            rows,
            [query[i] for i in shown],
            gallery,
            mINP=result.mINP,
            ranks=[r for r in ranks if 1 <= r <= len(result.cmc)],
            num_valid_q=result.num_valid_q,
            num_q=result.num_q,
        )
        print(f'Evaluation report written to "{path}"')

    # ------------------------------------------------------------------------------------------------ hooks
    def visualize_ranked_results(
        self, distmat: np.ndarray, dataset_name: str, save_dir: str, topk: int
    ) -> None:
        """Write ranked-result images of ``dataset_name`` under ``save_dir/visrank_<dataset_name>`` (video
        engines override this to draw tracklets as strips of frames)."""
        from ..utils.reidtools import visualize_ranked_results

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
            print(f"* Only train {layers} (epoch: {epoch + 1}/{fixbase_epoch})")
            open_specified_layers(model, layers)
        else:
            open_all_layers(model)

    @staticmethod
    def _resolve_open_layers(model: nn.Module, open_layers: Any) -> list[str]:
        """Map misspelt layer names to their close match with a warning (the original's shipped configs said
        'classsifier'); an unknown name without a close match is left for ``open_specified_layers`` to reject."""
        layers = [open_layers] if isinstance(open_layers, str) else list(open_layers)
        children = [n for n, _ in _unwrap(model).named_children()]
        out = []
        for layer in layers:
            if layer not in children:
                close = difflib.get_close_matches(layer, children, n=1, cutoff=0.8)
                if close:
                    warnings.warn(
                        f"open_layers: {layer!r} is not a layer of the model; using {close[0]!r}",
                        stacklevel=3,
                    )
                    layer = close[0]
            if layer not in out:
                out.append(layer)
        return out
