#!/usr/bin/env python
"""Train and/or evaluate a re-ID model from a YAML config.

    python scripts/main.py --config-file configs/quickstart.yaml
    python scripts/main.py --config-file configs/im_osnet_x1_0_softmax_256x128_amsgrad.yaml \
        -s market1501 -t market1501 dukemtmcreid --root reid-data train.lr 0.001 test.evaluate True

Configuration is applied in this order: defaults → ``--config-file`` → ``-s/-t/--transforms/--root`` →
``key value`` overrides. An unknown key is an error naming it.
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import time
from typing import TYPE_CHECKING, Any

# allow `python scripts/main.py` from a source checkout without installing
_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import torch  # noqa: E402

from torchreid.config import (  # noqa: E402
    cfg_to_dict,
    engine_run_kwargs,
    get_default_config,
    imagedata_kwargs,
    lr_scheduler_kwargs,
    merge_from_file,
    merge_from_list,
    optimizer_kwargs,
    videodata_kwargs,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from yacs.config import CfgNode

    from torchreid.data.datamanager import DataManager
    from torchreid.engine import Engine


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--config-file", type=str, default="", help="path to config file")
    parser.add_argument("-s", "--sources", type=str, nargs="+", help="source datasets (delimited by space)")
    parser.add_argument("-t", "--targets", type=str, nargs="+", help="target datasets (delimited by space)")
    parser.add_argument("--transforms", type=str, nargs="+", help="data augmentation")
    parser.add_argument("--root", type=str, default="", help="path to data root")
    parser.add_argument(
        "opts", default=None, nargs=argparse.REMAINDER, help="Modify config options using the command-line"
    )
    return parser


def reset_config(cfg: CfgNode, args: argparse.Namespace) -> None:
    if args.root:
        cfg.data.root = args.root
    if args.sources:
        cfg.data.sources = args.sources
    if args.targets:
        cfg.data.targets = args.targets
    if args.transforms:
        cfg.data.transforms = args.transforms


def check_cfg(cfg: CfgNode) -> None:
    if cfg.loss.name == "triplet" and cfg.loss.triplet.weight_x == 0 and cfg.train.fixbase_epoch > 0:
        raise ValueError(
            "loss.triplet.weight_x is 0, so the classifier is not part of the computational graph and cannot be "
            f"trained alone during train.fixbase_epoch={cfg.train.fixbase_epoch}: set train.fixbase_epoch 0 "
            "(or give the softmax loss a weight, e.g. loss.triplet.weight_x 1)"
        )
    if cfg.data.type not in ("image", "video"):
        raise ValueError(f"data.type must be 'image' or 'video', got {cfg.data.type!r}")
    for key in ("load_weights", "resume"):
        path = cfg.model[key]
        if path and not osp.isfile(path):
            raise FileNotFoundError(f"model.{key} = '{path}' is not a file")


def _split_trailing_overrides(args: argparse.Namespace) -> None:
    """``-s a b train.lr 0.1``: argparse gives every word to ``-s``; hand config overrides back to ``opts``."""
    from torchreid.config.defaults import DEPRECATED_KEYS

    defaults = get_default_config()
    sections = set(defaults.keys())
    top_level_keys = {k for k, v in defaults.items() if not isinstance(v, dict)}  # e.g. use_gpu
    for attr in ("sources", "targets", "transforms"):
        values = getattr(args, attr)
        if not values:
            continue
        for i, v in enumerate(values):
            if v in DEPRECATED_KEYS or v in top_level_keys or ("." in v and v.split(".", 1)[0] in sections):
                args.opts = values[i:] + list(args.opts or [])
                setattr(args, attr, values[:i] or None)
                break


def build_config(argv: list[str] | None = None) -> CfgNode:
    args = build_parser().parse_args(argv)
    _split_trailing_overrides(args)
    cfg = get_default_config()
    if args.config_file:
        merge_from_file(cfg, args.config_file)
    reset_config(cfg, args)
    opts = list(args.opts or [])
    if opts and opts[0] == "--":
        opts = opts[1:]
    merge_from_list(cfg, opts)
    cfg.use_gpu = bool(cfg.use_gpu and torch.cuda.is_available())
    return cfg


def build_datamanager(cfg: CfgNode) -> DataManager:
    import torchreid.data
    from torchreid.utils.distributed import is_distributed

    kwargs = imagedata_kwargs(cfg) if cfg.data.type == "image" else videodata_kwargs(cfg)
    if is_distributed():  # every rank draws the same epoch schedules (its own slice of each global batch)
        kwargs["seed"] = cfg.train.seed
    if cfg.data.type == "image":
        return torchreid.data.ImageDataManager(**kwargs)
    return torchreid.data.VideoDataManager(**kwargs)


def build_engine(
    cfg: CfgNode,
    datamanager: DataManager,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> Engine:
    from torchreid.engine import get_engine_class

    cls = get_engine_class(cfg.data.type, cfg.loss.name)
    kwargs = {
        "scheduler": scheduler,
        "use_gpu": cfg.use_gpu,
        "label_smooth": cfg.loss.softmax.label_smooth,
        "amp": cfg.train.amp,
        "channels_last": cfg.train.channels_last,
        "compile": cfg.train.compile,
        "clip_grad_norm": cfg.train.clip_grad_norm,
    }
    if cfg.train.sync_bn:
        kwargs["sync_bn"] = True
    if cfg.loss.name == "triplet":
        kwargs.update(
            margin=cfg.loss.triplet.margin,
            weight_t=cfg.loss.triplet.weight_t,
            weight_x=cfg.loss.triplet.weight_x,
        )
    if cfg.data.type == "video":
        kwargs["pooling_method"] = cfg.video.pooling_method
    return cls(datamanager, model, optimizer, **kwargs)


def restore_amp_state(engine: Engine, resume_path: str) -> None:
    """Restore the fp16 gradient scaler saved in the checkpoint's ``amp`` entry, so a resumed run continues
    with the same loss scale (only read when the engine has a scaler)."""
    if resume_path and getattr(engine.accel, "scaler", None) is not None:
        from torchreid.utils.checkpoint import load_checkpoint

        engine.accel.load_state_dict(load_checkpoint(resume_path).get("amp"))


def main(argv: list[str] | None = None) -> Engine:
    cfg = build_config(argv)
    check_cfg(cfg)

    from torchreid.utils import distributed as dist_utils
    from torchreid.utils.loggers import Logger
    from torchreid.utils.tools import collect_env_info, set_random_seed

    dist_info = dist_utils.init_distributed(cfg.train.dist_backend, use_gpu=cfg.use_gpu)
    set_random_seed(cfg.train.seed)
    if dist_info.distributed:
        dist_utils.seed_per_rank(cfg.train.seed)  # rank r uses seed + r (rank 0 = single-process seed)

    log_name = "test.log" if cfg.test.evaluate else "train.log"
    log_name += time.strftime("-%Y-%m-%d-%H-%M-%S")
    if dist_info.is_main:
        logger = Logger(osp.join(cfg.data.save_dir, log_name))
    else:  # only rank 0 writes logs, checkpoints and TensorBoard files
        logger = Logger(None, console=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    stdout = sys.stdout
    sys.stdout = logger
    try:
        if dist_info.distributed:
            print(
                f"Distributed training: rank {dist_info.rank} of world size {dist_info.world_size} "
                f"(backend {dist_info.backend}, device {dist_info.device})"
            )
        return run(cfg, collect_env_info)
    finally:
        sys.stdout = stdout
        logger.close()


def run(cfg: CfgNode, collect_env_info: Callable[[], str]) -> Engine:
    import torchreid.models
    import torchreid.optim
    from torchreid.utils.checkpoint import load_pretrained_weights, resume_from_checkpoint

    print(f"Show configuration\n{cfg}\n")
    print("Collecting env info ...")
    print(f"** System info **\n{collect_env_info()}\n")

    if cfg.use_gpu:
        torch.backends.cudnn.benchmark = True

    from torchreid.utils import distributed as dist_utils

    if not dist_utils.is_main_process():
        dist_utils.barrier()  # wait until rank 0 has downloaded / generated / cached the data
    datamanager = build_datamanager(cfg)
    if dist_utils.is_main_process():
        dist_utils.barrier()

    print(f"Building model: {cfg.model.name}")
    model = torchreid.models.build_model(
        name=cfg.model.name,
        num_classes=datamanager.num_train_pids,
        loss=cfg.loss.name,
        pretrained=cfg.model.pretrained,
        use_gpu=cfg.use_gpu,
    )
    try:
        from torchreid.utils.model_complexity import compute_model_complexity

        num_params, flops = compute_model_complexity(model, (1, 3, cfg.data.height, cfg.data.width))
        print(f"Model complexity: params={num_params:,} flops={flops:,}")
    except Exception as exc:  # noqa: BLE001 - complexity is informative only
        print(f"Model complexity: not available ({type(exc).__name__}: {exc})")

    if cfg.model.load_weights:
        load_pretrained_weights(model, cfg.model.load_weights)

    if cfg.use_gpu:
        model = model.cuda()

    optimizer = torchreid.optim.build_optimizer(model, **optimizer_kwargs(cfg))
    scheduler = torchreid.optim.build_lr_scheduler(optimizer, **lr_scheduler_kwargs(cfg))

    if cfg.model.resume:
        cfg.train.start_epoch = resume_from_checkpoint(
            cfg.model.resume, model, optimizer=optimizer, scheduler=scheduler
        )
        # the checkpoint holds rank 0's RNG state: give the other ranks their own
        if dist_utils.get_rank() > 0:
            dist_utils.seed_per_rank(cfg.train.seed + 7919 * cfg.train.start_epoch)

    print(f"Building {cfg.loss.name}-engine for {cfg.data.type}-reid")
    engine = build_engine(cfg, datamanager, model, optimizer, scheduler)
    restore_amp_state(engine, cfg.model.resume)
    engine.config = cfg_to_dict(cfg)
    engine.run(**engine_run_kwargs(cfg))
    return engine


if __name__ == "__main__":
    if os.environ.get("TORCHREID_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["TORCHREID_NUM_THREADS"]))
    from torchreid.utils.distributed import barrier, cleanup

    try:
        main()
        # ranks finish at different times (rank 0 also writes the report and checkpoint): tearing down the
        # process group while a peer still uses its connections can abort that peer at exit (seen with gloo)
        barrier()
    finally:
        cleanup()
