"""k-reciprocal re-ranking: parity with the original Torchreid, a dense oracle, tensors, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix
from torchreid.utils import re_ranking

PARAMS = [(20, 6, 0.3), (10, 3, 0.5)]


@pytest.fixture(scope="module")
def rerank_ref():
    from conftest import REFERENCE

    path = REFERENCE / "rerank_cases.npz"
    if not path.exists():
        pytest.skip(f"{path} is not available (reference outputs live in ../shared)")
    return np.load(path)


@pytest.mark.parametrize("k1,k2,lam", PARAMS)
@pytest.mark.parametrize("case", ["q30_g120", "q60_g300"])
def test_matches_reference(rerank_ref, case, k1, k2, lam):
    z = rerank_ref
    out = re_ranking(z[f"{case}__q_g"], z[f"{case}__q_q"], z[f"{case}__g_g"], k1, k2, lam)
    ref = z[f"{case}__rerank_k1_{k1}_k2_{k2}_l{lam}"]
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_defaults_are_k1_20_k2_6_lambda_03(rerank_ref):
    z = rerank_ref
    out = re_ranking(z["q30_g120__q_g"], z["q30_g120__q_q"], z["q30_g120__g_g"])
    np.testing.assert_allclose(out, z["q30_g120__rerank_k1_20_k2_6_l0.3"], atol=1e-5)


def _dense_oracle(q_g, q_q, g_g, k1, k2, lam):
    """Direct transcription of the paper's steps with dense matrices and per-row loops (test oracle)."""
    nq = q_g.shape[0]
    m = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float32) ** 2
    od = (m / m.max(axis=0)).T
    n = od.shape[0]
    rank = np.argsort(od, axis=1, kind="stable")

    def recip(i, k):
        fwd = rank[i, : k + 1]
        return {int(c) for c in fwd if i in rank[c, : k + 1]}

    v = np.zeros((n, n))
    kh = int(np.around(k1 / 2))
    for i in range(n):
        r = recip(i, k1)
        exp = set(r)
        for c in r:
            rc = recip(c, kh)
            if len(rc & r) > 2 / 3 * len(rc):
                exp |= rc
        idx = np.array(sorted(exp))
        w = np.exp(-od[i, idx].astype(np.float64))
        v[i, idx] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    jac = np.array(
        [
            [1 - np.minimum(v[i], v[j]).sum() / np.maximum(v[i], v[j]).sum() for j in range(n)]
            for i in range(nq)
        ]
    )
    return (jac * (1 - lam) + od[:nq] * lam)[:, nq:]


@pytest.mark.parametrize("k1,k2,lam", [(6, 3, 0.3), (4, 1, 0.2), (3, 2, 0.0), (5, 4, 1.0)])
def test_matches_dense_oracle(k1, k2, lam):
    rng = np.random.RandomState(k1 * 10 + k2)
    cent = rng.randn(6, 8)
    feats = torch.from_numpy((cent[rng.randint(0, 6, 30)] + 0.5 * rng.randn(30, 8)).astype(np.float32))
    q, g = feats[:8], feats[8:]
    q_g, q_q, g_g = (compute_distance_matrix(a, b).numpy() for a, b in ((q, g), (q, q), (g, g)))
    out = re_ranking(q_g, q_q, g_g, k1, k2, lam)
    np.testing.assert_allclose(out, _dense_oracle(q_g, q_q, g_g, k1, k2, lam), atol=1e-5)


def test_tensor_inputs_return_tensor(rerank_ref):
    z = rerank_ref
    args = [torch.from_numpy(z[f"q30_g120__{k}"]) for k in ("q_g", "q_q", "g_g")]
    out = re_ranking(*args, k1=10, k2=3, lambda_value=0.5)
    assert isinstance(out, torch.Tensor) and out.device == args[0].device
    np.testing.assert_allclose(out.numpy(), z["q30_g120__rerank_k1_10_k2_3_l0.5"], atol=1e-5)


def test_bad_inputs():
    q_g, q_q, g_g = np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32), np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        re_ranking(q_g, q_q, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="shapes"):
        re_ranking(q_g, np.zeros((3, 3), np.float32), g_g)
    with pytest.raises(ValueError, match="2-D"):
        re_ranking(q_g[0], q_q, g_g)
    bad = q_g.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        re_ranking(bad, q_q, g_g)
    with pytest.raises(ValueError, match="k1"):
        re_ranking(q_g, q_q, g_g, k1=0)
    with pytest.raises(ValueError, match="queries"):
        re_ranking(np.zeros((0, 3), np.float32), np.zeros((0, 0), np.float32), g_g)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_tensors(rerank_ref):
    z = rerank_ref
    args = [torch.from_numpy(z[f"q30_g120__{k}"]).cuda() for k in ("q_g", "q_q", "g_g")]
    out = re_ranking(*args)
    assert out.is_cuda
    np.testing.assert_allclose(out.cpu().numpy(), z["q30_g120__rerank_k1_20_k2_6_l0.3"], atol=1e-5)
