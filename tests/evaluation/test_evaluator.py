"""The Evaluator on its own: settings, the two ranking paths agree, provenance, records and the legacy paths."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from torchreid.evaluation import EvalSettings, Evaluator, read_results


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    q_pids = np.array([0, 1, 2, 3])
    g_pids = np.repeat(np.arange(4), 3)
    qf = torch.randn(4, 8, generator=g)
    gf = qf[torch.as_tensor(g_pids)] + 0.8 * torch.randn(12, 8, generator=g)
    return qf, gf, q_pids, g_pids, np.zeros(4, dtype=int), np.ones(12, dtype=int)


def test_settings_replace_keeps_the_rest():
    s = EvalSettings(report=True, model_name="m")
    t = s.replace(dist_metric="cosine")
    assert t.dist_metric == "cosine" and t.report and t.model_name == "m" and s.dist_metric == "euclidean"


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_blockwise_and_dense_ranking_agree(metric):
    qf, gf, *ids = _problem()
    s = EvalSettings(dist_metric=metric)
    fast, none = Evaluator.rank(qf, gf, *ids, s)
    dense, distmat = Evaluator.rank(qf, gf, *ids, s, dense=True)
    assert none is None and distmat.shape == (4, 12)
    np.testing.assert_allclose(fast.cmc, dense.cmc)
    assert fast.mAP == pytest.approx(dense.mAP)


def test_rerank_changes_the_matrix_not_the_protocol():
    qf, gf, *ids = _problem(1)
    res, distmat = Evaluator.rank(qf, gf, *ids, EvalSettings(rerank=True))
    assert distmat.shape == (4, 12) and 0 <= res.mAP <= 1


def test_record_carries_provenance(tmp_path):
    engine = types.SimpleNamespace(
        model=torch.nn.Linear(2, 2), epoch=4, max_epoch=10, last_checkpoint=(5, "ck.pth")
    )
    ev = Evaluator(engine, EvalSettings(save_dir=str(tmp_path), config_sha256="f" * 64))
    qf, gf, *ids = _problem()
    res, _ = Evaluator.rank(qf, gf, *ids, ev.settings)
    ev.write_record("toy", ev.settings, res)
    (rec,) = read_results(tmp_path / "results.jsonl")
    assert rec["model"] == "Linear" and rec["checkpoint"] == "ck.pth" and rec["epoch"] == 5
    assert rec["config_sha256"] == "f" * 64 and rec["mAP"] == pytest.approx(res.mAP)
    engine.last_checkpoint = (4, "older.pth")  # not this epoch's weights: no checkpoint is claimed
    assert ev.provenance(ev.settings)["checkpoint"] is None
    ev.write_record("toy", ev.settings.replace(save_dir=""), res)  # no save_dir: nothing written
    ev.write_record("toy", ev.settings.replace(results_file=""), res)  # switched off
    assert len(read_results(tmp_path / "results.jsonl")) == 1


def test_legacy_module_paths_are_the_moved_functions():
    from torchreid.evaluation import re_ranking, visualize_ranked_results, write_html_report
    from torchreid.utils import re_ranking as u_rr
    from torchreid.utils.reidtools import visualize_ranked_results as u_vis
    from torchreid.utils.report import write_html_report as u_rep
    from torchreid.utils.rerank import re_ranking as u_rr2

    assert u_rr is re_ranking and u_rr2 is re_ranking
    assert u_vis is visualize_ranked_results and u_rep is write_html_report
