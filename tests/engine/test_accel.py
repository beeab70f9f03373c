"""Training-step accelerator (AMP, channels_last, compile, clipping), GPU transforms and the prefetcher, on CPU."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from torchreid.data import gpu_transforms as gt
from torchreid.data.prefetch import DevicePrefetcher
from torchreid.engine.accel import NonFiniteLossError, StepAccelerator, normalize_amp, normalize_compile
from torchreid.engine.engine import Engine


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean((2, 3)))


def _batch(seed: int = 0, b: int = 8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 16, 8, generator=g), torch.randint(0, 5, (b,), generator=g)


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = TinyNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    return model, opt


def _plain_steps(model, opt, n=3):
    losses = []
    for i in range(n):
        x, y = _batch(i)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _accel_steps(accel, model, opt, n=3):
    model = accel.prepare_model(model)
    losses = []
    for i in range(n):
        x, y = _batch(i)
        x = accel.prepare_inputs(x)
        with accel.autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        accel.backward_and_step(loss, opt, model.parameters())
        losses.append(loss.item())
    return losses


def test_amp_off_is_bit_identical_to_plain_step():
    m1, o1 = _setup()
    m2, o2 = _setup()
    accel = StepAccelerator(amp="off", device="cpu")
    assert not accel.enabled
    l1 = _plain_steps(m1, o1)
    l2 = _accel_steps(accel, m2, o2)
    assert l1 == l2
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k


def test_bf16_runs_on_cpu():
    model, opt = _setup()
    accel = StepAccelerator(amp="bf16", device="cpu")
    assert accel.amp == "bf16" and accel.scaler is None
    with accel.autocast():
        out = model(_batch()[0])
    assert out.dtype == torch.bfloat16
    losses = _accel_steps(accel, model, opt, n=4)
    assert all(torch.isfinite(torch.tensor(losses)))


def test_fp16_without_cuda_warns_and_falls_back(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="fp16"):
        accel = StepAccelerator(amp="fp16")
    assert accel.amp == "off" and accel.scaler is None and accel.device.type == "cpu"


def test_normalizers_reject_bad_values():
    assert normalize_amp(None) == "off" and normalize_amp("BF16") == "bf16"
    assert normalize_compile(True) == "default" and normalize_compile("") == ""
    assert normalize_compile(False) == "" and normalize_compile("reduce-overhead") == "reduce-overhead"
    with pytest.raises(ValueError, match=r"train\.amp"):
        normalize_amp("int8")
    with pytest.raises(ValueError, match=r"train\.compile"):
        normalize_compile("fastest")


def test_channels_last_matches_within_tolerance():
    m1, o1 = _setup()
    m2, o2 = _setup()
    l1 = _accel_steps(StepAccelerator(device="cpu"), m1, o1)
    accel = StepAccelerator(channels_last=True, device="cpu")
    x = accel.prepare_inputs(_batch()[0])
    assert x.is_contiguous(memory_format=torch.channels_last)
    l2 = _accel_steps(accel, m2, o2)
    assert m2.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert l1 == pytest.approx(l2, rel=1e-5, abs=1e-6)


def test_clip_grad_norm_bounds_the_norm():
    model, opt = _setup()
    accel = StepAccelerator(clip_grad_norm=0.05, device="cpu")
    x, y = _batch()
    loss = nn.functional.cross_entropy(model(x) * 100, y)  # large gradients
    opt.zero_grad()
    accel.backward(loss)
    accel.step(opt, model.parameters())
    assert float(accel.last_grad_norm) > 0.05  # the norm before clipping
    # after clipping (gradients are kept after the step) the norm is bounded
    total = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(total) <= 0.05 * (1 + 1e-4)


def test_nan_loss_stops_with_step_and_hint():
    model, opt = _setup()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    accel = StepAccelerator(device="cpu")
    x, y = _batch()
    loss = nn.functional.cross_entropy(model(x), y) * float("nan")
    with pytest.raises(NonFiniteLossError, match=r"epoch 3 batch 7.*lower train.lr"):
        accel.backward_and_step(loss, opt, where="epoch 3 batch 7")
    for k, v in model.named_parameters():
        assert torch.equal(v, before[k]), f"{k} was updated by a NaN step"


def test_compile_path_runs_with_eager_backend():
    model, opt = _setup()
    accel = StepAccelerator(compile="default", compile_backend="eager", device="cpu")
    losses = _accel_steps(accel, model, opt, n=2)
    assert all(torch.isfinite(torch.tensor(losses)))


def test_prepare_optimizer_is_noop_on_cpu_and_default_path():
    _, opt = _setup()
    StepAccelerator(device="cpu").prepare_optimizer(opt)
    assert not opt.param_groups[0].get("fused")


def test_resumed_fused_flag_does_not_leak_into_the_default_path():
    # a fast-path checkpoint's param_groups say fused=True; load_state_dict restores that flag
    _, opt = _setup()
    sd = opt.state_dict()
    sd["param_groups"][0]["fused"], sd["param_groups"][0]["foreach"] = True, False
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["fused"] is True
    StepAccelerator(device="cpu").prepare_optimizer(opt)
    assert opt.param_groups[0]["fused"] == opt.defaults["fused"] and not opt.param_groups[0]["fused"]
    assert opt.param_groups[0]["foreach"] == opt.defaults["foreach"]


# ---------------------------------------------------------------------------------------------- GPU transforms
def _ramp(b=6, h=16, w=8):
    x = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(b, 3, h, w).clone()
    return x + torch.arange(b, dtype=torch.float32).view(b, 1, 1, 1) * 100


def test_random_flip_flips_whole_images():
    torch.manual_seed(0)
    x = _ramp(b=64)
    out = gt.random_flip(x)
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)])
    same = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x)])
    assert bool((flipped | same).all())
    assert 10 < int(flipped.sum()) < 54  # p = 0.5
    assert torch.equal(gt.random_flip(x, p=0.0), x)
    assert torch.equal(gt.random_flip(x, p=1.0), x.flip(-1))


def test_random_crop_shapes_dtype_and_content():
    torch.manual_seed(0)
    x = (torch.rand(32, 3, 32, 16) * 255).to(torch.uint8)
    out = gt.random_crop(x)
    assert out.shape == x.shape and out.dtype == torch.uint8
    kept = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert 4 < sum(kept) < 28
    # p=1: each output is a window of the 1.125x bilinear enlargement
    xf = torch.rand(4, 3, 32, 16)
    out = gt.random_crop(xf, p=1.0)
    big = torch.nn.functional.interpolate(xf, size=(36, 18), mode="bilinear", align_corners=False)
    for o, bg in zip(out, big):
        found = any(
            torch.allclose(o, bg[:, i : i + 32, j : j + 16]) for i in range(0, 5) for j in range(0, 3)
        )
        assert found


def test_normalize_and_random_erase():
    x = torch.full((16, 3, 32, 16), 255, dtype=torch.uint8)
    y = gt.to_float_normalized(x, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert y.dtype == torch.float32 and torch.allclose(y, torch.ones_like(y))
    torch.manual_seed(0)
    fill = (0.485, 0.456, 0.406)
    z = gt.random_erase(y, p=1.0, fill=fill)
    assert z.shape == y.shape
    for img in z:
        erased = img[0] != 1.0
        assert erased.any()
        frac = erased.float().mean().item()
        assert 0.02 * 0.5 <= frac <= 0.4 * 1.5
        rows, cols = erased.nonzero(as_tuple=True)
        rect = erased[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert rect.all()  # one rectangle
        for c in range(3):
            assert torch.allclose(img[c][erased], torch.tensor(fill[c]))
    assert torch.equal(gt.random_erase(y, p=0.0), y)


def test_gpu_augment_module_and_split():
    cpu, dev = gt.split_transforms(["random_flip", "color_jitter", "random_erase", "random_crop"])
    assert cpu == ["color_jitter"] and dev == ["random_flip", "random_erase", "random_crop"]
    aug = gt.GPUAugment(
        ["random_flip", "random_crop", "random_erase"], norm_mean=[0.5] * 3, norm_std=[0.25] * 3
    )
    x = (torch.rand(8, 3, 32, 16) * 255).to(torch.uint8)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    test_aug = gt.GPUAugment(["random_flip"], train=False)
    assert torch.allclose(test_aug(x), gt.to_float_normalized(x))
    clip = (torch.rand(2, 4, 3, 32, 16) * 255).to(torch.uint8)
    assert aug(clip).shape == clip.shape


# ---------------------------------------------------------------------------------------------- prefetcher
def test_prefetcher_passthrough_on_cpu():
    data = [{"img": torch.rand(4, 3, 8, 4), "pid": torch.arange(4), "impath": ["a"] * 4} for _ in range(3)]
    pf = DevicePrefetcher(data, device="cpu")
    out = list(pf)
    assert len(pf) == 3 and len(out) == 3
    for a, b in zip(out, data):
        assert a["img"] is b["img"] and a["impath"] == b["impath"]
    pf = DevicePrefetcher(data, device=None, transform=lambda t: t * 0, channels_last=True)
    out = list(pf)
    assert float(out[0]["img"].abs().sum()) == 0
    assert out[0]["img"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out[1]["pid"], data[1]["pid"])
    # tuple batches: the transform applies to element 0
    out = list(DevicePrefetcher([(torch.ones(2, 3, 4, 4), torch.tensor([1, 2]))], transform=lambda t: t + 1))
    assert float(out[0][0].min()) == 2 and out[0][1].tolist() == [1, 2]


def test_prefetcher_forwards_loader_attributes():
    loader = torch.utils.data.DataLoader(list(range(10)), batch_size=5)
    pf = DevicePrefetcher(loader)
    assert pf.batch_size == 5 and pf.dataset is loader.dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [b.tolist() for b in pf] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_build_gpu_augment_splits_pipeline_and_matches_cpu_normalisation():
    import numpy as np
    from PIL import Image

    from torchreid.data.transforms import build_transforms

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 20, 3), dtype=np.uint8))
    worker, device = gt.build_gpu_augment(32, 16, ["random_flip", "color_jitter", "random_erase"])
    t = worker(img)
    assert t.dtype == torch.uint8 and t.shape == (3, 32, 16)
    assert device.ops == ["random_flip", "random_erase"]
    assert "ColorJitter" in repr(worker)
    # without augmentation the device path reproduces the CPU pipeline (Resize -> ToTensor -> Normalize)
    worker, device = gt.build_gpu_augment(32, 16, [])
    _, test_tf = build_transforms(32, 16, transforms=[])
    assert torch.allclose(device(worker(img)[None])[0], test_tf(img), atol=1e-6)
    with pytest.raises(KeyError, match="random_flop"):
        gt.build_gpu_augment(32, 16, ["random_flop"])


# ---------------------------------------------------------------------------------------------- GPU paths on CPU
def test_bf16_on_a_gpu_that_only_emulates_it_uses_fp16(monkeypatch):
    # torch.cuda.is_bf16_supported() defaults to including_emulation=True: True on V100/T4 too
    calls = []

    def pre_ampere(including_emulation: bool = True) -> bool:
        calls.append(including_emulation)
        return including_emulation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", pre_ampere)
    with pytest.warns(RuntimeWarning, match="bfloat16"):
        accel = StepAccelerator(amp="bf16", device="cuda")
    assert calls == [False]
    assert accel.amp == "fp16" and accel.scaler is not None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere+
    assert StepAccelerator(amp="bf16", device="cuda").amp == "bf16"


def test_channels_last_gives_restored_optimizer_state_the_parameter_layout():
    # resuming a checkpoint written without channels_last: Adam's moments are NCHW, the weights become NHWC;
    # the fused CUDA kernel rejects tensors whose strides differ
    model, opt = _setup()
    _plain_steps(model, opt, n=1)
    before = {k: v.clone() for k, v in opt.state[model.conv.weight].items()}
    accel = StepAccelerator(channels_last=True, device="cpu")
    accel.prepare_model(model)
    accel.prepare_optimizer(opt)
    w = model.conv.weight
    assert w.is_contiguous(memory_format=torch.channels_last)
    for k, v in opt.state[w].items():
        assert v.stride() == w.stride() or v.shape != w.shape, k
        assert torch.equal(v, before[k]), k
    _accel_steps(accel, model, opt, n=1)


class _EvalEngine(Engine):
    def forward_backward(self, data):
        return {}


def _eval_engine(model, **kwargs):
    import types

    engine = _EvalEngine(types.SimpleNamespace(train_loader=None, test_loader={}), **kwargs)
    engine.register_model("model", model)
    return engine


def _eval_batches(n=3, b=4):
    g = torch.Generator().manual_seed(0)
    return [
        {
            "img": torch.randn(b, 3, 16, 8, generator=g),
            "pid": torch.arange(b),
            "camid": torch.zeros(b, dtype=torch.long),
        }
        for _ in range(n)
    ]


def test_eval_features_survive_cudagraph_replays(monkeypatch):
    # a CUDA-graph replay writes its outputs into the same static buffers every call; evaluation keeps each
    # batch's features until the end, so it must get copies (simulated: a "compiled" forward with one output buffer)
    model = TinyNet().eval()
    engine = _eval_engine(model, use_gpu=False)
    static_out = torch.empty(0)

    def replay(x):
        nonlocal static_out
        out = model(x)
        if static_out.shape != out.shape:
            static_out = torch.empty_like(out)
        return static_out.copy_(out)

    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    monkeypatch.setattr(StepAccelerator, "uses_cudagraphs", property(lambda self: True))
    engine.accel.compile_mode = "reduce-overhead"
    engine._forwards["model"] = replay
    data = _eval_batches()
    with torch.no_grad():
        feats, pids, _ = engine._feature_extraction(data)
        ref = torch.cat([model(d["img"]) for d in data])
    assert torch.equal(feats, ref)  # not the last batch three times
    assert len(marks) == len(data) and pids.tolist() == [0, 1, 2, 3] * 3
    # training forwards are untouched (their outputs are consumed within the step)
    model.train()
    engine._forwards["model"] = lambda x: static_out
    assert engine.forward_model(data[0]["img"]) is static_out


def test_dense_distances_for_rerank_come_to_the_host_in_row_blocks():
    from torchreid.evaluation import host_distance_matrix as _host_distance_matrix
    from torchreid.metrics import compute_distance_matrix

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(10, 16, generator=g), torch.randn(7, 16, generator=g)
    for metric in ("euclidean", "cosine"):
        full = compute_distance_matrix(a, b, metric).numpy()
        assert (_host_distance_matrix(a, b, metric) == full).all()  # CPU: one block, as before
        blocks = _host_distance_matrix(a, b, metric, block_rows=3)  # the GPU path's loop
        assert blocks.shape == (10, 7) and blocks.dtype == full.dtype
        torch.testing.assert_close(torch.from_numpy(blocks), torch.from_numpy(full), rtol=1e-5, atol=1e-5)


def test_triplet_loss_stays_float32_under_autocast():
    from torchreid.losses import TripletLoss

    torch.manual_seed(0)
    x = torch.randn(16, 512) * 20 + 5  # squared norms ~2e5: beyond fp16's 65504
    y = torch.arange(4).repeat_interleave(4)
    loss = TripletLoss(0.3)
    ref = loss(x, y)
    for dtype in (torch.float16, torch.bfloat16):
        with torch.autocast("cpu", dtype=dtype):
            got = loss(x, y)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_rerank_accepts_low_precision_tensors():
    from torchreid.utils.rerank import re_ranking

    g = torch.Generator().manual_seed(0)
    q, gal = torch.randn(5, 8, generator=g), torch.randn(12, 8, generator=g)
    mats = [torch.cdist(a, b).to(torch.bfloat16) for a, b in ((q, gal), (q, q), (gal, gal))]
    got = re_ranking(*mats)
    ref = re_ranking(*[m.float().numpy() for m in mats])
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    assert torch.equal(got, torch.from_numpy(ref))


# ---------------------------------------------------------------------------------------------- CUDA only
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _cuda_setup():
    torch.manual_seed(0)
    model = TinyNet().cuda()
    return model, torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)


def _cuda_steps(accel, model, opt, n=5):
    model = accel.prepare_model(model)
    opt = accel.prepare_optimizer(opt)
    losses = []
    for i in range(n):
        x, y = _batch(i, b=16)
        accel.mark_step_begin()
        x = accel.prepare_inputs(x.cuda())
        with accel.autocast():
            loss = nn.functional.cross_entropy(model(x), y.cuda())
        accel.backward_and_step(loss, opt)
        losses.append(loss.item())
    return losses, opt


@cuda
@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_cuda_amp_trains_close_to_fp32(amp):
    ref, _ = _cuda_steps(StepAccelerator(device="cuda"), *_cuda_setup())
    accel = StepAccelerator(amp=amp, channels_last=True, device="cuda")
    assert (accel.scaler is not None) == (amp == "fp16")
    losses, opt = _cuda_steps(accel, *_cuda_setup())
    assert opt.param_groups[0]["fused"] is True  # fast path switches to the fused optimiser
    assert losses == pytest.approx(ref, rel=0.05, abs=0.05)


@cuda
@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_cuda_compiled_step(mode):
    ref, _ = _cuda_steps(StepAccelerator(device="cuda"), *_cuda_setup())
    losses, _ = _cuda_steps(StepAccelerator(amp="bf16", compile=mode, device="cuda"), *_cuda_setup())
    assert losses == pytest.approx(ref, rel=0.05, abs=0.05)


@cuda
def test_cuda_prefetcher_side_stream_matches_loader():
    data = [
        {"img": (torch.rand(8, 3, 16, 8) * 255).to(torch.uint8), "pid": torch.arange(8)} for _ in range(6)
    ]
    data = [{k: v.pin_memory() for k, v in d.items()} for d in data]
    aug = gt.GPUAugment([], norm_mean=(0.5,) * 3, norm_std=(0.5,) * 3)  # deterministic: only normalisation
    pf = DevicePrefetcher(data, device="cuda", transform=aug, channels_last=True)
    assert pf.uses_side_stream
    for got, ref in zip(pf, data):
        assert got["img"].is_cuda and got["img"].is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(
            got["img"].cpu(), gt.to_float_normalized(ref["img"], (0.5,) * 3, (0.5,) * 3)
        )
        assert torch.equal(got["pid"].cpu(), ref["pid"])


@cuda
def test_cuda_gpu_augment_semantics():
    torch.manual_seed(0)
    x = (torch.rand(64, 3, 32, 16) * 255).to(torch.uint8).cuda()
    out = gt.GPUAugment(["random_flip", "random_crop", "random_erase"])(x)
    assert out.is_cuda and out.shape == x.shape and out.dtype == torch.float32
    flipped = gt.random_flip(x.float(), p=1.0)
    assert torch.equal(flipped, x.float().flip(-1))


@cuda
@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_cuda_eval_with_reduce_overhead_keeps_every_batch(amp):
    torch.manual_seed(0)
    model = TinyNet().cuda().eval()
    engine = _eval_engine(model, use_gpu=True, amp=amp, compile="reduce-overhead")
    data = _eval_batches(n=4)
    with torch.no_grad():
        feats, _, _ = engine._feature_extraction(data)
        with engine.autocast():
            ref = torch.cat([model(d["img"].cuda()).float() for d in data])
    torch.testing.assert_close(feats, ref, rtol=2e-2, atol=2e-2)


@cuda
def test_cuda_fused_step_after_resuming_state_without_channels_last():
    model, opt = _cuda_setup()
    x, y = _batch(0, b=16)
    nn.functional.cross_entropy(model(x.cuda()), y.cuda()).backward()
    opt.step()  # NCHW moments, as in a checkpoint written without channels_last
    opt.zero_grad()
    losses, opt = _cuda_steps(StepAccelerator(amp="bf16", channels_last=True, device="cuda"), model, opt, n=2)
    assert opt.param_groups[0]["fused"] is True
    assert all(torch.isfinite(torch.tensor(losses)))


@cuda
def test_cuda_dense_distances_in_blocks_match():
    from torchreid.evaluation import host_distance_matrix as _host_distance_matrix
    from torchreid.metrics import compute_distance_matrix

    a, b = torch.randn(300, 64, device="cuda"), torch.randn(200, 64, device="cuda")
    full = compute_distance_matrix(a, b).cpu()
    got = torch.from_numpy(_host_distance_matrix(a, b, "euclidean", block_rows=64))
    torch.testing.assert_close(got, full, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "name,kwargs",
    [("osnet_x0_25", {}), ("osnet_x1_0", {}), ("resnet50_fc512", {}), ("resnet18", {"head": "bnneck"})],
)
def test_training_forward_is_one_graph_for_compile(name, kwargs):
    """torch.compile / CUDA-graph capture only pays off when the model's forward traces as one graph: a graph
    break splits the captured step and adds a host round trip. (All 49 models trace whole; these are the
    benchmarked ones and the BNNeck head.)"""
    import torch._dynamo as dynamo

    from torchreid.models import build_model

    model = build_model(name, num_classes=8, loss="triplet", pretrained=False, **kwargs).train()
    try:
        explained = dynamo.explain(model)(torch.randn(2, 3, 64, 32))
    finally:
        dynamo.reset()
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_step_counters_live_where_the_group_kernel_reads_them():
    """Fused/capturable kernels read ``step`` as float32 on the parameter's device, the others on the host; a
    resumed fused checkpoint (steps loaded while the model was on the CPU) must not reach a CUDA kernel with
    host steps. The 'meta' device stands in for a GPU."""
    from torchreid.engine.accel import _place_steps

    p_dev = nn.Parameter(torch.empty(3, device="meta"))
    p_host = nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([{"params": [p_dev]}, {"params": [p_host]}], lr=0.1)
    opt.param_groups[0]["fused"] = True  # as load_state_dict restores it from a fast-path checkpoint
    opt.state[p_dev] = {"step": torch.tensor(7.0)}  # loaded on the host
    host_step = torch.tensor(5.0)
    opt.state[p_host] = {"step": host_step}
    _place_steps(opt)
    assert opt.state[p_dev]["step"].device.type == "meta" and opt.state[p_dev]["step"].dtype == torch.float32
    assert opt.state[p_host]["step"] is host_step  # the default kernels' host step is left alone


def test_restored_channels_last_state_takes_the_layout_of_nchw_parameters():
    # the reverse resume: a checkpoint of a channels_last run holds NHWC moments; resumed with the fast path but
    # without channels_last (e.g. amp only, fused on CUDA) the weights are NCHW and the fused kernel rejects state
    # whose strides differ from its parameter's
    model, opt = _setup()
    _plain_steps(model, opt, n=1)
    w = model.conv.weight
    for k, v in opt.state[w].items():
        if v.shape == w.shape:
            opt.state[w][k] = v.contiguous(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in opt.state[w].items()}
    StepAccelerator(amp="bf16", channels_last=False, device="cpu").prepare_optimizer(opt)
    assert w.is_contiguous()
    for k, v in opt.state[w].items():
        assert v.stride() == w.stride() or v.shape != w.shape, k
        assert torch.equal(v, before[k]), k
