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


def _same_names(section: CfgNode, names: str) -> dict[str, Any]:
    """``{name: section.name}`` for the space-separated ``names``: arguments named as their config keys."""
    return {name: section[name] for name in names.split()}


def imagedata_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        **_same_names(
            cfg.data,
            "root sources targets height width transforms k_tfm norm_mean norm_std split_id combineall "
            "load_train_targets workers",
        ),
        "use_gpu": _use_gpu(cfg),
        "batch_size_train": cfg.train.batch_size,
        "batch_size_test": cfg.test.batch_size,
        # new: on-device augmentation (passed only when on, so other data managers keep working)
        **({"gpu_augment": True} if cfg.data.get("gpu_augment", False) else {}),
        **_same_names(cfg.sampler, "num_instances num_cams num_datasets train_sampler train_sampler_t"),
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
    return {**kwargs, **_same_names(cfg.video, "seq_len sample_method")}  # video specific


def optimizer_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        **_same_names(cfg.train, "optim lr weight_decay staged_lr new_layers base_lr_mult"),
        "momentum": cfg.sgd.momentum,
        # the options of one optimizer are named <optimizer>_<key>
        **{f"sgd_{k}": cfg.sgd[k] for k in ("dampening", "nesterov")},
        "rmsprop_alpha": cfg.rmsprop.alpha,
        **{f"adam_{k}": cfg.adam[k] for k in ("beta1", "beta2")},
    }


def lr_scheduler_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        **_same_names(cfg.train, "lr_scheduler stepsize gamma max_epoch"),
        "warmup_epochs": cfg.train.get("warmup_epochs", 0),
        "warmup_factor": cfg.train.get("warmup_factor", 0.1),
    }


def engine_run_kwargs(cfg: CfgNode) -> dict[str, Any]:
    return {
        "save_dir": cfg.data.save_dir,
        **_same_names(cfg.train, "max_epoch start_epoch fixbase_epoch open_layers print_freq"),
        **_same_names(
            cfg.test,
            "start_eval eval_freq dist_metric normalize_feature visrank visrank_topk ranks rerank report",
        ),
        "test_only": cfg.test.evaluate,
        "use_metric_cuhk03": cfg.cuhk03.use_metric_cuhk03,
    }
