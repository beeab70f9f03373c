"""Config → engine in one place: the ``ENGINES`` registry and :func:`build_engine`.

Engines register under ``"<data type>/<loss>"`` (e.g. ``"image/softmax"``); a new engine adds itself with
``@ENGINES.register("image/arcface")`` and is then selected by ``data.type image`` + ``loss.name arcface``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..utils.registry import Registry, RegistryKeyError

if TYPE_CHECKING:
    import torch

    from .engine import Engine

__all__ = ["ENGINES", "build_engine", "eval_settings_from_config", "get_engine_class"]

ENGINES: Registry[type] = Registry("engine")


def get_engine_class(data_type: str, loss: str) -> type:
    """The engine class for ``data_type`` ('image'|'video') and ``loss`` ('softmax'|'triplet')."""
    try:
        return ENGINES.get(f"{data_type}/{loss}")
    except RegistryKeyError:
        valid = ", ".join(ENGINES.names())
        raise KeyError(
            f"No engine for data.type={data_type!r} and loss.name={loss!r}; valid: {valid}"
        ) from None


def eval_settings_from_config(cfg: Any, config_dict: dict | None = None) -> Any:
    """The :class:`~torchreid.evaluation.EvalSettings` of a run config (``test.*`` + provenance)."""
    from ..evaluation import EvalSettings, config_hash

    t = cfg.test
    return EvalSettings(
        dist_metric=t.dist_metric,
        normalize_feature=t.normalize_feature,
        visrank=t.visrank,
        visrank_topk=t.visrank_topk,
        save_dir=cfg.data.save_dir,
        use_metric_cuhk03=cfg.cuhk03.use_metric_cuhk03,
        ranks=list(t.ranks),
        rerank=t.rerank,
        report=bool(t.get("report", False)),
        model_name=cfg.model.name,
        checkpoint=cfg.model.resume or cfg.model.load_weights or "",
        config_sha256=config_hash(config_dict),
    )


def build_engine(
    cfg: Any,
    datamanager: Any,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    config_dict: dict | None = None,
) -> Engine:
    """The engine a run config asks for (``data.type`` x ``loss.name``), with the step, loss, video and
    evaluation options of ``cfg``. ``config_dict`` (the config as a plain dict) is stored in checkpoints and
    hashed into result records; it defaults to ``cfg_to_dict(cfg)``."""
    from ..config import cfg_to_dict

    cls = get_engine_class(cfg.data.type, cfg.loss.name)
    config_dict = cfg_to_dict(cfg) if config_dict is None else config_dict
    kwargs: dict[str, Any] = {
        "scheduler": scheduler,
        "use_gpu": cfg.use_gpu,
        "label_smooth": cfg.loss.softmax.label_smooth,
        "amp": cfg.train.amp,
        "channels_last": cfg.train.channels_last,
        "compile": cfg.train.compile,
        "clip_grad_norm": cfg.train.clip_grad_norm,
        "eval_settings": eval_settings_from_config(cfg, config_dict),
    }
    if cfg.train.sync_bn:
        kwargs["sync_bn"] = True
    if cfg.loss.name == "triplet":
        t = cfg.loss.triplet
        kwargs.update(margin=t.margin, weight_t=t.weight_t, weight_x=t.weight_x)
    if cfg.data.type == "video":
        kwargs["pooling_method"] = cfg.video.pooling_method
    engine = cls(datamanager, model, optimizer, **kwargs)
    engine.config = config_dict
    return engine
