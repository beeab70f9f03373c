"""Model utilities: compute_model_complexity, torchtools (layer freezing, parameter count), the BNNeck head."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchreid.models import build_model, is_model
from torchreid.models.common import build_fc_layers, reid_output
from torchreid.utils.model_complexity import compute_model_complexity
from torchreid.utils.torchtools import (
    count_num_param,
    load_pretrained_weights,
    open_all_layers,
    open_specified_layers,
    set_bn_to_eval,
)


# ---------------------------------------------------------------------------------------------------------------
# compute_model_complexity
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "params_m", "gflops"),
    [
        ("osnet_x1_0", 2.2, 0.98),
        ("osnet_x0_25", 0.2, 0.08),
        ("resnet50", 23.5, 2.7),
        ("resnet50_fc512", 24.6, 4.1),
    ],
)
def test_complexity_reproduces_the_zoo_figures(name, params_m, gflops):
    model = build_model(name, num_classes=751, pretrained=False)
    params, flops = compute_model_complexity(model, (1, 3, 256, 128))
    assert round(params / 1e6, 1) == params_m
    assert round(flops / 1e9, 2 if gflops < 1 else 1) == gflops
    # without the classifier: the parameter count the docs quote
    assert params == count_num_param(model)
    assert model.training  # the mode is restored


def test_complexity_exact_values():
    model = build_model("osnet_x1_0", num_classes=751, pretrained=False)
    assert compute_model_complexity(model, (1, 3, 256, 128)) == (2_169_508, 978_878_352)


def test_shared_module_params_counted_once_flops_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(self.fc(x))

    params, flops = compute_model_complexity(Twice(), (1, 8))
    assert params == 8 * 8 + 8
    assert flops == 2 * (8 * 8 + 8)


def test_complexity_all_layers_and_verbose(capsys):
    model = build_model("osnet_x0_25", num_classes=10, pretrained=False)
    p1, f1 = compute_model_complexity(model, (1, 3, 256, 128))
    p2, f2 = compute_model_complexity(model, (1, 3, 256, 128), verbose=True, only_conv_linear=False)
    assert p1 == p2 and f2 > f1
    out = capsys.readouterr().out
    assert "Conv2d (params=" in out and "BatchNorm2d (params=" in out and "Total (params=" in out


def test_conv_flops_formula():
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=True)
    params, flops = compute_model_complexity(conv, (1, 4, 5, 5))
    assert params == 6 * 2 * 9 + 6
    assert flops == 6 * 25 * (2 * 9) + 6 * 25


# ---------------------------------------------------------------------------------------------------------------
# torchtools
# ---------------------------------------------------------------------------------------------------------------
def test_open_specified_layers_and_open_all_layers():
    model = build_model("osnet_x0_25", num_classes=10, pretrained=False)
    open_specified_layers(model, ["fc", "classifier"])
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc", "classifier"}
    assert model.classifier.training and model.fc.training and not model.conv1.training
    open_specified_layers(model, "classifier")
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"classifier"}
    open_all_layers(model)
    assert all(p.requires_grad for p in model.parameters()) and model.conv1.training


def test_open_specified_layers_names_an_unknown_layer():
    model = build_model("osnet_x0_25", num_classes=10, pretrained=False)
    with pytest.raises(ValueError, match="'classifer'") as exc:
        open_specified_layers(model, ["classifer"])
    assert "classifier" in str(exc.value)  # the valid names are listed


def test_open_specified_layers_through_data_parallel():
    model = nn.DataParallel(build_model("osnet_x0_25", num_classes=10, pretrained=False))
    open_specified_layers(model, ["classifier"])
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        "module.classifier.weight",
        "module.classifier.bias",
    }


def test_count_num_param_excludes_the_classifier_like_the_original():
    model = build_model("osnet_x1_0", num_classes=751, pretrained=False)
    assert count_num_param(model) == 2_169_508
    assert count_num_param(model, include_classifier=True) == sum(p.numel() for p in model.parameters())


def test_set_bn_to_eval():
    model = build_model("osnet_x0_25", num_classes=10, pretrained=False).train()
    model.apply(set_bn_to_eval)
    assert not model.conv1.bn.training and not model.fc[1].training
    assert model.conv1.conv.training


def test_checkpoint_functions_are_reexported():
    from torchreid.utils import checkpoint, torchtools

    assert load_pretrained_weights is checkpoint.load_pretrained_weights
    for name in ("save_checkpoint", "load_checkpoint", "resume_from_checkpoint"):
        assert getattr(torchtools, name) is getattr(checkpoint, name)


# ---------------------------------------------------------------------------------------------------------------
# common building blocks
# ---------------------------------------------------------------------------------------------------------------
def test_build_fc_layers():
    layers, dim = build_fc_layers(None, 2048)
    assert layers is None and dim == 2048
    layers, dim = build_fc_layers([1024, 512], 2048, dropout_p=0.5)
    assert dim == 512
    assert [type(m).__name__ for m in layers] == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2
    assert list(dict(layers.named_parameters())) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "4.weight",
        "4.bias",
        "5.weight",
        "5.bias",
    ]


def test_reid_output_contract():
    classifier = nn.Linear(4, 3)
    v = torch.randn(2, 4)
    assert reid_output(False, "softmax", v, classifier) is v
    assert reid_output(True, "softmax", v, classifier).shape == (2, 3)
    y, f = reid_output(True, "triplet", v, classifier)
    assert y.shape == (2, 3) and f is v
    with pytest.raises(KeyError):
        reid_output(True, "center", v, classifier)


# ---------------------------------------------------------------------------------------------------------------
# the BNNeck head
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "channels"), [("resnet18", 512), ("osnet_x0_25", 128)])
def test_bnneck_head(name, channels):
    plain = build_model(name, num_classes=6, pretrained=False)
    model = build_model(name, num_classes=6, loss="triplet", pretrained=False, head="bnneck")
    keys = list(model.state_dict())
    head_keys = {k for k in keys if k.split(".")[0] in ("bottleneck", "classifier", "pool")}
    backbone_keys = [k for k in keys if k not in head_keys]
    # the backbone keeps the original names, so ImageNet weights / original checkpoints load into it
    assert backbone_keys == [k for k in plain.state_dict() if k.split(".")[0] not in ("fc", "classifier")]
    assert model.classifier.bias is None and not model.bottleneck.bias.requires_grad
    x = torch.randn(2, 3, 64, 32)
    y, f_t = model.train()(x)
    assert y.shape == (2, 6) and f_t.shape == (2, channels)
    (nn.functional.cross_entropy(y, torch.tensor([0, 1])) + f_t.pow(2).mean()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        f_i = model.eval()(x)
    assert f_i.shape == (2, channels)
    model.loss = "softmax"
    assert model.train()(x).shape == (2, 6)
    model.loss = "no_such_loss"
    with pytest.raises(KeyError):
        model(x)


def test_bnneck_with_gem_and_last_stride():
    model = build_model(
        "resnet18", num_classes=4, pretrained=False, head="bnneck", pooling="gem", last_stride=1
    )
    assert model.layer4[0].conv1.stride == (1, 1)
    assert "pool.p" in model.state_dict()
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 64, 32)).shape == (2, 512)
    fmaps = model(torch.randn(1, 3, 64, 32), return_featuremaps=True)
    assert fmaps.shape[2:] == (4, 2)  # stride 16 instead of 32


def test_bnneck_loads_plain_backbone_weights(tmp_path):
    plain = build_model("osnet_x0_25", num_classes=6, pretrained=False)
    path = tmp_path / "w.pth"
    torch.save(plain.state_dict(), path)
    model = build_model("osnet_x0_25", num_classes=6, pretrained=False, head="bnneck")
    with pytest.warns(UserWarning):
        report = load_pretrained_weights(model, path)
    assert "conv1.conv.weight" in report["loaded"]
    torch.testing.assert_close(model.conv1.conv.weight, plain.conv1.conv.weight)


def test_bnneck_replicas_run_their_own_backbone():
    """nn.DataParallel builds replicas with _replicate_for_data_parallel and then fills each replica's
    children with per-device copies; the BNNeck replica must run those copies, not the original backbone."""
    import copy

    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=4, pretrained=False, head="bnneck").eval()
    x = torch.randn(2, 3, 64, 32)
    ref = model(x)
    replica = model._replicate_for_data_parallel()
    for name, child in list(model.named_children()):  # what torch.nn.parallel.replicate does, per device
        replica._modules[name] = copy.deepcopy(child)
    torch.testing.assert_close(replica(x), ref)
    with torch.no_grad():
        replica.conv1.weight.zero_()  # only the replica's copy changes
    assert torch.equal(model(x), ref)
    assert not torch.allclose(replica(x), ref)


def test_head_on_a_model_without_featuremaps_is_a_clear_error():
    with pytest.raises(KeyError, match="Unknown head"):
        build_model("osnet_x0_25", num_classes=4, pretrained=False, head="no_such_head")
    if is_model("hacnn"):
        with pytest.raises(ValueError, match="featuremaps"):
            build_model("hacnn", num_classes=4, pretrained=False, head="bnneck")


def test_no_head_means_the_original_model():
    a = build_model("osnet_x0_25", num_classes=4, pretrained=False)
    b = build_model("osnet_x0_25", num_classes=4, pretrained=False, head=None)
    assert type(a) is type(b) and list(a.state_dict()) == list(b.state_dict())
