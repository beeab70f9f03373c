"""Config → keyword arguments of the library's constructors (the original Torchreid's helpers).

``imagedata_kwargs(cfg)`` feeds :class:`~torchreid.data.ImageDataManager`, ``videodata_kwargs`` the video manager,
``optimizer_kwargs`` :func:`~torchreid.optim.build_optimizer`, ``lr_scheduler_kwargs``
:func:`~torchreid.optim.build_lr_scheduler` and ``engine_run_kwargs`` :meth:`Engine.run`; :func:`cfg_to_dict`
turns a config into plain data for checkpoints.
"""

from __future__ import annotations

from typing import Any

from yacs.config import CfgNode

__all__ = [
    "cfg_to_dict",
    "engine_run_kwargs",
    "imagedata_kwargs",
    "lr_scheduler_kwargs",
    "optimizer_kwargs",
    "videodata_kwargs",
]


def cfg_to_dict(cfg: CfgNode) -> dict:
    """Plain nested dict of ``cfg`` (safe to store in a ``weights_only`` checkpoint)."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, CfgNode):
            out[k] = cfg_to_dict(v)
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def _use_gpu(cfg: CfgNode) -> bool:
    from torchreid.utils.distributed import resolve_device

    return resolve_device(bool(cfg.get("use_gpu", True))).type == "cuda"


def imagedata_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        "root": cfg.data.root,
        "sources": cfg.data.sources,
        "targets": cfg.data.targets,
        "height": cfg.data.height,
        "width": cfg.data.width,
        "transforms": cfg.data.transforms,
        "k_tfm": cfg.data.k_tfm,
        "norm_mean": cfg.data.norm_mean,
        "norm_std": cfg.data.norm_std,
        "use_gpu": _use_gpu(cfg),
        "split_id": cfg.data.split_id,
        "combineall": cfg.data.combineall,
        "load_train_targets": cfg.data.load_train_targets,
        "batch_size_train": cfg.train.batch_size,
        "batch_size_test": cfg.test.batch_size,
        "workers": cfg.data.workers,
        # new: on-device augmentation (passed only when on, so other data managers keep working)
        **({"gpu_augment": True} if cfg.data.get("gpu_augment", False) else {}),
        "num_instances": cfg.sampler.num_instances,
        "num_cams": cfg.sampler.num_cams,
        "num_datasets": cfg.sampler.num_datasets,
        "train_sampler": cfg.sampler.train_sampler,
        "train_sampler_t": cfg.sampler.train_sampler_t,
        # image dataset specific
        "cuhk03_labeled": cfg.cuhk03.labeled_images,
        "cuhk03_classic_split": cfg.cuhk03.classic_split,
        "market1501_500k": cfg.market1501.use_500k_distractors,
        # custom data (the 'custom' dataset), passed only when set
        **{f"custom_{k}": cfg.custom[k] for k in ("train", "query", "gallery") if cfg.custom[k]},
    }


# keys of imagedata_kwargs that VideoDataManager does not take
_IMAGE_ONLY_KEYS = (
    "k_tfm",
    "load_train_targets",
    "train_sampler_t",
    "cuhk03_labeled",
    "cuhk03_classic_split",
    "market1501_500k",
    "custom_train",
    "custom_query",
    "custom_gallery",
)


def videodata_kwargs(cfg: CfgNode) -> dict[str, Any]:
    kwargs = {k: v for k, v in imagedata_kwargs(cfg).items() if k not in _IMAGE_ONLY_KEYS}
    # video specific
    kwargs["seq_len"] = cfg.video.seq_len
    kwargs["sample_method"] = cfg.video.sample_method
    return kwargs


def optimizer_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        "optim": cfg.train.optim,
        "lr": cfg.train.lr,
        "weight_decay": cfg.train.weight_decay,
        "momentum": cfg.sgd.momentum,
        "sgd_dampening": cfg.sgd.dampening,
        "sgd_nesterov": cfg.sgd.nesterov,
        "rmsprop_alpha": cfg.rmsprop.alpha,
        "adam_beta1": cfg.adam.beta1,
        "adam_beta2": cfg.adam.beta2,
        "staged_lr": cfg.train.staged_lr,
        "new_layers": cfg.train.new_layers,
        "base_lr_mult": cfg.train.base_lr_mult,
    }


def lr_scheduler_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        "lr_scheduler": cfg.train.lr_scheduler,
        "stepsize": cfg.train.stepsize,
        "gamma": cfg.train.gamma,
        "max_epoch": cfg.train.max_epoch,
        "warmup_epochs": cfg.train.get("warmup_epochs", 0),
        "warmup_factor": cfg.train.get("warmup_factor", 0.1),
    }


def engine_run_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        "save_dir": cfg.data.save_dir,
        "max_epoch": cfg.train.max_epoch,
        "start_epoch": cfg.train.start_epoch,
        "fixbase_epoch": cfg.train.fixbase_epoch,
        "open_layers": cfg.train.open_layers,
        "start_eval": cfg.test.start_eval,
        "eval_freq": cfg.test.eval_freq,
        "test_only": cfg.test.evaluate,
        "print_freq": cfg.train.print_freq,
        "dist_metric": cfg.test.dist_metric,
        "normalize_feature": cfg.test.normalize_feature,
        "visrank": cfg.test.visrank,
        "visrank_topk": cfg.test.visrank_topk,
        "use_metric_cuhk03": cfg.cuhk03.use_metric_cuhk03,
        "ranks": cfg.test.ranks,
        "rerank": cfg.test.rerank,
        "report": cfg.test.report,
    }
