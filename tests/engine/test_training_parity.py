"""Training parity with the original Torchreid (v1.4.0), stage by stage, on the same inputs (issue 17).

Each test derives the expected values from the original's documented behaviour (its source, read for facts) and
PyTorch's documented semantics, independently of this project's code:

- the data: train split order and ``drop_last``; ``RandomSampler`` order and ``random_flip`` draws under
  ``set_random_seed`` (the global torch RNG: one draw for the loader's worker seed, one for the sampler's
  generator, then one ``torch.rand(1)`` per image for the flip); transform order and parameters;
- the loss: label-smoothed cross-entropy ``(1 - eps) * onehot + eps / K``, eps 0.1, batch mean of the row sums;
- the optimiser: ``torch.optim.Adam(model.parameters(), amsgrad=True)`` with betas (0.9, 0.999) from the config
  and weight decay 5e-4 on every parameter (biases and BatchNorm included);
- the schedule: ``StepLR`` stepped once at the end of every epoch (lr of epoch e is lr * 0.1 ** (e // step));
- fixbase: for ``fixbase_epoch`` epochs only ``open_layers`` are in train mode with ``requires_grad``; the others
  are in eval mode (BatchNorm running statistics frozen) and get no optimiser state;
- the model: OSNet's ``_init_params`` (Kaiming-normal fan_out convs, N(0, 0.01) linears, zero biases, unit BN),
  BatchNorm momentum 0.1; only the classifier is skipped when loading weights of another dataset;
- evaluation: Resize (PIL bilinear) → ToTensor → Normalize, the eval-mode forward as feature, squared Euclidean
  distance, no feature normalisation;
- end to end: scripts/main.py's weights after 2 epochs (fixbase 1) are bit-identical to those of a plain loop
  written from the original's steps on the same images and seed.

The differences that remain are documented in README.md ("Accuracy vs the original on real data").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_accuracy import build_split  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
H, W = 32, 16


# --------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake Market-1501 training folder (8 ids x 2 cameras x 3 noise images, 24x12 JPEGs) split like the
    benchmark: 4 train ids (24 images), 4 test ids (8 queries, 16 gallery images)."""
    base = tmp_path_factory.mktemp("parity")
    src = base / "bounding_box_train"
    src.mkdir()
    rng = np.random.default_rng(0)
    for pid in range(2, 10):
        for cam in (1, 2):
            for k in range(3):
                arr = rng.integers(0, 256, size=(24, 12, 3), dtype=np.uint8)
                Image.fromarray(arr).save(src / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg", quality=95)
    counts = build_split(src, base / "split")
    assert counts == {"train_ids": 4, "test_ids": 4, "train": 24, "query": 8, "gallery": 16}
    return base / "split"


def _datamanager(root: Path, batch_size: int = 5, transforms: str | list[str] = "random_flip"):
    from torchreid.data import ImageDataManager

    return ImageDataManager(
        root=str(root), sources="market1501", height=H, width=W, transforms=transforms,
        batch_size_train=batch_size, batch_size_test=7, workers=0, use_gpu=False,
    )  # fmt: skip


def _expected_tensor(path: str, flip: bool) -> torch.Tensor:
    """The original's train transform by hand: PIL bilinear resize, optional mirror, ToTensor, Normalize."""
    img = Image.open(path).convert("RGB").resize((W, H), Image.BILINEAR)
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


# --------------------------------------------------------------------------------------------------- data
def test_split_protocol_first_image_per_identity_and_camera_is_the_query(split_root: Path):
    base = split_root / "market1501" / "Market-1501-v15.09.15"
    query = sorted(p.name for p in (base / "query").iterdir())
    assert query[:2] == ["0006_c1s1_000000_00.jpg", "0006_c2s1_000000_00.jpg"]
    assert all(
        p.name.startswith(("0002", "0003", "0004", "0005")) for p in (base / "bounding_box_train").iterdir()
    )
    gallery = sorted(p.name for p in (base / "bounding_box_test").iterdir())
    assert "0006_c1s1_000001_00.jpg" in gallery and "0006_c1s1_000000_00.jpg" not in gallery


def test_random_sampler_order_flips_and_drop_last_follow_the_original_seeding(split_root: Path):
    from torchreid.utils import set_random_seed

    dm = _datamanager(split_root, batch_size=5)
    train = dm.train_loader.dataset.train
    assert dm.train_loader.drop_last is True and len(dm.train_loader) == 24 // 5

    # expected: the global RNG after set_random_seed(7) feeds, per epoch, the loader's worker seed (one int64),
    # the RandomSampler's private generator seed (one int64), then one torch.rand(1) per image (random_flip)
    torch.manual_seed(7)
    torch.empty((), dtype=torch.int64).random_()
    sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
    order = torch.randperm(24, generator=torch.Generator().manual_seed(sampler_seed)).tolist()[:20]
    flips = [bool(torch.rand(1) < 0.5) for _ in order]

    set_random_seed(7)
    paths, imgs = [], []
    for batch in dm.train_loader:
        paths += list(batch["impath"])
        imgs.append(batch["img"])
    assert paths == [train[i][0] for i in order]  # 4 batches of 5: the last 4 images dropped
    expected = torch.stack([_expected_tensor(train[i][0], f) for i, f in zip(order, flips)])
    torch.testing.assert_close(torch.cat(imgs), expected, atol=1e-5, rtol=0)


def test_train_relabels_in_increasing_pid_order_and_reads_every_image(split_root: Path):
    dm = _datamanager(split_root)
    train = dm.train_loader.dataset.train
    names = [Path(r[0]).name for r in train]
    assert names == sorted(names)  # see README: the original used unsorted glob order
    assert sorted({r[1] for r in train}) == [0, 1, 2, 3]
    assert all(r[1] == int(Path(r[0]).name[:4]) - 2 for r in train)
    assert dm.num_train_pids == 4


def test_build_transforms_order_and_parameters_are_the_original_ones():
    from torchvision import transforms as T

    from torchreid.data.transforms import Random2DTranslation, RandomErasing, RandomPatch, build_transforms

    names = ["random_erase", "color_jitter", "random_patch", "random_crop", "random_flip"]  # any order
    tr, te = build_transforms(256, 128, transforms=names, norm_mean=MEAN, norm_std=STD)
    kinds = [type(t) for t in tr.transforms]
    assert kinds == [T.Resize, T.RandomHorizontalFlip, Random2DTranslation, RandomPatch, T.ColorJitter,
                     T.ToTensor, T.Normalize, RandomErasing]  # fmt: skip
    resize, flip, crop, patch, jitter, _, norm, erase = tr.transforms
    assert tuple(resize.size) == (256, 128) and resize.interpolation == T.InterpolationMode.BILINEAR
    assert flip.p == 0.5
    assert (crop.height, crop.width, crop.p) == (256, 128, 0.5)
    assert (patch.prob_happen, patch.min_sample_size, patch.patch_min_area, patch.patch_max_area) == (
        0.5, 100, 0.01, 0.5)  # fmt: skip
    assert (patch.patch_min_ratio, patch.prob_rotate, patch.prob_flip_leftright) == (0.1, 0.5, 0.5)
    assert patch.patchpool.maxlen == 50000
    assert jitter.brightness == pytest.approx((0.8, 1.2)) and jitter.contrast == pytest.approx((0.85, 1.15))
    assert jitter.saturation is None and jitter.hue is None
    assert list(norm.mean) == MEAN and list(norm.std) == STD
    assert (erase.probability, erase.sl, erase.sh, erase.r1) == (0.5, 0.02, 0.4, 0.3) and erase.mean == MEAN
    assert [type(t) for t in te.transforms] == [T.Resize, T.ToTensor, T.Normalize]
    assert tuple(te.transforms[0].size) == (256, 128)
    assert te.transforms[0].interpolation == T.InterpolationMode.BILINEAR


def test_random_crop_follows_the_original_arithmetic():
    import random

    from torchreid.data.transforms import Random2DTranslation

    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 20, 3), dtype=np.uint8))
    t = Random2DTranslation(32, 16, p=1.0)
    random.seed(3)
    out = t(img)
    random.seed(3)
    random.uniform(0, 1)  # the p draw
    x1, y1 = round(random.uniform(0, 18 - 16)), round(random.uniform(0, 36 - 32))  # 1.125x: 18x36
    expected = img.resize((18, 36), Image.BILINEAR).crop((x1, y1, x1 + 16, y1 + 32))
    assert np.array_equal(np.asarray(out), np.asarray(expected))


# --------------------------------------------------------------------------------------------------- loss
def test_label_smoothing_cross_entropy_is_the_original_formula():
    from torchreid.losses import CrossEntropyLoss

    torch.manual_seed(0)
    logits = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 4, 2, 2, 1, 3])
    z = logits.detach().numpy()
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    q = np.full((6, 5), 0.1 / 5) + 0.9 * np.eye(5)[y.numpy()]
    expected = float((-q * logp).sum(1).mean())

    loss = CrossEntropyLoss(num_classes=5)(logits.float(), y)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss64 = CrossEntropyLoss(num_classes=5)(logits, y)
    loss64.backward()
    softmax = np.exp(logp)
    np.testing.assert_allclose(logits.grad.numpy(), (softmax - q) / 6, rtol=1e-5, atol=1e-7)
    plain = CrossEntropyLoss(num_classes=5, label_smooth=False)(logits.detach().float(), y)
    assert plain.item() == pytest.approx(float(-logp[np.arange(6), y.numpy()].mean()), rel=1e-6)


# --------------------------------------------------------------------------------------------------- optimiser
def test_amsgrad_from_the_config_has_the_original_defaults_and_decays_every_parameter():
    from torchreid.config import get_default_config, merge_from_file, optimizer_kwargs
    from torchreid.optim import build_optimizer

    cfg = get_default_config()
    merge_from_file(cfg, str(REPO / "configs/im_osnet_x0_25_softmax_256x128_amsgrad.yaml"))
    kw = optimizer_kwargs(cfg)
    assert (kw["optim"], kw["adam_beta1"], kw["adam_beta2"], kw["weight_decay"]) == (
        "amsgrad",
        0.9,
        0.999,
        5e-4,
    )
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = build_optimizer(model, **dict(kw, lr=0.0015))
    assert isinstance(opt, torch.optim.Adam) and len(opt.param_groups) == 1
    g = opt.param_groups[0]
    assert [id(p) for p in g["params"]] == [id(p) for p in model.parameters()]  # biases and BN included
    assert (g["lr"], g["betas"], g["eps"], g["weight_decay"], g["amsgrad"]) == (0.0015, (0.9, 0.999), 1e-8,
                                                                               5e-4, True)  # fmt: skip
    # first Adam step with a zero gradient: only the L2 term wd * p acts, so p moves by lr * sign(p)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    bn_w0 = model[1].weight.detach().clone()  # ones
    lin_w0 = model[0].weight.detach().clone()
    opt.step()
    g1 = 5e-4 * bn_w0
    torch.testing.assert_close(model[1].weight.detach(), bn_w0 - 0.0015 * g1 / (g1.abs() + 1e-8))
    g2 = 5e-4 * lin_w0
    torch.testing.assert_close(model[0].weight.detach(), lin_w0 - 0.0015 * g2 / (g2.abs() + 1e-8))
    assert "max_exp_avg_sq" in opt.state[model[1].weight]


def test_single_step_schedule_uses_the_last_stepsize_of_a_list():
    from torchreid.optim import build_lr_scheduler

    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.0015)
    sched = build_lr_scheduler(opt, lr_scheduler="single_step", stepsize=[2, 4], gamma=0.1)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.0015] * 4 + [0.00015] * 2)


# --------------------------------------------------------------------------------------------------- model
def test_osnet_init_and_batchnorm_follow_the_original():
    from torchreid.models import build_model

    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=375, loss="softmax", pretrained=False)
    w = model.classifier.weight.detach()
    assert (
        w.shape == (375, 512)
        and abs(w.mean().item()) < 2e-4
        and w.std().item() == pytest.approx(0.01, rel=0.02)
    )
    assert torch.count_nonzero(model.classifier.bias) == 0
    fc = model.fc[0].weight.detach()
    assert fc.std().item() == pytest.approx(0.01, rel=0.03) and torch.count_nonzero(model.fc[0].bias) == 0
    conv = model.conv1.conv.weight.detach()  # (16, 3, 7, 7): Kaiming normal, fan_out = 16 * 49
    assert conv.std().item() == pytest.approx((2 / (16 * 49)) ** 0.5, rel=0.06)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) > 20
    for m in bns:
        assert m.momentum == 0.1 and m.eps == 1e-5 and m.affine and m.track_running_stats
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
        assert torch.all(m.running_mean == 0) and torch.all(m.running_var == 1)
    # ChannelGate / conv biases start at zero, as the original's _init_params sets them
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0


def test_model_complexity_draws_its_input_from_the_global_rng_as_the_original():
    # the original's compute_model_complexity feeds torch.rand(input_size): scripts/main.py's random stream
    # after building the model (hence the sampler order of a given train.seed) depends on that draw
    from torchreid.models import build_model
    from torchreid.utils.model_complexity import compute_model_complexity

    model = build_model("osnet_x0_25", num_classes=3, loss="softmax", pretrained=False)
    torch.manual_seed(5)
    compute_model_complexity(model, (1, 3, H, W))
    after = torch.rand(1)
    torch.manual_seed(5)
    torch.rand(1, 3, H, W)
    assert torch.equal(after, torch.rand(1))


@pytest.mark.real_data
def test_loading_weights_of_another_dataset_skips_only_the_classifier(data_dir: Path):
    from torchreid.models import build_model
    from torchreid.utils import load_pretrained_weights

    weights = data_dir / "weights/osnet_x0_25_msmt17.pth"
    if not weights.exists():
        pytest.skip(f"{weights} is not available")
    torch.manual_seed(1)
    model = build_model("osnet_x0_25", num_classes=375, loss="softmax", pretrained=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="classifier.weight"):
        load_pretrained_weights(model, str(weights))
    state = torch.load(weights, map_location="cpu", weights_only=True)
    after = model.state_dict()
    for k, v in after.items():
        if k.startswith("classifier."):
            assert torch.equal(v, before[k])  # kept the fresh N(0, 0.01) initialisation
        else:
            assert torch.equal(v, state[k]), k


# --------------------------------------------------------------------------------------------------- engine
class _Recorder:
    """Wraps an engine's forward_backward to record, per step, what the original's engine would show."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.steps: list[dict] = []
        self.snapshots: dict[int, dict] = {}
        self._inner = engine.forward_backward
        engine.forward_backward = self

    def __call__(self, data):
        e, m = self.engine, self.engine.model
        if e.batch_idx == 0:
            opt = e.optimizer
            self.snapshots[e.epoch] = {
                "state": {k: v.detach().clone() for k, v in m.state_dict().items()},
                "opt_state": {n: (p in opt.state) for n, p in m.named_parameters()},
            }
        self.steps.append({
            "epoch": e.epoch, "lr": e.get_current_lr(), "paths": list(data["impath"]),
            "train": {n: c.training for n, c in m.named_children()},
            "grad": {n: all(p.requires_grad for p in c.parameters()) for n, c in m.named_children()
                     if any(True for _ in c.parameters())},
        })  # fmt: skip
        return self._inner(data)


def _engine_run(split_root: Path, tmp_path: Path, fixbase: int, seed: int = 3, max_epoch: int = 5):
    from torchreid.engine import ImageSoftmaxEngine
    from torchreid.models import build_model
    from torchreid.optim import build_lr_scheduler, build_optimizer
    from torchreid.utils import set_random_seed

    set_random_seed(seed)
    dm = _datamanager(split_root, batch_size=8)
    model = build_model("osnet_x0_25", num_classes=dm.num_train_pids, loss="softmax", pretrained=False)
    opt = build_optimizer(model, optim="amsgrad", lr=0.0015, adam_beta2=0.999)
    sched = build_lr_scheduler(opt, lr_scheduler="single_step", stepsize=[4])
    engine = ImageSoftmaxEngine(dm, model, opt, scheduler=sched, use_gpu=False, label_smooth=True)
    rec = _Recorder(engine)
    engine.run(save_dir=str(tmp_path / f"log{fixbase}"), max_epoch=max_epoch, fixbase_epoch=fixbase,
               open_layers=["classifier"], print_freq=100)  # fmt: skip
    return engine, rec


def test_engine_lr_per_epoch_fixbase_and_optimizer_state_follow_the_original(
    split_root: Path, tmp_path: Path
):
    engine, rec = _engine_run(split_root, tmp_path, fixbase=1)
    nb = 24 // 8
    assert len(rec.steps) == 5 * nb
    # StepLR(4) stepped at the end of each epoch: epochs 1-4 at 0.0015, epoch 5 at 0.00015
    assert [s["lr"] for s in rec.steps[::nb]] == pytest.approx([0.0015] * 4 + [0.00015])

    first, later = rec.steps[0], rec.steps[nb]
    assert first["train"]["classifier"] and first["grad"]["classifier"]
    frozen = [n for n in first["train"] if n != "classifier"]
    assert frozen and not any(first["train"][n] for n in frozen)  # BatchNorm of the frozen part in eval mode
    assert not any(first["grad"].get(n, False) for n in frozen)
    assert all(later["train"].values()) and all(later["grad"].values())

    # after the fixbase epoch: only the classifier moved; frozen BatchNorm statistics untouched; only the
    # classifier has optimiser state
    s0, s1 = rec.snapshots[0]["state"], rec.snapshots[1]["state"]
    for k in s0:
        if k.startswith("classifier."):
            assert not torch.equal(s0[k], s1[k]), k
        else:
            assert torch.equal(s0[k], s1[k]), k
    assert {n for n, has in rec.snapshots[1]["opt_state"].items() if has} == {
        "classifier.weight",
        "classifier.bias",
    }
    # at the end: Adam's step counts: classifier trained 5 epochs, the rest 4
    opt = engine.optimizer
    steps = {n: int(opt.state[p]["step"]) for n, p in engine.model.named_parameters()}
    assert steps["classifier.weight"] == 5 * nb and steps["conv1.conv.weight"] == 4 * nb


def test_data_order_does_not_depend_on_fixbase(split_root: Path, tmp_path: Path):
    _, with_fixbase = _engine_run(split_root, tmp_path, fixbase=1, max_epoch=2)
    _, without = _engine_run(split_root, tmp_path, fixbase=0, max_epoch=2)
    assert [s["paths"] for s in with_fixbase.steps] == [s["paths"] for s in without.steps]


def test_evaluation_is_the_original_pipeline(split_root: Path, tmp_path: Path):
    """Features = eval-mode forward of Resize(bilinear) → ToTensor → Normalize; squared Euclidean distance, no
    normalisation; the engine's mAP / rank-1 equal the ones computed by hand from those features."""
    from torchreid.metrics import evaluate_rank

    engine, _ = _engine_run(split_root, tmp_path, fixbase=1, max_epoch=1)
    res = engine.last_results["market1501"]
    dm = engine.datamanager
    query, gallery = dm.fetch_test_loaders("market1501")
    model = engine.model.eval()

    def feats(records):
        x = torch.stack([_expected_tensor(r[0], flip=False) for r in records])
        with torch.no_grad():
            return model(x)

    qf, gf = feats(query), feats(gallery)
    assert qf.shape == (8, 512)
    d = ((qf[:, None, :].double() - gf[None, :, :].double()) ** 2).sum(-1).numpy()
    cmc, mAP = evaluate_rank(
        d, np.array([r[1] for r in query]), np.array([r[1] for r in gallery]),
        np.array([r[2] for r in query]), np.array([r[2] for r in gallery]),
    )  # fmt: skip
    assert res["mAP"] == pytest.approx(mAP, abs=1e-6)
    assert res["rank1"] == pytest.approx(cmc[0], abs=1e-6)


def test_runner_first_epoch_order_for_a_seed_is_the_originals(split_root: Path, tmp_path: Path, monkeypatch):
    """scripts/main.py's random stream: set_random_seed → build the data → build the model (its initialisation)
    → compute_model_complexity's torch.rand input → per epoch: worker seed, sampler seed. A step that draws
    from the global RNG where the original does not (or the reverse) changes the order of every seed."""
    from torchreid.engine import ImageSoftmaxEngine
    from torchreid.models import build_model
    from torchreid.runner import main

    seen: list[list[str]] = []
    inner = ImageSoftmaxEngine.forward_backward

    def record(self, data):
        seen.append(list(data["impath"]))
        return inner(self, data)

    monkeypatch.setattr(ImageSoftmaxEngine, "forward_backward", record)
    main([
        "--root", str(split_root), "-s", "market1501", "-t", "market1501",
        "model.name", "osnet_x0_25", "model.pretrained", "False", "data.height", str(H), "data.width", str(W),
        "data.workers", "0", "data.save_dir", str(tmp_path / "log"), "train.max_epoch", "1",
        "train.batch_size", "8", "train.seed", "11", "test.batch_size", "8", "train.print_freq", "100",
    ])  # fmt: skip

    torch.manual_seed(11)
    build_model("osnet_x0_25", num_classes=4, loss="softmax", pretrained=False)
    torch.rand(1, 3, H, W)
    torch.empty((), dtype=torch.int64).random_()
    sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
    order = torch.randperm(24, generator=torch.Generator().manual_seed(sampler_seed)).tolist()
    from torchreid.data import ImageDataManager

    train = ImageDataManager(root=str(split_root), sources="market1501", height=H, width=W, workers=0,
                             use_gpu=False).train_loader.dataset.train  # fmt: skip
    assert [p for batch in seen for p in batch] == [train[i][0] for i in order[:24]]


def test_runner_weights_equal_an_independent_loop_of_the_originals_steps(split_root: Path, tmp_path: Path):
    """End to end on the same inputs: scripts/main.py (2 epochs, fixbase 1) ends with the weights of a plain loop
    written from the original's documented steps (seeding, model, complexity draw, AMSGrad, per-epoch loader and
    sampler draws, flip draws, fixbase, label-smoothed CE, zero_grad → backward → step, StepLR per epoch)."""
    from torchreid.data import ImageDataManager
    from torchreid.models import build_model
    from torchreid.runner import main
    from torchreid.utils import load_checkpoint

    seed, bs, epochs = 5, 8, 2
    main([
        "--root", str(split_root), "-s", "market1501", "-t", "market1501",
        "model.name", "osnet_x0_25", "model.pretrained", "False", "data.height", str(H), "data.width", str(W),
        "data.workers", "0", "data.save_dir", str(tmp_path / "log"), "train.max_epoch", str(epochs),
        "train.optim", "amsgrad", "train.lr", "0.0015", "train.stepsize", "[1]", "train.fixbase_epoch", "1",
        "train.open_layers", "['classifier']", "train.batch_size", str(bs), "train.seed", str(seed),
        "test.batch_size", "8", "train.print_freq", "100",
    ])  # fmt: skip
    ours = load_checkpoint(str(tmp_path / "log/model" / f"model.pth.tar-{epochs}"))["state_dict"]

    train = ImageDataManager(root=str(split_root), sources="market1501", height=H, width=W, workers=0,
                             use_gpu=False).train_loader.dataset.train  # fmt: skip
    torch.manual_seed(seed)
    model = build_model("osnet_x0_25", num_classes=4, loss="softmax", pretrained=False)
    torch.rand(1, 3, H, W)  # compute_model_complexity's input
    opt = torch.optim.Adam(model.parameters(), lr=0.0015, weight_decay=5e-4, betas=(0.9, 0.999), amsgrad=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    for epoch in range(epochs):
        model.train()
        for name, child in model.named_children():
            is_open = epoch >= 1 or name == "classifier"
            child.train(is_open)
            for p in child.parameters():
                p.requires_grad = is_open
        torch.empty((), dtype=torch.int64).random_()  # the loader's worker seed
        sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(sampler_seed)).tolist()
        for b in range(len(train) // bs):
            idx = order[b * bs : (b + 1) * bs]
            imgs = torch.stack([_expected_tensor(train[i][0], bool(torch.rand(1) < 0.5)) for i in idx])
            pids = torch.tensor([train[i][1] for i in idx])
            logp = torch.log_softmax(model(imgs), dim=1)
            # the original's float operations, in its order: Adam's first step on the newly opened layers is about
            # lr * sign(grad), so a rounding difference in the loss shows up as lr-sized weight differences
            q = (1 - 0.1) * torch.zeros_like(logp).scatter_(1, pids[:, None], 1) + 0.1 / 4
            loss = (-q * logp).mean(0).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    expected = model.state_dict()
    assert set(ours) == set(expected)
    differ = [k for k, v in expected.items() if not torch.equal(ours[k], v)]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:5]}"  # bit-identical
