"""torchreid: deep-learning person re-identification in PyTorch.

Sub-packages are imported lazily (``torchreid.models`` is loaded on first access), so ``import torchreid``
stays fast and never touches the network.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "2.0.0"
__author__ = "torchreid contributors"
__description__ = "Deep learning person re-identification in PyTorch"

_SUBMODULES = ("config", "data", "engine", "evaluation", "losses", "metrics", "models", "optim", "utils")
__all__ = [*_SUBMODULES, "__version__"]

# The library speaks through the ``torchreid`` logger; by default its messages print like the original's did.
from .utils.log import install_console_handler as _install_console_handler  # noqa: E402

_install_console_handler()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'torchreid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
