"""tools/: ONNX export, activation maps, mean/std."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import compute_mean_std
import export
import visualize_actmap

from torchreid.models import build_model


@pytest.fixture
def osnet_ckpt(tmp_path):
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=7, pretrained=False)
    path = tmp_path / "model.pth.tar-1"
    torch.save({"state_dict": model.state_dict(), "epoch": 1, "rank1": 0.5}, path)
    return model.eval(), path


def test_export_roundtrip_dynamic_batch(osnet_ckpt, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model, ckpt = osnet_ckpt
    out = tmp_path / "sub" / "m.onnx"
    assert (
        export.main(["-m", "osnet_x0_25", "-w", str(ckpt), "-o", str(out), "--height", "64", "--width", "32"])
        == 0
    )
    sess = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for bs in (1, 4):  # the batch axis is dynamic
        x = torch.randn(bs, 3, 64, 32)
        with torch.no_grad():
            ref = model(x).numpy()
        got = sess.run(None, {"images": x.numpy()})[0]
        assert got.shape == (bs, 512)
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_export_without_weights_verifies_against_the_same_random_model(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    # without -w the model has random weights; the check must compare the very same weights
    assert export.main(["-m", "osnet_x0_25", "-o", str(out), "--height", "64", "--width", "32"]) == 0
    assert "Verified with onnxruntime" in capsys.readouterr().out


def test_export_rejects_checkpoint_of_another_architecture(osnet_ckpt, tmp_path, capsys):
    _, ckpt = osnet_ckpt
    rc = export.main(["-m", "osnet_x0_5", "-w", str(ckpt), "-o", str(tmp_path / "m.onnx")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "does not match architecture 'osnet_x0_5'" in err
    assert not (tmp_path / "m.onnx").exists()


def test_export_unwritable_output_folder(osnet_ckpt, tmp_path):
    model, _ = osnet_ckpt
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="output folder"):
        export.export_onnx(model, blocker / "m.onnx", 64, 32)


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


def test_onnx_feature_extractor_matches_pytorch(osnet_ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    from PIL import Image

    from torchreid.utils import FeatureExtractor, OnnxFeatureExtractor

    model, ckpt = osnet_ckpt
    onnx_path = export.export_onnx(model, tmp_path / "m.onnx", 64, 32)
    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.jpg"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (80, 40, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    ref = FeatureExtractor("osnet_x0_25", str(ckpt), image_size=(64, 32), device="cpu", verbose=False)(paths)
    got = OnnxFeatureExtractor(onnx_path, image_size=(64, 32))(paths)
    assert got.shape == (3, 512)
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-4, rtol=1e-4)
    with pytest.raises(FileNotFoundError, match=r"tools/export\.py"):
        OnnxFeatureExtractor(tmp_path / "missing.onnx")


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
