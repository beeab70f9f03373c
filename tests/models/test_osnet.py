"""Parity with the original Torchreid on real data: OSNet x0.25 zoo weights on real Market-1501 images.

Reference: ``../shared/reference/osnet_x0_25_features.npz`` (see its README). ``inputs_first4`` separates the
model from the preprocessing; the full check starts from the 48 JPEGs with the original's preprocessing (PIL
bilinear resize → ToTensor → Normalize). Skipped with a reason when ``../shared`` is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import DATA, REFERENCE, require

from torchreid.models import build_model
from torchreid.utils.checkpoint import load_checkpoint, load_pretrained_weights

pytestmark = pytest.mark.real_data

WEIGHTS = {"market1501": ("osnet_x0_25_market1501.pt", 751), "msmt17": ("osnet_x0_25_msmt17.pth", 1041)}
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@pytest.fixture(scope="module")
def ref():
    with np.load(require(REFERENCE / "osnet_x0_25_features.npz")) as z:
        return {k: z[k] for k in z.files}


def _model(dataset: str) -> torch.nn.Module:
    fname, num_classes = WEIGHTS[dataset]
    path = require(DATA / "weights" / fname)
    model = build_model(
        "osnet_x0_25", num_classes=num_classes, loss="softmax", pretrained=False, use_gpu=False
    )
    report = load_pretrained_weights(model, path)
    assert report["skipped"] == [] and report["missing"] == [], report
    # and with PyTorch's own strict matching
    state = load_checkpoint(path)
    state = state.get("state_dict", state)
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=True)
    return model.eval()


def _preprocess(paths: list) -> torch.Tensor:
    """As the original FeatureExtractor: PIL open → RGB → Resize((256, 128)) bilinear → ToTensor → Normalize."""
    from PIL import Image

    batch = []
    for p in paths:
        with Image.open(p) as img:
            img = img.convert("RGB").resize((128, 256), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / 255.0
        batch.append(((arr - MEAN) / STD).transpose(2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(np.stack(batch), dtype=np.float32))


def _assert_features_close(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    cos = (got * expected).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    assert cos.min() > 0.9999, cos.min()


@pytest.mark.parametrize("dataset", list(WEIGHTS))
def test_model_only_parity_on_stored_inputs(dataset, ref):
    torch.set_num_threads(2)
    model = _model(dataset)
    with torch.no_grad():
        feats = model(torch.from_numpy(ref["inputs_first4"])).numpy()
    assert feats.shape == (4, 512)
    _assert_features_close(feats, ref[f"features_{dataset}"][:4])


@pytest.mark.parametrize("dataset", list(WEIGHTS))
def test_full_parity_from_real_images(dataset, ref):
    torch.set_num_threads(2)
    folder = require(DATA / "market1501" / "bounding_box_train")
    names = [str(n) for n in ref["file_names"]]
    x = _preprocess([folder / n for n in names])
    np.testing.assert_allclose(x[:4].numpy(), ref["inputs_first4"], atol=1e-5, rtol=0)

    model = _model(dataset)
    with torch.no_grad():
        feats = model(x)
        logits = model.classifier(feats)
    _assert_features_close(feats.numpy(), ref[f"features_{dataset}"])
    if dataset == "market1501":
        np.testing.assert_allclose(logits.numpy(), ref["logits_market1501"], atol=1e-3, rtol=0)
        # trained on this very split: the argmax is the image's training label
        train_pids = sorted({int(p.name.split("_")[0]) for p in folder.glob("*.jpg")})
        label = {pid: i for i, pid in enumerate(train_pids)}
        expected = np.array([label[int(p)] for p in ref["pids"]])
        assert (logits.argmax(1).numpy() == expected).all()
