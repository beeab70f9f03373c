"""Exact resume with loader workers: "2 epochs" and "1 epoch + resume to 2" give bit-identical weights on the CPU
with 0, 2 and 4 workers (persistent) and with the random and the identity sampler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _shared import TINY_SYNTHETIC

from torchreid.data.seeding import EpochSeededDataLoader, seed_worker


def _argv(root: Path, save_dir: Path, *opts: str) -> list[str]:
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY_SYNTHETIC, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    return [
        "--root", str(root), "-s", "synthetic_tiny", "-t", "synthetic_tiny",
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "data.height", "32", "data.width", "16", "data.save_dir", str(save_dir),
        "data.transforms", "['random_flip', 'random_erase']",
        "train.batch_size", "16", "train.print_freq", "100", "train.optim", "sgd", "train.lr", "0.01",
        "train.stepsize", "[1]", "train.fixbase_epoch", "0", "test.batch_size", "64", "use_gpu", "False",
        *opts,
    ]  # fmt: skip


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from torchreid.utils.checkpoint import load_checkpoint

    return load_checkpoint(path)["state_dict"]


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["RandomSampler", "RandomIdentitySampler"])
@pytest.mark.parametrize("workers", [0, 2, 4])
def test_resume_is_bit_exact_with_workers(tmp_path, workers, sampler):
    from torchreid.runner import main

    root = tmp_path / "data"
    common = ("data.workers", str(workers), "sampler.train_sampler", sampler, "sampler.num_instances", "4")
    straight = tmp_path / "straight"
    main(_argv(root, straight, *common, "train.max_epoch", "2", "test.eval_freq", "1"))
    resumed = tmp_path / "resumed"
    main(
        _argv(
            root,
            resumed,
            *common,
            "train.max_epoch",
            "2",
            "model.resume",
            str(straight / "model/model.pth.tar-1"),
        )
    )
    a, b = _weights(straight / "model/model.pth.tar-2"), _weights(resumed / "model/model.pth.tar-2")
    first = _weights(straight / "model/model.pth.tar-1")
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], first[k]) for k in a)  # the second epoch trained
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == [], f"{len(differ)} of {len(a)} tensors differ, e.g. {differ[:3]}"


class _Noise(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.rand(1)


def _epochs(loader, n: int) -> list[torch.Tensor]:
    return [torch.cat([b.flatten() for b in loader]) for _ in range(n)]


def test_persistent_workers_draw_like_new_workers_every_epoch():
    """The loader alone: persistent workers give exactly what new workers give in every epoch, and what a plain
    DataLoader gives (the original's), and the workers' draws differ between epochs (a new epoch seed each)."""
    kw = {"batch_size": 2, "num_workers": 2}
    torch.manual_seed(0)
    persistent = _epochs(EpochSeededDataLoader(_Noise(), persistent_workers=True, **kw), 3)
    after_p = torch.rand(1)
    torch.manual_seed(0)
    fresh = _epochs(EpochSeededDataLoader(_Noise(), persistent_workers=False, **kw), 3)
    after_f = torch.rand(1)
    torch.manual_seed(0)
    plain = _epochs(
        torch.utils.data.DataLoader(_Noise(), **kw), 3
    )  # the original's loader: new workers per epoch
    after_plain = torch.rand(1)
    for p, f, o in zip(persistent, fresh, plain):
        assert torch.equal(p, f) and torch.equal(p, o)
    assert torch.equal(after_p, after_plain)
    assert not torch.equal(persistent[0], persistent[1])
    assert torch.equal(after_p, after_f)  # the main process's RNG is consumed the same way


def test_seed_worker_is_a_function_of_its_inputs():
    import random

    import numpy as np

    seed_worker(2**40 + 7, 1)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_worker(2**40 + 7, 1)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    seed_worker(2**40 + 7, 2)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) != a
