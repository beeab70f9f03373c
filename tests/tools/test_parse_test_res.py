"""tools/parse_test_res.py: mean of the last evaluation of every run folder."""

from __future__ import annotations

import os
import sys
import time

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import parse_test_res


def _log(mAP: float, ranks: dict[int, float]) -> str:
    lines = ["** Results **", f"mAP: {mAP:.1%}", "CMC curve"]
    lines += [f"Rank-{r:<3}: {v:.1%}" for r, v in ranks.items()]
    return "\n".join(lines) + "\n"


def _runs(tmp_path, results: list[tuple[float, float, float, float, float]], name="test.log-2024-01-01"):
    for i, (m, r1, r5, r10, r20) in enumerate(results):
        d = tmp_path / f"split{i}"
        d.mkdir()
        # an early evaluation first: only the last one counts
        text = _log(0.01, {1: 0.02, 5: 0.03, 10: 0.04, 20: 0.05}) + "epoch 2 ...\n"
        text += _log(m, {1: r1, 5: r5, 10: r10, 20: r20})
        (d / name).write_text(text)
    return tmp_path


def test_mean_over_split_folders(tmp_path, capsys):
    _runs(
        tmp_path,
        [(0.50, 0.60, 0.80, 0.90, 0.95), (0.40, 0.50, 0.70, 0.85, 0.91), (0.30, 0.40, 0.60, 0.80, 0.90)],
    )
    assert parse_test_res.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mAP: 40.0%" in out
    assert "Rank-1: 50.0%" in out
    assert "Rank-5: 70.0%" in out
    assert "Rank-10: 85.0%" in out
    assert "Rank-20: 92.0%" in out


def test_values_and_formats(tmp_path):
    _runs(tmp_path, [(0.123, 0.456, 0.7, 0.8, 0.9), (0.2, 0.3, 0.4, 0.5, 0.6)])
    means = parse_test_res.parse_dir(str(tmp_path), verbose=False)
    assert means["mAP"] == pytest.approx((12.3 + 20.0) / 2)
    assert means["Rank-1"] == pytest.approx((45.6 + 30.0) / 2)
    assert list(means) == ["mAP", "Rank-1", "Rank-5", "Rank-10", "Rank-20"]


def test_train_log_fallback_and_newest_test_log(tmp_path):
    _runs(tmp_path, [(0.5, 0.5, 0.5, 0.5, 0.5)], name="train.log-2024-01-01-10-00")
    d = tmp_path / "split1"
    d.mkdir()
    (d / "test.log-old").write_text(_log(0.1, {1: 0.1, 5: 0.1, 10: 0.1, 20: 0.1}))
    old = time.time() - 100
    os.utime(d / "test.log-old", (old, old))
    (d / "test.log-new").write_text(_log(0.3, {1: 0.3, 5: 0.3, 10: 0.3, 20: 0.3}))
    (d / "train.log-x").write_text(_log(0.9, {1: 0.9, 5: 0.9, 10: 0.9, 20: 0.9}))  # a test log wins
    means = parse_test_res.parse_dir(str(tmp_path), verbose=False)
    assert means["mAP"] == pytest.approx(40.0)


def test_errors(tmp_path, capsys):
    (tmp_path / "split0").mkdir()
    assert parse_test_res.main([str(tmp_path)]) == 1
    assert "no test.log* or train.log* found in split0" in capsys.readouterr().err
    (tmp_path / "split0" / "test.log").write_text("nothing to see\n")
    with pytest.raises(ValueError, match="no 'mAP"):
        parse_test_res.parse_dir(str(tmp_path), verbose=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no sub-folders"):
        parse_test_res.parse_dir(str(empty), verbose=False)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        parse_test_res.parse_dir(str(tmp_path / "nope"), verbose=False)


def test_cli_subprocess(tmp_path):
    import subprocess

    _runs(tmp_path, [(0.5, 0.6, 0.7, 0.8, 0.9)])
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "parse_test_res.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Rank-1: 60.0%" in out and "mAP: 50.0%" in out


@pytest.mark.slow
@pytest.mark.real_data
def test_end_to_end_viper_splits(tmp_path):
    """scripts/main.py trains osnet_x0_25 for one tiny epoch on the real VIPeR split 0 and evaluates split 1
    (test only, CPU); parse_test_res.py then averages the two runs (a train.log and a test.log)."""
    import re
    import subprocess

    from conftest import DATA, require

    viper = require(DATA / "viper" / "VIPeR")
    root = tmp_path / "data"
    for cam in ("cam_a", "cam_b"):  # symlinks: the split file is written here, never into ../shared
        (root / "viper" / "VIPeR").mkdir(parents=True, exist_ok=True)
        os.symlink(viper / cam, root / "viper" / "VIPeR" / cam)
    logs = tmp_path / "log"
    # one thread: on a busy CI machine oversubscribed OpenMP threads make CPU training 10-30x slower
    env = {**os.environ, "TORCHREID_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    common = [
        sys.executable, str(REPO / "scripts" / "main.py"),
        "-s", "viper", "-t", "viper", "--root", str(root),
        "data.height", "32", "data.width", "16", "data.workers", "0",
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "train.batch_size", "32", "train.print_freq", "5", "test.batch_size", "316", "use_gpu", "False",
    ]  # fmt: skip
    runs = {
        "split0": ["data.split_id", "0", "train.max_epoch", "1"],
        "split1": ["data.split_id", "1", "test.evaluate", "True"],
    }
    for name, extra in runs.items():
        cmd = [*common, "data.save_dir", str(logs / name), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list((logs / "split0").glob("train.log-*")) and list((logs / "split1").glob("test.log-*"))
    assert (root / "viper" / "splits.json").is_file()
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "parse_test_res.py"), str(logs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(re.findall(r"^(mAP|Rank-\d+): ([\d.]+)%$", out, flags=re.M))
    assert set(values) == {"mAP", "Rank-1", "Rank-5", "Rank-10", "Rank-20"}, out
    assert all(0.0 <= float(v) <= 100.0 for v in values.values())
    assert float(values["Rank-1"]) <= float(values["Rank-5"]) <= float(values["Rank-20"])


def test_results_jsonl_is_preferred_and_its_last_record_counts(tmp_path, capsys):
    """A run folder with results.jsonl (what every evaluation appends) is read from it, not from the log; only
    the last complete record counts (a torn last line is skipped); logs of other folders still work."""
    import json

    from torchreid.evaluation import append_result, make_record

    d0 = tmp_path / "split0"
    d0.mkdir()
    (d0 / "test.log-2024").write_text(_log(0.01, {1: 0.01, 5: 0.01, 10: 0.01, 20: 0.01}))  # ignored
    cmc = [0.6, 0.65, 0.7, 0.72, 0.8] + [0.85] * 5 + [0.9] * 10
    append_result(d0 / "results.jsonl", make_record("x", 0.2, [0.1] * 20))  # an earlier evaluation
    append_result(d0 / "results.jsonl", make_record("x", 0.5, cmc))
    with open(d0 / "results.jsonl", "a") as f:
        f.write(json.dumps({"dataset": "x", "mAP": 0.99})[:10])  # a crash mid-write
    d1 = tmp_path / "split1"
    d1.mkdir()
    (d1 / "test.log-2024").write_text(_log(0.3, {1: 0.4, 5: 0.5, 10: 0.6, 20: 0.7}))
    means = parse_test_res.parse_dir(str(tmp_path), verbose=False)
    assert means["mAP"] == pytest.approx((50.0 + 30.0) / 2)
    assert means["Rank-1"] == pytest.approx((60.0 + 40.0) / 2)
    assert means["Rank-5"] == pytest.approx((80.0 + 50.0) / 2)
    assert means["Rank-20"] == pytest.approx((90.0 + 70.0) / 2)
    assert parse_test_res.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "results.jsonl" in out and "mAP: 40.0%" in out  # the output format is unchanged
