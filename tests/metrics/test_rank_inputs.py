"""Input handling of the rank evaluation (torchreid.metrics.rank_inputs): ids as tensors, integral floats,
shape and dtype errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _shared import toy_rank_problem


@pytest.mark.parametrize("cuhk03", [False, True])
def test_evaluate_rank_accepts_torch_tensors_like_numpy(cuhk03):
    from torchreid.metrics import evaluate_rank

    distmat, qp, gp, qc, gc = toy_rank_problem()
    np.random.seed(0)  # CUHK03 mode draws one gallery image per identity from NumPy's global RNG
    ref_cmc, ref_map = evaluate_rank(distmat, qp, gp, qc, gc, max_rank=10, use_metric_cuhk03=cuhk03)
    for backend in ("numpy", "torch"):
        np.random.seed(0)
        cmc, mAP = evaluate_rank(
            torch.from_numpy(distmat),
            torch.from_numpy(qp),
            torch.from_numpy(gp),
            torch.from_numpy(qc),
            torch.from_numpy(gc),
            max_rank=10,
            use_metric_cuhk03=cuhk03,
            backend=backend,
        )
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6, err_msg=backend)
        assert mAP == pytest.approx(ref_map, abs=1e-6)


def test_ids_and_distmat_validation():
    from torchreid.metrics import evaluate_rank, evaluate_rank_from_features

    distmat, qp, gp, qc, gc = toy_rank_problem()
    cmc, _ = evaluate_rank(distmat, qp.astype(np.float64), gp, qc, gc, max_rank=5)  # integral floats are fine
    np.testing.assert_allclose(cmc, evaluate_rank(distmat, qp, gp, qc, gc, max_rank=5)[0])
    with pytest.raises(ValueError, match="q_pids must hold integers, got dtype float64"):
        evaluate_rank(distmat, qp + 0.5, gp, qc, gc)
    with pytest.raises(ValueError, match=r"q_pids must be 1-D, got shape \(6, 1\)"):
        evaluate_rank(distmat, qp[:, None], gp, qc, gc)
    with pytest.raises(ValueError, match="distmat must be real-valued, got dtype complex"):
        evaluate_rank(distmat.astype(np.complex64), qp, gp, qc, gc)
    with pytest.raises(ValueError, match=r"qf and gf must be 2-D, got \(6,\) and \(20, 4\)"):
        evaluate_rank_from_features(torch.zeros(6), torch.zeros(20, 4), qp, gp, qc, gc)
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        evaluate_rank_from_features(torch.zeros(6, 4), torch.zeros(20, 4), qp, gp, qc, gc, chunk_size=0)
