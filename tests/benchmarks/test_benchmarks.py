"""The benchmark scripts run (tiny sizes, no timing assertions) and keep RESULTS.md's structure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

from _results import find_block, write_block  # noqa: E402


def _block(tool: str, slug: str, body: str) -> str:
    return f"<!-- {tool}:{slug}:begin -->\n{body}\n<!-- {tool}:{slug}:end -->"


def test_write_block_inserts_in_its_section_and_replaces_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmarks\n\n## Eval\n\nhand-written notes\n\n## Train\n\ntrain notes\n")
    write_block(path, "bench_eval", "gpu", _block("bench_eval", "gpu", "v1"), "Eval")
    text = path.read_text()
    # the new block goes at the end of its own section, not at the end of the file
    assert text.index("hand-written notes") < text.index("v1") < text.index("## Train")
    write_block(path, "bench_eval", "gpu", _block("bench_eval", "gpu", "v2"), "Eval")
    text = path.read_text()
    assert "v1" not in text and text.count("bench_eval:gpu:begin") == 1 and "train notes" in text
    assert find_block(path, "bench_eval", "gpu") == _block("bench_eval", "gpu", "v2")
    assert find_block(path, "bench_eval", "cpu") is None
    write_block(path, "bench_data", "x", _block("bench_data", "x", "d"), "Data")  # a new section at the end
    assert path.read_text().rstrip().endswith("## Data\n\n" + _block("bench_data", "x", "d"))
    assert find_block(tmp_path / "missing.md", "bench_data", "x") is None


def _run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_bench_data_runs_and_writes_its_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    _run([str(BENCH / "bench_data.py"), "--workers", "0,1", "--batch", "4", "--batches", "2",
          "--warmup-batches", "1", "--runs", "1", "--single-images", "8", "--height", "32", "--width", "16",
          "--out", str(out)])  # fmt: skip
    text = out.read_text()
    assert "## Data pipeline (`benchmarks/bench_data.py`)" in text
    for row in ("| default | 0 |", "| default | 1 |", "| gpu_augment | 0 |", "| gpu_augment | 1 |"):
        assert row in text
    assert "decode only (PIL read + RGB)" in text


def test_bench_data_rejects_an_unknown_pipeline():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_data.py"), "--pipelines", "dali", "--out", ""],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "unknown pipeline(s) ['dali']" in proc.stderr


def test_bench_train_runs_on_cpu_and_keeps_rows_of_earlier_runs(tmp_path):
    out = tmp_path / "RESULTS.md"
    common = ["--device", "cpu", "--batch-scale", "1", "--iters", "1", "--warmup", "1", "--runs", "1",
              "--e2e-iters", "1", "--e2e-warmup", "1", "--height", "64", "--width", "32", "--workers", "0",
              "--orig-workers", "0", "--out", str(out)]  # fmt: skip
    _run([str(BENCH / "bench_train.py"), "--models", "osnet_x0_25:4", "--modes", "original,fast", *common])
    _run(
        [str(BENCH / "bench_train.py"), "--models", "osnet_x0_25:4", "--modes", "engine", "--no-e2e", *common]
    )
    text = out.read_text()
    assert text.count("<!-- bench_train:") == 3  # begin, data, end: one block per device
    for mode in ("| original |", "| engine (", "| fast ("):
        assert mode in text  # the second run added its row and kept the first run's


def test_bench_eval_quick_runs(tmp_path):
    out = tmp_path / "RESULTS.md"
    _run([str(BENCH / "bench_eval.py"), "--quick", "--skip-msmt", "--skip-rerank", "--runs", "1",
          "--out", str(out)])  # fmt: skip
    text = out.read_text()
    assert "## Evaluation (`benchmarks/bench_eval.py`)" in text
    # every back-end agrees on the metrics (same mAP / R1 / mINP in each row that reports them)
    metrics = {line.rsplit("|", 2)[-2].strip() for line in text.splitlines() if "evaluate_rank" in line}
    metrics.discard("")
    assert len(metrics) == 1, metrics


def test_gpu_session_script_is_valid_and_checks_stage_names_first():
    script = BENCH / "gpu_session.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(script), "tests", "evall"], capture_output=True, text=True, timeout=60)
    # a typo is reported before any set-up (build, nvidia-smi) spends device time
    assert proc.returncode == 2 and "unknown stage 'evall'" in proc.stdout and "===" not in proc.stdout
    for path in ("tests/engine/test_accel.py", "benchmarks/bench_eval.py", "benchmarks/bench_train.py",
                 "configs/quickstart.yaml"):  # fmt: skip
        assert path in script.read_text() and (REPO / path).exists()
