"""FeatureExtractor: every input kind gives the same features; parity with the original on real weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _shared import no_imagenet_weights
from conftest import DATA, REFERENCE
from PIL import Image

from torchreid.utils import FeatureExtractor


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        arr = rng.integers(0, 256, size=(128 + 7 * i, 64 + 3 * i, 3), dtype=np.uint8)
        p = d / f"img{i}.png"
        Image.fromarray(arr).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        no_imagenet_weights(mp)
        warnings.simplefilter("ignore")
        ext = FeatureExtractor("osnet_x0_25", image_size=(64, 32), device="cpu", verbose=False)
    return ext


def test_all_input_kinds_agree(extractor, images):
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in images]
    f_list = extractor(images)
    assert f_list.shape == (3, 512)
    f_single = torch.cat([extractor(p) for p in images])
    f_arrays = extractor(arrays)
    f_array = torch.cat([extractor(a) for a in arrays])
    pre = torch.stack([extractor.preprocess(Image.open(p).convert("RGB")) for p in images])
    f_tensor = extractor(pre)
    f_tensor3 = torch.cat([extractor(t) for t in pre])
    f_double = extractor(pre.double())  # e.g. built with torch.from_numpy on float64 arrays
    for f in (f_single, f_arrays, f_array, f_tensor, f_tensor3, f_double):
        assert torch.allclose(f, f_list, atol=1e-5)
    from pathlib import Path

    assert torch.allclose(extractor(Path(images[0])), f_list[:1], atol=1e-5)


def test_bad_inputs(extractor, images, tmp_path):
    with pytest.raises(FileNotFoundError):
        extractor(str(tmp_path / "missing.jpg"))
    with pytest.raises(TypeError):
        extractor([1, 2])
    with pytest.raises(TypeError, match="uint8 image array"):
        extractor(np.zeros((10, 10, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="Unsupported input type"):
        extractor(3.0)


def test_missing_model_path_is_an_error_not_a_silent_fallback(tmp_path):
    missing = tmp_path / "model.pth.tar-60"
    with pytest.raises(FileNotFoundError, match=r"model\.pth\.tar-60.*model_path=''"):
        FeatureExtractor("osnet_x0_25", model_path=str(missing), device="cpu", verbose=False)


def test_cuda_falls_back_to_cpu_with_warning(monkeypatch):
    no_imagenet_weights(monkeypatch)
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.warns(RuntimeWarning, match="CUDA"):
        ext = FeatureExtractor("osnet_x0_25", image_size=(64, 32), device="cuda", verbose=False)
    assert ext.device.type == "cpu"


@pytest.mark.real_data
def test_matches_original_features_on_real_weights(monkeypatch):
    ref_path = REFERENCE / "osnet_x0_25_features.npz"
    weights = DATA / "weights" / "osnet_x0_25_market1501.pt"
    img_dir = DATA / "market1501" / "bounding_box_train"
    for p in (ref_path, weights, img_dir):
        if not p.exists():
            pytest.skip(f"{p} is not available")
    ref = np.load(ref_path)
    paths = [str(img_dir / n) for n in ref["file_names"]]
    ext = FeatureExtractor("osnet_x0_25", model_path=str(weights), device="cpu", verbose=False)
    # preprocessing parity
    pre = torch.stack([ext.preprocess(Image.open(p).convert("RGB")) for p in paths[:4]])
    np.testing.assert_allclose(pre.numpy(), ref["inputs_first4"], atol=1e-5)
    feats = ext(paths).numpy()
    expected = ref["features_market1501"]
    np.testing.assert_allclose(feats, expected, atol=1e-4, rtol=1e-4)
    cos = (feats * expected).sum(1) / (np.linalg.norm(feats, axis=1) * np.linalg.norm(expected, axis=1))
    assert cos.min() > 0.9999


def test_grey_and_rgba_arrays_are_converted_to_rgb(extractor):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, size=(64, 32, 1), dtype=np.uint8)
    rgb = np.repeat(grey, 3, axis=2)
    torch.testing.assert_close(extractor(grey), extractor(rgb))
    rgba = np.concatenate([rgb, np.full((64, 32, 1), 255, np.uint8)], axis=2)
    torch.testing.assert_close(extractor(rgba), extractor(rgb))


def test_extractor_input_errors_say_what_is_expected(extractor):
    with pytest.raises(ValueError, match="empty list"):
        extractor([])
    with pytest.raises(ValueError, match=r"HWC image array, got shape \(64, 32\)"):
        extractor(np.zeros((64, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(C, H, W\) tensor, got shape \(64, 32\)"):
        extractor(torch.zeros(64, 32))
    # uint8 tensors are images now (issue 15); other integer tensors are neither images nor preprocessed input
    with pytest.raises(TypeError, match="preprocessed float tensor"):
        extractor(torch.zeros(1, 3, 64, 32, dtype=torch.int32))
