"""tools/compute_mean_std.py: the statistics are exact."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import compute_mean_std

from torchreid.models import build_model


@pytest.fixture
def osnet_ckpt(tmp_path):
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=7, pretrained=False)
    path = tmp_path / "model.pth.tar-1"
    torch.save({"state_dict": model.state_dict(), "epoch": 1, "rank1": 0.5}, path)
    return model.eval(), path


def test_mean_std_exact(tmp_path):
    from PIL import Image

    a = np.zeros((4, 2, 3), dtype=np.uint8)
    b = np.full((4, 2, 3), 255, dtype=np.uint8)
    b[..., 2] = 51
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(a).save(pa)
    Image.fromarray(b).save(pb)
    mean, std = compute_mean_std.mean_std([pa, pb], height=4, width=2)
    np.testing.assert_allclose(mean, [0.5, 0.5, 0.1], atol=1e-9)
    np.testing.assert_allclose(std, [0.5, 0.5, 0.1], atol=1e-9)
