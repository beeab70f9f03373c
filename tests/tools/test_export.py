"""tools/export.py (= ``torchreid export``): self-describing ONNX / OpenVINO exports, verified; clear errors."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch
from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))

import export

from torchreid.models import build_model


@pytest.fixture
def osnet_ckpt(tmp_path):
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=7, pretrained=False)
    path = tmp_path / "model.pth.tar-1"
    torch.save({"state_dict": model.state_dict(), "epoch": 1, "rank1": 0.5}, path)
    return model.eval(), path


@pytest.fixture
def trained_ckpt(tmp_path):
    """A checkpoint as the engine writes it: with the run's config (model name, 64x32 input)."""
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=7, pretrained=False)
    path = tmp_path / "model.pth.tar-3"
    config = {"model": {"name": "osnet_x0_25"}, "data": {"height": 64, "width": 32}}
    torch.save({"state_dict": model.state_dict(), "epoch": 3, "config": config}, path)
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


def test_metadata_is_written_and_read_back(trained_ckpt, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from torchreid.inference import FeatureExtractor, OnnxFeatureExtractor

    _model, ckpt = trained_ckpt
    out = tmp_path / "m.onnx"
    # neither -m nor the size: both come from the checkpoint
    assert export.main(["-w", str(ckpt), "-o", str(out), "--color-order", "bgr"]) == 0
    assert "input 64x32" in capsys.readouterr().out
    ext = OnnxFeatureExtractor(out)
    assert ext.image_size == (64, 32) and ext.color_order == "bgr" and ext.model_name == "osnet_x0_25"
    meta = ext.metadata
    assert meta["feature_dim"] == 512 and meta["normalized"] is False
    assert meta["source_checkpoint"] == "model.pth.tar-3"
    assert meta["pixel_mean"] == (0.485, 0.456, 0.406) and meta["pixel_std"] == (0.229, 0.224, 0.225)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (90, 40, 3), dtype=np.uint8) for _ in range(3)]
    ref = FeatureExtractor(model_path=str(ckpt), device="cpu", verbose=False, color_order="bgr")(crops)
    got = ext(crops)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    with pytest.warns(UserWarning, match="differs from"):
        OnnxFeatureExtractor(out, image_size=(128, 64))


def test_normalize_inside_the_graph(osnet_ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    from torchreid.inference import OnnxFeatureExtractor

    _, ckpt = osnet_ckpt
    out = tmp_path / "n.onnx"
    args = [
        "-m",
        "osnet_x0_25",
        "-w",
        str(ckpt),
        "-o",
        str(out),
        "--height",
        "64",
        "--width",
        "32",
        "--normalize",
    ]
    assert export.main(args) == 0
    ext = OnnxFeatureExtractor(out)
    assert ext.metadata["normalized"] is True
    feats = ext(np.zeros((64, 32, 3), dtype=np.uint8) + 100)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(1))


def test_openvino_export_and_extractor(trained_ckpt, tmp_path, capsys):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    from torchreid.inference import OnnxFeatureExtractor, OpenVINOFeatureExtractor

    _, ckpt = trained_ckpt
    out = tmp_path / "m.onnx"
    assert export.main(["-w", str(ckpt), "-o", str(out), "--format", "all"]) == 0
    text = capsys.readouterr().out
    assert "Verified with OpenVINO" in text and "Verified with onnxruntime" in text
    xml = tmp_path / "m.xml"
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    ov = OpenVINOFeatureExtractor(xml)
    assert ov.image_size == (64, 32) and ov.model_name == "osnet_x0_25"
    img = np.random.default_rng(1).integers(0, 256, (70, 30, 3), dtype=np.uint8)
    torch.testing.assert_close(ov([img, img]), OnnxFeatureExtractor(out)([img, img]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("payload", [[1, 2, 3], torch.zeros(3)])
def test_checkpoint_that_is_not_a_dict_is_a_clear_error(payload, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save(payload, bad)
    rc = export.main(["-m", "osnet_x0_25", "-w", str(bad), "-o", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a checkpoint or a state dict" in err and "Traceback" not in err


def test_unsupported_model_is_a_short_clear_error(tmp_path, capsys):
    rc = export.main(["-m", "pcb_p6", "-o", str(tmp_path / "p.onnx"), "--no-verify"])
    out, err = capsys.readouterr()
    assert rc == 2 and "cannot export 'pcb_p6' to ONNX" in err and "adaptive_avg_pool2d" in err
    assert "Torch IR graph" not in out and len(err) < 1000 and "Traceback" not in err
    assert not (tmp_path / "p.onnx").exists() and list(tmp_path.iterdir()) == []


def test_hacnn_uses_its_known_input_size(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "h.onnx"
    # at the default opset the error names the opset that supports hacnn's affine_grid
    assert export.main(["-m", "hacnn", "-o", str(out), "--no-verify"]) == 2
    assert "version 20" in capsys.readouterr().err
    assert export.main(["-m", "hacnn", "-o", str(out), "--opset", "20"]) == 0
    assert "input 160x64" in capsys.readouterr().out


def test_missing_optional_package_says_how_to_install(osnet_ckpt, tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(sys.modules, "openvino", raising=False)
    _, ckpt = osnet_ckpt
    rc = export.main(
        ["-m", "osnet_x0_25", "-w", str(ckpt), "-o", str(tmp_path / "m.onnx"), "--format", "openvino"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "pip install openvino" in err and "torchreid[export]" in err


@pytest.mark.real_data
def test_zoo_weights_by_name_verified_on_real_images(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    src = require(DATA / "weights" / "osnet_x0_25_msmt17.pth")
    images = require(DATA / "market1501" / "bounding_box_train")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    (tmp_path / "th" / "checkpoints").mkdir(parents=True)
    shutil.copyfile(src, tmp_path / "th" / "checkpoints" / "osnet_x0_25_msmt17.pth")
    out = tmp_path / "z.onnx"
    rc = export.main(["-w", "osnet_x0_25_msmt17", "-o", str(out), "--images", str(images)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "input 256x128" in text and "on 8 images" in text
    from torchreid.inference import OnnxFeatureExtractor

    assert OnnxFeatureExtractor(out).metadata["source_checkpoint"] == "osnet_x0_25_msmt17"
