"""The original Torchreid's ``torchreid.config.defaults`` path: the schema, merging and kwargs helpers in one place.

The code lives in :mod:`~torchreid.config.schema` (the keys and their defaults), :mod:`~torchreid.config.merge`
(loading files and overrides with clear errors) and :mod:`~torchreid.config.adapters` (config → keyword
arguments); every name stays importable from here.
"""

from __future__ import annotations

from .adapters import (
    cfg_to_dict,
    engine_run_kwargs,
    imagedata_kwargs,
    lr_scheduler_kwargs,
    optimizer_kwargs,
    videodata_kwargs,
)
from .merge import DEPRECATED_KEYS as DEPRECATED_KEYS  # used by scripts/main.py
from .merge import ConfigKeyError, merge_from_file, merge_from_list
from .merge import ReidCfgNode as ReidCfgNode
from .schema import get_default_config, load_config

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
