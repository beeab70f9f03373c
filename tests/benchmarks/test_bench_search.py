"""benchmarks/bench_search.py runs at tiny sizes (no timing assertions) and writes its RESULTS.md section."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_search_runs_and_writes_its_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    args = [sys.executable, str(REPO / "benchmarks" / "bench_search.py"), "--sizes", "300", "--dim", "16",
            "--queries", "4", "--runs", "1", "--threads", "1", "--extract-images", "0", "--nprobe", "4",
            "--ef-search", "16", "--hnsw-max", "300", "--tmp", str(tmp_path), "--out", str(out)]  # fmt: skip
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = out.read_text()
    assert "## Search (`benchmarks/bench_search.py`)" in text and "kept" in text
    assert text.count("<!-- bench_search:cpu-1threads:begin -->") == 1
    for row in ("| 300 x 16 float16 | exact top-10, 4 queries |", "| 300 x 16 float32 | exact top-10, 1 query |",
                "| 300 x 16 float16 | save / load (mmap) |"):  # fmt: skip
        assert row in text
    assert [p.name for p in tmp_path.iterdir()] == ["RESULTS.md"]  # saved indexes cleaned up
    try:
        import faiss  # noqa: F401
    except ImportError:
        assert "| faiss | not installed |" in text
    else:
        assert "faiss IVF (nprobe 4)" in text and "recall@10" in text
