"""The YACS default configuration (every key of the original Torchreid) and the kwargs helpers.

``get_default_config()`` returns the full schema. YAML files and ``key value`` override lists are merged with
:func:`merge_from_file` / :func:`merge_from_list` (also available as methods of the returned node): an unknown key
raises :class:`ConfigKeyError` naming the key, where it came from and the closest valid keys. Keys of the
original that no longer do anything (``test.visactmap``) are accepted and ignored with a warning, so configs
written for the original keep working.
"""

from __future__ import annotations

import ast
import difflib
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from yacs.config import CfgNode

__all__ = [
    "ConfigKeyError",
    "cfg_to_dict",
    "engine_run_kwargs",
    "get_default_config",
    "imagedata_kwargs",
    "load_config",
    "lr_scheduler_kwargs",
    "merge_from_file",
    "merge_from_list",
    "optimizer_kwargs",
    "videodata_kwargs",
]

# Keys the original accepted (or shipped in its configs) that have no effect any more.
DEPRECATED_KEYS = {
    "test.visactmap": "activation maps are produced by tools/visualize_actmap.py",
}


class ConfigKeyError(KeyError, ValueError):
    """Unknown config key (a ``KeyError`` like yacs' own error, and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReidCfgNode(CfgNode):
    """A ``CfgNode`` whose ``merge_from_file`` / ``merge_from_list`` give actionable errors."""

    def merge_from_file(self, cfg_filename: str) -> None:  # type: ignore[override]
        merge_from_file(self, cfg_filename)

    def merge_from_list(self, cfg_list: list) -> None:  # type: ignore[override]
        merge_from_list(self, cfg_list)


def get_default_config() -> ReidCfgNode:
    """The complete default configuration (same keys and defaults as the original Torchreid, plus new ones)."""
    cfg = ReidCfgNode()

    # model
    cfg.model = ReidCfgNode()
    cfg.model.name = "resnet50"
    cfg.model.pretrained = True  # automatically load ImageNet-pretrained weights
    cfg.model.load_weights = ""  # path to model weights
    cfg.model.resume = ""  # path to a checkpoint to resume training from

    # data
    cfg.data = ReidCfgNode()
    cfg.data.type = "image"
    cfg.data.root = "reid-data"
    cfg.data.sources = ["market1501"]
    cfg.data.targets = ["market1501"]
    cfg.data.workers = 4  # number of data loading workers
    cfg.data.split_id = 0  # split index
    cfg.data.height = 256  # image height
    cfg.data.width = 128  # image width
    cfg.data.combineall = False  # combine train, query and gallery for training
    cfg.data.transforms = ["random_flip"]  # data augmentation
    cfg.data.k_tfm = 1  # number of times to apply augmentation to an image independently
    cfg.data.norm_mean = [0.485, 0.456, 0.406]  # default is imagenet mean
    cfg.data.norm_std = [0.229, 0.224, 0.225]  # default is imagenet std
    cfg.data.save_dir = "log"  # path to save log
    cfg.data.load_train_targets = False  # load training set from target dataset
    # new: run random_flip / random_crop / random_erase and normalisation batched on the GPU (workers only decode
    # and resize to uint8)
    cfg.data.gpu_augment = False

    # specific datasets
    cfg.market1501 = ReidCfgNode()
    cfg.market1501.use_500k_distractors = False  # add 500k distractors to the gallery set for market1501
    cfg.cuhk03 = ReidCfgNode()
    cfg.cuhk03.labeled_images = False  # use labeled images, if False, use detected images
    cfg.cuhk03.classic_split = False  # use classic split by Li et al. CVPR14
    cfg.cuhk03.use_metric_cuhk03 = False  # use cuhk03's metric for evaluation
    # your own data, used when 'custom' is a source/target (torchreid/data/datasets/image/custom.py):
    # each subset a CSV with the header path,pid,camid or a folder arranged <pid>/<camid>/<image>
    cfg.custom = ReidCfgNode()
    cfg.custom.train = ""
    cfg.custom.query = ""
    cfg.custom.gallery = ""

    # sampler
    cfg.sampler = ReidCfgNode()
    cfg.sampler.train_sampler = "RandomSampler"  # sampler for source train loader
    cfg.sampler.train_sampler_t = "RandomSampler"  # sampler for target train loader
    cfg.sampler.num_instances = 4  # number of instances per identity for RandomIdentitySampler
    cfg.sampler.num_cams = 1  # number of cameras to sample in a batch (for RandomDomainSampler)
    cfg.sampler.num_datasets = 1  # number of datasets to sample in a batch (for RandomDatasetSampler)

    # video reid setting
    cfg.video = ReidCfgNode()
    cfg.video.seq_len = 15  # number of images to sample in a tracklet
    cfg.video.sample_method = "evenly"  # how to sample images from a tracklet
    cfg.video.pooling_method = "avg"  # how to pool features over a tracklet

    # train
    cfg.train = ReidCfgNode()
    cfg.train.optim = "adam"
    cfg.train.lr = 0.0003
    cfg.train.weight_decay = 5e-4
    cfg.train.max_epoch = 60
    cfg.train.start_epoch = 0
    cfg.train.batch_size = 32
    cfg.train.fixbase_epoch = 0  # number of epochs to fix base layers
    cfg.train.open_layers = ["classifier"]  # layers for training while keeping others frozen
    cfg.train.staged_lr = False  # set different lr to different layers
    cfg.train.new_layers = ["classifier"]  # newly added layers with default lr
    cfg.train.base_lr_mult = 0.1  # learning rate multiplier for base layers
    cfg.train.lr_scheduler = "single_step"
    cfg.train.stepsize = [20]  # stepsize to decay learning rate
    cfg.train.gamma = 0.1  # learning rate decay multiplier
    cfg.train.print_freq = 20  # print frequency
    cfg.train.seed = 1  # random seed
    # new in this project (defaults reproduce the original behaviour)
    cfg.train.warmup_epochs = 0  # linear learning-rate warm-up over the first epochs (0 = off)
    cfg.train.warmup_factor = 0.1  # warm-up starts at lr * warmup_factor
    cfg.train.amp = "off"  # mixed precision: 'off', 'bf16' or 'fp16'
    cfg.train.channels_last = False  # channels_last memory format for model and inputs
    # torch.compile mode: '' (off), 'default', 'reduce-overhead' (CUDA graphs), 'max-autotune',
    # 'max-autotune-no-cudagraphs'
    cfg.train.compile = ""
    cfg.train.clip_grad_norm = 0.0  # clip the gradient norm to this value (0 = off)
    cfg.train.sync_bn = False  # SyncBatchNorm across processes under torchrun/DDP (GPUs only)
    cfg.train.dist_backend = "auto"  # torchrun/DDP: 'auto' (nccl on GPUs, gloo on CPU), 'nccl' or 'gloo'

    # optimizer
    cfg.sgd = ReidCfgNode()
    cfg.sgd.momentum = 0.9  # momentum factor for sgd and rmsprop
    cfg.sgd.dampening = 0.0  # dampening for momentum
    cfg.sgd.nesterov = False  # Nesterov momentum
    cfg.rmsprop = ReidCfgNode()
    cfg.rmsprop.alpha = 0.99  # smoothing constant
    cfg.adam = ReidCfgNode()
    cfg.adam.beta1 = 0.9  # exponential decay rate for first moment
    cfg.adam.beta2 = 0.999  # exponential decay rate for second moment

    # loss
    cfg.loss = ReidCfgNode()
    cfg.loss.name = "softmax"
    cfg.loss.softmax = ReidCfgNode()
    cfg.loss.softmax.label_smooth = True  # use label smoothing regularizer
    cfg.loss.triplet = ReidCfgNode()
    cfg.loss.triplet.margin = 0.3  # distance margin
    cfg.loss.triplet.weight_t = 1.0  # weight to balance hard triplet loss
    cfg.loss.triplet.weight_x = 0.0  # weight to balance cross entropy loss

    # test
    cfg.test = ReidCfgNode()
    cfg.test.batch_size = 100
    cfg.test.dist_metric = "euclidean"  # distance metric, ['euclidean', 'cosine']
    cfg.test.normalize_feature = False  # normalize feature vectors before computing distance
    cfg.test.ranks = [1, 5, 10, 20]  # cmc ranks
    cfg.test.evaluate = False  # test only
    cfg.test.eval_freq = -1  # evaluation frequency (-1 means to only test after training)
    cfg.test.start_eval = 0  # start to evaluate after a specific epoch
    cfg.test.rerank = False  # use person re-ranking
    cfg.test.visrank = False  # visualize ranked results (only available when cfg.test.evaluate=True)
    cfg.test.visrank_topk = 10  # top-k ranks to visualize
    cfg.test.report = True  # write save_dir/report_<dataset>.html (metrics, CMC plot, best/worst queries)

    # new: use the GPU when one is available (the original set this at run time from torch.cuda)
    cfg.use_gpu = True
    return cfg


# ----------------------------------------------------------------------------------------------------------------
# merging with clear errors
# ----------------------------------------------------------------------------------------------------------------


def _all_keys(node: CfgNode, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        if isinstance(v, CfgNode):
            keys.extend(_all_keys(v, full + "."))
        else:
            keys.append(full)
    return keys


def _unknown_key_error(
    cfg: CfgNode, full_key: str, source: str, children: Sequence[str] = ()
) -> ConfigKeyError:
    """``children``: the keys under ``full_key`` when the unknown key is a whole section."""
    valid = _all_keys(cfg)
    close = difflib.get_close_matches(full_key, valid, n=3, cutoff=0.6)
    if not close:  # e.g. the right leaf name under another section
        leaves = {full_key.rsplit(".", 1)[-1], *map(str, children)}
        close = [k for k in valid if k.rsplit(".", 1)[-1] in leaves][:3] or difflib.get_close_matches(
            full_key.rsplit(".", 1)[-1], valid, n=3, cutoff=0.6
        )
    if close:
        hint = f" Did you mean: {', '.join(close)}?"
    else:
        # every part before the last is a valid section: the merge stops at the first unknown key
        parent = cfg
        for part in full_key.split(".")[:-1]:
            parent = parent[part]
        hint = f" Valid keys here: {', '.join(sorted(parent))}."
    return ConfigKeyError(f"Non-existent config key: '{full_key}' (in {source}).{hint}")


# string keys whose values YAML / the command line may turn into booleans (YAML reads `amp: off` as False)
_BOOL_AS_STR = {"train.amp": {False: "off"}, "train.compile": {False: "", True: "default"}}


def _coerce(value: Any, default: Any, full_key: str, source: str) -> Any:
    """Convert ``value`` to the type of ``default`` where that is lossless, else raise a clear ValueError."""
    if isinstance(value, bool) and value in _BOOL_AS_STR.get(full_key, {}):
        return _BOOL_AS_STR[full_key][value]
    if isinstance(value, tuple):
        value = list(value)
    if default is None:
        return value
    if isinstance(value, str) and not isinstance(default, str):
        # like yacs: YAML reads `lr: 3e-4` as a string; decode it as a Python literal
        value = _decode(value)
        if isinstance(value, tuple):
            value = list(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list):
            return value
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return [value]  # a single value where a list is expected, e.g. `-t market1501`
    elif type(value) is type(default):
        return value
    raise ValueError(
        f"Config key '{full_key}' (in {source}) expects {type(default).__name__} like {default!r}, "
        f"got {type(value).__name__} {value!r}"
    )


def _merge_dict(cfg: CfgNode, data: dict, source: str) -> None:
    """Validate every key of ``data`` against ``cfg`` first, then write the values (all or nothing)."""
    updates: list[tuple[CfgNode, str, Any]] = []

    def walk(node: CfgNode, sub: Any, prefix: str) -> None:
        if not isinstance(sub, dict):
            raise ValueError(
                f"Config section '{prefix.rstrip('.') or '<root>'}' (in {source}) must be a mapping"
            )
        for k, v in sub.items():
            full = f"{prefix}{k}"
            if full in DEPRECATED_KEYS:
                warnings.warn(
                    f"Config key '{full}' (in {source}) is deprecated and ignored: {DEPRECATED_KEYS[full]}",
                    stacklevel=4,
                )
                continue
            if k not in node:
                raise _unknown_key_error(cfg, full, source, list(v) if isinstance(v, dict) else ())
            if isinstance(node[k], CfgNode):
                walk(node[k], v, full + ".")
            else:
                updates.append((node, k, _coerce(v, node[k], full, source)))

    walk(cfg, data, "")
    for node, k, v in updates:
        node[k] = v


def merge_from_file(cfg: CfgNode, cfg_filename: str | os.PathLike) -> CfgNode:
    """Merge a YAML file into ``cfg`` (unknown keys → :class:`ConfigKeyError` naming key and file)."""
    path = os.fspath(cfg_filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: '{path}'")
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"Config file '{path}' is not valid YAML: {exc}") from exc
    if data is None:
        return cfg
    if "_BASE_" in data:
        raise ValueError(f"Config file '{path}': '_BASE_' inheritance is not supported")
    _merge_dict(cfg, data, f"config file '{path}'")
    return cfg


def _decode(value: Any) -> Any:
    """Decode a command-line string the way yacs does (Python literal when possible, else the string)."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def merge_from_list(
    cfg: CfgNode, opts: Iterable[Any] | None, source: str = "command-line overrides"
) -> CfgNode:
    """Merge ``['train.lr', '0.01', 'data.sources', "['market1501']", ...]`` into ``cfg``."""
    opts = list(opts or [])
    if len(opts) % 2:
        raise ValueError(
            f"Config overrides must be 'key value' pairs; got an odd number of items ({len(opts)}): {opts}"
        )
    data: dict = {}
    for key, value in zip(opts[0::2], opts[1::2]):
        if not isinstance(key, str) or not key:
            raise ValueError(f"Config override key must be a non-empty string, got {key!r}")
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"Config override '{key}' conflicts with another override ({source})")
        node[parts[-1]] = _decode(value)
    _merge_dict(cfg, data, source)
    return cfg


def load_config(config_file: str | None = None, opts: Iterable[Any] | None = None) -> ReidCfgNode:
    """Defaults → ``config_file`` → ``opts`` overrides."""
    cfg = get_default_config()
    if config_file:
        merge_from_file(cfg, config_file)
    if opts:
        merge_from_list(cfg, opts)
    return cfg


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


# ----------------------------------------------------------------------------------------------------------------
# kwargs helpers
# ----------------------------------------------------------------------------------------------------------------


def _use_gpu(cfg: CfgNode) -> bool:
    import torch

    return bool(cfg.get("use_gpu", True)) and torch.cuda.is_available()


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
