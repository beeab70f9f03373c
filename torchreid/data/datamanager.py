"""Data managers: datasets → transforms → samplers → loaders.

``ImageDataManager`` / ``VideoDataManager`` build the training loader over the sum of the source datasets
(pids, camids and dsetids offset so that they do not collide), optionally a loader over the target datasets'
training data (``load_train_targets``), and one query + gallery loader per target dataset. Their keyword
signature is the original Torchreid's; inside, the arguments become a settings object
(:mod:`torchreid.data.settings`) the loaders are built from. An unknown keyword is a ``TypeError`` naming the
closest valid one, and an empty query or gallery set of a target is an error before any training.

Under ``torchrun`` (``torch.distributed`` initialised with more than one process) the training sampler is
sharded by rank (see :mod:`torchreid.data.samplers`): ``batch_size_train`` is the global batch and each rank
loads ``batch_size_train // world_size`` images per step. Test loaders are complete on every rank unless
``shard_test=True`` (then rank ``r`` reads a contiguous block, to be re-assembled with
``torchreid.utils.distributed.gather_features``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..utils.distributed import resolve_device
from .datasets import init_image_dataset, init_video_dataset
from .samplers import build_train_sampler
from .seeding import EpochSeededDataLoader
from .settings import DataSettings, ImageDataSettings, VideoDataSettings, check_dataset_keywords
from .transforms import build_transforms

__all__ = ["DataManager", "ImageDataManager", "VideoDataManager"]

logger = logging.getLogger(__name__)


def _as_list(names: str | Sequence[str] | None) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        return [names]
    return list(names)


def _dist_info(distributed: bool | None) -> tuple[int, int]:
    """(world size, rank) of the running process group; (1, 0) when not distributed (or when disabled)."""
    if distributed is False:
        return 1, 0
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def _check_not_empty(name: str, subset: str, dataset: Any) -> None:
    """An empty query or gallery set would fail only at the evaluation after training: fail now instead."""
    if len(getattr(dataset, subset)):
        return
    folder = getattr(dataset, f"{subset}_dir", None) or getattr(dataset, "dataset_dir", "") or "?"
    raise ValueError(
        f"target dataset {name!r} has an empty {subset} set: no {subset} images were found in '{folder}'. "
        f"Put the {subset} images there (see the dataset's expected layout) or evaluate on other targets (-t)."
    )


class DataManager:
    """Base data manager.

    Args:
        sources: source dataset name(s) (required).
        targets: target dataset name(s); the sources when ``None``.
        height, width: image size.
        transforms: training augmentation name(s), see :func:`~torchreid.data.transforms.build_transforms`.
        norm_mean, norm_std: normalisation (ImageNet when ``None``).
        use_gpu: pin host memory for faster transfers (only when CUDA is available).
        gpu_augment: workers only decode and resize to uint8; flip / crop / erase and normalisation run batched
            on the device (``self.gpu_transform``, applied by the engine's prefetcher), see
            :mod:`torchreid.data.gpu_transforms`.
    """

    data_type = "image"

    def __init__(
        self,
        sources: str | Sequence[str] | None = None,
        targets: str | Sequence[str] | None = None,
        height: int = 256,
        width: int = 128,
        transforms: str | Sequence[str] | None = "random_flip",
        norm_mean: Sequence[float] | None = None,
        norm_std: Sequence[float] | None = None,
        use_gpu: bool = False,
        gpu_augment: bool = False,
    ) -> None:
        self.sources = _as_list(sources)
        if not self.sources:
            raise ValueError("sources must not be None or empty: name at least one training dataset")
        self._explicit_targets = bool(_as_list(targets))
        self.targets = _as_list(targets) or list(self.sources)
        self.height = height
        self.width = width
        self.transform_tr, self.transform_te = build_transforms(
            self.height, self.width, transforms=transforms, norm_mean=norm_mean, norm_std=norm_std
        )
        self.gpu_transform = None  # batch transform applied on the device after the copy (data.gpu_augment)
        if gpu_augment:
            from .gpu_transforms import build_gpu_augment

            self.transform_tr, self.gpu_transform = build_gpu_augment(
                self.height, self.width, transforms, norm_mean, norm_std
            )
        self.use_gpu = resolve_device(bool(use_gpu)).type == "cuda"
        self._num_train_pids = 0
        self._num_train_cams = 0

    @property
    def num_train_pids(self) -> int:
        """Number of training identities (the classifier size)."""
        return self._num_train_pids

    @property
    def num_train_cams(self) -> int:
        """Number of training cameras."""
        return self._num_train_cams

    def fetch_test_loaders(self, name: str) -> tuple[list, list]:
        """``(query records, gallery records)`` of target ``name`` (the original's name; used by visrank)."""
        if name not in self.test_dataset:
            raise KeyError(f"{name!r} is not a target dataset; targets: {', '.join(self.test_dataset)}")
        return self.test_dataset[name]["query"], self.test_dataset[name]["gallery"]

    def preprocess_pil_img(self, img: Any) -> torch.Tensor:
        """Apply the test transform to a PIL image."""
        return self.transform_te(img)

    # ------------------------------------------------------------------------------------------- shared parts

    def _init_from_settings(self, settings: DataSettings, kwargs: dict[str, Any], kind: str) -> None:
        """Check the extra keywords, then the base initialisation and the process group from ``settings``."""
        params = [f.name for f in fields(settings)]
        check_dataset_keywords(type(self).__name__, kwargs, params, kind)
        self.settings = settings
        DataManager.__init__(
            self,
            sources=settings.sources,
            targets=settings.targets,
            height=settings.height,
            width=settings.width,
            transforms=settings.transforms,
            norm_mean=settings.norm_mean,
            norm_std=settings.norm_std,
            use_gpu=settings.use_gpu,
            gpu_augment=settings.gpu_augment,
        )
        self._world, self._rank = _dist_info(settings.distributed)
        self._shard_test = settings.shard_test

    def _loader_kwargs(self, workers: int, persistent: bool = True) -> dict[str, Any]:
        workers = int(workers)
        kw: dict[str, Any] = {"num_workers": workers, "pin_memory": self.use_gpu}
        if workers > 0 and persistent:
            kw["persistent_workers"] = True
        return kw

    def _train_loader(self, dataset: Any, sampler_name: str, s: DataSettings) -> DataLoader:
        world, rank = self._world, self._rank
        batch_size = s.batch_size_train
        if world > 1 and batch_size % world:
            raise ValueError(
                f"train.batch_size = {batch_size} (the global batch) cannot be split across world size {world}: "
                f"it must be a multiple of the world size"
            )
        sampler = build_train_sampler(
            dataset.train,
            sampler_name,
            batch_size=batch_size,
            num_instances=s.num_instances,
            num_cams=s.num_cams,
            num_datasets=s.num_datasets,
            num_replicas=world if world > 1 else None,
            rank=rank if world > 1 else None,
            seed=s.seed,
        )
        # workers re-seeded from (epoch seed, worker id) every epoch: a resumed run continues exactly (seeding.py)
        return EpochSeededDataLoader(
            dataset,
            sampler=sampler,
            batch_size=batch_size // world,
            shuffle=False,
            drop_last=True,
            **self._loader_kwargs(s.workers),
        )

    def _test_loader(self, dataset: Any, batch_size: int, workers: int) -> DataLoader:
        sampler = None
        if self._shard_test and self._world > 1:
            from ..utils.distributed import ShardSampler

            sampler = ShardSampler(dataset, rank=self._rank, world_size=self._world)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            sampler=sampler,
            drop_last=False,
            # evaluation runs every eval_freq epochs: start its workers then instead of keeping two processes
            # per worker and target alive (and their memory) for the whole run
            **self._loader_kwargs(workers, persistent=False),
        )

    def _build_loaders(
        self, init_dataset: Any, s: DataSettings, extra: dict[str, Any], k_tfm: int | None = None
    ) -> tuple[Any, Any]:
        """Build ``train_loader`` (+ ``train_loader_t``), ``test_loader`` and ``test_dataset`` from ``s``.

        Datasets are built with ``init_dataset(name, transform=..., [k_tfm=...,] mode=..., combineall=...,
        verbose=..., **options)`` where the options are ``s.dataset_options()``, ``s.dataset_kwargs`` and the
        extra keywords; ``k_tfm`` (image data) applies to training sets, test sets get 1.
        Returns ``(train set, target train set or None)``.
        """
        options = {**s.dataset_options(), **(s.dataset_kwargs or {}), **extra}

        def make(name: str, transform: Any, mode: str, combine: bool) -> Any:
            copies = {} if k_tfm is None else {"k_tfm": k_tfm if mode == "train" else 1}
            return init_dataset(
                name,
                transform=transform,
                **copies,
                mode=mode,
                combineall=combine,
                verbose=self._rank == 0,
                **options,
            )

        logger.info("=> Loading train (source) dataset")
        trainset = sum(make(name, self.transform_tr, "train", s.combineall) for name in self.sources)
        self.train_set = trainset
        self._num_train_pids = trainset.num_train_pids
        self._num_train_cams = trainset.num_train_cams
        self.train_loader = self._train_loader(trainset, s.train_sampler, s)

        self.train_loader_t = None
        trainset_t = None
        if getattr(s, "load_train_targets", False):
            overlap = set(self.sources) & set(self.targets)
            if overlap:
                raise ValueError(
                    f"sources and targets must not overlap when load_train_targets=True: {sorted(overlap)}"
                )
            logger.info("=> Loading train (target) dataset")
            trainset_t = sum(make(name, self.transform_tr, "train", False) for name in self.targets)
            self.train_loader_t = self._train_loader(trainset_t, s.train_sampler_t, s)

        logger.info("=> Loading test (target) dataset")
        self.test_loader: dict[str, dict[str, DataLoader]] = {}
        self.test_dataset: dict[str, dict[str, list]] = {}
        for name in list(self.targets):
            queryset = make(name, self.transform_te, "query", False)
            if getattr(queryset, "_train_only", False):
                # its query/gallery are placeholders: evaluating on them would fail only after training
                msg = f"{name!r} is a training-only dataset (it has no query/gallery split)"
                if getattr(self, "_explicit_targets", True) or len(self.targets) == 1:
                    raise ValueError(f"{msg}, so it cannot be a target: name test datasets in targets (-t)")
                warnings.warn(f"{msg}; it is not evaluated (targets default to the sources)", stacklevel=3)
                self.targets.remove(name)
                if not self.targets:
                    raise ValueError("every source is training-only: name test datasets in targets (-t)")
                continue
            _check_not_empty(name, "query", queryset)
            galleryset = make(name, self.transform_te, "gallery", False)
            _check_not_empty(name, "gallery", galleryset)
            self.test_loader[name] = {
                "query": self._test_loader(queryset, s.batch_size_test, s.workers),
                "gallery": self._test_loader(galleryset, s.batch_size_test, s.workers),
            }
            self.test_dataset[name] = {"query": queryset.query, "gallery": galleryset.gallery}
        return trainset, trainset_t

    def _print_summary(self, train_summary: list[str]) -> None:
        lines = [
            "\n",
            "  **************** Summary ****************",
            f"  source            : {self.sources}",
            f"  # source datasets : {len(self.sources)}",
            f"  # source ids      : {self.num_train_pids}",
            f"  {train_summary[0]}",
            f"  # source cameras  : {self.num_train_cams}",
            *(f"  {line}" for line in train_summary[1:]),
            f"  target            : {self.targets}",
            "  *****************************************",
            "\n",
        ]
        logger.info("\n".join(lines))


class ImageDataManager(DataManager):
    """Image data manager.

    Args (as the original): ``root``, ``sources``, ``targets``, ``height``, ``width``, ``transforms``, ``k_tfm``
    (augmented copies per training image), ``norm_mean``, ``norm_std``, ``use_gpu``, ``split_id``, ``combineall``,
    ``load_train_targets`` (also build ``train_loader_t`` over the targets' training data), ``batch_size_train``,
    ``batch_size_test``, ``workers``, ``num_instances``, ``num_cams``, ``num_datasets``, ``train_sampler``,
    ``train_sampler_t``, ``cuhk03_labeled``, ``cuhk03_classic_split``, ``market1501_500k``.

    New: ``seed`` (sampler schedule seed for distributed training), ``distributed`` (``None`` = follow
    ``torch.distributed``), ``shard_test``, ``gpu_augment`` (see :class:`DataManager`), ``dataset_kwargs`` (extra
    keyword arguments for every dataset, e.g. the sizes of ``synthetic``) and the options the registered image
    datasets declare (e.g. ``custom_train``), which are passed to the datasets. Any other keyword is a
    ``TypeError`` naming the closest valid one. The arguments are kept as ``self.settings``
    (:class:`~torchreid.data.settings.ImageDataSettings`).

    Examples::

        datamanager = torchreid.data.ImageDataManager(root='path/to/reid-data', sources='market1501',
                                                      height=256, width=128, batch_size_train=32)
        train_loader = datamanager.train_loader
        test_loader = datamanager.test_loader  # {name: {'query': loader, 'gallery': loader}}
    """

    data_type = "image"

    def __init__(
        self,
        root: str = "",
        sources: str | Sequence[str] | None = None,
        targets: str | Sequence[str] | None = None,
        height: int = 256,
        width: int = 128,
        transforms: str | Sequence[str] | None = "random_flip",
        k_tfm: int = 1,
        norm_mean: Sequence[float] | None = None,
        norm_std: Sequence[float] | None = None,
        use_gpu: bool = True,
        split_id: int = 0,
        combineall: bool = False,
        load_train_targets: bool = False,
        batch_size_train: int = 32,
        batch_size_test: int = 32,
        workers: int = 4,
        num_instances: int = 4,
        num_cams: int = 1,
        num_datasets: int = 1,
        train_sampler: str = "RandomSampler",
        train_sampler_t: str = "RandomSampler",
        cuhk03_labeled: bool = False,
        cuhk03_classic_split: bool = False,
        market1501_500k: bool = False,
        seed: int | None = None,
        distributed: bool | None = None,
        shard_test: bool = False,
        dataset_kwargs: dict[str, Any] | None = None,
        gpu_augment: bool = False,
        **kwargs: Any,
    ) -> None:
        settings = ImageDataSettings.from_arguments(locals())
        self._init_from_settings(settings, kwargs, "image")
        trainset, trainset_t = self._build_loaders(init_image_dataset, settings, kwargs, k_tfm=settings.k_tfm)

        if self._rank == 0:
            lines = [f"# source images   : {len(trainset)}"]
            if settings.load_train_targets:
                lines.append(f"# target images   : {len(trainset_t)} (unlabeled)")
            self._print_summary(lines)


class VideoDataManager(DataManager):
    """Video data manager (tracklets; frames sampled per :class:`~torchreid.data.datasets.dataset.VideoDataset`).

    Args as :class:`ImageDataManager` (no ``k_tfm``/``load_train_targets``), plus ``seq_len`` (frames per
    tracklet) and ``sample_method`` (``'evenly'``, ``'random'`` or ``'all'``; with ``'all'`` use
    ``batch_size_test=1``). Each frame of a tracklet is transformed independently. The arguments are kept as
    ``self.settings`` (:class:`~torchreid.data.settings.VideoDataSettings`).

    Examples::

        datamanager = torchreid.data.VideoDataManager(root='path/to/reid-data', sources='mars', height=256,
                                                      width=128, batch_size_train=3, batch_size_test=3,
                                                      seq_len=15, sample_method='evenly')
    """

    data_type = "video"

    def __init__(
        self,
        root: str = "",
        sources: str | Sequence[str] | None = None,
        targets: str | Sequence[str] | None = None,
        height: int = 256,
        width: int = 128,
        transforms: str | Sequence[str] | None = "random_flip",
        norm_mean: Sequence[float] | None = None,
        norm_std: Sequence[float] | None = None,
        use_gpu: bool = True,
        split_id: int = 0,
        combineall: bool = False,
        batch_size_train: int = 3,
        batch_size_test: int = 3,
        workers: int = 4,
        num_instances: int = 4,
        num_cams: int = 1,
        num_datasets: int = 1,
        train_sampler: str = "RandomSampler",
        seq_len: int = 15,
        sample_method: str = "evenly",
        seed: int | None = None,
        distributed: bool | None = None,
        shard_test: bool = False,
        dataset_kwargs: dict[str, Any] | None = None,
        gpu_augment: bool = False,
        **kwargs: Any,
    ) -> None:
        settings = VideoDataSettings.from_arguments(locals())
        self._init_from_settings(settings, kwargs, "video")
        self.seq_len = seq_len
        self.sample_method = sample_method
        trainset, _ = self._build_loaders(init_video_dataset, settings, kwargs)

        if self._rank == 0:
            self._print_summary([f"# source tracklets : {len(trainset)}"])

        check_video_loaders(self)  # fail now, before a model is built


def _loader_dataset(loader: Any) -> Any:
    dataset = getattr(loader, "dataset", None)
    while dataset is not None and not hasattr(dataset, "sample_method") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset  # wrappers (Subset, prefetchers)
    return dataset


def check_video_loaders(datamanager: Any) -> None:
    """``sample_method='all'`` yields tracklets of different lengths, which cannot be batched: such a loader
    needs a batch size of 1. Raise a clear error instead of the DataLoader's tensor-size mismatch."""
    loaders: list[tuple[str, Any]] = [("train", getattr(datamanager, "train_loader", None))]
    for name, pair in (getattr(datamanager, "test_loader", None) or {}).items():
        for subset in ("query", "gallery"):
            loaders.append((f"{name} {subset}", pair.get(subset) if isinstance(pair, dict) else None))
    for what, loader in loaders:
        if loader is None:
            continue
        dataset = _loader_dataset(loader)
        batch_size = getattr(loader, "batch_size", None)
        if getattr(dataset, "sample_method", None) == "all" and batch_size is not None and batch_size > 1:
            key = "train.batch_size" if what == "train" else "test.batch_size"
            raise ValueError(
                f"video sample_method 'all' reads every frame of a tracklet, so tracklets have different lengths "
                f"and cannot be batched: the {what} loader has batch size {batch_size}. Set {key} 1 "
                "(or use video.sample_method 'evenly' / 'random' with a fixed video.seq_len)."
            )
