"""Results as data: records, the atomic JSON-lines append, reading back (torn lines), the config hash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchreid.evaluation import append_result, config_hash, make_record, read_results


def test_record_fields_and_types():
    rec = make_record(
        "market1501", np.float32(0.5), np.array([0.6, 0.7, 0.8]), mINP=0.2, ranks=(1, 3, 5), model="osnet_x1_0",
        checkpoint="log/model/model.pth.tar-3", config_sha256="ab" * 32, epoch=3, rerank=True,
    )  # fmt: skip
    assert rec["dataset"] == "market1501" and rec["mAP"] == 0.5 and isinstance(rec["mAP"], float)
    assert rec["cmc"] == pytest.approx([0.6, 0.7, 0.8]) and rec["ranks"] == {
        "1": 0.6,
        "3": pytest.approx(0.8),
    }
    assert rec["mINP"] == pytest.approx(0.2) and rec["epoch"] == 3 and rec["rerank"] is True
    assert rec["date"].endswith("+00:00") and rec["date"][4] == "-"  # ISO 8601, UTC
    json.dumps(rec)  # plain JSON


def test_append_writes_whole_lines_and_read_skips_torn_ones(tmp_path, caplog):
    path = tmp_path / "sub" / "results.jsonl"
    append_result(path, make_record("a", 0.1, [0.2]))
    append_result(path, make_record("b", 0.3, [0.4]))
    with open(path, "a") as f:
        f.write('{"dataset": "c", "mA')  # a crash mid-line (not by append_result)
    assert path.read_text().count("\n") == 2
    with caplog.at_level("WARNING", logger="torchreid"):
        recs = read_results(path)
    assert [r["dataset"] for r in recs] == ["a", "b"]
    assert "results.jsonl:3" in caplog.text


def test_config_hash_is_stable_and_sensitive():
    a = {"train": {"lr": 0.1, "optim": "sgd"}, "model": {"name": "osnet_x1_0"}}
    b = {"model": {"name": "osnet_x1_0"}, "train": {"optim": "sgd", "lr": 0.1}}  # other key order
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 64
    assert config_hash(a) != config_hash({**a, "train": {"lr": 0.2, "optim": "sgd"}})
    assert config_hash(None) is None
