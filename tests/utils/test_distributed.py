"""DDP on CPU: a 2-process ``torchrun`` (gloo) trains a tiny model through scripts/main.py.

Checks that both ranks end with identical parameters after seeing different samples, that only rank 0 wrote the
log, TensorBoard file and checkpoint, that rank 0's checkpoint resumes, and the single-process helpers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

from torchreid.utils import distributed as D

pytestmark = pytest.mark.slow

NPROC = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node", str(NPROC), "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(REPO))


def _main_args(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [
        "data.sources", "['custom']", "data.targets", "['custom']",
        "custom.train", str(data / "train"), "custom.query", str(data / "query"),
        "custom.gallery", str(data / "gallery"),
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "data.height", "64", "data.width", "32", "data.workers", "0",
        "train.batch_size", "16", "train.max_epoch", "1", "train.print_freq", "1",
        "train.lr", "0.003", "train.optim", "amsgrad",
        "test.batch_size", "16", "data.save_dir", str(save_dir), "use_gpu", "False",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny custom dataset in the ``<pid>/<camid>/<image>`` folder layout: 8 train ids, 4 test ids, 2 cameras."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("reid-data")
    rng = np.random.default_rng(0)

    def write(subset: str, pids: range, per_cam: int) -> None:
        for pid in pids:
            colour = rng.integers(0, 255, 3)
            for cam in range(2):
                d = root / subset / str(pid) / str(cam)
                d.mkdir(parents=True, exist_ok=True)
                for k in range(per_cam):
                    img = np.clip(colour + rng.normal(0, 40, (32, 16, 3)), 0, 255).astype(np.uint8)
                    Image.fromarray(img).save(d / f"{k}.png")

    write("train", range(8), 4)
    write("query", range(100, 104), 1)
    write("gallery", range(100, 104), 2)
    return root


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist-out")
    save_dir = out / "log"
    proc = _torchrun(["tests/_dist_worker.py", str(out), *_main_args(synthetic_root, save_dir)])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(NPROC)]
    return save_dir, ranks, proc


def test_ranks_stay_in_sync_and_see_different_samples(trained):
    _, ranks, _ = trained
    p0, p1 = ranks[0]["params"], ranks[1]["params"]
    assert p0.keys() == p1.keys()
    for k in p0:
        assert torch.equal(p0[k], p1[k]), f"parameter {k} differs between rank 0 and rank 1"
    i0, i1 = ranks[0]["indices"], ranks[1]["indices"]
    assert len(i0) == len(i1) > 0
    assert i0 != i1, "both ranks drew the same samples"


def test_ranks_evaluate_with_rank0_batchnorm_statistics(trained):
    # DDP syncs buffers only at the start of a forward: after the last training step each rank's BatchNorm
    # running statistics differ; the evaluation (which ran last) must have used rank 0's on every shard
    _, ranks, _ = trained
    b0, b1 = ranks[0]["buffers"], ranks[1]["buffers"]
    assert b0.keys() == b1.keys() and any("running_mean" in k for k in b0)
    for k in b0:
        assert torch.equal(b0[k], b1[k]), f"buffer {k} differs between rank 0 and rank 1"


def test_only_rank0_writes(trained):
    save_dir, _, _ = trained
    logs = sorted(save_dir.glob("train.log*"))
    assert len(logs) == 1, logs
    text = logs[0].read_text()
    assert "world size 2" in text and "epoch: [1/1][4/4]" in text  # 64 images / global batch 16
    events = sorted(save_dir.rglob("events.out.tfevents*"))
    assert len(events) == 1, events
    ckpts = sorted(save_dir.rglob("model.pth.tar-*"))
    assert [c.name for c in ckpts] == ["model.pth.tar-1"], ckpts


def test_rank0_checkpoint_resumes(trained, synthetic_root, tmp_path):
    save_dir, ranks, _ = trained
    ckpt = save_dir / "model" / "model.pth.tar-1"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["epoch"] == 1
    for k, v in ranks[0]["params"].items():
        assert torch.equal(state["state_dict"][k], v), f"checkpoint differs from rank 0's {k}"
    new_dir = tmp_path / "resumed"
    args = _main_args(synthetic_root, new_dir, "model.resume", str(ckpt), "train.max_epoch", "2")
    proc = _torchrun(["scripts/main.py", *args])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    log = next(new_dir.glob("train.log*")).read_text()
    assert "epoch: [2/2]" in log and "epoch: [1/2]" not in log
    resumed = torch.load(new_dir / "model" / "model.pth.tar-2", map_location="cpu", weights_only=False)
    assert resumed["epoch"] == 2


def test_triplet_without_softmax_trains_under_ddp(synthetic_root, tmp_path):
    # loss.triplet.weight_x defaults to 0: the classifier gets no gradient, which DDP must be told about
    args = _main_args(
        synthetic_root, tmp_path / "log",
        "sampler.train_sampler", "RandomIdentitySampler", "sampler.num_instances", "4", "loss.name", "triplet",
    )  # fmt: skip
    proc = _torchrun(["scripts/main.py", *args], timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    assert (tmp_path / "log" / "model" / "model.pth.tar-1").is_file()


def test_identity_sampler_batch_not_divisible_across_ranks(synthetic_root, tmp_path):
    # 2 ranks x 4 instances: the global batch (12) must be a multiple of 8
    args = _main_args(
        synthetic_root, tmp_path / "log",
        "train.batch_size", "12", "sampler.train_sampler", "RandomIdentitySampler",
        "sampler.num_instances", "4", "loss.name", "triplet",
    )  # fmt: skip
    proc = _torchrun(["scripts/main.py", *args], timeout=180)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "train.batch_size" in err and "world size" in err, err[-3000:]


# ---------------------------------------------------------------------------------------------- single process
def test_single_process_helpers():
    assert D.get_rank() == 0 and D.get_world_size() == 1 and D.is_main_process()
    assert not D.is_distributed()
    D.barrier()
    x = torch.randn(3, 4)
    f, p, c = D.gather_features(x, [1, 2, 3], [0, 0, 1])
    assert f is x and p.tolist() == [1, 2, 3] and c.tolist() == [0, 0, 1]
    assert D.all_reduce_mean({"loss": 2.0}) == {"loss": 2.0}
    model = torch.nn.Linear(2, 2)
    assert D.wrap_ddp(model) is model and D.unwrap_model(torch.nn.DataParallel(model)) is model
    info = D.init_distributed(use_gpu=False)
    assert info.world_size == 1 and not info.distributed and info.device.type == "cpu"


def test_gather_features_reads_ids_from_device_tensors():
    class DeviceOnly(torch.Tensor):  # like a CUDA tensor: NumPy cannot read it, .cpu() can
        def __array__(self, *args, **kwargs):
            raise TypeError("can't convert cuda:0 device type tensor to numpy")

        def cpu(self, *args, **kwargs):
            return self.as_subclass(torch.Tensor)

    ids = torch.tensor([4, 5, 6]).as_subclass(DeviceOnly)
    _, p, c = D.gather_features(torch.randn(3, 2), ids, ids)
    assert p.tolist() == c.tolist() == [4, 5, 6] and p.dtype.name == "int64"
    model = torch.nn.BatchNorm1d(2)
    D.broadcast_buffers(model)  # no-op on a single process
    assert torch.equal(model.running_mean, torch.zeros(2))


def test_shard_sampler_covers_in_order():
    data = list(range(11))
    shards = [list(D.ShardSampler(data, rank=r, world_size=3)) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 3]
    assert [i for s in shards for i in s] == data


def test_nccl_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(RuntimeError, match="nccl"):
        D.init_distributed(backend="nccl", use_gpu=False)
