"""tools/visualize_actmap.py: overlays, normalisation, errors, weights handling."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import visualize_actmap

from torchreid.models import build_model


def test_actmap_writes_overlays(tmp_path):
    from PIL import Image

    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (64, 32, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    model = build_model("osnet_x0_25", num_classes=1, pretrained=False)
    written = visualize_actmap.visualize_paths(model, paths, tmp_path / "out", height=64, width=32)
    assert len(written) == 3
    import cv2

    pic = cv2.imread(str(written[0]))
    assert pic.shape == (64, 3 * 32 + 2 * visualize_actmap.GRID_SPACING, 3)
    heat = pic[:, 32 + visualize_actmap.GRID_SPACING : 64 + visualize_actmap.GRID_SPACING]
    assert heat.std() > 5  # a real map, not a constant image


def test_actmap_normalisation_peaks_where_activation_is():
    fm = torch.zeros(1, 4, 8, 4)
    fm[0, :, 2, 1] = 3.0
    am = visualize_actmap.activation_maps(fm, 8, 4)
    assert am.dtype == np.uint8
    assert np.unravel_index(am[0].argmax(), am[0].shape) == (2, 1)
    assert am[0].max() == 255


def test_actmap_on_model_without_featuremaps_is_a_clear_error():
    class NoMaps(torch.nn.Module):
        def forward(self, x):
            return x.mean((2, 3))

    model = NoMaps()
    with pytest.raises(ValueError, match="does not provide feature maps"):
        visualize_actmap.feature_maps(model, torch.randn(1, 3, 64, 32))


def test_actmap_cli_weights_missing_or_absent(tmp_path, capsys):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 32, 3), dtype=np.uint8)).save(img)
    common = ["-m", "osnet_x0_25", "--images", str(img), "--height", "64", "--width", "32", "--device", "cpu"]
    out = tmp_path / "maps"
    rc = visualize_actmap.main([*common, "-w", str(tmp_path / "nope.pth"), "--save-dir", str(out)])
    assert rc == 2 and "nope.pth' is not a file" in capsys.readouterr().err
    assert not out.exists()
    with pytest.warns(UserWarning, match="randomly initialised"):
        assert visualize_actmap.main([*common, "--save-dir", str(out)]) == 0
    assert (out / "images" / "a.jpg").is_file()
