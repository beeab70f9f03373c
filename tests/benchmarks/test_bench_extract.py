"""benchmarks/bench_extract.py runs at tiny sizes (no timing assertions) and writes its RESULTS.md block."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

BENCH = REPO / "benchmarks" / "bench_extract.py"


def _run(args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bench_extract_smoke(tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "RESULTS.md"
    proc = _run(["--models", "osnet_x0_25", "--backends", "default,fast,onnx", "--images", "4", "--runs", "1",
                 "--batch", "2", "--threads", "1", "--height", "64", "--width", "32", "--out", str(out)])  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = out.read_text()
    assert "## Feature extraction (`benchmarks/bench_extract.py`)" in text
    assert "<!-- bench_extract:cpu-1t:begin -->" in text
    for backend in ("default", "fast", "onnx"):
        assert "| osnet_x0_25 |" in text and f"| {backend} |" in text
    # the default path's cosine with itself is 1; BGR crops give the same features as the JPEG paths
    default_row = next(ln for ln in text.splitlines() if "| default |" in ln)
    assert "| 1.000000 / 1.000000 |" in default_row and default_row.rstrip().endswith("| 1.000000 |")


def test_bench_extract_rejects_unknown_backend(tmp_path):
    proc = _run(["--backends", "default,tensorrt", "--out", str(tmp_path / "R.md")], timeout=120)
    assert proc.returncode != 0 and "tensorrt" in proc.stderr
