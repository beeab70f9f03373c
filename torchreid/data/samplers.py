"""Training samplers and :func:`build_train_sampler`.

Built-in names (the ``sampler.train_sampler`` config values): ``RandomSampler``, ``SequentialSampler``
(PyTorch's), ``RandomIdentitySampler`` (P identities x K instances per batch, for the triplet loss),
``RandomDomainSampler`` (each batch from ``num_cams`` random cameras) and ``RandomDatasetSampler`` (each batch
from ``num_datasets`` random source datasets). More can be added with ``SAMPLERS.register(name, factory)``, where
``factory(data_source, batch_size=, num_instances=, num_cams=, num_datasets=, num_replicas=, rank=, seed=)``
returns a sampler.

Distributed training: pass ``num_replicas`` (world size) and ``rank``. ``batch_size`` is then the *global* batch
(all ranks together); every rank reads ``batch_size // num_replicas`` images per step. The batch samplers build one
epoch of global batches from ``seed`` and the epoch (``set_epoch(epoch)``, called by the engine), identical on
every rank, and rank ``r`` takes the ``r``-th slice of each global batch: the ranks see disjoint images drawn from
the same schedule. Without ``num_replicas`` the behaviour is the original single-process one (randomness from
Python's global ``random``, so ``set_random_seed`` makes it reproducible).
"""

from __future__ import annotations

import abc
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import DistributedSampler, RandomSampler, Sampler, SequentialSampler

from ..utils.registry import Registry

__all__ = [
    "AVAI_SAMPLERS",
    "SAMPLERS",
    "RandomDatasetSampler",
    "RandomDomainSampler",
    "RandomIdentitySampler",
    "build_train_sampler",
]

SAMPLERS: Registry[Any] = Registry("train sampler")


def _check_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    world = 1 if num_replicas is None else int(num_replicas)
    r = 0 if rank is None else int(rank)
    if world < 1:
        raise ValueError(f"num_replicas (world size) must be >= 1, got {world}")
    if not 0 <= r < world:
        raise ValueError(f"rank {r} is outside 0..{world - 1} (world size {world})")
    return world, r


class _EpochBatchSampler(Sampler[int], abc.ABC):
    """Base of the batch-structured samplers: builds global batches per epoch, yields this rank's slices.

    Subclasses implement :meth:`_global_batches` (a list of index lists, each of length ``batch_size``).
    """

    def __init__(
        self,
        data_source: Sequence[Any],
        batch_size: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.data_source = data_source
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.num_replicas, self.rank = _check_replicas(num_replicas, rank)
        self.distributed = num_replicas is not None and self.num_replicas > 1
        if self.batch_size % self.num_replicas:
            raise ValueError(
                f"The global batch size (train.batch_size = {self.batch_size}) cannot be split across world size "
                f"{self.num_replicas}: it must be a multiple of the world size"
            )
        self.local_batch_size = self.batch_size // self.num_replicas
        # ranks must agree on the schedule, so a distributed sampler always has an explicit seed
        self.seed = seed if seed is not None else (0 if self.distributed else None)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the schedule of ``epoch`` (identical on every rank for a given seed)."""
        self.epoch = int(epoch)

    def _rng(self) -> random.Random:
        if self.seed is None:  # single process, original behaviour: follow the global RNG
            return random.Random(random.getrandbits(64))
        return random.Random(f"{self.seed}:{self.epoch}")

    @abc.abstractmethod
    def _global_batches(self, rng: random.Random) -> list[list[int]]:
        """All ranks' batches of one epoch (global batch size), drawn from ``rng``."""

    def batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch (each ``batch_size // num_replicas`` indices)."""
        rng = self._rng()
        if self.seed is not None:
            self.epoch += 1  # a later epoch differs even if set_epoch is not called (set_epoch overrides)
        lo = self.rank * self.local_batch_size
        return [b[lo : lo + self.local_batch_size] for b in self._global_batches(rng)]

    def __iter__(self) -> Iterator[int]:
        return iter([i for b in self.batches() for i in b])


class RandomIdentitySampler(_EpochBatchSampler):
    """Batches of P identities x K instances (``P = batch_size // num_instances``).

    Each epoch: every identity's indices (drawn with replacement up to K when it has fewer) are shuffled and cut
    into chunks of K; then P distinct available identities are picked at random, one chunk taken from each, until
    fewer than P identities have chunks left. Every batch holds exactly P identities x K images; with
    ``num_replicas`` the global batch is split by identity, so each rank gets ``P / num_replicas`` identities x K.
    """

    def __init__(
        self,
        data_source: Sequence[Any],
        batch_size: int,
        num_instances: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        num_instances = int(num_instances)
        if num_instances < 1:
            raise ValueError(f"num_instances must be >= 1, got {num_instances}")
        if batch_size < num_instances:
            raise ValueError(
                f"batch_size={batch_size} must be at least num_instances={num_instances} "
                "(a batch holds P identities x K=num_instances images)"
            )
        if batch_size % num_instances:
            raise ValueError(
                f"batch_size={batch_size} must be a multiple of num_instances={num_instances} so that every batch "
                f"holds exactly P identities x K images (e.g. batch_size={batch_size - batch_size % num_instances})"
            )
        world = 1 if num_replicas is None else int(num_replicas)
        if world > 1 and batch_size % (num_instances * world):
            raise ValueError(
                f"RandomIdentitySampler: the global batch (train.batch_size = {batch_size}) cannot be split across "
                f"world size {world} with num_instances={num_instances}: it must be a multiple of "
                f"num_instances x world size = {num_instances * world}"
            )
        super().__init__(data_source, batch_size, num_replicas, rank, seed)
        self.num_instances = num_instances
        self.num_pids_per_batch = batch_size // num_instances
        self.index_dic: dict[int, list[int]] = defaultdict(list)
        for index, items in enumerate(data_source):
            self.index_dic[int(items[1])].append(index)
        self.pids = sorted(self.index_dic)
        if len(self.pids) < self.num_pids_per_batch:
            raise ValueError(
                f"RandomIdentitySampler needs at least P = batch_size / num_instances = {self.num_pids_per_batch} "
                f"identities, but the training set has {len(self.pids)}; lower batch_size or raise num_instances"
            )
        # estimated number of examples in an epoch (as the original; the exact count varies per epoch)
        self.length = 0
        for pid in self.pids:
            n = len(self.index_dic[pid])
            self.length += num_instances if n < num_instances else n - n % num_instances

    def _global_batches(self, rng: random.Random) -> list[list[int]]:
        k, p = self.num_instances, self.num_pids_per_batch
        chunks: dict[int, list[list[int]]] = {}
        for pid in self.pids:
            idxs = list(self.index_dic[pid])
            if len(idxs) < k:
                idxs = [rng.choice(idxs) for _ in range(k)]
            rng.shuffle(idxs)
            chunks[pid] = [idxs[i : i + k] for i in range(0, len(idxs) - len(idxs) % k, k)]
        avai_pids = list(self.pids)
        batches = []
        while len(avai_pids) >= p:
            selected = rng.sample(avai_pids, p)
            batch: list[int] = []
            for pid in selected:
                batch.extend(chunks[pid].pop(0))
                if not chunks[pid]:
                    avai_pids.remove(pid)
            batches.append(batch)
        return batches

    def __len__(self) -> int:
        return self.length // self.num_replicas


class _RandomGroupSampler(_EpochBatchSampler):
    """Each batch: ``batch_size / n_group`` random images from each of ``n_group`` random groups (field ``key``)."""

    _field = 2
    _what = "domain"
    _option = "num_cams"

    def __init__(
        self,
        data_source: Sequence[Any],
        batch_size: int,
        n_group: int | None,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(data_source, batch_size, num_replicas, rank, seed)
        self.group_dict: dict[int, list[int]] = defaultdict(list)
        for i, items in enumerate(data_source):
            self.group_dict[int(items[self._field])].append(i)
        self.groups = sorted(self.group_dict)
        if n_group is None or n_group <= 0:
            n_group = len(self.groups)
        name = type(self).__name__
        if n_group > len(self.groups):
            raise ValueError(
                f"{name}: {self._option}={n_group} but the training set has only {len(self.groups)} "
                f"{self._what}s ({self.groups})"
            )
        if self.batch_size % n_group:
            raise ValueError(
                f"{name}: batch_size={self.batch_size} must be divisible by {self._option}={n_group}"
            )
        self.n_group = n_group
        self.n_img_per_group = self.batch_size // n_group
        small = [g for g in self.groups if len(self.group_dict[g]) < self.n_img_per_group]
        if small:
            raise ValueError(
                f"{name}: each batch takes {self.n_img_per_group} images from a {self._what}, but "
                f"{self._what}(s) {small} have fewer images; lower batch_size or raise {self._option}"
            )
        self.length = len(self._global_batches(random.Random(0))) * self.batch_size

    def _global_batches(self, rng: random.Random) -> list[list[int]]:
        remaining = {g: list(idxs) for g, idxs in self.group_dict.items()}
        batches = []
        stop = False
        while not stop:
            batch: list[int] = []
            for g in rng.sample(self.groups, self.n_group):
                pool = remaining[g]
                picked = rng.sample(range(len(pool)), self.n_img_per_group)
                batch.extend(pool[i] for i in picked)
                chosen = set(picked)
                remaining[g] = [x for i, x in enumerate(pool) if i not in chosen]
                if len(remaining[g]) < self.n_img_per_group:
                    stop = True
            batches.append(batch)
        return batches

    def __len__(self) -> int:
        return self.length // self.num_replicas


class RandomDomainSampler(_RandomGroupSampler):
    """Each batch draws ``batch_size / n_domain`` images from each of ``n_domain`` random cameras (camid)."""

    _field = 2
    _what = "camera"
    _option = "num_cams"

    def __init__(
        self,
        data_source: Sequence[Any],
        batch_size: int,
        n_domain: int | None,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(data_source, batch_size, n_domain, num_replicas, rank, seed)
        self.n_domain = self.n_group
        self.domains = self.groups


class RandomDatasetSampler(_RandomGroupSampler):
    """Each batch draws ``batch_size / n_dataset`` images from each of ``n_dataset`` random datasets (dsetid)."""

    _field = 3
    _what = "dataset"
    _option = "num_datasets"

    def __init__(
        self,
        data_source: Sequence[Any],
        batch_size: int,
        n_dataset: int | None,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(data_source, batch_size, n_dataset, num_replicas, rank, seed)
        self.n_dataset = self.n_group
        self.datasets = self.groups


# ---------------------------------------------------------------------------------------------------- registry


def _distributed_or(
    plain: Sampler,
    data_source: Sequence[Any],
    shuffle: bool,
    num_replicas: int | None,
    rank: int | None,
    seed: int | None,
) -> Sampler:
    world, r = _check_replicas(num_replicas, rank)
    if world == 1:
        return plain
    return DistributedSampler(
        data_source, num_replicas=world, rank=r, shuffle=shuffle, seed=0 if seed is None else int(seed)
    )


@SAMPLERS.register("RandomSampler")
def _random(
    data_source: Sequence[Any],
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> Sampler:
    return _distributed_or(RandomSampler(data_source), data_source, True, num_replicas, rank, seed)


@SAMPLERS.register("SequentialSampler")
def _sequential(
    data_source: Sequence[Any],
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> Sampler:
    return _distributed_or(SequentialSampler(data_source), data_source, False, num_replicas, rank, seed)


@SAMPLERS.register("RandomIdentitySampler")
def _identity(
    data_source: Sequence[Any],
    batch_size: int = 32,
    num_instances: int = 4,
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> RandomIdentitySampler:
    return RandomIdentitySampler(data_source, batch_size, num_instances, num_replicas, rank, seed)


@SAMPLERS.register("RandomDomainSampler")
def _domain(
    data_source: Sequence[Any],
    batch_size: int = 32,
    num_cams: int | None = 1,
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> RandomDomainSampler:
    return RandomDomainSampler(data_source, batch_size, num_cams, num_replicas, rank, seed)


@SAMPLERS.register("RandomDatasetSampler")
def _dataset(
    data_source: Sequence[Any],
    batch_size: int = 32,
    num_datasets: int | None = 1,
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> RandomDatasetSampler:
    return RandomDatasetSampler(data_source, batch_size, num_datasets, num_replicas, rank, seed)


AVAI_SAMPLERS = SAMPLERS.names()


def build_train_sampler(
    data_source: Sequence[Any],
    train_sampler: str,
    batch_size: int = 32,
    num_instances: int = 4,
    num_cams: int = 1,
    num_datasets: int = 1,
    num_replicas: int | None = None,
    rank: int | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> Sampler:
    """Build the training sampler named ``train_sampler`` (unknown name → error listing the valid ones).

    Args:
        data_source: the training records ``(path, pid, camid, dsetid)``.
        train_sampler: a name registered in :data:`SAMPLERS`.
        batch_size: the (global) training batch size.
        num_instances: K of ``RandomIdentitySampler``.
        num_cams: number of cameras per batch of ``RandomDomainSampler``.
        num_datasets: number of datasets per batch of ``RandomDatasetSampler``.
        num_replicas, rank: distributed training (world size and this process's rank); ``None`` = one process.
        seed: seed of the epoch schedules (distributed samplers default to 0 so all ranks agree).
    """
    factory = SAMPLERS.get(train_sampler)
    return factory(
        data_source,
        batch_size=batch_size,
        num_instances=num_instances,
        num_cams=num_cams,
        num_datasets=num_datasets,
        num_replicas=num_replicas,
        rank=rank,
        seed=seed,
        **kwargs,
    )
