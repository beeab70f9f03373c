"""The original's ``eval_market1501`` / ``eval_cuhk03`` / ``evaluate_py`` (torchreid.metrics.rank_legacy) equal
:func:`evaluate_rank` with the same RNG state."""

from __future__ import annotations

import numpy as np
import pytest
from _shared import toy_rank_problem


def test_legacy_evaluation_entry_points_match_evaluate_rank():
    from torchreid.metrics import evaluate_rank
    from torchreid.metrics import rank as R

    distmat, qp, gp, qc, gc = toy_rank_problem(seed=1)
    for legacy, cuhk03 in ((R.eval_market1501, False), (R.eval_cuhk03, True)):
        np.random.seed(0)
        cmc, mAP = legacy(distmat, qp, gp, qc, gc, 5)
        np.random.seed(0)
        ref_cmc, ref_map = evaluate_rank(distmat, qp, gp, qc, gc, max_rank=5, use_metric_cuhk03=cuhk03)
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
        assert mAP == pytest.approx(ref_map, abs=1e-6)
    cmc, _ = R.evaluate_py(distmat, qp, gp, qc, gc, 5, False)
    assert cmc.shape == (5,)
