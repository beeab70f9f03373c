"""Training-side paths without tests: scheduler warm-up resume and argument errors, staged-lr warnings,
checkpoint options (best copy, ``module.`` stripping, partial resume, trusted loading), metric input handling
(torch distance matrices, legacy entry points, id validation) and model-complexity corner cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

# ------------------------------------------------------------------------------------------------ schedulers


def _opt(lr=0.1):
    return torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=lr)


def test_warmup_scheduler_resumes_from_a_checkpoint_written_without_warmup():
    """Resuming a plain StepLR run with warm-up now configured: the stored schedule and lr continue unchanged."""
    from torchreid.optim import build_lr_scheduler

    opt = _opt()
    plain = build_lr_scheduler(opt, "single_step", stepsize=2, gamma=0.1)
    for _ in range(3):
        opt.step()
        plain.step()
    opt_state, sched_state = opt.state_dict(), plain.state_dict()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)

    opt2 = _opt()
    warm = build_lr_scheduler(opt2, "single_step", stepsize=2, gamma=0.1, warmup_epochs=2, warmup_factor=0.5)
    assert warm.get_last_lr() == [pytest.approx(0.05)]  # epoch 0 of the warm-up
    opt2.load_state_dict(opt_state)
    warm.load_state_dict(sched_state)
    assert warm.last_epoch == 3
    assert warm.get_last_lr() == [pytest.approx(0.01)]  # past the warm-up: factor 1
    opt2.step()
    warm.step()
    assert warm.get_last_lr() == [pytest.approx(0.001)]  # StepLR decays at epoch 4


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"warmup_epochs": -1}, ValueError, "warmup_epochs must be >= 0, got -1"),
        (
            {"warmup_epochs": 2, "warmup_factor": 0.0},
            ValueError,
            r"warmup_factor must be in \(0, 1\], got 0.0",
        ),
        ({"warmup_epochs": 2, "warmup_factor": 1.5}, ValueError, "warmup_factor must be in"),
        ({"stepsize": []}, ValueError, "stepsize is empty; single_step needs one step size"),
        ({"stepsize": 2.5}, TypeError, "stepsize must be a positive integer, got 2.5"),
        ({"stepsize": [0]}, TypeError, "stepsize must be a positive integer, got 0"),
        ({"lr_scheduler": "multi_step", "stepsize": 5}, TypeError, "stepsize must be a list, got 5"),
        ({"lr_scheduler": "cosin"}, ValueError, "Did you mean 'cosine'"),
    ],
)
def test_scheduler_argument_errors(kwargs, error, message):
    from torchreid.optim import build_lr_scheduler
    from torchreid.optim.lr_scheduler import WarmupScheduler

    if "warmup_epochs" in kwargs and kwargs["warmup_epochs"] < 0:
        # build_lr_scheduler only wraps for a positive warm-up; the class itself rejects negatives
        with pytest.raises(error, match=message):
            WarmupScheduler(torch.optim.lr_scheduler.StepLR(_opt(), 1), **kwargs)
        return
    with pytest.raises(error, match=message):
        build_lr_scheduler(_opt(), **kwargs)


def test_staged_lr_with_empty_new_layers_warns_and_uses_one_group():
    from torchreid.optim import build_optimizer

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with pytest.warns(UserWarning, match="new_layers is empty, therefore staged_lr is useless"):
        opt = build_optimizer(model, optim="sgd", lr=0.1, staged_lr=True, new_layers="", base_lr_mult=0.5)
    # every layer is a base layer: all of them train with lr * base_lr_mult (the new-layer group is empty)
    assert [(len(g["params"]), g["lr"]) for g in opt.param_groups] == [(4, pytest.approx(0.05)), (0, 0.1)]


# ------------------------------------------------------------------------------------------------ checkpoints


def _state(epoch=3):
    model = nn.Linear(3, 2)
    return model, {"state_dict": model.state_dict(), "epoch": epoch, "rank1": 0.5, "optimizer": None}


def test_save_checkpoint_best_copy_and_module_prefix(tmp_path):
    from torchreid.utils import load_checkpoint, save_checkpoint

    model, state = _state()
    state["state_dict"] = {f"module.{k}": v for k, v in state["state_dict"].items()}
    path = save_checkpoint(state, tmp_path, is_best=True, remove_module_from_keys=True)
    assert path == str(tmp_path / "model.pth.tar-3")
    ckpt = load_checkpoint(path)
    assert set(ckpt["state_dict"]) == {"weight", "bias"}
    best = load_checkpoint(tmp_path / "model-best.pth.tar")
    assert torch.equal(best["state_dict"]["weight"], model.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-best.pth.tar", "model.pth.tar-3"]
    assert "module.weight" in state["state_dict"]  # the caller's dict is not modified


def test_resume_restores_weights_only_when_nothing_else_is_stored(tmp_path, capsys):
    from torchreid.utils import resume_from_checkpoint, save_checkpoint

    src, state = _state(epoch=7)
    del state["rank1"]
    path = save_checkpoint(state, tmp_path)
    dst = nn.Linear(3, 2)
    opt = torch.optim.SGD(dst.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    rng_before = torch.get_rng_state()
    assert resume_from_checkpoint(path, nn.DataParallel(dst), optimizer=opt, scheduler=sched) == 7
    assert torch.equal(dst.weight, src.weight)
    out = capsys.readouterr().out
    assert "Loaded optimizer" not in out and "Loaded scheduler" not in out and "Last rank1" not in out
    assert torch.equal(torch.get_rng_state(), rng_before)  # no stored RNG state: nothing restored
    assert opt.param_groups[0]["lr"] == 0.1


def test_partial_rng_state_restores_only_what_it_holds():
    import random

    from torchreid.utils.checkpoint import get_rng_state, set_rng_state

    state = get_rng_state()
    expected_torch = torch.rand(3)
    random.seed(123)
    py_after = random.random()
    random.seed(123)
    set_rng_state({"torch": state["torch"]})  # only torch's generator
    assert torch.equal(torch.rand(3), expected_torch)
    assert random.random() == py_after  # Python's generator untouched


class Note:
    """An arbitrary picklable object (refused by weights_only loading)."""


def test_trusted_loading_and_non_state_dict_files(tmp_path):
    from torchreid.utils import load_checkpoint, load_pretrained_weights

    path = tmp_path / "obj.pth"
    torch.save({"note": Note(), "epoch": 1}, path)
    with pytest.raises(RuntimeError, match=r"weights_only=False"):
        load_checkpoint(path)
    assert load_checkpoint(path, weights_only=False)["epoch"] == 1

    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(TypeError, match=r"does not contain a state dict .*found list"):
        load_pretrained_weights(nn.Linear(1, 1), lst)


def test_load_pretrained_weights_reports_loaded_skipped_and_missing(tmp_path):
    from torchreid.utils import load_pretrained_weights

    src = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    dst = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 5))
    sd = {f"module.{k}": v for k, v in src.state_dict().items()}
    sd["extra.weight"] = torch.zeros(2)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.warns(UserWarning) as rec:
        report = load_pretrained_weights(dst, path)
    msg = str(rec[0].message)
    assert "2.weight (shape (3, 4) vs (5, 4))" in msg and "extra.weight (not in model)" in msg
    assert report["skipped"] == ["2.weight", "2.bias", "extra.weight"]
    assert report["missing"] == ["2.weight", "2.bias"]
    assert "0.weight" in report["loaded"] and "1.running_mean" in report["loaded"]
    assert torch.equal(dst[0].weight, src[0].weight)


# ------------------------------------------------------------------------------------------------ metrics


def _toy_problem(seed=0, nq=6, ng=20):
    rng = np.random.default_rng(seed)
    distmat = rng.random((nq, ng)).astype(np.float32)
    q_pids = np.arange(nq) % 3
    g_pids = np.arange(ng) % 4
    q_camids = np.zeros(nq, dtype=np.int64)
    g_camids = np.ones(ng, dtype=np.int64)
    return distmat, q_pids, g_pids, q_camids, g_camids


@pytest.mark.parametrize("cuhk03", [False, True])
def test_evaluate_rank_accepts_torch_tensors_like_numpy(cuhk03):
    from torchreid.metrics import evaluate_rank

    distmat, qp, gp, qc, gc = _toy_problem()
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


def test_legacy_evaluation_entry_points_match_evaluate_rank():
    from torchreid.metrics import evaluate_rank
    from torchreid.metrics import rank as R

    distmat, qp, gp, qc, gc = _toy_problem(seed=1)
    for legacy, cuhk03 in ((R.eval_market1501, False), (R.eval_cuhk03, True)):
        np.random.seed(0)
        cmc, mAP = legacy(distmat, qp, gp, qc, gc, 5)
        np.random.seed(0)
        ref_cmc, ref_map = evaluate_rank(distmat, qp, gp, qc, gc, max_rank=5, use_metric_cuhk03=cuhk03)
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
        assert mAP == pytest.approx(ref_map, abs=1e-6)
    cmc, _ = R.evaluate_py(distmat, qp, gp, qc, gc, 5, False)
    assert cmc.shape == (5,)


def test_ids_and_distmat_validation():
    from torchreid.metrics import evaluate_rank, evaluate_rank_from_features

    distmat, qp, gp, qc, gc = _toy_problem()
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


def test_accuracy_and_distance_input_errors():
    from torchreid.metrics import accuracy, compute_distance_matrix

    with pytest.raises(ValueError, match="output is an empty sequence"):
        accuracy([], torch.tensor([0]))
    with pytest.raises(ValueError, match=r"topk values must be >= 1, got \(0,\)"):
        accuracy(torch.zeros(2, 3), torch.tensor([0, 1]), topk=(0,))
    with pytest.raises(ValueError, match="empty batch"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    # integer and mixed-precision inputs are promoted, not rejected
    a = torch.tensor([[0, 0], [3, 4]])
    b = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    d = compute_distance_matrix(a, b)
    assert d.dtype == torch.float64 and d.flatten().tolist() == [0.0, 25.0]


# ------------------------------------------------------------------------------------------------ complexity


def test_model_complexity_transposed_conv_and_input_size_check():
    from torchreid.utils import compute_model_complexity

    m = nn.ConvTranspose2d(2, 4, kernel_size=3)
    params, flops = compute_model_complexity(m, (1, 2, 5, 5))
    assert params == 2 * 4 * 9 + 4
    assert flops == 50 * 9 * 4 + 4 * 7 * 7  # every input element spreads over k*out outputs, plus the bias
    with pytest.raises(ValueError, match="must include the batch dimension"):
        compute_model_complexity(m, (5,))


def test_model_complexity_verbose_breakdown(capsys):
    from torchreid.utils import compute_model_complexity

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params, flops = compute_model_complexity(model, (2, 4), verbose=True, only_conv_linear=False)
    assert params == 4 * 3 + 3 + 3 * 2 + 2
    assert flops == 2 * 3 * 4 + 6 + 6 + 2 * 2 * 3 + 4  # linear (+bias), relu, linear (+bias)
    out = capsys.readouterr().out
    assert "Linear" in out and "ReLU" in out and "total" in out
    assert model.training  # mode restored


def test_load_pretrained_weights_reports_non_tensor_entries_instead_of_crashing(tmp_path):
    """A state dict may hold non-tensor values (lists, numbers); they are skipped and named in the report."""
    from torchreid.utils import load_pretrained_weights

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    sd = dict(model.state_dict())
    sd["1.bias"] = [0.0, 0.0]
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    with pytest.warns(UserWarning, match=r"1\.bias \(not a tensor: list\)"):
        report = load_pretrained_weights(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), path)
    assert report["skipped"] == ["1.bias"] and report["missing"] == ["1.bias"]
