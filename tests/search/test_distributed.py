"""A gallery sharded over 2 gloo processes gives the same top-k as one process searching it all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from torchreid.search import FeatureIndex, load_shard, sharded_search

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sharded_search_over_two_processes_equals_one(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.standard_normal((101, 16)).astype(np.float32)
    g[48:55] = g[3]  # exact ties on both sides of the shard boundary (51)
    q = np.concatenate([g[3:4], rng.standard_normal((4, 16)).astype(np.float32)])
    index = FeatureIndex(16, "euclidean", "float16")
    index.add(g, ids=np.arange(1000, 1101))
    index.save(tmp_path / "idx")
    np.save(tmp_path / "queries.npy", q)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(Path(__file__).with_name("_dist_search_worker.py")),
           str(tmp_path / "idx"), str(tmp_path), "12"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=str(REPO))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    want_d, want_i = index.search(q, 12)
    assert want_i[0][:8].tolist() == [3, 48, 49, 50, 51, 52, 53, 54]
    results = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    assert [int(r["n"]) for r in results] == [51, 50] and int(results[1]["first"][0]) == 1051
    for r in results:  # every rank holds the merged result
        np.testing.assert_array_equal(r["i"], want_i)
        np.testing.assert_allclose(r["d"], want_d, atol=1e-6)


def test_without_a_process_group_it_is_a_plain_search(tmp_path):
    rng = np.random.default_rng(1)
    index = FeatureIndex(8)
    index.add(rng.standard_normal((20, 8)).astype(np.float32))
    index.save(tmp_path / "idx")
    shard = load_shard(tmp_path / "idx")
    assert len(shard) == 20
    q = rng.standard_normal((3, 8)).astype(np.float32)
    for a, b in zip(sharded_search(shard, q, 4), index.search(q, 4)):
        np.testing.assert_array_equal(a, b)
