"""Train and/or evaluate a re-ID model from a YAML config (the logic behind ``scripts/main.py``).

    python scripts/main.py --config-file configs/quickstart.yaml
    python scripts/main.py --config-file configs/im_osnet_x1_0_softmax_256x128_amsgrad.yaml \
        -s market1501 -t market1501 dukemtmcreid --root reid-data train.lr 0.001 test.evaluate True

Configuration is applied in this order: defaults → ``--config-file`` → ``-s/-t/--transforms/--root`` →
``key value`` overrides. An unknown key is an error naming it.

Data flow of one run: :func:`build_config` → :func:`check_cfg` (before anything is built or trained) →
data manager → model (+ weights) → optimizer/scheduler (+ resume) → :func:`torchreid.engine.build_engine` (the
config is turned into a plain dict once: stored in checkpoints and hashed into ``results.jsonl``) → ``engine.run``.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import os.path as osp
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import (
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
from .engine.builder import build_engine

if TYPE_CHECKING:
    from collections.abc import Callable

    from yacs.config import CfgNode

    from .data.datamanager import DataManager
    from .engine import Engine

__all__ = [
    "build_config",
    "build_datamanager",
    "build_engine",
    "build_parser",
    "check_cfg",
    "check_writable",
    "main",
    "reset_config",
    "restore_amp_state",
    "run",
]

logger = logging.getLogger(__name__)

# Engine.run's own (original) arguments; new evaluation options travel in engine.eval_settings
_RUN_ARGS = (
    "save_dir", "max_epoch", "start_epoch", "print_freq", "fixbase_epoch", "open_layers", "start_eval",
    "eval_freq", "test_only", "dist_metric", "normalize_feature", "visrank", "visrank_topk",
    "use_metric_cuhk03", "ranks", "rerank",
)  # fmt: skip


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


def _is_weights(path: str) -> bool:
    """A file, or a name of the re-ID model zoo (resolved, and downloaded when needed, at load time)."""
    if osp.isfile(path):
        return True
    try:
        from .models.zoo import is_zoo_name
    except ImportError:
        return False
    return is_zoo_name(path)


def check_cfg(cfg: CfgNode) -> None:
    """Errors that would otherwise surface after training (or never): raised before anything is built."""
    if cfg.loss.name == "triplet" and cfg.loss.triplet.weight_x == 0 and cfg.train.fixbase_epoch > 0:
        raise ValueError(
            "loss.triplet.weight_x is 0, so the classifier is not part of the computational graph and cannot be "
            f"trained alone during train.fixbase_epoch={cfg.train.fixbase_epoch}: set train.fixbase_epoch 0 "
            "(or give the softmax loss a weight, e.g. loss.triplet.weight_x 1)"
        )
    if cfg.data.type not in ("image", "video"):
        raise ValueError(f"data.type must be 'image' or 'video', got {cfg.data.type!r}")
    if cfg.train.max_epoch <= 0 and not cfg.test.evaluate:
        raise ValueError(
            f"train.max_epoch is {cfg.train.max_epoch}: nothing would be trained or evaluated; set "
            "train.max_epoch > 0 to train, or test.evaluate True to only evaluate"
        )
    if cfg.model.resume and not osp.isfile(cfg.model.resume):
        raise FileNotFoundError(f"model.resume = '{cfg.model.resume}' is not a file")
    if cfg.model.load_weights and not _is_weights(cfg.model.load_weights):
        raise FileNotFoundError(
            f"model.load_weights = '{cfg.model.load_weights}' is not a file (nor a model zoo name: "
            "`torchreid weights list` shows them)"
        )


def check_writable(save_dir: str | os.PathLike, subdirs: tuple[str, ...] = ()) -> None:
    """Fail at start, not after training, when ``save_dir`` (or ``save_dir/<sub>``) cannot be written.

    Missing folders are not created here: the nearest existing ancestor must be a writable folder (probed by
    creating and removing a temporary file, which also catches read-only mounts).
    """
    for d in [Path(save_dir), *(Path(save_dir) / s for s in subdirs)]:
        probe = d
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        why = "" if probe.is_dir() else f"'{probe}' is not a folder"
        if not why:
            try:
                with tempfile.TemporaryFile(dir=probe):
                    pass
            except OSError as exc:
                why = f"'{probe}' is not writable ({exc.strerror or exc})"
        if why:
            raise PermissionError(
                f"cannot write run outputs to '{d}': {why}; set data.save_dir to a writable folder "
                "(or fix the permissions) before training"
            )


def _split_trailing_overrides(args: argparse.Namespace) -> None:
    """``-s a b train.lr 0.1``: argparse gives every word to ``-s``; hand config overrides back to ``opts``."""
    from .config.defaults import DEPRECATED_KEYS

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
    from .utils.distributed import resolve_device

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
    cfg.use_gpu = resolve_device(cfg.use_gpu).type == "cuda"  # decided once, handed down
    return cfg


def build_datamanager(cfg: CfgNode) -> DataManager:
    from . import data
    from .utils.distributed import is_distributed

    kwargs = imagedata_kwargs(cfg) if cfg.data.type == "image" else videodata_kwargs(cfg)
    if is_distributed():  # every rank draws the same epoch schedules (its own slice of each global batch)
        kwargs["seed"] = cfg.train.seed
    if cfg.data.type == "image":
        return data.ImageDataManager(**kwargs)
    return data.VideoDataManager(**kwargs)


def restore_amp_state(engine: Engine, resume_path: str) -> None:
    """Restore the fp16 gradient scaler saved in the checkpoint's ``amp`` entry, so a resumed run continues
    with the same loss scale (only read when the engine has a scaler, i.e. fp16 on CUDA)."""
    if resume_path and getattr(engine.accel, "scaler", None) is not None:
        from .utils.checkpoint import load_checkpoint

        engine.accel.load_state_dict(load_checkpoint(resume_path).get("amp"))


def main(argv: list[str] | None = None) -> Engine:
    """Run ``scripts/main.py`` with ``argv`` (default ``sys.argv[1:]``); return the engine."""
    import torch.distributed as dist

    if os.environ.get("TORCHREID_NUM_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["TORCHREID_NUM_THREADS"]))
    cfg = build_config(argv)
    check_cfg(cfg)

    from .utils import distributed as dist_utils
    from .utils.loggers import Logger
    from .utils.tools import collect_env_info, set_random_seed

    owns_group = not (dist.is_available() and dist.is_initialized())
    dist_info = dist_utils.init_distributed(cfg.train.dist_backend, use_gpu=cfg.use_gpu)
    if owns_group and dist_info.distributed:
        atexit.register(
            dist_utils.cleanup
        )  # callers may still use the group (e.g. gather results) after main()
    set_random_seed(cfg.train.seed)
    if dist_info.distributed:
        dist_utils.seed_per_rank(cfg.train.seed)  # rank r uses seed + r (rank 0 = single-process seed)
    if dist_info.is_main:
        check_writable(cfg.data.save_dir, () if cfg.test.evaluate else ("model",))
    log_name = ("test.log" if cfg.test.evaluate else "train.log") + time.strftime("-%Y-%m-%d-%H-%M-%S")
    if dist_info.is_main:
        tee = Logger(osp.join(cfg.data.save_dir, log_name))
    else:  # only rank 0 writes logs, checkpoints and TensorBoard files
        tee = Logger(None, console=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    stdout = sys.stdout
    sys.stdout = tee  # the torchreid logger writes to the current sys.stdout: library messages reach the log
    try:
        if dist_info.distributed:
            logger.info(
                f"Distributed training: rank {dist_info.rank} of world size {dist_info.world_size} "
                f"(backend {dist_info.backend}, device {dist_info.device})"
            )
        engine = run(cfg, collect_env_info)
    finally:
        sys.stdout = stdout
        tee.close()
    # ranks finish at different times (rank 0 also writes the report and checkpoint): tearing down the process
    # group while a peer still uses its connections can abort that peer at exit (seen with gloo)
    dist_utils.barrier()
    return engine


def run(cfg: CfgNode, collect_env_info: Callable[[], str]) -> Engine:
    """Build everything ``cfg`` describes and run the engine (inside :func:`main`'s log tee)."""
    import torch

    from . import models, optim
    from .utils import distributed as dist_utils
    from .utils.checkpoint import load_pretrained_weights, resume_from_checkpoint

    logger.info(f"Show configuration\n{cfg}\n")
    logger.info("Collecting env info ...")
    logger.info(f"** System info **\n{collect_env_info()}\n")
    if cfg.use_gpu:
        torch.backends.cudnn.benchmark = True

    if not dist_utils.is_main_process():
        dist_utils.barrier()  # wait until rank 0 has downloaded / generated / cached the data
    datamanager = build_datamanager(cfg)
    if dist_utils.is_main_process():
        dist_utils.barrier()

    logger.info(f"Building model: {cfg.model.name}")
    model = models.build_model(
        name=cfg.model.name,
        num_classes=datamanager.num_train_pids,
        loss=cfg.loss.name,
        pretrained=cfg.model.pretrained,
    )
    try:
        from .utils.model_complexity import compute_model_complexity

        num_params, flops = compute_model_complexity(model, (1, 3, cfg.data.height, cfg.data.width))
        logger.info(f"Model complexity: params={num_params:,} flops={flops:,}")
    except Exception as exc:  # noqa: BLE001 - complexity is informative only
        logger.info(f"Model complexity: not available ({type(exc).__name__}: {exc})")

    if cfg.model.load_weights:
        load_pretrained_weights(model, cfg.model.load_weights)

    # the model stays where it was built; the engine moves it (and the optimizer state) to the device once
    optimizer = optim.build_optimizer(model, **optimizer_kwargs(cfg))
    scheduler = optim.build_lr_scheduler(optimizer, **lr_scheduler_kwargs(cfg))
    config_dict = cfg_to_dict(
        cfg
    )  # the config as plain data, once: checkpoints, resume check, result records

    stored: dict[str, Any] = {}  # checkpoint entries the engine restores itself (the fp16 scaler), read once
    if cfg.model.resume:
        cfg.train.start_epoch = resume_from_checkpoint(
            cfg.model.resume,
            model,
            optimizer=optimizer,
            scheduler=scheduler,
            config=config_dict,
            allow_config_change=cfg.model.resume_allow_config_change,
            on_loaded=lambda ckpt: stored.update(amp=ckpt.get("amp")),
        )
        config_dict["train"]["start_epoch"] = cfg.train.start_epoch
        # the checkpoint holds rank 0's RNG state: give the other ranks their own
        if dist_utils.get_rank() > 0:
            dist_utils.seed_per_rank(cfg.train.seed + 7919 * cfg.train.start_epoch)

    logger.info(f"Building {cfg.loss.name}-engine for {cfg.data.type}-reid")
    engine = build_engine(cfg, datamanager, model, optimizer, scheduler, config_dict=config_dict)
    engine.accel.load_state_dict(stored.get("amp"))
    run_kwargs: dict[str, Any] = {k: v for k, v in engine_run_kwargs(cfg).items() if k in _RUN_ARGS}
    engine.run(**run_kwargs)
    return engine
