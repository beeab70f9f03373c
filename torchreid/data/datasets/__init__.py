"""Dataset registries.

Dataset modules under ``image/`` and ``video/`` register themselves with :func:`register_image_dataset` /
:func:`register_video_dataset` (usable as class decorators). They are imported on the first registry query.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

from ...utils.registry import Registry
from .dataset import Dataset, ImageDataset, VideoDataset

__all__ = [
    "IMAGE_DATASETS",
    "VIDEO_DATASETS",
    "Dataset",
    "ImageDataset",
    "VideoDataset",
    "init_image_dataset",
    "init_video_dataset",
    "register_image_dataset",
    "register_video_dataset",
]

_LOADED: set[str] = set()


class _DatasetRegistry(Registry[type]):
    """A registry that imports the built-in dataset modules of ``subpackage`` before any lookup, so that
    ``IMAGE_DATASETS.get("market1501")``, ``names()`` or ``in`` work in a fresh process (registering does not
    trigger the import)."""

    def __init__(self, kind: str, subpackage: str) -> None:
        super().__init__(kind)
        self._subpackage = subpackage

    def resolve(self, name: str) -> str:
        _load(self._subpackage)
        return super().resolve(name)

    def names(self) -> list[str]:
        _load(self._subpackage)
        return super().names()

    def aliases(self) -> dict[str, str]:
        _load(self._subpackage)
        return super().aliases()

    def items(self) -> list[tuple[str, type]]:
        _load(self._subpackage)
        return super().items()

    def __contains__(self, name: object) -> bool:
        _load(self._subpackage)
        return super().__contains__(name)

    def __iter__(self):
        _load(self._subpackage)
        return super().__iter__()

    def __len__(self) -> int:
        _load(self._subpackage)
        return super().__len__()


IMAGE_DATASETS: Registry[type] = _DatasetRegistry("image dataset", "image")
VIDEO_DATASETS: Registry[type] = _DatasetRegistry("video dataset", "video")


def _load(subpackage: str) -> None:
    if subpackage in _LOADED:
        return
    _LOADED.add(subpackage)
    pkg = importlib.import_module(f"{__name__}.{subpackage}")
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")


def _registrar(registry: Registry[type], subpackage: str):
    def register(name: str, dataset: type | None = None, **kw: Any) -> Any:
        """``register_x_dataset(name, cls)`` (original API) or ``@register_x_dataset(name)`` (decorator).

        A duplicate name is a ValueError (user code registering over a built-in name must rename).
        """
        if dataset is not None:
            _load(subpackage)  # so a user's name clashing with a built-in is detected now
        return registry.register(name, dataset, **kw)

    return register


register_image_dataset = _registrar(IMAGE_DATASETS, "image")
register_video_dataset = _registrar(VIDEO_DATASETS, "video")


def image_dataset_names() -> list[str]:
    _load("image")
    return IMAGE_DATASETS.names()


def video_dataset_names() -> list[str]:
    _load("video")
    return VIDEO_DATASETS.names()


def init_image_dataset(name: str, **kwargs: Any) -> ImageDataset:
    """Instantiate the image dataset registered as ``name`` (unknown name → error listing valid names)."""
    _load("image")
    return IMAGE_DATASETS.get(name)(**kwargs)


def init_video_dataset(name: str, **kwargs: Any) -> VideoDataset:
    """Instantiate the video dataset registered as ``name`` (unknown name → error listing valid names)."""
    _load("video")
    return VIDEO_DATASETS.get(name)(**kwargs)


def _builtin_class(registry: Registry[type], subpackage: str, name: str) -> type | None:
    """The built-in dataset class of ``subpackage`` named ``name`` (e.g. ``Market1501``), or None."""
    prefix = f"{__name__}.{subpackage}."
    for _key, cls in registry.items():  # loads the built-in modules
        if cls.__name__ == name and cls.__module__.startswith(prefix):
            return cls
    return None


def _module_getattr(module: str, subpackages: tuple[str, ...], name: str) -> Any:
    """Dataset classes by their class names, as the original exported them (``torchreid.data.datasets.Market1501``,
    ``torchreid.data.datasets.image.Market1501``), without importing every dataset module up front."""
    if not name.startswith("_"):
        for sub in subpackages:
            cls = _builtin_class(IMAGE_DATASETS if sub == "image" else VIDEO_DATASETS, sub, name)
            if cls is not None:
                return cls
        submodule = sys.modules.get(f"{module}.{name}")  # a sub-package imported while loading the registries
        if submodule is not None:
            return submodule
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    return _module_getattr(__name__, ("image", "video"), name)
