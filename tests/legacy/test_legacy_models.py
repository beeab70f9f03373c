"""Clients importing model internals of the original Torchreid: package-level factories, building blocks, weight
tables, ``init_pretrained_weights``, ``_construct_fc_layer``; plus the legacy optim/utils helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn


def test_factories_and_modules_at_package_level_after_import_torchreid():
    import torchreid

    model = torchreid.models.osnet.osnet_x0_25(num_classes=5, pretrained=False)
    from torchreid.models import osnet_x0_25, shufflenet

    assert type(model) is type(osnet_x0_25(num_classes=5, pretrained=False))
    assert callable(shufflenet) and shufflenet.__name__ == "shufflenet"  # the factory, as in the original
    from torchreid.models.shufflenet import ShuffleNet  # the module still imports

    assert ShuffleNet.__name__ == "ShuffleNet"
    from torchreid.models import HACNN, MuDeep

    assert issubclass(HACNN, nn.Module) and issubclass(MuDeep, nn.Module)
    with pytest.raises(AttributeError):
        torchreid.models.no_such_model  # noqa: B018


def test_import_torchreid_stays_lazy():
    code = "import sys, torchreid; print('torchreid.models' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_build_model_does_not_forward_use_gpu():
    from torchreid.models import build_model, registry

    seen = {}
    info = registry.get_model_info("osnet_x0_25")
    real = info.fn

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    object.__setattr__(info, "fn", spy)
    try:
        build_model("osnet_x0_25", num_classes=3, pretrained=False, use_gpu=True)
    finally:
        object.__setattr__(info, "fn", real)
    assert "use_gpu" not in seen and seen["num_classes"] == 3
    # factories called directly still accept (and ignore) it
    from torchreid.models.osnet import osnet_x0_25

    assert isinstance(osnet_x0_25(num_classes=3, pretrained=False, use_gpu=True), nn.Module)


def test_osnet_building_blocks_and_private_helpers():
    from torchreid.models.osnet import Conv3x3, OSBlock, OSNet, pretrained_urls

    x = torch.randn(2, 4, 8, 8)
    assert Conv3x3(4, 6, stride=2)(x).shape == (2, 6, 4, 4)
    assert pretrained_urls["osnet_x1_0"].startswith("https://drive.google.com/uc?id=")
    model = OSNet(10, blocks=[OSBlock] * 3, layers=[1, 1, 1], channels=[8, 16, 24, 32], feature_dim=16)
    fc = model._construct_fc_layer([7, 5], 32, dropout_p=0.5)
    assert model.feature_dim == 5 and isinstance(fc[-1], nn.Dropout) and len(fc) == 8
    assert model._construct_fc_layer(-1, 32) is None and model.feature_dim == 32
    nn.init.constant_(model.classifier.weight, 3.0)
    model._init_params()
    assert model.classifier.weight.std().item() < 0.1  # N(0, 0.01) again


def test_renamed_blocks_are_the_same_layers():
    import importlib

    from torchreid.models import nasnet, resnet_ibn_a, senet

    # like the original, torchreid.models.inceptionv4 is the factory; the module is in sys.modules
    iv4 = importlib.import_module("torchreid.models.inceptionv4")
    irv2 = importlib.import_module("torchreid.models.inceptionresnetv2")

    assert iv4.Inception_A is iv4.InceptionA and irv2.Mixed_5b is irv2.Mixed5b
    assert resnet_ibn_a.BasicBlock is sys.modules["torchreid.models.resnet"].BasicBlock
    assert nasnet.nasnetamobile is nasnet.nasnsetmobile
    x = torch.randn(1, 3, 9, 9)
    assert nasnet.MaxPoolPad()(x).shape == (1, 3, 4, 4)  # pad to 10, pool to 5, crop to 4
    assert nasnet.AvgPoolPad()(x).shape == (1, 3, 4, 4)
    stem = nasnet.BranchSeparablesStem(3, 8, 5, 2, 2)
    assert stem(x).shape == (1, 8, 5, 5)
    assert senet.pretrained_settings["se_resnet50"]["imagenet"]["url"].endswith("se_resnet50-ce0d4300.pth")
    assert iv4.pretrained_settings["inceptionv4"]["imagenet+background"]["num_classes"] == 1001


def test_senet154_and_se_resnet152_build_and_run():
    from torchreid.models import se_resnet152, senet154

    m = senet154(num_classes=4, pretrained=False)
    assert m.layer0.conv3.out_channels == 128 and m.layer1[0].downsample[0].kernel_size == (3, 3)
    m.eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 64, 32)).shape == (1, 2048)
    assert sum(p.numel() for p in se_resnet152(num_classes=4, pretrained=False).layer3.parameters()) > 0


def test_init_pretrained_weights_loads_matching_layers_from_the_cache(tmp_path, monkeypatch):
    """The legacy loader reads the cached file named after the URL and keeps mismatching layers unchanged."""
    from torchreid.models.resnet import init_pretrained_weights, model_urls, resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    src = resnet18(num_classes=1000, pretrained=False)
    state = dict(src.state_dict())
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / model_urls["resnet18"].rsplit("/", 1)[-1])
    dst = resnet18(num_classes=7, pretrained=False)
    before = dst.classifier.weight.clone()
    init_pretrained_weights(dst, model_urls["resnet18"])
    assert torch.equal(dst.conv1.weight, src.conv1.weight)
    assert torch.equal(dst.classifier.weight, before)  # other shape: kept


def test_radam_module_and_decoupled_weight_decay():
    from torchreid.optim.optimizer import RAdam as FromOptimizer
    from torchreid.optim.radam import AdamW, PlainRAdam, RAdam

    assert FromOptimizer is RAdam
    w = nn.Parameter(torch.ones(3))
    opt = RAdam([w], lr=0.1, weight_decay=0.5)
    w.grad = torch.zeros(3)
    opt.step()
    assert torch.allclose(w.detach(), torch.full((3,), 1 - 0.1 * 0.5))  # p -= lr * wd * p, gradient 0
    assert isinstance(PlainRAdam([nn.Parameter(torch.ones(1))]), RAdam)
    v = nn.Parameter(torch.ones(2))
    adamw = AdamW([v], lr=1.0, weight_decay=0.0, warmup=10)
    v.grad = torch.ones(2)
    adamw.step()
    assert adamw.param_groups[0]["lr"] == 1.0  # the warm-up only scales each step
    assert v.detach().max().item() > 0.8  # first step at lr ~ 0.1, not 1.0


def test_adjust_learning_rate():
    from torchreid.utils.torchtools import adjust_learning_rate

    opt = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=1.0)
    adjust_learning_rate(opt, 0.1, epoch=45, stepsize=20, gamma=0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)
    adjust_learning_rate(opt, 0.1, epoch=25, linear_decay=True, final_lr=0.0, max_epoch=100)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.075)


def test_rank_cy_original_entry_points_equal_evaluate_rank():
    rank_cy = pytest.importorskip("torchreid.metrics.rank_cylib.rank_cy", reason="Cython extension not built")
    import numpy as np

    from torchreid.metrics import evaluate_rank

    rng = np.random.default_rng(0)
    dist = rng.random((6, 20), dtype=np.float32)
    qp, gp = np.arange(6) % 3, np.arange(20) % 3
    qc, gc = np.zeros(6, dtype=np.int64), np.ones(20, dtype=np.int64)
    cmc, mAP = rank_cy.eval_market1501_cy(dist, qp, gp, qc, gc, 10)
    ref_cmc, ref_map = evaluate_rank(dist, qp, gp, qc, gc, max_rank=10, use_cython=True)
    assert np.allclose(cmc, ref_cmc) and mAP == pytest.approx(ref_map)
    cmc2, map2 = rank_cy.evaluate_cy(dist, qp, gp, qc, gc, 10, False)
    assert np.allclose(cmc2, cmc) and map2 == pytest.approx(mAP)
    assert len(rank_cy.eval_cuhk03_cy(dist, qp, gp, qc, gc, 10)[0]) == 10
