"""The settings of a data manager as one object, and the check of the keywords a data manager accepts.

``ImageDataManager`` / ``VideoDataManager`` keep the original Torchreid's keyword signature as their public face;
inside, the arguments become an :class:`ImageDataSettings` / :class:`VideoDataSettings` that the loaders are built
from. A keyword that is neither a data-manager argument nor an option some registered dataset declares is a
``TypeError`` naming the closest valid keyword, as the original's (which had no ``**kwargs``) raised.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["DataSettings", "ImageDataSettings", "VideoDataSettings", "check_dataset_keywords"]


@dataclass
class DataSettings:
    """What every data manager is built from (the defaults are the data managers' own)."""

    root: str = ""
    sources: str | Sequence[str] | None = None
    targets: str | Sequence[str] | None = None
    height: int = 256
    width: int = 128
    transforms: str | Sequence[str] | None = "random_flip"
    norm_mean: Sequence[float] | None = None
    norm_std: Sequence[float] | None = None
    use_gpu: bool = True
    split_id: int = 0
    combineall: bool = False
    batch_size_train: int = 32
    batch_size_test: int = 32
    workers: int = 4
    num_instances: int = 4
    num_cams: int = 1
    num_datasets: int = 1
    train_sampler: str = "RandomSampler"
    # new in this project
    seed: int | None = None  # sampler schedule seed (distributed training)
    distributed: bool | None = None  # None: follow torch.distributed
    shard_test: bool = False  # rank r reads a contiguous block of each test set
    dataset_kwargs: dict[str, Any] | None = None  # extra keyword arguments for every dataset
    gpu_augment: bool = False  # augmentation batched on the device (data.gpu_augment)

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> DataSettings:
        """The settings from a data manager's ``locals()`` (every field must be there)."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls)})

    def dataset_options(self) -> dict[str, Any]:
        """Keyword arguments passed to every dataset of this kind (besides transform, mode, ...)."""
        return {"root": self.root, "split_id": self.split_id}


@dataclass
class ImageDataSettings(DataSettings):
    """Settings of an :class:`~torchreid.data.ImageDataManager`."""

    k_tfm: int = 1  # augmented copies of each training image
    load_train_targets: bool = False  # also build train_loader_t over the targets' training data
    train_sampler_t: str = "RandomSampler"
    cuhk03_labeled: bool = False
    cuhk03_classic_split: bool = False
    market1501_500k: bool = False

    def dataset_options(self) -> dict[str, Any]:
        return {
            **super().dataset_options(),
            "cuhk03_labeled": self.cuhk03_labeled,
            "cuhk03_classic_split": self.cuhk03_classic_split,
            "market1501_500k": self.market1501_500k,
        }


@dataclass
class VideoDataSettings(DataSettings):
    """Settings of a :class:`~torchreid.data.VideoDataManager` (tracklets: smaller default batches)."""

    batch_size_train: int = 3
    batch_size_test: int = 3
    seq_len: int = 15  # frames sampled per tracklet
    sample_method: str = "evenly"  # 'evenly', 'random' or 'all'

    def dataset_options(self) -> dict[str, Any]:
        return {**super().dataset_options(), "seq_len": self.seq_len, "sample_method": self.sample_method}


# Arguments every dataset gets from the data manager itself (not user options).
_MANAGED = {"self", "train", "query", "gallery", "transform", "k_tfm", "mode", "combineall", "verbose"}


def _declared_options(classes: Iterable[type]) -> set[str]:
    """Keyword parameters the dataset classes declare by name (their ``**kwargs`` swallow anything)."""
    names: set[str] = set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for cls in classes:
        try:
            params = inspect.signature(cls.__init__).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - a C-implemented __init__
            continue
        names.update(p.name for p in params if p.kind in kinds)
    return names - _MANAGED


def check_dataset_keywords(
    owner: str, kwargs: Mapping[str, Any], manager_params: Iterable[str], kind: str
) -> None:
    """Raise ``TypeError`` for a keyword of ``owner`` that no data-manager argument or ``kind`` dataset takes.

    ``kind`` is ``'image'`` or ``'video'``: the keywords declared by the registered datasets of that kind (e.g.
    ``custom_train``, ``market1501_500k``) are passed through to the datasets.
    """
    if not kwargs:
        return
    from .datasets import IMAGE_DATASETS, VIDEO_DATASETS

    registry = IMAGE_DATASETS if kind == "image" else VIDEO_DATASETS
    accepted = _declared_options(cls for _name, cls in registry.items())
    unknown = [k for k in kwargs if k not in accepted]
    if not unknown:
        return
    key = unknown[0]
    # the manager's own arguments in signature order first (``batch_size`` → ``batch_size_train``, its first use)
    candidates = list(dict.fromkeys([*manager_params, *sorted(accepted)]))
    close = [c for c in candidates if c.startswith(key)] or difflib.get_close_matches(key, candidates, 1, 0.6)
    hint = (
        f" (did you mean {close[0]!r}?)"
        if close
        else " (dataset-specific options go in dataset_kwargs={...})"
    )
    raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {key!r}{hint}")
