"""Loader workers that start every epoch in a reproducible state, so a resumed run continues exactly.

A ``DataLoader`` with ``persistent_workers=True`` keeps its worker processes, and their random state, from one
epoch to the next, while a resumed run starts new workers: their random augmentation (random flip, crop, erasing)
then differs from the uninterrupted run's and the weights diverge. :class:`EpochSeededDataLoader` fixes that while
keeping the workers alive:

- at the start of every epoch (each ``iter(loader)``) the main process draws one 64-bit *epoch seed* from its
  random generator (the global torch RNG, whose state a checkpoint stores and a resume restores) — the draw an
  ordinary ``DataLoader`` makes for its workers' seeds, at the same point, so the sampling order is unchanged;
- the epoch seed goes to the workers through a small shared-memory tensor; before its first sample of each epoch
  every worker re-seeds Python's ``random``, NumPy and torch from ``(epoch seed, worker id)`` exactly as torch
  seeds a new worker from its base seed.

So in every epoch each worker's state is a function of the run's seed, the epoch and the worker id, the same for
persistent workers, new workers, a resumed run and a plain ``DataLoader`` without persistent workers (the
original Torchreid's loader) (``tests/data/test_seeding.py`` checks bit-identical weights
for 0, 2 and 4 workers with the random and the identity sampler).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, get_worker_info

__all__ = ["EpochSeededDataLoader", "seed_worker"]

_MASK32 = 0xFFFFFFFF


try:  # how torch seeds NumPy in a new worker; private, hence the fallback
    from torch.utils.data._utils.worker import _generate_state as _torch_numpy_state
except ImportError:  # pragma: no cover - older/newer torch
    _torch_numpy_state = None


def seed_worker(epoch_seed: int, worker_id: int) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and torch in a loader worker from
    ``(epoch_seed, worker_id)`` the way torch seeds a new worker from its base seed, so that a re-seeded worker is
    in the state a new worker of a plain ``DataLoader`` would be in."""
    epoch_seed, worker_id = int(epoch_seed), int(worker_id)
    seed = epoch_seed + worker_id
    random.seed(seed)
    torch.manual_seed(seed)
    if _torch_numpy_state is not None:
        np.random.seed(_torch_numpy_state(epoch_seed, worker_id))
    else:  # pragma: no cover
        parts = [worker_id, epoch_seed & _MASK32, (epoch_seed >> 32) & _MASK32]
        np.random.seed(np.random.SeedSequence(parts).generate_state(4))


class _EpochReseed:
    """A loader's ``worker_init_fn``: installs a per-batch check that re-seeds the worker when a new epoch began
    (the shared ``box`` holds ``(generation, epoch seed)``), then calls the user's ``worker_init_fn``."""

    def __init__(self, box: torch.Tensor, user_init: Callable[[int], None] | None) -> None:
        self.box = box
        self.user_init = user_init

    def __call__(self, worker_id: int) -> None:
        info = get_worker_info()
        if info is not None:
            dataset = info.dataset
            inner = getattr(dataset, "__getitems__", None)
            state = {"seen": -1}
            box = self.box

            def getitems(indices: Sequence[int]) -> list[Any]:
                generation = int(box[0])
                if generation != state["seen"]:  # the first batch of a new epoch in this worker
                    state["seen"] = generation
                    seed_worker(int(box[1]), worker_id)
                if inner is not None:
                    return inner(indices)
                return [dataset[i] for i in indices]

            # the fetcher of a map-style dataset calls ``dataset.__getitems__(batch)`` when it exists: set on this
            # worker's own copy of the dataset, the main process's dataset is untouched
            dataset.__getitems__ = getitems
        if self.user_init is not None:
            self.user_init(worker_id)


class EpochSeededDataLoader(DataLoader):
    """A ``DataLoader`` (same arguments) whose workers are re-seeded from ``(epoch seed, worker id)`` at the start
    of every epoch; see the module docstring. ``generator`` is the source of the epoch seeds (None: the global
    torch RNG, as a plain ``DataLoader``); persistent workers stay persistent.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._seed_source: torch.Generator | None = kwargs.pop("generator", None)
        self._seed_box = torch.zeros(2, dtype=torch.int64).share_memory_()
        kwargs["worker_init_fn"] = _EpochReseed(self._seed_box, kwargs.get("worker_init_fn"))
        # torch draws its own worker base seed on every new iterator: from a private generator, so that the
        # run's RNG is consumed exactly once per epoch (below) whether the workers are new or persistent
        kwargs["generator"] = torch.Generator()
        super().__init__(*args, **kwargs)

    def __iter__(self) -> Any:
        epoch_seed = int(torch.empty((), dtype=torch.int64).random_(generator=self._seed_source).item())
        self._seed_box[1] = epoch_seed
        self._seed_box[0] += 1
        return super().__iter__()
