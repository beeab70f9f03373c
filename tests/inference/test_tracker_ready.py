"""FeatureExtractor for trackers: colour order, stored metadata, batching, normalisation, input kinds, precision."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch
from conftest import DATA, require
from PIL import Image

from torchreid.inference import FeatureExtractor
from torchreid.models import build_model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A random osnet_x0_25 checkpoint whose stored config says 64x32 and the model name."""
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=5, pretrained=False, use_gpu=False)
    path = tmp_path_factory.mktemp("ckpt") / "model.pth.tar-1"
    config = {
        "model": {"name": "osnet_x0_25"},
        "data": {"height": 64, "width": 32, "norm_mean": [0.5, 0.5, 0.5], "norm_std": [0.25, 0.25, 0.25]},
    }
    torch.save({"state_dict": model.state_dict(), "epoch": 1, "config": config}, path)
    return path


@pytest.fixture(scope="module")
def rgb_images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(70 + 5 * i, 30 + 3 * i, 3), dtype=np.uint8) for i in range(5)]


def _ext(ckpt, **kw):
    return FeatureExtractor(model_path=str(ckpt), device="cpu", verbose=False, **kw)


def test_metadata_from_checkpoint(ckpt):
    ext = _ext(ckpt)  # no model_name, no size: both come from the checkpoint
    assert ext.model_name == "osnet_x0_25"
    assert ext.image_size == (64, 32)
    assert ext.pixel_mean == (0.5, 0.5, 0.5) and ext.pixel_std == (0.25, 0.25, 0.25)
    assert ext.preprocess(Image.new("RGB", (10, 20))).shape == (3, 64, 32)


def test_explicit_argument_wins_with_a_warning(ckpt):
    with pytest.warns(UserWarning, match=r"image_size=\(128, 64\) differs from the \(64, 32\)"):
        ext = _ext(ckpt, model_name="osnet_x0_25", image_size=(128, 64))
    assert ext.image_size == (128, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # agreeing explicit values are silent
        _ext(ckpt, image_size=(64, 32))


def test_bgr_crops_match_rgb_and_files(ckpt, rgb_images, tmp_path):
    rgb = _ext(ckpt)
    bgr = _ext(ckpt, color_order="BGR")
    assert bgr.color_order == "bgr"
    paths = []
    for i, a in enumerate(rgb_images):
        p = tmp_path / f"{i}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    f_rgb = rgb(rgb_images)
    f_bgr = bgr([a[:, :, ::-1] for a in rgb_images])  # negative-stride views, as OpenCV users pass them
    torch.testing.assert_close(f_bgr, f_rgb)
    torch.testing.assert_close(bgr(paths), f_rgb)  # files are RGB whatever color_order says
    # and passing BGR crops as RGB is really different (the silent failure this option exists for)
    cos = torch.nn.functional.cosine_similarity(rgb([a[:, :, ::-1] for a in rgb_images]), f_rgb)
    assert cos.min() < 0.999


def test_bad_color_order_and_options(ckpt):
    with pytest.raises(ValueError, match="color_order must be 'rgb' or 'bgr'"):
        _ext(ckpt, color_order="hsv")
    with pytest.raises(ValueError, match="precision"):
        _ext(ckpt, precision="int8")
    with pytest.raises(ValueError, match="batch_size"):
        _ext(ckpt, batch_size=0)


def test_pil_uint8_tensor_and_float_array_inputs(ckpt, rgb_images):
    ext = _ext(ckpt)
    ref = ext(rgb_images[:2])
    torch.testing.assert_close(ext([Image.fromarray(a) for a in rgb_images[:2]]), ref)
    torch.testing.assert_close(ext(Image.fromarray(rgb_images[0])), ref[:1])
    chw = [torch.from_numpy(a).permute(2, 0, 1) for a in rgb_images[:2]]
    torch.testing.assert_close(ext(chw), ref)
    torch.testing.assert_close(ext(chw[0]), ref[:1])
    same = np.stack([rgb_images[0]] * 2)
    torch.testing.assert_close(ext(torch.from_numpy(same).permute(0, 3, 1, 2)), ext([rgb_images[0]] * 2))
    # float HWC arrays in [0, 1] are accepted like the original (torchvision's ToPILImage scales by 255)
    as_float = rgb_images[0].astype(np.float32) / 255.0
    torch.testing.assert_close(ext(as_float), ext(rgb_images[0]), atol=2e-2, rtol=0)


def test_empty_images_are_rejected(ckpt):
    ext = _ext(ckpt)
    with pytest.raises(ValueError, match="Empty image"):
        ext(np.zeros((0, 0, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="Empty image"):
        ext(np.zeros((10, 0, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="Empty image"):
        ext(torch.zeros(3, 0, 0, dtype=torch.uint8))


def test_batching_and_normalisation(ckpt, rgb_images):
    whole = _ext(ckpt, batch_size=64)(rgb_images)
    chunked = _ext(ckpt, batch_size=2)(rgb_images)
    assert chunked.shape == whole.shape == (5, 512)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)
    unit = _ext(ckpt, normalize=True)(rgb_images)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(unit, torch.nn.functional.normalize(whole, dim=1), atol=1e-5, rtol=1e-5)


def test_verbose_false_is_silent_and_verbose_true_talks(ckpt, capsys, caplog, rgb_images):
    caplog.set_level(logging.DEBUG, logger="torchreid")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ext = _ext(ckpt)
        ext(rgb_images[0])
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    assert caught == []
    FeatureExtractor(model_path=str(ckpt), device="cpu", verbose=True)
    assert "Model: osnet_x0_25" in caplog.text


def test_channels_last_matches_and_bf16_is_close(ckpt, rgb_images):
    ref = _ext(ckpt)(rgb_images)
    torch.testing.assert_close(_ext(ckpt, channels_last=True)(rgb_images), ref, atol=1e-4, rtol=1e-4)
    fast = _ext(ckpt, precision="bf16", channels_last=True)(rgb_images)
    assert fast.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(fast, ref).min() > 0.99


def test_model_is_still_callable_directly(ckpt, rgb_images):
    ext = _ext(ckpt, channels_last=True)
    x = torch.stack([ext.preprocess(Image.fromarray(a)) for a in rgb_images[:2]])
    with torch.no_grad():
        torch.testing.assert_close(ext.model(x), ext(rgb_images[:2]), atol=1e-4, rtol=1e-4)


@pytest.mark.real_data
def test_fast_path_on_real_weights_and_images():
    weights = require(DATA / "weights" / "osnet_x0_25_market1501.pt")
    folder = require(DATA / "market1501" / "bounding_box_train")
    paths = sorted(folder.glob("*.jpg"))[:16]
    ref = FeatureExtractor("osnet_x0_25", model_path=str(weights), device="cpu", verbose=False)(paths)
    fast = FeatureExtractor(
        "osnet_x0_25",
        model_path=str(weights),
        device="cpu",
        verbose=False,
        precision="bf16",
        channels_last=True,
    )(paths)
    assert torch.nn.functional.cosine_similarity(fast, ref).min() > 0.999


def test_model_input_size_is_the_default_when_nothing_is_stored(monkeypatch):
    from _shared import no_imagenet_weights

    no_imagenet_weights(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = FeatureExtractor("hacnn", device="cpu", verbose=False)
    assert ext.image_size == (160, 64)  # hacnn needs 160x64; the original fed it 256x128 and failed
    assert ext(np.zeros((100, 40, 3), dtype=np.uint8)).shape == (1, 1024)
