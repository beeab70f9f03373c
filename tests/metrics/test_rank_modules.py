"""The split of ``torchreid.metrics.rank`` by job: every former name still importable from the original path, one
owner of the back-end state, the CUHK03 accumulator equal to the one-shot evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from torchreid.metrics import rank, rank_backends, rank_cuhk03, rank_inputs, rank_legacy

FORMER_NAMES = ["BACKENDS", "IS_CYTHON_AVAI", "IS_CYTHON_AVAILABLE", "NUM_REPEATS_CUHK03", "RankResult", "_KERNELS",
                "_LegacyChoiceStream", "_Lists", "_as_ids", "_build_lists", "_check_ids", "_check_max_rank",
                "_cuhk03_hits", "_finish", "_market_from_ranks", "_no_valid_query_error",
                "_num_threads", "_ordered_keys_np", "_rank_cy", "_ranks_cython", "_ranks_numpy", "_ranks_torch",
                "_resolve_backend", "_warn_fallback_once", "_warned_fallback", "available_backends", "eval_cuhk03",
                "eval_market1501", "evaluate_py", "evaluate_rank", "evaluate_rank_from_features"]  # fmt: skip


@pytest.mark.parametrize("name", FORMER_NAMES)
def test_every_former_name_resolves_on_the_original_path(name):
    assert hasattr(rank, name), name
    exec(f"from torchreid.metrics.rank import {name}", {})


def test_names_are_the_objects_of_the_module_that_owns_them():
    assert rank.eval_market1501 is rank_legacy.eval_market1501 and rank.evaluate_py is rank_legacy.evaluate_py
    assert rank._build_lists is rank_inputs._build_lists and rank._check_ids is rank_inputs._check_ids
    assert rank._LegacyChoiceStream is rank_cuhk03._LegacyChoiceStream
    assert rank._resolve_backend is rank_backends.resolve_backend and rank._KERNELS is rank_backends.KERNELS
    assert rank.available_backends is rank_backends.available_backends


def test_backend_state_set_through_rank_reaches_the_backends_module(monkeypatch):
    monkeypatch.setattr(rank, "IS_CYTHON_AVAILABLE", False)
    assert rank_backends.IS_CYTHON_AVAILABLE is False and rank.IS_CYTHON_AVAILABLE is False
    assert rank_backends.resolve_backend("auto", use_cython=False) == "numpy"
    with pytest.raises(RuntimeError, match="not built"):
        rank_backends.resolve_backend("cython", use_cython=True)
    monkeypatch.undo()
    assert rank.IS_CYTHON_AVAILABLE is rank_backends.IS_CYTHON_AVAILABLE
    assert "IS_CYTHON_AVAILABLE" not in vars(rank)  # one owner: never a stale copy here


def test_cuhk03_accumulator_matches_evaluate_rank_and_leaves_the_rng_where_the_original_would():
    rng = np.random.RandomState(3)
    nq, ng = 12, 40
    dist = rng.rand(nq, ng).astype(np.float32)
    qp, gp = rng.randint(0, 6, nq), rng.randint(0, 6, ng)
    qc, gc = rng.randint(0, 2, nq), rng.randint(0, 3, ng)
    np.random.seed(7)
    ref_cmc, _ = rank.evaluate_rank(
        dist, qp, gp, qc, gc, max_rank=10, use_metric_cuhk03=True, backend="numpy"
    )
    after_ref = np.random.rand()
    lists = rank_inputs._build_lists(*(np.asarray(a, dtype=np.int64) for a in (qp, gp, qc, gc)))
    np.random.seed(7)
    acc = rank_cuhk03.Cuhk03CMC(lists, qp, gp, ng, 10, use_cython=False)
    for q in np.flatnonzero(lists.num_pos > 0):
        acc.add(q, dist[q])
    acc.finish()
    np.testing.assert_array_equal(acc.cmc(), ref_cmc)
    assert np.random.rand() == after_ref
