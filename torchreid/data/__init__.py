"""Data: datasets (registries), transforms, samplers and the data managers that build the loaders.

Names are resolved lazily from their modules, so ``import torchreid.data.constants`` (which the model registry
needs) does not build the datasets, transforms and loaders.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "DataManager": "datamanager",
    "ImageDataManager": "datamanager",
    "VideoDataManager": "datamanager",
    "init_image_dataset": "datasets",
    "init_video_dataset": "datasets",
    "register_image_dataset": "datasets",
    "register_video_dataset": "datasets",
    "Dataset": "datasets.dataset",
    "ImageDataset": "datasets.dataset",
    "VideoDataset": "datasets.dataset",
    "register_custom_dataset": "datasets.image.custom",
    "build_train_sampler": "samplers",
    "build_transforms": "transforms",
}
# sub-modules reachable as attributes after ``import torchreid.data`` (as the original's eager imports made them)
_SUBMODULES = ("datamanager", "datasets", "samplers", "sampler", "transforms", "constants", "settings")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})
