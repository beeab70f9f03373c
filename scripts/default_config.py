"""The original Torchreid's ``scripts/default_config.py``: its config helpers, re-exported from the package.

Clients that do ``sys.path.append('<repo>/scripts'); from default_config import get_default_config`` keep
working; the definitions live in :mod:`torchreid.config`.
"""

from __future__ import annotations

from torchreid.config import (
    engine_run_kwargs,
    get_default_config,
    imagedata_kwargs,
    lr_scheduler_kwargs,
    optimizer_kwargs,
    videodata_kwargs,
)

__all__ = [
    "engine_run_kwargs",
    "get_default_config",
    "imagedata_kwargs",
    "lr_scheduler_kwargs",
    "optimizer_kwargs",
    "videodata_kwargs",
]
