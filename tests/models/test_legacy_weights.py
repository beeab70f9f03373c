"""Model paths without tests: loading DenseNet ImageNet files that use torchvision's old layer names (offline,
with a locally written file) and PCB's reduction-layer options."""

from __future__ import annotations

import re
import warnings

import pytest
import torch


def _old_style(key: str) -> str:
    """'features.denseblock1.denselayer1.norm1.weight' -> '...norm.1.weight' (old torchvision files)."""
    return re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key)


def test_densenet_imagenet_file_with_old_layer_names_loads_every_backbone_weight(tmp_path, monkeypatch):
    import torchreid.models.pretrained as pretrained
    from torchreid.models import build_model
    from torchreid.models.densenet import load_densenet_imagenet

    torch.manual_seed(0)
    src = build_model("densenet121", 10, pretrained=False)
    # old files predate BatchNorm's num_batches_tracked buffer
    old = {
        _old_style(k): v
        for k, v in src.state_dict().items()
        if not k.startswith("classifier") and not k.endswith("num_batches_tracked")
    }
    assert any(".norm.1." in k for k in old) and any(".conv.2." in k for k in old)
    path = tmp_path / "densenet121-a639ec97.pth"
    torch.save(old, path)
    monkeypatch.setattr(pretrained, "fetch_weights", lambda key, quiet=False, **kw: path)

    torch.manual_seed(1)
    dst = build_model("densenet121", 10, pretrained=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = load_densenet_imagenet(dst, "torchvision:DenseNet121_Weights.IMAGENET1K_V1", quiet=True)
    assert report["skipped"] == []
    missing = [k for k in report["missing"] if not k.endswith("num_batches_tracked")]
    assert missing == ["classifier.weight", "classifier.bias"]
    for k, v in src.state_dict().items():
        if k in old or _old_style(k) in old:
            assert torch.equal(dst.state_dict()[k], v), k


@pytest.mark.parametrize(("nonlinear", "layer"), [("leakyrelu", torch.nn.LeakyReLU), (None, None)])
def test_pcb_reduction_layer_nonlinearity(nonlinear, layer):
    from torchreid.models import build_model

    model = build_model("pcb_p4", 5, pretrained=False, nonlinear=nonlinear, reduced_dim=64)
    mods = list(model.conv5.layers)
    assert isinstance(mods[0], torch.nn.Conv2d) and mods[0].out_channels == 64
    if layer is None:
        assert len(mods) == 2
    else:
        assert isinstance(mods[-1], layer) and mods[-1].negative_slope == pytest.approx(0.1)
    model.train()
    logits = model(torch.randn(2, 3, 64, 32))
    assert len(logits) == 4 and all(t.shape == (2, 5) for t in logits)


def test_pcb_unknown_nonlinearity_is_a_clear_error():
    from torchreid.models import build_model

    with pytest.raises(ValueError, match="Unknown nonlinearity 'tanh': 'relu', 'leakyrelu' or None expected"):
        build_model("pcb_p6", 5, pretrained=False, nonlinear="tanh")
