"""FeatureExtractor with trained weights from a local checkpoint (no real data needed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A randomly initialised osnet_x0_25 with a 7-way classifier saved like a training checkpoint."""
    from torchreid.models import build_model
    from torchreid.utils import save_checkpoint

    torch.manual_seed(3)
    model = build_model("osnet_x0_25", 7, pretrained=False, use_gpu=False).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a failed load would be visible
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    d = tmp_path_factory.mktemp("ckpt")
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}  # as saved from DataParallel
    path = save_checkpoint({"state_dict": sd, "epoch": 1, "rank1": 0.1}, d)
    return model, path


def test_feature_extractor_loads_trained_weights_and_matches_the_model(trained, tmp_path, capsys):
    from torchreid.utils import FeatureExtractor

    model, path = trained
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the 7-way classifier mismatch is expected and must stay quiet
        ext = FeatureExtractor(
            "osnet_x0_25", model_path=path, image_size=(64, 32), device="cpu", verbose=True
        )
    out = capsys.readouterr().out
    assert "Model: osnet_x0_25" in out and "- params: " in out and "- flops: " in out

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(100, 50, 3), dtype=np.uint8)
    got = ext(arr)
    with torch.no_grad():
        expected = model(ext.preprocess(Image.fromarray(arr)).unsqueeze(0))
    assert got.shape == (1, 512)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_feature_extractor_warns_when_backbone_weights_do_not_fit(trained, tmp_path):
    from torchreid.utils import FeatureExtractor
    from torchreid.utils.checkpoint import load_checkpoint

    _, path = trained
    sd = dict(load_checkpoint(path)["state_dict"])
    sd["module.fc.0.weight"] = torch.zeros(3, 3)  # a backbone key of another shape
    bad = tmp_path / "bad.pth"
    torch.save(sd, bad)
    with pytest.warns(UserWarning, match=r"did not fit the model: \['fc\.0\.weight'\]"):
        FeatureExtractor("osnet_x0_25", model_path=str(bad), image_size=(64, 32), device="cpu", verbose=False)
