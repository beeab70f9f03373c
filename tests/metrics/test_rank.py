"""Rank evaluation: parity with the original Torchreid on every reference case and back-end, back-end
agreement (property test), mINP, the short-list padding fix, the CUHK03 RNG order, and every bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix, evaluate_rank, evaluate_rank_from_features
from torchreid.metrics import rank as rank_mod

BACKENDS = ["cython", "numpy", "torch"]
CASES = [
    "market_like_small",
    "distractor_heavy_junk",
    "two_cam_many_skipped",
    "ties_quantised",
    "small_gallery_30",
    "small_gallery_30_junk",
    "moderate_300x3000",
    "msmt_like_15cams_cosine",
    "single_query",
    "easy_low_noise",
    "hard_high_noise",
]


def _backend(name):
    if name == "cython" and not rank_mod.IS_CYTHON_AVAILABLE:
        pytest.skip("Cython rank extension not built (python setup.py build_ext --inplace)")
    return name


@pytest.fixture(scope="module")
def rank_ref():
    from conftest import REFERENCE

    if not (REFERENCE / "rank_cases.npz").exists():
        pytest.skip(f"{REFERENCE} is not available (reference outputs live in ../shared)")
    z = np.load(REFERENCE / "rank_cases.npz")
    meta = {c["name"]: c for c in json.loads((REFERENCE / "rank_cases.json").read_text())["cases"]}
    return z, meta


def _case(z, c):
    return [z[f"{c}__{k}"] for k in ("distmat", "q_pids", "g_pids", "q_camids", "g_camids")]


def _ref(z, c, field):
    """Stable-sort results where the case has ties (we break ties by gallery index)."""
    key = f"{c}__stable_{field}"
    return z[key] if key in z else z[f"{c}__{field}"]


def _ref_map(z, c):
    for field in ("market_py_mAP", "market_cy_mAP"):  # the Python (float64) value when it exists
        key = f"{c}__stable_{field}" if f"{c}__stable_{field}" in z else f"{c}__{field}"
        if key in z:
            return float(z[key])
    raise KeyError(c)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_market_protocol_matches_reference(rank_ref, case, backend):
    z, meta = rank_ref
    m = meta[case]
    res = evaluate_rank(*_case(z, case), max_rank=50, backend=_backend(backend), return_details=True)
    n = m["market_well_defined_len"]
    assert res.cmc.dtype == np.float32
    assert len(res.cmc) == min(50, m["num_g"])
    np.testing.assert_allclose(res.cmc[:n], _ref(z, case, "market_cy_cmc")[:n], rtol=0, atol=1e-6)
    assert res.mAP == pytest.approx(_ref_map(z, case), abs=1e-6)
    assert res.num_valid_q == m["num_valid_q"]
    assert res.num_skipped_same_cam_only == m["num_skipped_same_cam_only"]
    assert res.num_skipped_absent == m["num_skipped_absent_from_gallery"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_cuhk03_protocol_matches_reference_exactly(rank_ref, case, backend):
    z, meta = rank_ref
    m = meta[case]
    args = _case(z, case)
    np.random.seed(0)
    cmc, mAP = evaluate_rank(*args, use_metric_cuhk03=True, backend=_backend(backend))
    n = m["cuhk03_well_defined_len"]
    np.testing.assert_allclose(cmc[:n], _ref(z, case, "cuhk03_cy_cmc")[:n], rtol=0, atol=1e-6)
    assert mAP == pytest.approx(_ref_map(z, case), abs=1e-6)  # cuhk03 mAP = market mAP
    # the loose band of the README holds too, and the curve is a CMC
    mean, std = z[f"{case}__cuhk03_cy_cmc_seedmean"][:n], z[f"{case}__cuhk03_cy_cmc_seedstd"][:n]
    assert np.all(np.abs(cmc[:n] - mean) <= 4 * std + 0.02 + 1 / (10 * m["num_valid_q"]))
    assert np.all(np.diff(cmc) >= 0)
    if n < len(cmc):  # fewer gallery identities than ranks: every sampled list is complete, CMC reached 1
        np.testing.assert_allclose(cmc[n - 1 :], 1.0, atol=1e-6)


def test_cuhk03_from_features_reproduces_matrix_path():
    rng = np.random.RandomState(3)
    qf, gf = rng.randn(40, 16).astype(np.float32), rng.randn(120, 16).astype(np.float32)
    qp, gp = rng.randint(0, 12, 40), rng.randint(0, 15, 120)
    qc, gc = rng.randint(0, 3, 40), rng.randint(0, 3, 120)
    dm = compute_distance_matrix(torch.from_numpy(qf), torch.from_numpy(gf)).numpy()
    np.random.seed(7)
    a = evaluate_rank(dm, qp, gp, qc, gc, use_metric_cuhk03=True)
    after_a = np.random.rand()
    np.random.seed(7)
    b = evaluate_rank_from_features(qf, gf, qp, gp, qc, gc, use_metric_cuhk03=True, chunk_size=7)
    after_b = np.random.rand()
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and after_a == after_b


def _original_style_cuhk03_draws(distmat, q_pids, g_pids, q_camids, g_camids):
    """Test oracle: the RNG consumption of the original protocol, one np.random.choice per identity."""
    hits = []
    for q in range(distmat.shape[0]):
        order = np.argsort(distmat[q], kind="stable")
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        raw = (g_pids[order][keep] == q_pids[q]).astype(int)
        if not raw.any():
            continue
        groups: dict = {}
        for i, pid in enumerate(g_pids[order][keep]):
            groups.setdefault(pid, []).append(i)
        for _ in range(10):
            mask = np.zeros(len(raw), dtype=bool)
            for idxs in groups.values():
                mask[np.random.choice(idxs)] = True
            hits.append(int(np.argmax(raw[mask])))
    return np.array(hits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cuhk03_rng_consumption_matches_original_order(backend):
    rng = np.random.RandomState(11)
    dm = rng.rand(25, 90).astype(np.float32)
    qp, gp = rng.randint(0, 10, 25), rng.randint(0, 14, 90)
    qc, gc = rng.randint(0, 2, 25), rng.randint(0, 2, 90)
    np.random.seed(123)
    hits = _original_style_cuhk03_draws(dm, qp, gp, qc, gc)
    expected_next = np.random.rand()
    expected = np.array([np.mean(hits <= k) for k in range(50)], dtype=np.float32)
    np.random.seed(123)
    cmc, _ = evaluate_rank(dm, qp, gp, qc, gc, use_metric_cuhk03=True, backend=_backend(backend))
    assert np.random.rand() == expected_next  # the global RNG ends exactly where the original's would
    np.testing.assert_allclose(cmc, expected, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_lists_are_padded_with_their_last_value(rank_ref, backend):
    """Improve: queries keeping fewer items than max_rank (small_gallery_30_junk) no longer read stale values."""
    z, meta = rank_ref
    m = meta["small_gallery_30_junk"]
    cmc, _ = evaluate_rank(*_case(z, "small_gallery_30_junk"), backend=_backend(backend))
    assert len(cmc) == 30
    n = m["market_well_defined_len"]
    np.testing.assert_allclose(cmc[:n], z["small_gallery_30_junk__market_cy_cmc"][:n], atol=1e-6)
    assert np.all(cmc[n - 1 :] == cmc[-1]) and cmc[-1] == pytest.approx(1.0)
    assert z["small_gallery_30_junk__market_cy_cmc"][-1] < 1.0  # the original's stale tail


def test_minp_ap_and_cmc_hand_computed():
    # one query (pid 1, cam 0); gallery ranked by distance:
    #   g0 pid 1 cam 0 (junk, removed), g1 pid 2, g2 pid 1 cam 1 (+), g3 pid 3, g4 pid 1 cam 2 (+), g5 pid 4
    dist = np.array([[0.0, 0.1, 0.2, 0.3, 0.4, 0.5]], dtype=np.float32)
    g_pids, g_cams = np.array([1, 2, 1, 3, 1, 4]), np.array([0, 0, 1, 0, 2, 0])
    for backend in rank_mod.available_backends():
        r = evaluate_rank(dist, [1], g_pids, [0], g_cams, max_rank=5, backend=backend, return_details=True)
        # valid list: g1(-) g2(+) g3(-) g4(+) g5(-): positives at ranks 2 and 4
        np.testing.assert_allclose(r.cmc, [0, 1, 1, 1, 1])
        assert r.mAP == pytest.approx((1 / 2 + 2 / 4) / 2)
        assert r.mINP == pytest.approx(2 / 4)
        assert r.num_valid_q == 1
        cmc, mAP = r  # unpacks like the original tuple
        assert mAP == r.mAP and cmc is r.cmc


def test_ties_are_broken_by_gallery_index():
    dist = np.zeros((1, 4), dtype=np.float32)  # all tied
    for backend in rank_mod.available_backends():
        r = evaluate_rank(dist, [1], [2, 1, 3, 1], [0], [1, 1, 1, 1], backend=backend, return_details=True)
        np.testing.assert_allclose(r.cmc, [0, 1, 1, 1])
        assert r.mAP == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_default_return_is_the_original_tuple_and_accepts_tensors():
    rng = np.random.RandomState(0)
    dm = rng.rand(10, 30).astype(np.float32)
    qp, gp, qc, gc = rng.randint(0, 5, 10), rng.randint(0, 5, 30), np.zeros(10, int), np.ones(30, int)
    out = evaluate_rank(dm, qp, gp, qc, gc)
    assert isinstance(out, tuple) and len(out) == 2
    cmc, mAP = out
    assert cmc.shape == (30,) and isinstance(mAP, float)
    t = evaluate_rank(torch.from_numpy(dm), torch.from_numpy(qp), gp.tolist(), qc, gc, backend="torch")
    np.testing.assert_array_equal(t[0], cmc)
    assert t[1] == mAP
    cmc64, map64 = evaluate_rank(dm.astype(np.float64), qp, gp, qc, gc)
    np.testing.assert_array_equal(cmc64, cmc)
    assert map64 == mAP


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_from_features_equals_matrix_path(metric, backend):
    rng = np.random.RandomState(5)
    cent = rng.randn(30, 24).astype(np.float32)
    qp, gp = rng.randint(0, 25, 70), rng.randint(0, 30, 260)
    qf = torch.from_numpy(cent[qp] + 0.7 * rng.randn(70, 24).astype(np.float32))
    gf = torch.from_numpy(cent[gp] + 0.7 * rng.randn(260, 24).astype(np.float32))
    qc, gc = rng.randint(0, 4, 70), rng.randint(0, 4, 260)
    ref = evaluate_rank(compute_distance_matrix(qf, gf, metric).numpy(), qp, gp, qc, gc, return_details=True)
    got = evaluate_rank_from_features(
        qf, gf, qp, gp, qc, gc, metric=metric, backend=_backend(backend), chunk_size=9, return_details=True
    )
    np.testing.assert_array_equal(got.cmc, ref.cmc)
    assert got.mAP == ref.mAP and got.mINP == ref.mINP and got.num_valid_q == ref.num_valid_q
    np.testing.assert_array_equal(got.all_AP, ref.all_AP)


def test_from_features_on_cuda_without_a_gpu_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rng = np.random.RandomState(1)
    qf, gf = (
        torch.from_numpy(rng.rand(6, 8).astype(np.float32)),
        torch.from_numpy(rng.rand(20, 8).astype(np.float32)),
    )
    ids = (rng.randint(0, 3, 6), rng.randint(0, 3, 20), np.zeros(6, int), np.ones(20, int))
    with pytest.warns(RuntimeWarning, match="CUDA is not available; evaluating on the CPU"):
        cmc, mAP = evaluate_rank_from_features(qf, gf, *ids, device="cuda", max_rank=5)
    ref_cmc, ref_mAP = evaluate_rank_from_features(qf, gf, *ids, max_rank=5)
    np.testing.assert_array_equal(cmc, ref_cmc)
    assert mAP == ref_mAP


def test_numpy_fallback_warns_once(monkeypatch):
    monkeypatch.setattr(rank_mod, "IS_CYTHON_AVAILABLE", False)
    monkeypatch.setattr(rank_mod, "_warned_fallback", False)
    dm = np.random.RandomState(0).rand(3, 5).astype(np.float32)
    args = (dm, [1, 2, 3], [1, 2, 3, 4, 1], [0, 0, 0], [1, 1, 1, 1, 1])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        evaluate_rank(*args)
        evaluate_rank(*args)
    assert sum("NumPy back-end" in str(w.message) for w in rec) == 1
    with pytest.raises(RuntimeError, match="not built"):
        evaluate_rank(*args, backend="cython")
    with warnings.catch_warnings(record=True) as rec:  # use_cython=False asks for NumPy: no warning
        warnings.simplefilter("always")
        monkeypatch.setattr(rank_mod, "_warned_fallback", False)
        evaluate_rank(*args, use_cython=False)
    assert not rec


# ---- bad input --------------------------------------------------------------------------------------------------


def _small():
    dm = np.random.RandomState(0).rand(3, 5).astype(np.float32)
    return [
        dm,
        np.array([1, 2, 3]),
        np.array([1, 2, 3, 4, 1]),
        np.array([0, 0, 0]),
        np.array([1, 1, 1, 1, 1]),
    ]


@pytest.mark.parametrize("which,name", [(1, "q_pids"), (2, "g_pids"), (3, "q_camids"), (4, "g_camids")])
def test_mismatched_lengths_raise(which, name):
    args = _small()
    args[which] = args[which][:-1]
    with pytest.raises(ValueError, match=name):
        evaluate_rank(*args)


@pytest.mark.parametrize("backend", ["auto", "numpy", "torch"])
def test_nan_raises(backend):
    args = _small()
    args[0][1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank(*args, backend=backend)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank(torch.from_numpy(args[0]), *args[1:], backend=backend)


def test_cython_nan_in_any_row_raises_with_several_threads(monkeypatch):
    # the parallel kernel must report a NaN seen by any thread, not only by the one that ran the last row
    _backend("cython")
    monkeypatch.setattr(rank_mod, "_num_threads", lambda: 4)
    rng = np.random.RandomState(0)
    nq, ng = 160, 50
    args = [rng.rand(nq, ng).astype(np.float32), rng.randint(0, 10, nq), rng.randint(0, 10, ng)]
    args += [rng.randint(0, 3, nq), rng.randint(0, 3, ng)]
    for row in (0, 37, 80, 121):
        for col in (int(np.flatnonzero(args[2] == args[1][row])[0]), 3):  # a positive's / any item's distance
            dm = args[0].copy()
            dm[row, col] = np.nan
            with pytest.raises(ValueError, match="NaN"):
                evaluate_rank(dm, *args[1:], backend="cython")


def test_empty_query_or_gallery_raises():
    with pytest.raises(ValueError, match="empty"):
        evaluate_rank(np.zeros((0, 5), np.float32), [], [1, 2, 3, 4, 5], [], [0] * 5)
    with pytest.raises(ValueError, match="empty"):
        evaluate_rank(np.zeros((2, 0), np.float32), [1, 2], [], [0, 0], [])
    with pytest.raises(ValueError, match="empty"):
        evaluate_rank_from_features(torch.zeros(0, 4), torch.zeros(3, 4), [], [1, 2, 3], [], [0, 0, 0])


def test_no_valid_query_explains_why():
    dm = np.random.RandomState(0).rand(3, 4).astype(np.float32)
    # q0: identity 1 only in its own camera; q1, q2: identities 8, 9 absent from the gallery
    with pytest.raises(
        ValueError, match=r"of 3 queries, 1 have .* own camera .* and 2 have an identity absent"
    ):
        evaluate_rank(dm, [1, 8, 9], [1, 2, 3, 1], [0, 0, 0], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="no query"):
        evaluate_rank_from_features(
            torch.rand(3, 4), torch.rand(4, 4), [1, 8, 9], [1, 2, 3, 1], [0, 0, 0], [0] * 4
        )


def test_other_bad_arguments():
    args = _small()
    with pytest.raises(ValueError, match="2-D"):
        evaluate_rank(args[0][0], *args[1:])
    with pytest.raises(ValueError, match="backend"):
        evaluate_rank(*args, backend="fortran")
    with pytest.raises(ValueError, match="max_rank"):
        evaluate_rank(*args, max_rank=0)
    with pytest.raises(ValueError, match="integers"):
        evaluate_rank(args[0], np.array([1.5, 2, 3]), *args[2:])


# ---- property test: back-ends agree with each other and with a brute-force oracle --------------------------------


def _oracle(dm, qp, gp, qc, gc, max_rank):
    """Straightforward per-query implementation with a stable sort (test oracle)."""
    cmcs, aps, inps = [], [], []
    max_rank = min(max_rank, dm.shape[1])
    for q in range(dm.shape[0]):
        order = np.argsort(dm[q].astype(np.float32), kind="stable")
        keep = ~((gp[order] == qp[q]) & (gc[order] == qc[q]))
        match = (gp[order][keep] == qp[q]).astype(np.float64)
        if not match.any():
            continue
        cmc = np.minimum(np.cumsum(match), 1)
        cmc = np.concatenate([cmc, np.full(max(0, max_rank - len(cmc)), cmc[-1])])[:max_rank]
        cmcs.append(cmc)
        hits = np.flatnonzero(match) + 1
        aps.append(np.mean(np.arange(1, len(hits) + 1) / hits))
        inps.append(len(hits) / hits[-1])
    if not aps:
        return None, None, None, 0
    return np.mean(cmcs, axis=0), np.mean(aps), np.mean(inps), len(aps)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None


if given is not None:

    @settings(max_examples=60, deadline=None)
    @given(
        seed=st.integers(0, 2**31 - 1),
        nq=st.integers(1, 12),
        ng=st.integers(1, 40),
        n_ids=st.integers(1, 8),
        n_cams=st.integers(1, 3),
        levels=st.integers(1, 6),
        max_rank=st.integers(1, 60),
    )
    def test_backends_agree_on_random_problems_with_ties(seed, nq, ng, n_ids, n_cams, levels, max_rank):
        rng = np.random.RandomState(seed)
        dm = (rng.randint(0, levels, size=(nq, ng)) - 1).astype(np.float32) * 0.5  # many ties, negatives
        dm *= rng.choice(np.array([1.0, -1.0], dtype=np.float32), size=dm.shape)  # also -0.0 beside 0.0
        qp, gp = rng.randint(0, n_ids, nq), rng.randint(0, n_ids, ng)
        qc, gc = rng.randint(0, n_cams, nq), rng.randint(0, n_cams, ng)
        ocmc, omap, oinp, onv = _oracle(dm, qp, gp, qc, gc, max_rank)
        if onv == 0:
            with pytest.raises(ValueError, match="no query"):
                evaluate_rank(dm, qp, gp, qc, gc, max_rank=max_rank)
            return
        cuhk = {}
        for backend in rank_mod.available_backends():
            r = evaluate_rank(dm, qp, gp, qc, gc, max_rank=max_rank, backend=backend, return_details=True)
            np.testing.assert_allclose(r.cmc, ocmc, atol=1e-6)
            assert r.mAP == pytest.approx(omap, abs=1e-12)
            assert r.mINP == pytest.approx(oinp, abs=1e-12)
            assert r.num_valid_q == onv
            np.random.seed(seed % 1000)
            cuhk[backend] = evaluate_rank(dm, qp, gp, qc, gc, max_rank, True, backend=backend)[0]
        first = next(iter(cuhk.values()))
        for c in cuhk.values():
            np.testing.assert_array_equal(c, first)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("use_cuhk03", [False, True])
def test_gpu_paths_match_cpu(use_cuhk03):
    rng = np.random.RandomState(2)
    qf, gf = torch.randn(60, 32), torch.randn(500, 32)
    qp, gp = rng.randint(0, 20, 60), rng.randint(0, 25, 500)
    qc, gc = rng.randint(0, 3, 60), rng.randint(0, 3, 500)
    dm = compute_distance_matrix(qf, gf)
    np.random.seed(1)
    ref = evaluate_rank(dm.numpy(), qp, gp, qc, gc, use_metric_cuhk03=use_cuhk03, backend="numpy")
    np.random.seed(1)
    on_gpu = evaluate_rank(dm.cuda(), qp, gp, qc, gc, use_metric_cuhk03=use_cuhk03)  # auto -> torch on CUDA
    np.testing.assert_array_equal(on_gpu[0], ref[0])
    assert on_gpu[1] == ref[1]
    np.random.seed(1)
    feats = evaluate_rank_from_features(qf, gf, qp, gp, qc, gc, use_metric_cuhk03=use_cuhk03, device="cuda")
    np.testing.assert_allclose(feats[0], ref[0], atol=1e-6)  # GPU GEMM rounds differently from the CPU's
    assert feats[1] == pytest.approx(ref[1], abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_features_raise(backend):
    qf, gf = torch.rand(4, 3), torch.rand(6, 3)
    gf[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank_from_features(
            qf, gf, [1, 2, 3, 4], [1, 2, 3, 4, 1, 2], [0] * 4, [1] * 6, backend=_backend(backend)
        )


def test_cython_threads_follow_omp_num_threads(monkeypatch):
    from torchreid.metrics import rank

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert rank._num_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    all_cpus = rank._num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "100000")  # never more than the CPUs the process may use
    assert rank._num_threads() == all_cpus


def test_original_cython_flag_name():
    """The original's ``torchreid.metrics.rank.IS_CYTHON_AVAI`` (scripts check it before timing/choosing a path)."""
    assert rank_mod.IS_CYTHON_AVAI is rank_mod.IS_CYTHON_AVAILABLE
