"""FeatureIndex: exact search equals compute_distance_matrix, bad input is refused clearly, evaluation and
re-ranking through the index equal the project's evaluate_rank / re_ranking."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix
from torchreid.metrics.rank import evaluate_rank
from torchreid.search import FeatureIndex
from torchreid.search import approx as approx_mod


def _data(n: int = 500, d: int = 32, nq: int = 9, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.standard_normal((nq, d)).astype(np.float32)


def _reference(q: np.ndarray, g: np.ndarray, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    full = compute_distance_matrix(torch.from_numpy(q), torch.from_numpy(g), metric).numpy()
    order = np.argsort(full, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(full, order, 1), order


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("block_rows", [7, 64, 10_000])
def test_exact_search_equals_compute_distance_matrix(metric, dtype, block_rows):
    g, q = _data()
    index = FeatureIndex(32, metric, dtype, block_rows=block_rows)
    index.add(g[:200])
    index.add(torch.from_numpy(g[200:]))  # torch or NumPy, several segments
    dist, pos = index.search(q, 10)
    assert dist.shape == pos.shape == (9, 10) and dist.dtype == np.float32 and pos.dtype == np.int64
    # on the stored values (float16 storage rounds them; cosine stores normalised rows)
    ref_d, ref_p = _reference(q, index.features.astype(np.float32), metric, 10)
    np.testing.assert_array_equal(pos, ref_p)
    np.testing.assert_allclose(dist, ref_d, rtol=0, atol=1e-5)
    assert (np.diff(dist, axis=1) >= 0).all()
    if dtype == "float32" and metric == "euclidean":
        np.testing.assert_array_equal(index.features, g)


def test_ties_are_broken_by_gallery_order_across_blocks():
    g, _ = _data(300, 8)
    g[100:200] = g[5]  # 101 identical rows, spread over many blocks
    q = np.stack([g[5], g[5] + 1e-3])
    for block_rows in (3, 50, 1000):
        index = FeatureIndex(8, block_rows=block_rows)
        index.add(g)
        _, pos = index.search(q, 20)
        assert pos[0].tolist() == [5, *range(100, 119)]
        np.testing.assert_array_equal(pos, _reference(q, g, "euclidean", 20)[1])


def test_ids_default_to_running_numbers_and_map_positions():
    g, _q = _data(20, 4)
    index = FeatureIndex(4)
    assert index.add(g[:10]).tolist() == list(range(10))
    assert index.add(g[10:15], ids=[100, 101, 102, 103, 104]).tolist() == [100, 101, 102, 103, 104]
    assert index.add(g[15:]).tolist() == [105, 106, 107, 108, 109]
    assert len(index) == 20
    _, pos = index.search(g[12], 1)
    assert index.ids[pos[0, 0]] == 102


def test_duplicate_ids_are_refused_and_nothing_is_added():
    g, _ = _data(10, 4)
    index = FeatureIndex(4)
    index.add(g[:5], ids=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"ids already in the index: \[3\]"):
        index.add(g[5:7], ids=[3, 9])
    with pytest.raises(ValueError, match=r"duplicate ids in this batch: \[7\]"):
        index.add(g[5:7], ids=[7, 7])
    assert len(index) == 5 and index.ids.tolist() == [1, 2, 3, 4, 5]


def test_dimension_and_dtype_mismatch_name_both_sides():
    g, _ = _data(10, 8)
    index = FeatureIndex(8, dtype="float16")
    index.add(g)
    with pytest.raises(ValueError, match=r"queries have dimension 6 but the index holds 8-dimensional"):
        index.search(np.zeros((2, 6), np.float32), 3)
    with pytest.raises(ValueError, match=r"features have dimension 9 but the index holds 8-dimensional"):
        index.add(np.zeros((2, 9), np.float32))
    with pytest.raises(TypeError, match=r"dtype torch.int64 but the index stores float16"):
        index.search(np.zeros((1, 8), np.int64), 3)
    with pytest.raises(ValueError, match=r"float16 range"):
        index.add(np.full((1, 8), 1e6, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, 8), np.nan, np.float32), 3)
    # float64 and float16 queries are fine (compared in float32)
    assert index.search(g[:2].astype(np.float64), 2)[1][:, 0].tolist() == [0, 1]


def test_k_larger_than_gallery_is_clamped_with_a_warning():
    g, q = _data(5, 4)
    index = FeatureIndex(4)
    index.add(g)
    with pytest.warns(UserWarning, match=r"k=50 is larger than the gallery \(5 items\)"):
        _dist, pos = index.search(q, 50)
    assert pos.shape == (9, 5) and sorted(pos[0].tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="empty"):
        FeatureIndex(4).search(q, 1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(q, 0)


def test_remove_compacts_and_unknown_ids_change_nothing():
    g, q = _data(30, 4)
    index = FeatureIndex(4)
    index.add(g, pids=np.arange(30) // 3, meta=[f"img{i}" for i in range(30)])
    with pytest.raises(KeyError, match=r"\[99\]"):
        index.remove([3, 99])
    assert len(index) == 30
    assert index.remove([3, 4]) == 2
    assert len(index) == 28 and 3 not in index.ids and index.meta[3] == "img5" and index.pids[3] == 1
    _, pos = index.search(q, 28)
    assert set(index.ids[pos[0]].tolist()) == set(range(30)) - {3, 4}


def test_evaluation_through_the_index_equals_evaluate_rank():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 16)).astype(np.float32)
    g_pids = np.repeat(np.arange(40), 6)
    g_camids = np.tile(np.arange(6), 40)
    gf = centres[g_pids] + 0.6 * rng.standard_normal((240, 16)).astype(np.float32)
    q_pids = np.arange(40)
    q_camids = rng.integers(0, 6, 40)
    qf = centres[q_pids] + 0.6 * rng.standard_normal((40, 16)).astype(np.float32)
    for metric in ("euclidean", "cosine"):
        index = FeatureIndex(16, metric, block_rows=50)
        index.add(gf, pids=g_pids, camids=g_camids)
        got = index.evaluate(qf, q_pids, q_camids, max_rank=20, return_details=True)
        distmat = compute_distance_matrix(torch.from_numpy(qf), torch.from_numpy(gf), metric)
        want = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20, return_details=True)
        np.testing.assert_array_equal(got.cmc, want.cmc)
        assert got.mAP == want.mAP and 0 < got.mAP < 1


def test_rerank_on_the_whole_shortlist_equals_re_ranking():
    from torchreid.utils.rerank import re_ranking

    g, q = _data(60, 8, nq=2)
    index = FeatureIndex(8)
    index.add(g)
    dist, pos = index.search(q, 10, rerank=True, shortlist=60, k1=5, k2=3, lambda_value=0.3)
    for r in range(2):
        qt, gt = torch.from_numpy(q[r : r + 1]), torch.from_numpy(g)
        full = re_ranking(compute_distance_matrix(qt, gt).numpy(), compute_distance_matrix(qt, qt).numpy(),
                          compute_distance_matrix(gt, gt).numpy(), k1=5, k2=3, lambda_value=0.3)[0]  # fmt: skip
        order = np.argsort(full, kind="stable")[:10]
        np.testing.assert_array_equal(pos[r], order)
        np.testing.assert_allclose(dist[r], full[order], atol=1e-5)
    # a short shortlist only reorders the exact top candidates
    _, short = index.search(q, 5, rerank=True, shortlist=8)
    _, exact = index.search(q, 8)
    assert all(set(s) <= set(e) for s, e in zip(short.tolist(), exact.tolist()))


def test_shard_views_partition_the_gallery():
    g, _q = _data(23, 4)
    index = FeatureIndex(4)
    index.add(g[:10])
    index.add(g[10:], ids=np.arange(100, 113))
    shards = [index.shard(r, 3) for r in range(3)]
    assert sum(len(s) for s in shards) == 23
    np.testing.assert_array_equal(np.concatenate([s.ids for s in shards]), index.ids)
    np.testing.assert_array_equal(np.concatenate([s.features for s in shards]), index.features)


needs_faiss = pytest.mark.skipif(
    not approx_mod.faiss_available(), reason="faiss is not installed (pip install faiss-cpu)"
)


@needs_faiss
@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_faiss_backend_recall_against_exact(kind, metric):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 32)).astype(np.float32)
    g = centres[rng.integers(0, 50, 3000)] + 0.3 * rng.standard_normal((3000, 32)).astype(np.float32)
    q = centres[rng.integers(0, 50, 20)] + 0.3 * rng.standard_normal((20, 32)).astype(np.float32)
    index = FeatureIndex(
        32, metric, backend="faiss", faiss_index=kind, faiss_params={"nlist": 16, "nprobe": 16}
    )
    index.add(g)
    dist, pos = index.search(q, 10)
    assert pos.shape == (20, 10)
    assert index.recall(q, 10) >= 0.95
    # faiss distances are the same quantity as the exact ones
    exact_d, _ = index.search_exact(q, 10)
    np.testing.assert_allclose(dist[:, 0], exact_d[:, 0], atol=1e-3)
    index.add(g[:5])  # the faiss structure is rebuilt after a change
    assert len(index) == 3005 and index.search(q, 3)[1].max() < 3005


@pytest.mark.parametrize(
    ("n", "lists"), [(1, 1), (1000, 25), (10_000, 250), (1_000_000, 4000), (10**9, 65536)]
)
def test_default_ivf_lists_grow_as_four_root_n_with_forty_training_rows_each(n, lists):
    assert approx_mod.default_nlist(n) == lists


@needs_faiss
@pytest.mark.parametrize(
    ("dtype", "kind"), [("float16", "IndexIVFScalarQuantizer"), ("float32", "IndexIVFFlat")]
)
def test_faiss_ivf_lists_store_the_index_dtype_and_give_its_distances(dtype, kind):
    g, q = _data(2000, 16)
    index = FeatureIndex(16, dtype=dtype, backend="faiss", faiss_params={"nprobe": 50})
    index.add(g)
    dist, pos = index.search(q, 5)
    assert type(index._approx).__name__ == kind and index._approx.nlist == 50
    exact_d, exact_p = index.search_exact(q, 5)  # every list probed: the exact answer on the stored values
    np.testing.assert_array_equal(pos, exact_p)
    np.testing.assert_allclose(dist, exact_d, rtol=1e-4, atol=1e-4)


def test_faiss_missing_falls_back_to_exact_with_a_message(monkeypatch, caplog):
    g, q = _data(50, 8)
    monkeypatch.setattr(approx_mod, "_import_faiss", lambda: None)
    monkeypatch.setattr(approx_mod, "_warned", False)
    index = FeatureIndex(8, backend="faiss")
    index.add(g)
    with caplog.at_level(logging.WARNING, logger="torchreid.search"):
        _, pos = index.search(q, 5)
    assert "faiss is not installed" in caplog.text and "searching exactly" in caplog.text
    np.testing.assert_array_equal(pos, _reference(q, g, "euclidean", 5)[1])


@needs_faiss
def test_faiss_queries_whose_probed_lists_are_short_are_searched_exactly():
    g, q = _data(200, 8)
    index = FeatureIndex(8, backend="faiss", faiss_params={"nlist": 50, "nprobe": 1})
    index.add(g)
    dist, pos = index.search(q, 30)  # one list of ~4 rows cannot hold 30 neighbours
    assert (pos >= 0).all() and np.isfinite(dist).all()
    np.testing.assert_array_equal(pos, _reference(q, g, "euclidean", 30)[1])


def test_cuda_device_gives_the_cpu_result_or_falls_back_with_a_warning():
    g, q = _data(300, 16)
    cpu = FeatureIndex(16, dtype="float16")
    cpu.add(g)
    gpu = FeatureIndex(16, dtype="float16", device="cuda", block_rows=64)
    gpu.add(g)
    if torch.cuda.is_available():
        dist, pos = gpu.search(q, 7)
    else:
        with pytest.warns(RuntimeWarning, match="CUDA is not available; searching on the CPU"):
            dist, pos = gpu.search(q, 7)
    want_d, want_p = cpu.search(q, 7)
    np.testing.assert_array_equal(pos, want_p)
    np.testing.assert_allclose(dist, want_d, atol=1e-4)
