"""The configuration schema: every key of the original Torchreid with its default, plus this project's keys.

:func:`get_default_config` returns the full tree; :func:`load_config` merges a YAML file and ``key value``
overrides into it (see :mod:`torchreid.config.merge` for the checks).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..data.constants import IMAGENET_MEAN, IMAGENET_STD
from .merge import ReidCfgNode, merge_from_file, merge_from_list

__all__ = ["get_default_config", "load_config"]


def get_default_config() -> ReidCfgNode:
    """The complete default configuration (same keys and defaults as the original Torchreid, plus new ones)."""
    cfg = ReidCfgNode()

    # model
    cfg.model = ReidCfgNode()
    cfg.model.name = "resnet50"
    cfg.model.pretrained = True  # automatically load ImageNet-pretrained weights
    cfg.model.load_weights = ""  # path to model weights
    cfg.model.resume = ""  # path to a checkpoint to resume training from
    # new: resume even when the checkpoint's optimizer / scheduler / model / loss settings differ from this run's
    cfg.model.resume_allow_config_change = False

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
    cfg.data.norm_mean = list(IMAGENET_MEAN)  # default is imagenet mean
    cfg.data.norm_std = list(IMAGENET_STD)  # default is imagenet std
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


def load_config(
    config_file: str | os.PathLike | None = None, opts: Iterable[Any] | None = None
) -> ReidCfgNode:
    """Defaults → ``config_file`` → ``opts`` overrides."""
    cfg = get_default_config()
    if config_file:
        merge_from_file(cfg, config_file)
    if opts:
        merge_from_list(cfg, opts)
    return cfg
