"""Shipped configs (``configs/*.yaml``) by name, from a checkout or from an installed wheel.

The wheel carries a copy of the repository's ``configs/`` in ``torchreid/_data/configs`` (added at build time by
``setup.py``; source users keep using ``configs/``), so ``--config-file im_osnet_x1_0_softmax_256x128_amsgrad.yaml``
works from any folder.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

__all__ = ["config_dirs", "find_config", "list_configs"]

PACKAGE = Path(__file__).resolve().parents[1]


def config_dirs() -> list[Path]:
    """Folders searched for configs by name: the packaged copy, then the checkout's ``configs/``."""
    return [d for d in (PACKAGE / "_data" / "configs", PACKAGE.parent / "configs") if d.is_dir()]


def list_configs() -> list[str]:
    """Names of the shipped configs."""
    return sorted({p.name for d in config_dirs() for p in d.glob("*.yaml")})


def find_config(name: str | os.PathLike) -> Path:
    """An existing path as is, else the shipped config of that name (``.yaml`` optional); else FileNotFoundError."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    base = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    for folder in config_dirs():
        candidate = folder / base
        if candidate.is_file():
            return candidate
    close = difflib.get_close_matches(base, list_configs(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(
        f"config '{name}' is neither a file nor a shipped config.{hint} Shipped configs: `torchreid train --list-configs`."
    )
