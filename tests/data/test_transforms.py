"""Transforms: every name, the canonical order, forced augmentations changing the image, errors, test parity."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import ColorJitter, Normalize, RandomHorizontalFlip, Resize, ToTensor

from torchreid.data import build_transforms
from torchreid.data.transforms import TRANSFORMS, Random2DTranslation, RandomErasing, RandomPatch

ALL = ["random_flip", "random_crop", "random_patch", "color_jitter", "random_erase"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _image(h=80, w=40, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    arr[:, : w // 2] //= 3  # asymmetric, so a flip changes it
    return Image.fromarray(arr)


def test_registry_has_every_name():
    assert set(ALL) <= set(TRANSFORMS.names())


@pytest.mark.parametrize("name", [*ALL, None])
def test_each_name_output_shape_dtype(name):
    tr, te = build_transforms(64, 32, transforms=name)
    for t in (tr, te):
        out = t(_image())
        assert out.shape == (3, 64, 32) and out.dtype == torch.float32


def test_canonical_order_whatever_the_input_order():
    tr, _ = build_transforms(64, 32, transforms=list(reversed(ALL)))
    kinds = [type(t) for t in tr.transforms]
    assert kinds == [Resize, RandomHorizontalFlip, Random2DTranslation, RandomPatch, ColorJitter, ToTensor,
                     Normalize, RandomErasing]  # fmt: skip
    jitter = tr.transforms[4]
    assert jitter.brightness == (0.8, 1.2) and jitter.contrast == (0.85, 1.15)
    assert jitter.saturation is None and jitter.hue is None
    erase = tr.transforms[-1]
    assert erase.mean == MEAN and (erase.probability, erase.sl, erase.sh, erase.r1) == (0.5, 0.02, 0.4, 0.3)


def test_string_list_none_and_case():
    a, _ = build_transforms(64, 32, transforms="random_flip")
    b, _ = build_transforms(64, 32, transforms=["Random_Flip"])
    assert [type(t) for t in a.transforms] == [type(t) for t in b.transforms]
    for empty in (None, [], ()):
        tr, _ = build_transforms(64, 32, transforms=empty)
        assert [type(t) for t in tr.transforms] == [Resize, ToTensor, Normalize]


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        build_transforms(64, 32, transforms=["random_flip", "random_flop"])
    msg = str(info.value)
    assert "random_flop" in msg and all(n in msg for n in ALL)
    with pytest.raises(ValueError, match="string or a list"):
        build_transforms(64, 32, transforms=3)


def test_norm_defaults_and_custom():
    _, te = build_transforms(8, 4, norm_mean=None, norm_std=None)
    assert te.transforms[-1].mean == MEAN
    _, te = build_transforms(8, 4, norm_mean=[0.5, 0.5, 0.5], norm_std=[0.5, 0.5, 0.5])
    out = te(Image.new("RGB", (4, 8), (255, 255, 255)))
    assert torch.allclose(out, torch.ones_like(out))


def test_test_transform_is_pil_bilinear_resize():
    img = _image(100, 50)
    _, te = build_transforms(64, 32)
    ref = np.asarray(img.resize((32, 64), Image.BILINEAR), dtype=np.float32) / 255.0
    ref = (torch.from_numpy(ref).permute(2, 0, 1) - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[
        :, None, None
    ]
    assert torch.allclose(te(img), ref, atol=1e-6)


# ----------------------------------------------------------------------------- forced augmentations change the image


def _differs(a, b) -> bool:
    a = np.asarray(a, dtype=np.float32) if not isinstance(a, torch.Tensor) else a.numpy()
    b = np.asarray(b, dtype=np.float32) if not isinstance(b, torch.Tensor) else b.numpy()
    return a.shape == b.shape and not np.allclose(a, b)


def test_flip_forced():
    img = _image(64, 32)
    assert _differs(RandomHorizontalFlip(p=1.0)(img), img)


def test_random_crop_forced():
    random.seed(0)
    img = _image(64, 32)
    t = Random2DTranslation(64, 32, p=1.0)
    outs = [t(img) for _ in range(5)]
    assert all(o.size == (32, 64) for o in outs)
    assert any(_differs(o, img) for o in outs)
    assert not _differs(Random2DTranslation(64, 32, p=0.0)(img), img)


def test_random_patch_forced():
    random.seed(0)
    t = RandomPatch(prob_happen=1.0, min_sample_size=1)
    imgs = [_image(64, 32, seed=s) for s in range(4)]
    changed = False
    for img in imgs:
        out = t(img)
        assert out.size == img.size
        changed |= _differs(out, img)
    assert changed and len(t.patchpool) >= 1
    assert not _differs(imgs[0], _image(64, 32, seed=0))  # the input is not modified in place


def test_color_jitter_changes_image():
    torch.manual_seed(0)
    tr, _ = build_transforms(64, 32, transforms="color_jitter")
    jitter = tr.transforms[1]
    img = _image(64, 32)
    assert any(_differs(jitter(img), img) for _ in range(5))


def test_random_erase_forced():
    random.seed(0)
    x = torch.rand(3, 64, 32)
    out = RandomErasing(probability=1.0, mean=MEAN)(x.clone())
    assert _differs(out, x)
    erased = (out[0] == MEAN[0]) & (out[1] == MEAN[1]) & (out[2] == MEAN[2])
    area = erased.float().mean().item()
    assert 0.01 < area <= 0.45


def test_training_transform_is_random_test_is_not():
    torch.manual_seed(0)
    random.seed(0)
    tr, te = build_transforms(64, 32, transforms=ALL)
    img = _image(64, 32)
    outs = [tr(img) for _ in range(6)]
    assert any(_differs(outs[0], o) for o in outs[1:])
    assert torch.equal(te(img), te(img))


def test_color_augmentation_adds_one_pca_lighting_offset_per_channel():
    """The original's public ``ColorAugmentation`` (AlexNet-style PCA lighting noise on a (3, H, W) tensor)."""
    from torchreid.data.transforms import ColorAugmentation

    img = torch.rand(3, 8, 4)
    assert torch.equal(ColorAugmentation(p=0.0)(img.clone()), img)  # p is the probability of applying it
    torch.manual_seed(0)
    out = ColorAugmentation(p=1.0)(img.clone())
    delta = out - img
    assert out.shape == img.shape and delta.abs().max() > 0
    # one constant offset per channel, small (eigenvalues <= 0.22, alpha ~ N(0, 0.1))
    assert torch.allclose(delta, delta[:, :1, :1].expand_as(delta), atol=1e-6)
    assert delta.abs().max() < 0.2
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        ColorAugmentation(p=1.0)(torch.rand(1, 8, 4))


# ------------------------------------------------------------------------------------------------ transforms


def test_register_transform_places_pil_and_tensor_stages(monkeypatch):
    from torchvision.transforms import ColorJitter, Normalize, ToTensor

    from torchreid.data import transforms as T

    monkeypatch.setattr(T.TRANSFORMS, "_items", dict(T.TRANSFORMS._items))

    class Grey:
        def __call__(self, im):
            return im.convert("L").convert("RGB")

    class Zero:
        def __call__(self, t):
            return torch.zeros_like(t)

    T.register_transform("cov_grey", lambda h, w, m, s: Grey(), "pil", 100)
    T.register_transform("cov_zero", lambda h, w, m, s: Zero(), "tensor")
    with pytest.raises(ValueError, match="stage must be 'pil' or 'tensor', got 'numpy'"):
        T.register_transform("cov_bad", lambda h, w, m, s: Zero(), "numpy")
    with pytest.raises(KeyError, match="already registered"):
        T.register_transform("cov_grey", lambda h, w, m, s: Grey())

    tr, te = T.build_transforms(16, 8, ["cov_zero", "cov_grey", "color_jitter", "cov_grey"])
    kinds = [type(t) for t in tr.transforms]
    assert kinds[1:] == [ColorJitter, Grey, ToTensor, Normalize, Zero]  # pil ones by order, tensor ones last
    out = tr(Image.new("RGB", (8, 16), (200, 30, 30)))
    assert out.shape == (3, 16, 8) and torch.count_nonzero(out) == 0
    assert len(te.transforms) == 3


def test_transform_names_must_be_strings():
    from torchreid.data.transforms import build_transforms

    with pytest.raises(ValueError, match="transform names must be strings, got 3"):
        build_transforms(16, 8, ["random_flip", 3])
    with pytest.raises(ValueError, match="a string or a list of strings"):
        build_transforms(16, 8, {"random_flip": 1})


def test_random_erasing_single_channel_and_patch_on_tiny_image():
    from torchreid.data.transforms import Random2DTranslation, RandomErasing, RandomPatch

    torch.manual_seed(0)
    t = torch.ones(1, 32, 16)
    out = RandomErasing(probability=1.0, mean=[0.0])(t)
    assert 0 < int((out == 0).sum()) < 32 * 16
    assert "p=1.0" in repr(RandomErasing(probability=1.0))

    patch = RandomPatch(prob_happen=1.0, min_sample_size=1)
    one_px = Image.new("RGB", (1, 1))
    assert patch.generate_wh(1, 1) == (None, None)  # no patch fits a 1x1 image
    assert patch(one_px) is one_px and len(patch.patchpool) == 0
    assert "min_sample_size=1" in repr(patch)
    assert repr(Random2DTranslation(16, 8, p=0.25)) == "Random2DTranslation(height=16, width=8, p=0.25)"
