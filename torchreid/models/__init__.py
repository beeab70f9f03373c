"""Re-ID architectures and the model factory.

Every architecture module in this package registers its names with :func:`register_model`; use
:func:`build_model` to instantiate one and :func:`list_models` to see what exists.

As in the original, every model factory (``from torchreid.models import osnet_x1_0``), the classes ``HACNN`` and
``MuDeep`` and every architecture module (``torchreid.models.osnet``) are attributes of this package; they are
imported on first access, so ``import torchreid`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

from . import registry
from .registry import *  # noqa: F403 - the registry's public names are this package's
from .registry import get_model_info, is_model, list_models, model_factory

__all__ = list(registry.__all__)

# The original exposed its name → factory dict as ``torchreid.models.__model_factory``; scripts that read it
# (e.g. ``list(torchreid.models.__model_factory)``) keep working with this read-only view.
globals()["__model_factory"] = model_factory


# Names the original exported here that are not registry names or module names, and the module defining each.
_EXTRA_NAMES = {"HACNN": "hacnn", "MuDeep": "mudeep", "se_resnet152": "senet", "senet154": "senet"}
# Factories named like their module: as in the original (``from .shufflenet import *``), the package attribute is
# the factory, not the module (``from torchreid.models.shufflenet import ShuffleNet`` still imports the module).
_FACTORY_NAMED_LIKE_MODULE = frozenset({"inceptionresnetv2", "inceptionv4", "mlfn", "shufflenet", "xception"})


def __getattr__(name: str) -> Any:
    """Resolve factories, ``HACNN``/``MuDeep`` and architecture modules on first access."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _EXTRA_NAMES or name in _FACTORY_NAMED_LIKE_MODULE:
        value = getattr(importlib.import_module(f"{__name__}.{_EXTRA_NAMES.get(name, name)}"), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it here
    elif is_model(name):
        value = get_model_info(name).fn
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *list_models(), *_EXTRA_NAMES})


class _ModelsPackage(types.ModuleType):
    """Keeps a factory bound under its own name when its module of the same name is imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FACTORY_NAMED_LIKE_MODULE and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ModelsPackage
