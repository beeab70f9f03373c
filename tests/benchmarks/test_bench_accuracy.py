"""benchmarks/bench_accuracy.py: the split, the statistics, and a tiny end-to-end run of both sides."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_accuracy as ba  # noqa: E402


def _fake_market(folder: Path, num_ids: int = 8, cams: int = 2, per_cam: int = 3) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for pid in range(1, num_ids + 1):
        for cam in range(1, cams + 1):
            for k in range(per_cam):
                arr = rng.integers(0, 256, size=(32, 16, 3), dtype=np.uint8)
                Image.fromarray(arr).save(folder / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg")
    Image.fromarray(np.zeros((32, 16, 3), np.uint8)).save(folder / "-1_c1s1_000000_00.jpg")  # junk: left out
    return folder


def test_build_split_halves_the_ids_and_takes_one_query_per_identity_and_camera(tmp_path):
    src = _fake_market(tmp_path / "bounding_box_train", num_ids=7)
    counts = ba.build_split(src, tmp_path / "out")
    assert counts == {"train_ids": 3, "test_ids": 4, "train": 18, "query": 8, "gallery": 16}
    base = tmp_path / "out/market1501/Market-1501-v15.09.15"
    query = sorted(p.name for p in (base / "query").iterdir())
    assert query[:2] == ["0004_c1s1_000000_00.jpg", "0004_c2s1_000000_00.jpg"]
    assert all((base / "query" / q).is_symlink() for q in query)
    assert (base / "query" / query[0]).resolve() == (src / query[0]).resolve()
    # rebuilt in place (atomically) when asked again, and reused by ensure_split
    assert ba.build_split(src, tmp_path / "out") == counts
    root, again = ba.ensure_split(src, tmp_path)
    assert again == counts and (root / "market1501/SPLIT.json").exists()
    assert not list((tmp_path / "out").glob(".market1501*"))


def test_statistics():
    assert ba.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    d, se = ba.diff_se([1.0, 2.0, 3.0], [0.0, 1.0])
    assert d == pytest.approx(1.5) and se == pytest.approx(math.sqrt(1 / 3 + 0.5 / 2))
    assert math.isnan(ba.diff_se([1.0], [2.0, 3.0])[1])
    text = "mAP: 10.0%\nRank-1  : 20.0%\n...\nmAP: 63.1%\nCMC curve\nRank-1  : 79.8%\nRank-5  : 90.0%\n"
    assert ba.parse_log(text) == {"mAP": 63.1, "rank1": 79.8}
    assert ba.parse_log("no results") is None


def test_skips_with_a_reason_when_the_data_is_absent(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_accuracy.py"), "--data", str(tmp_path / "missing"), "--out", ""],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0 and "SKIP: the Market-1501 training split is not at" in proc.stdout


@pytest.mark.slow
def test_tiny_run_of_both_sides_writes_its_results_block(tmp_path):
    """Two seeds of this project and of an 'original' (this checkout: its scripts/main.py has the original's
    command line), the zero-shot figure, and the RESULTS.md block with mean ± std and the difference."""
    import torch

    from torchreid.models import build_model

    data = _fake_market(tmp_path / "bounding_box_train")
    weights = tmp_path / "w.pth"
    torch.save(build_model("osnet_x0_25", num_classes=10, pretrained=False).state_dict(), weights)
    out = tmp_path / "RESULTS.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(BENCH / "bench_accuracy.py"), "--data", str(data), "--weights", str(weights),
           "--work-dir", str(tmp_path / "work"), "--seeds", "1", "2", "--original", str(REPO), "--height", "32",
           "--width", "16", "--max-epoch", "1", "--batch-size", "8", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert "## Accuracy vs the original on real data" in text
    assert "<!-- bench_accuracy:full-32x16-e1:begin -->" in text
    assert "| this project | 2 |" in text and "| original (run here) | 2 |" in text
    assert "this project - original = " in text and "Zero-shot (32x16, no training): mAP" in text
    rec = json.loads((tmp_path / "work/results/original-full-seed2.json").read_text())
    assert rec["printed"] is not None and abs(rec["mAP"] - rec["printed"]["mAP"]) <= 0.05 + 1e-9
    # same seed, same code on both sides: the same result (the runs are deterministic on the CPU)
    ours = json.loads((tmp_path / "work/results/ours-full-seed2.json").read_text())
    assert ours["mAP"] == pytest.approx(rec["mAP"], abs=1e-9)

    # --reuse: the stored results are aggregated again without training
    proc = subprocess.run([*cmd, "--reuse"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "reused" in proc.stdout
