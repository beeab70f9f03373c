"""Model-specific behaviour that the generic matrix (tests/models/test_models.py) does not cover.

- PCB: training output is one logit tensor per part; eval features are L2-normalised per part.
- HACNN: (global, local) pairs in training; eval features are the concatenation of the two L2-normalised
  halves; it never moves anything to CUDA (tensors it creates follow the input).
- MuDeep / HACNN: a wrong input size is a clear ``ValueError`` naming the size they need.
- ``nasnetamobile`` is an alias of ``nasnsetmobile`` (the original's misspelt key).
- Pretrained weights that are unavailable (no weights exist, or a manual-download file is missing) warn and
  leave the model randomly initialised, without any download.
- Small pieces with a subtle equivalence to the original (MLFN factor gates, DenseNet's old weight names).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from torchreid.models import build_model, get_model_info, is_model, list_models

NUM_CLASSES = 5
BATCH = 2


def _build(name: str, loss: str = "softmax", **kwargs):
    torch.manual_seed(0)
    return build_model(name, num_classes=NUM_CLASSES, loss=loss, pretrained=False, use_gpu=False, **kwargs)


# --------------------------------------------------------------------------------------------------------------
# PCB
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "parts"), [("pcb_p6", 6), ("pcb_p4", 4)])
def test_pcb_outputs(name, parts):
    x = torch.randn(BATCH, 3, 128, 64)
    model = _build(name).train()
    out = model(x)
    assert isinstance(out, list) and len(out) == parts
    assert all(t.shape == (BATCH, NUM_CLASSES) for t in out)

    model = _build(name, loss="triplet").train()
    logits, feats = model(x)
    assert isinstance(logits, list) and len(logits) == parts
    assert feats.shape == (BATCH, 2048 * parts)

    model.eval()
    with torch.no_grad():
        v = model(x)
    assert v.shape == (BATCH, 2048 * parts) == (BATCH, get_model_info(name).feature_dim)
    # flattened from (B, C, parts, 1): each part's C-vector has unit norm
    norms = v.view(BATCH, 2048, parts).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(BATCH, parts))


# --------------------------------------------------------------------------------------------------------------
# HACNN
# --------------------------------------------------------------------------------------------------------------
def test_hacnn_pairs_and_eval_features():
    x = torch.randn(BATCH, 3, 160, 64)
    model = _build("hacnn").train()
    out = model(x)
    assert isinstance(out, tuple) and len(out) == 2  # (global, local) logits
    assert all(t.shape == (BATCH, NUM_CLASSES) for t in out)

    model = _build("hacnn", loss="triplet").train()
    (y_g, y_l), (f_g, f_l) = model(x)
    assert y_g.shape == y_l.shape == (BATCH, NUM_CLASSES)
    assert f_g.shape == f_l.shape == (BATCH, 512)

    model.eval()
    with torch.no_grad():
        v = model(x)
    assert v.shape == (BATCH, 1024)
    torch.testing.assert_close(v[:, :512].norm(dim=1), torch.ones(BATCH))
    torch.testing.assert_close(v[:, 512:].norm(dim=1), torch.ones(BATCH))


def test_hacnn_without_regions_follows_the_standard_contract():
    model = _build("hacnn", learn_region=False)
    x = torch.randn(BATCH, 3, 160, 64)
    assert model.train()(x).shape == (BATCH, NUM_CLASSES)
    assert model.eval()(x).shape == (BATCH, 512)


def test_hacnn_never_uses_cuda(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("hacnn tried to use CUDA")

    monkeypatch.setattr(torch.Tensor, "cuda", refuse)
    monkeypatch.setattr(nn.Module, "cuda", refuse)
    model = build_model("hacnn", num_classes=NUM_CLASSES, pretrained=False, use_gpu=True).train()
    model(torch.randn(BATCH, 3, 160, 64))
    # the affine matrices it builds follow the input's dtype and device
    theta = model.transform_theta(torch.zeros(3, 2, dtype=torch.float64))
    assert theta.dtype == torch.float64 and theta.shape == (3, 2, 3)


# --------------------------------------------------------------------------------------------------------------
# Fixed input sizes
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "wrong_hw", "needed"), [("mudeep", (128, 64), "256x128"), ("hacnn", (256, 128), "160x64")]
)
def test_input_size_requirement_is_a_clear_error(name, wrong_hw, needed):
    model = _build(name).eval()
    assert get_model_info(name).input_size[1:] == tuple(int(s) for s in needed.split("x"))
    with pytest.raises(ValueError, match=needed) as exc:
        model(torch.randn(1, 3, *wrong_hw))
    assert name in str(exc.value) and "data.height" in str(exc.value)


# --------------------------------------------------------------------------------------------------------------
# NASNet-A Mobile alias
# --------------------------------------------------------------------------------------------------------------
def test_nasnetamobile_alias_builds_the_same_model():
    assert is_model("nasnsetmobile") and is_model("nasnetamobile")
    assert get_model_info("nasnetamobile").name == "nasnsetmobile"
    assert "nasnsetmobile" in list_models()
    a, b = _build("nasnsetmobile"), _build("nasnetamobile")
    assert type(a) is type(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# --------------------------------------------------------------------------------------------------------------
# Unavailable pretrained weights: a warning, never a download
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["shufflenet", "mudeep", "mobilenetv2_x1_0", "mlfn"])
def test_unavailable_imagenet_weights_warn(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    with pytest.warns(UserWarning, match="randomly initialised"):
        model = build_model(name, num_classes=NUM_CLASSES, pretrained=True, use_gpu=False)
    assert isinstance(model, nn.Module)


def test_manual_weights_are_loaded_from_the_cache(tmp_path, monkeypatch):
    """A manually downloaded file placed in $TORCH_HOME/checkpoints is used (ImageNet classifier skipped)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    src = _build("mobilenetv2_x1_0")
    state = {k: v for k, v in src.state_dict().items() if not k.startswith("classifier")}
    state["classifier.weight"] = torch.zeros(1000, 1280)  # another head: skipped
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / get_model_info("mobilenetv2_x1_0").weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report of the skipped ImageNet classifier
        model = build_model("mobilenetv2_x1_0", num_classes=NUM_CLASSES, pretrained=True, use_gpu=False)
    assert torch.equal(model.conv1.conv.weight, src.conv1.conv.weight)
    assert model.classifier.weight.shape == (NUM_CLASSES, 1280)


# --------------------------------------------------------------------------------------------------------------
# Equivalences with the original's formulation
# --------------------------------------------------------------------------------------------------------------
def test_mlfn_factor_gate_matches_the_original_repeat_permute():
    from torchreid.models.mlfn import MLFNBlock

    torch.manual_seed(0)
    block = MLFNBlock(64, 256, 1, (128, 64), groups=32).eval()
    x = torch.randn(2, 64, 8, 4)
    with torch.no_grad():
        out, s = block(x)
        # the original: repeat the group weights n times, then permute so each group's channels are contiguous
        h = torch.relu(block.fm_bn1(block.fm_conv1(x)))
        h = torch.relu(block.fm_bn2(block.fm_conv2(h)))
        b, c = h.shape[:2]
        n = c // 32
        ss = s.repeat(1, n, 1, 1).view(b, n, 32, 1, 1).permute(0, 2, 1, 3, 4).contiguous().view(b, c, 1, 1)
        h = torch.relu(block.fm_bn3(block.fm_conv3(ss * h)))
        expected = torch.relu(block.downsample(x) + h)
    torch.testing.assert_close(out, expected)
    assert s.shape == (2, 32, 1, 1)


def test_densenet_old_torchvision_names_are_renamed():
    from torchreid.models.densenet import _rename_old_keys

    old = {
        "features.denseblock1.denselayer1.norm.1.weight": 1,
        "features.denseblock1.denselayer1.conv.2.weight": 2,
        "features.denseblock4.denselayer16.norm.2.running_var": 3,
        "features.norm5.weight": 4,
        "classifier.weight": 5,
    }
    assert list(_rename_old_keys(old)) == [
        "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock1.denselayer1.conv2.weight",
        "features.denseblock4.denselayer16.norm2.running_var",
        "features.norm5.weight",
        "classifier.weight",
    ]
    model_keys = set(_build("densenet121").state_dict())
    assert set(_rename_old_keys(old)) - {"classifier.weight"} <= model_keys


# --------------------------------------------------------------------------------------------------------------
# Blocks and cells built the way the original's code built them (positional arguments, original defaults)
# --------------------------------------------------------------------------------------------------------------


def test_resnet_blocks_keep_the_original_constructor():
    from torchreid.models.resnet import BasicBlock, Bottleneck

    x = torch.randn(1, 64, 8, 4)
    down = nn.Sequential(nn.Conv2d(64, 256, 1, stride=2, bias=False), nn.BatchNorm2d(256))
    b = Bottleneck(64, 64, 2, down).eval()  # inplanes, planes, stride, downsample
    assert (b.conv1.out_channels, b.conv2.stride, b.conv3.out_channels) == (64, (2, 2), 256)
    assert b(x).shape == (1, 256, 4, 2) and b.stride == 2 and b.downsample is down
    assert Bottleneck(64, 64, 1, None, 32, 4).conv2.groups == 32  # ResNeXt: groups, base_width
    assert Bottleneck(64, 64, 1, None, 32, 4).conv1.out_channels == 128
    basic = BasicBlock(64, 64).eval()
    assert list(basic.state_dict())[:2] == ["conv1.weight", "bn1.weight"] and basic(x).shape == x.shape
    with pytest.raises(ValueError, match="groups=1 and base_width=64"):
        BasicBlock(64, 64, 1, None, 2)


def test_ibn_blocks_add_their_norms():
    from torchreid.models.resnet_ibn_a import IBN, BottleneckIBNa
    from torchreid.models.resnet_ibn_b import BottleneckIBNb

    assert isinstance(BottleneckIBNa(256, 64, ibn=True).bn1, IBN)
    assert isinstance(BottleneckIBNa(256, 64, 1, None).bn1, nn.BatchNorm2d)
    b = BottleneckIBNb(256, 64, IN=True).eval()
    assert b.IN.num_features == 256 and BottleneckIBNb(256, 64).IN is None
    x = torch.randn(1, 256, 4, 4)
    assert b(x).shape == x.shape


def test_resnetmid_takes_last_stride_fifth_as_the_original():
    from torchreid.models.resnet import Bottleneck
    from torchreid.models.resnetmid import ResNetMid

    m = ResNetMid(NUM_CLASSES, "softmax", Bottleneck, [1, 1, 1, 3], 1)
    assert m.layer4[0].conv2.stride == (1, 1) and m.feature_dim == 1024 + 2048
    assert ResNetMid(NUM_CLASSES, "softmax").layer4[0].conv2.stride == (2, 2)
    with pytest.raises(ValueError, match="fc_dims"):
        ResNetMid(NUM_CLASSES, "softmax", fc_dims=None)


def test_se_bottlenecks_keep_the_original_defaults():
    from torchreid.models.senet import SEBottleneck, SEResNetBottleneck, SEResNeXtBottleneck

    x = SEResNeXtBottleneck(256, 64, 32, 16)  # inplanes, planes, groups, reduction; base_width=4
    assert x.conv1.out_channels == 128 and x.conv2.groups == 32 and x.conv2.stride == (1, 1)
    assert SEResNeXtBottleneck(256, 64, 32, 16, 2, None, 8).conv1.out_channels == 256
    assert SEResNeXtBottleneck(256, 64, 32, 16, 2).conv2.stride == (2, 2)
    r = SEResNetBottleneck(256, 64, 1, 16, 2)  # stride on the first 1x1 conv
    assert r.conv1.out_channels == 64 and r.conv1.stride == (2, 2) and r.conv2.stride == (1, 1)
    assert SEBottleneck(128, 64, 64, 16).conv2.out_channels == 256
    assert SEResNetBottleneck(256, 64, 1, 16).se_module.fc1.out_channels == 16


def test_senet_takes_the_original_positional_order():
    from torchreid.models.senet import SENet, SEResNetBottleneck

    # groups, reduction, dropout_p, inplanes, input_3x3, downsample_kernel_size, downsample_padding, last_stride,
    # fc_dims: the original's order
    m = SENet(NUM_CLASSES, "softmax", SEResNetBottleneck, [1, 1, 1, 1], 1, 16, 0.5, 64, False, 1, 0, 1, [32])
    assert m.layer0.conv1.kernel_size == (7, 7) and m.layer4[0].conv1.stride == (1, 1)
    assert m.feature_dim == 32 and isinstance(m.fc[-1], nn.Dropout) and m.fc[-1].p == 0.5


def test_senet_stems():
    from torchreid.models.senet import SENet, SEResNetBottleneck

    plain = SENet(NUM_CLASSES, "softmax", SEResNetBottleneck, [1, 1, 1, 1], 1, 16, None, 64, False, 1, 0)
    assert [n for n, _ in plain.layer0.named_children()] == ["conv1", "bn1", "relu1", "pool"]
    assert plain.layer0.conv1.kernel_size == (7, 7) and plain.layer0.conv1.padding == (3, 3)
    deep = SENet(NUM_CLASSES, "softmax", SEResNetBottleneck, [1, 1, 1, 1])  # the defaults: SENet-154's stem
    assert deep.layer1[0].downsample[0].kernel_size == (3, 3) and deep.layer1[0].downsample[0].padding == (
        1,
        1,
    )
    names = [n for n, _ in deep.layer0.named_children()]
    assert names == ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "relu3", "pool"]
    assert [deep.layer0[i].stride for i in (0, 3, 6)] == [(2, 2), (1, 1), (1, 1)]
    assert deep.layer0.conv3.out_channels == 128 and deep.layer0.conv1.padding == (1, 1)


def test_nasnet_cells_keep_the_original_constructor_and_layout():
    from torchreid.models.nasnet import CellStem0, FirstCell, NormalCell, ReductionCell0

    x, x_prev = torch.randn(1, 88, 8, 4), torch.randn(1, 44, 16, 8)
    first = FirstCell(44, 22, 88, 44).eval()  # in_left, out_left, in_right, out_right
    assert next(iter(first.state_dict())).startswith("conv_1x1.") and hasattr(first, "final_path_bn")
    assert not hasattr(first, "conv_prev_1x1")
    assert first(x, x_prev).shape == (1, 6 * 44, 8, 4)
    normal = NormalCell(88, 44, 6 * 44, 44).eval()
    assert next(iter(normal.state_dict())).startswith("conv_prev_1x1.")
    assert normal(torch.randn(1, 6 * 44, 8, 4), x).shape == (1, 6 * 44, 8, 4)
    reduction = ReductionCell0(6 * 44, 88, 6 * 44, 88).eval()
    y = torch.randn(1, 6 * 44, 8, 4)
    assert reduction(y, y).shape == (1, 4 * 88, 4, 2)
    assert CellStem0(32).conv_1x1.conv.out_channels == 42  # the original's default num_filters
