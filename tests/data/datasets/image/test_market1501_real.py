"""End to end on real Market-1501 images: a split of ../shared/data/market1501 written in the Market layout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict

import pytest
from conftest import DATA, REPO

pytestmark = [pytest.mark.slow, pytest.mark.real_data]


def write_market_split(src, dst, num_train_ids: int = 30, num_test_ids: int = 15) -> dict[str, int]:
    """Symlink a split of the real training images into ``dst`` in the versioned Market layout.

    The first ``num_train_ids`` identities (sorted) train; for each of the next ``num_test_ids`` identities one
    image per camera is a query and the rest are gallery.
    """
    by_pid: dict[str, list[str]] = defaultdict(list)
    for name in sorted(os.listdir(src)):
        if name.endswith(".jpg"):
            by_pid[name[:4]].append(name)
    pids = sorted(by_pid)
    root = dst / "market1501" / "Market-1501-v15.09.15"
    counts = {"train": 0, "query": 0, "gallery": 0, "gallery_ids": 0}
    for sub in ("bounding_box_train", "query", "bounding_box_test"):
        (root / sub).mkdir(parents=True)
    for pid in pids[:num_train_ids]:
        for name in by_pid[pid]:
            (root / "bounding_box_train" / name).symlink_to(src / name)
            counts["train"] += 1
    for pid in pids[num_train_ids : num_train_ids + num_test_ids]:
        seen_cams = set()
        for name in by_pid[pid]:
            cam = name[6]
            sub = "query" if cam not in seen_cams else "bounding_box_test"
            seen_cams.add(cam)
            (root / sub / name).symlink_to(src / name)
            counts["query" if sub == "query" else "gallery"] += 1
        counts["gallery_ids"] += len(by_pid[pid]) > len(seen_cams)  # one image per camera: all are queries
    return counts


def test_train_and_evaluate_on_real_market_layout(tmp_path):
    src = DATA / "market1501" / "bounding_box_train"
    if not src.is_dir():
        pytest.skip(f"{src} is not available (real Market-1501 images live in ../shared/data)")
    counts = write_market_split(src, tmp_path)
    save_dir = tmp_path / "log"
    cmd = [
        sys.executable, str(REPO / "scripts" / "main.py"),
        "--config-file", str(REPO / "configs" / "im_osnet_x0_25_softmax_256x128_amsgrad.yaml"),
        "--root", str(tmp_path), "-s", "market1501", "-t", "market1501",
        "model.pretrained", "False", "data.height", "64", "data.width", "32", "data.workers", "0",
        "train.max_epoch", "1", "train.fixbase_epoch", "0", "train.batch_size", "32", "test.batch_size", "64",
        "use_gpu", "False", "data.save_dir", str(save_dir),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    # the dataset summary shows the split as written
    assert re.search(rf"train\s*\|\s*30\s*\|\s*{counts['train']}\s*\|", out), out[:3000]
    assert re.search(rf"query\s*\|\s*15\s*\|\s*{counts['query']}\s*\|", out)
    assert re.search(rf"gallery\s*\|\s*{counts['gallery_ids']}\s*\|\s*{counts['gallery']}\s*\|", out), (
        re.findall(r".*gallery.*", out)
    )
    mAP = float(re.search(r"^mAP: (\d+\.\d)%$", out, re.M).group(1))
    rank1 = float(re.search(r"^Rank-1  : (\d+\.\d)%$", out, re.M).group(1))
    assert 0 < mAP <= 100 and 0 <= rank1 <= 100
    assert (save_dir / "model" / "model.pth.tar-1").is_file()
