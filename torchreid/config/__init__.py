"""YACS configuration: the default schema, loading with clear errors, and kwargs helpers."""

from __future__ import annotations

from .defaults import (
    ConfigKeyError,
    cfg_to_dict,
    engine_run_kwargs,
    get_default_config,
    imagedata_kwargs,
    load_config,
    lr_scheduler_kwargs,
    merge_from_file,
    merge_from_list,
    optimizer_kwargs,
    videodata_kwargs,
)

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
