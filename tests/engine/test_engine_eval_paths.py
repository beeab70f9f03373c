"""Engine paths no other test runs in-process: re-ranking and feature normalisation in evaluation, rank
visualisation, DataParallel-wrapped checkpoints, the triplet engine's single-loss modes, and the error paths of
the engine API (clear messages for misuse)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _shared import TINY_SYNTHETIC
from torch import nn
from torch.nn import functional as F

TINY = TINY_SYNTHETIC


def _register_tiny() -> str:
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    return "synthetic_tiny"


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    from torchreid.data import ImageDataManager

    name = _register_tiny()
    return ImageDataManager(
        root=str(tmp_path_factory.mktemp("cov_engine")),
        sources=name,
        height=64,
        width=32,
        batch_size_train=16,
        batch_size_test=32,
        workers=0,
        use_gpu=False,
    )


def _model(dm):
    from torchreid.models import build_model

    torch.manual_seed(0)
    return build_model("osnet_x0_25", dm.num_train_pids, pretrained=False, use_gpu=False)


def _engine(dm, model=None, cls=None, **kw):
    from torchreid.engine import ImageSoftmaxEngine

    model = _model(dm) if model is None else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return (cls or ImageSoftmaxEngine)(dm, model, opt, use_gpu=False, **kw)


@torch.no_grad()
def _features(model, loader):
    model.eval()
    feats, pids, camids = [], [], []
    for batch in loader:
        feats.append(model(batch["img"]))
        pids.extend(batch["pid"].tolist())
        camids.extend(batch["camid"].tolist())
    return torch.cat(feats), np.asarray(pids), np.asarray(camids)


# ------------------------------------------------------------------------------------------------ evaluation


@pytest.mark.parametrize(
    ("rerank", "normalize", "metric"), [(True, False, "euclidean"), (False, True, "cosine")]
)
def test_evaluation_with_rerank_and_normalisation_matches_a_manual_evaluation(dm, rerank, normalize, metric):
    from torchreid.metrics import compute_distance_matrix, evaluate_rank
    from torchreid.utils.rerank import re_ranking

    engine = _engine(dm)
    name = "synthetic_tiny"
    rank1 = engine.test(dist_metric=metric, normalize_feature=normalize, rerank=rerank, ranks=[1])
    got = engine.last_results[name]

    qf, qp, qc = _features(engine.model, dm.test_loader[name]["query"])
    gf, gp, gc = _features(engine.model, dm.test_loader[name]["gallery"])
    if normalize:
        qf, gf = F.normalize(qf, dim=1), F.normalize(gf, dim=1)
    distmat = compute_distance_matrix(qf, gf, metric).numpy()
    if rerank:
        distmat = re_ranking(
            distmat,
            compute_distance_matrix(qf, qf, metric).numpy(),
            compute_distance_matrix(gf, gf, metric).numpy(),
        )
    cmc, mAP = evaluate_rank(distmat, qp, gp, qc, gc)
    assert rank1 == pytest.approx(cmc[0], abs=1e-6)
    assert got["mAP"] == pytest.approx(mAP, abs=1e-5)
    np.testing.assert_allclose(got["cmc"][: len(cmc)], cmc, atol=1e-6)


def test_rerank_actually_changes_the_distances_used(dm):
    """Guard for the test above: re-ranking must reach the metric (else both runs would agree trivially)."""
    engine = _engine(dm)
    engine.test(rerank=False, ranks=[1])
    plain = engine.last_results["synthetic_tiny"]["mAP"]
    engine.test(rerank=True, ranks=[1])
    reranked = engine.last_results["synthetic_tiny"]["mAP"]
    assert plain != reranked


def test_visrank_in_process_writes_one_image_per_query(dm, tmp_path):
    import cv2

    engine = _engine(dm)
    engine.test(visrank=True, visrank_topk=2, save_dir=str(tmp_path), ranks=[1])
    out = sorted((tmp_path / "visrank_synthetic_tiny").glob("*.jpg"))
    query, _ = dm.fetch_test_loaders("synthetic_tiny")
    assert len(out) == len(query)
    im = cv2.imread(str(out[0]))
    assert im.shape == (64, 3 * 32 + 2 * 10 + 90, 3)


def test_model_returning_a_tuple_in_eval_mode_is_a_clear_error(dm):
    class TupleNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, dm.num_train_pids)

        def forward(self, x):
            f = x.mean(dim=(2, 3))
            return f, self.fc(f)

    engine = _engine(dm, model=TupleNet())
    with pytest.raises(TypeError, match="feature tensor"):
        engine.test(ranks=[1])


def test_empty_evaluation_loader_is_a_clear_error(dm):
    engine = _engine(dm)
    with pytest.raises(ValueError, match="empty query or gallery"):
        engine._evaluate(dataset_name="x", query_loader=[], gallery_loader=[], ranks=[1])


def test_no_target_dataset_is_a_clear_error(dm, monkeypatch):
    engine = _engine(dm)
    monkeypatch.setattr(engine, "test_loader", {})
    with pytest.raises(ValueError, match=r"data\.targets"):
        engine.test()


# ------------------------------------------------------------------------------------------------ API misuse


def test_engine_api_errors_name_the_problem(dm):
    from torchreid.engine.image.softmax import ImageSoftmaxEngine

    engine = _engine(dm)
    with pytest.raises(ValueError, match="'train', 'eval' or 'test'"):
        engine.set_model_mode("training")
    with pytest.raises(KeyError, match=r"Unknown model name 'nope'.*\['model'\]"):
        engine.get_model_names("nope")
    assert engine.get_model_names("model") == ["model"]

    class Early(ImageSoftmaxEngine):
        def __init__(self):  # registers before Engine.__init__ ran
            self.register_model("model", nn.Linear(1, 1), None, None)

    with pytest.raises(AttributeError, match=r"before super\(\).__init__\(\)"):
        Early()


def test_run_without_train_loader_and_finished_resume(dm, tmp_path, monkeypatch):
    engine = _engine(dm)
    monkeypatch.setattr(engine, "train_loader", None)
    with pytest.raises(ValueError, match="test_only=True"):
        engine.run(save_dir=str(tmp_path), max_epoch=1)
    monkeypatch.undo()
    engine = _engine(dm)
    with pytest.warns(UserWarning, match="nothing to train"):
        engine.run(save_dir=str(tmp_path), max_epoch=2, start_epoch=2)
    assert not (tmp_path / "model").exists()  # nothing trained, nothing saved


def test_get_engine_class_and_lazy_video_engines():
    import torchreid.engine as eng

    assert eng.get_engine_class("image", "triplet") is eng.ImageTripletEngine
    assert eng.get_engine_class("video", "softmax").__name__ == "VideoSoftmaxEngine"
    with pytest.raises(KeyError, match=r"data.type='image' and loss.name='arcface'.*image/softmax"):
        eng.get_engine_class("image", "arcface")
    with pytest.raises(AttributeError, match="NoSuchEngine"):
        eng.NoSuchEngine  # noqa: B018


def test_compute_loss_averages_over_several_outputs(dm):
    engine = _engine(dm)
    crit = nn.CrossEntropyLoss()
    y = torch.tensor([0, 1, 2])
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    expected = (crit(a, y) + crit(b, y)) / 2
    assert engine.compute_loss(crit, [a, b], y).item() == pytest.approx(expected.item(), rel=1e-6)
    assert engine.compute_loss(crit, a, y).item() == pytest.approx(crit(a, y).item(), rel=1e-6)


def test_data_parallel_model_saves_clean_keys(dm, tmp_path):
    """A DataParallel-wrapped model must be checkpointed without the 'module.' prefix (loadable unwrapped)."""
    from torchreid.utils.checkpoint import load_checkpoint

    model = _model(dm)
    engine = _engine(dm, model=nn.DataParallel(model))
    paths = engine.save_model(0, 0.5, str(tmp_path), is_best=True)
    ckpt = load_checkpoint(paths[0])
    assert set(ckpt["state_dict"]) == set(model.state_dict())
    assert ckpt["epoch"] == 1 and ckpt["rank1"] == 0.5
    assert (tmp_path / "model" / "model-best.pth.tar").is_file()


# ------------------------------------------------------------------------------------------------ triplet


@pytest.mark.parametrize(("weight_t", "weight_x", "keys"), [(0, 1, {"loss_x", "acc"}), (1, 0, {"loss_t"})])
def test_triplet_engine_single_loss_modes(dm, weight_t, weight_x, keys):
    from torchreid.engine import ImageTripletEngine
    from torchreid.models import build_model

    torch.manual_seed(0)
    model = build_model("osnet_x0_25", dm.num_train_pids, loss="triplet", pretrained=False, use_gpu=False)
    engine = _engine(dm, model=model, cls=ImageTripletEngine, weight_t=weight_t, weight_x=weight_x)
    engine.set_model_mode("train")
    batch = next(iter(dm.train_loader))
    summary = engine.forward_backward(batch)
    assert set(summary) == keys
    assert all(np.isfinite(v) for v in summary.values())
    assert engine.ddp_find_unused_parameters is (weight_x == 0)


def test_triplet_engine_rejects_bad_weights_and_softmax_models(dm):
    from torchreid.engine import ImageTripletEngine

    with pytest.raises(ValueError, match=">= 0"):
        _engine(dm, cls=ImageTripletEngine, weight_t=-1)
    with pytest.raises(ValueError, match="at least one loss"):
        _engine(dm, cls=ImageTripletEngine, weight_t=0, weight_x=0)
    engine = _engine(dm, cls=ImageTripletEngine)  # a softmax model: logits only
    engine.set_model_mode("train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="loss='triplet'"):
            engine.forward_backward(next(iter(dm.train_loader)))


def test_host_distance_matrix_in_row_blocks_equals_the_full_matrix():
    """The block-wise path (used on a GPU for large matrices) must give the same matrix as one call."""
    from torchreid.evaluation import host_distance_matrix as _host_distance_matrix
    from torchreid.metrics import compute_distance_matrix

    torch.manual_seed(0)
    a, b = torch.randn(7, 5), torch.randn(4, 5)
    for metric in ("euclidean", "cosine"):
        full = compute_distance_matrix(a, b, metric).numpy()
        blocked = _host_distance_matrix(a, b, metric, block_rows=3)
        assert blocked.shape == (7, 4) and blocked.dtype == np.float32
        np.testing.assert_allclose(blocked, full, rtol=1e-6, atol=1e-6)
