"""Image transforms and :func:`build_transforms`.

Train pipeline, always in this order whatever the order of the names given:
``Resize(h, w)`` → ``random_flip`` → ``random_crop`` → ``random_patch`` → ``color_jitter`` → ``ToTensor`` →
``Normalize`` → ``random_erase``. Test pipeline: ``Resize(h, w)`` (PIL bilinear, as the original and
``FeatureExtractor``) → ``ToTensor`` → ``Normalize``.

An unknown name is an error listing the valid ones (the original ignored it). More transforms can be registered
with :func:`register_transform`.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import (
    ColorJitter,
    Compose,
    InterpolationMode,
    Normalize,
    RandomHorizontalFlip,
    Resize,
    ToTensor,
)

from ..utils.registry import Registry
from .constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TRANSFORMS",
    "ColorAugmentation",
    "Random2DTranslation",
    "RandomErasing",
    "RandomPatch",
    "build_transforms",
    "register_transform",
]

logger = logging.getLogger(__name__)


class Random2DTranslation:
    """With probability ``p``, enlarge the image to 1.125x (``height``, ``width``) and crop a random
    ``height`` x ``width`` window; otherwise resize to (``height``, ``width``)."""

    def __init__(self, height: int, width: int, p: float = 0.5, interpolation: int = Image.BILINEAR) -> None:
        self.height = height
        self.width = width
        self.p = p
        self.interpolation = interpolation

    def __call__(self, img: Image.Image) -> Image.Image:
        if random.uniform(0, 1) > self.p:
            return img.resize((self.width, self.height), self.interpolation)
        new_width, new_height = round(self.width * 1.125), round(self.height * 1.125)
        resized = img.resize((new_width, new_height), self.interpolation)
        x1 = round(random.uniform(0, new_width - self.width))
        y1 = round(random.uniform(0, new_height - self.height))
        return resized.crop((x1, y1, x1 + self.width, y1 + self.height))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(height={self.height}, width={self.width}, p={self.p})"


def _random_box_size(
    width: int, height: int, min_area: float, max_area: float, min_ratio: float, min_side: int
) -> tuple[int, int] | None:
    """``(w, h)`` of a random box covering ``min_area``..``max_area`` of a ``width`` x ``height`` image with an
    aspect ratio in ``min_ratio``..``1/min_ratio`` and sides in ``min_side``..size-1 (100 tries, else ``None``)."""
    area = width * height
    for _ in range(100):
        target_area = random.uniform(min_area, max_area) * area
        aspect_ratio = random.uniform(min_ratio, 1.0 / min_ratio)
        h = round(math.sqrt(target_area * aspect_ratio))
        w = round(math.sqrt(target_area / aspect_ratio))
        if min_side <= w < width and min_side <= h < height:
            return w, h
    return None


@dataclass(repr=False, eq=False)
class RandomErasing:
    """Random erasing (Zhong et al., 2017) on a ``(C, H, W)`` tensor: with probability ``probability``, fill a
    random rectangle (area ``sl``..``sh`` of the image, aspect ratio ``r1``..``1/r1``) with ``mean``."""

    probability: float = 0.5
    sl: float = 0.02
    sh: float = 0.4
    r1: float = 0.3
    mean: Sequence[float] = (0.4914, 0.4822, 0.4465)

    def __post_init__(self) -> None:
        self.mean = list(self.mean)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if random.uniform(0, 1) > self.probability:
            return img
        c, height, width = img.shape
        box = _random_box_size(width, height, self.sl, self.sh, self.r1, min_side=0)
        if box is not None:
            w, h = box
            y1 = random.randint(0, height - h)
            x1 = random.randint(0, width - w)
            if c == 3:
                for ch in range(3):
                    img[ch, y1 : y1 + h, x1 : x1 + w] = self.mean[ch]
            else:
                img[0, y1 : y1 + h, x1 : x1 + w] = self.mean[0]
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.probability}, area=({self.sl}, {self.sh}), ratio={self.r1})"


class ColorAugmentation:
    """PCA lighting noise (Krizhevsky et al., 2012) on a ``(3, H, W)`` tensor: with probability ``p``, add
    ``sum_i alpha_i * eigval_i * eigvec_i`` to every pixel, with ``alpha_i ~ N(0, 0.1)`` and the principal
    components of ImageNet's RGB pixel covariance. Public in the original's transforms module (not one of the
    ``build_transforms`` names). **Improve**: the original paired the largest eigenvalue with the smallest
    component's eigenvector (its matrix is transposed); this uses the standard pairing."""

    # principal components of ImageNet RGB values in [0, 1]: eigenvalues and eigenvectors (columns)
    EIGVAL = (0.2175, 0.0188, 0.0045)
    EIGVEC = (
        (-0.5675, 0.7192, 0.4009),
        (-0.5808, -0.0045, -0.8140),
        (-0.5836, -0.6948, 0.4203),
    )

    def __init__(self, p: float = 0.5) -> None:
        self.p = p
        self.eig_val = torch.tensor(self.EIGVAL)
        self.eig_vec = torch.tensor(self.EIGVEC)

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dim() != 3 or tensor.size(0) != 3:
            raise ValueError(f"ColorAugmentation expects a (3, H, W) tensor, got shape {tuple(tensor.shape)}")
        if random.uniform(0, 1) > self.p:
            return tensor
        alpha = torch.randn(3) * 0.1
        offset = self.eig_vec @ (alpha * self.eig_val)
        return tensor + offset.to(tensor.dtype).view(3, 1, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomPatch:
    """Random patch (Zhou et al., OSNet): keep a pool of patches cropped from earlier images and, with probability
    ``prob_happen`` once the pool holds ``min_sample_size`` patches, paste a (possibly flipped/rotated) one at a
    random position. Each DataLoader worker has its own pool."""

    def __init__(
        self,
        prob_happen: float = 0.5,
        pool_capacity: int = 50000,
        min_sample_size: int = 100,
        patch_min_area: float = 0.01,
        patch_max_area: float = 0.5,
        patch_min_ratio: float = 0.1,
        prob_rotate: float = 0.5,
        prob_flip_leftright: float = 0.5,
    ) -> None:
        self.prob_happen = prob_happen
        self.patch_min_area = patch_min_area
        self.patch_max_area = patch_max_area
        self.patch_min_ratio = patch_min_ratio
        self.prob_rotate = prob_rotate
        self.prob_flip_leftright = prob_flip_leftright
        self.patchpool: deque[Image.Image] = deque(maxlen=pool_capacity)
        self.min_sample_size = min_sample_size

    def generate_wh(self, W: int, H: int) -> tuple[int | None, int | None]:
        box = _random_box_size(
            W, H, self.patch_min_area, self.patch_max_area, self.patch_min_ratio, min_side=1
        )
        return box if box is not None else (None, None)

    def transform_patch(self, patch: Image.Image) -> Image.Image:
        if random.uniform(0, 1) > self.prob_flip_leftright:
            patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
        if random.uniform(0, 1) > self.prob_rotate:
            patch = patch.rotate(random.randint(-10, 10))
        return patch

    def __call__(self, img: Image.Image) -> Image.Image:
        W, H = img.size
        w, h = self.generate_wh(W, H)
        if w is not None and h is not None:
            x1 = random.randint(0, W - w)
            y1 = random.randint(0, H - h)
            self.patchpool.append(img.crop((x1, y1, x1 + w, y1 + h)))
        if len(self.patchpool) < self.min_sample_size:
            return img
        if random.uniform(0, 1) > self.prob_happen:
            return img
        patch = random.choice(self.patchpool)
        patch_w, patch_h = patch.size
        x1 = random.randint(0, W - patch_w)
        y1 = random.randint(0, H - patch_h)
        patch = self.transform_patch(patch)
        img = img.copy()
        img.paste(patch, (x1, y1))
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.prob_happen}, min_sample_size={self.min_sample_size})"


# ---------------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class TransformSpec:
    """How to build a named transform: ``factory(height, width, norm_mean, norm_std)``; ``stage`` is ``'pil'``
    (before ToTensor) or ``'tensor'`` (after Normalize); ``order`` sorts the built-ins into the canonical order."""

    factory: Callable[..., Callable]
    stage: str = "pil"
    order: float = 100.0


TRANSFORMS: Registry[TransformSpec] = Registry("transform")


def register_transform(
    name: str, factory: Callable[..., Callable], stage: str = "pil", order: float = 100.0
) -> None:
    """Register ``factory(height, width, norm_mean, norm_std) -> callable`` under ``name``.

    ``stage='pil'`` runs on the PIL image after the built-in PIL transforms (``order`` ≥ 100 keeps them after
    ``color_jitter``); ``stage='tensor'`` runs on the normalised tensor.
    """
    if stage not in ("pil", "tensor"):
        raise ValueError(f"stage must be 'pil' or 'tensor', got {stage!r}")
    TRANSFORMS.register(name, TransformSpec(factory, stage, order))


register_transform("random_flip", lambda h, w, mean, std: RandomHorizontalFlip(), "pil", 1)
register_transform("random_crop", lambda h, w, mean, std: Random2DTranslation(h, w), "pil", 2)
register_transform("random_patch", lambda h, w, mean, std: RandomPatch(), "pil", 3)
register_transform(
    "color_jitter",
    lambda h, w, mean, std: ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0),
    "pil",
    4,
)
register_transform("random_erase", lambda h, w, mean, std: RandomErasing(mean=mean), "tensor", 1)


def _names(transforms: str | Sequence[str] | None) -> list[str]:
    if transforms is None:
        return []
    if isinstance(transforms, str):
        transforms = [transforms]
    if not isinstance(transforms, (list, tuple)):
        raise ValueError(
            f"transforms must be a string or a list of strings, but got {type(transforms).__name__}: {transforms!r}"
        )
    out = []
    for t in transforms:
        if not isinstance(t, str):
            raise ValueError(f"transform names must be strings, got {t!r}")
        name = TRANSFORMS.resolve(t.lower())  # unknown → error listing the valid names
        if name not in out:
            out.append(name)
    return out


def build_transforms(
    height: int,
    width: int,
    transforms: str | Sequence[str] | None = "random_flip",
    norm_mean: Sequence[float] | None = IMAGENET_MEAN,
    norm_std: Sequence[float] | None = IMAGENET_STD,
    **kwargs: Any,
) -> tuple[Compose, Compose]:
    """Build the training and test transforms.

    Args:
        height, width: target image size.
        transforms: augmentation name(s): ``random_flip``, ``random_crop``, ``random_patch``, ``color_jitter``,
            ``random_erase`` (or registered ones); a string, a list, or ``None``/``[]`` for no augmentation.
        norm_mean, norm_std: normalisation (ImageNet statistics when ``None``).

    Returns:
        ``(transform_tr, transform_te)``.
    """
    names = _names(transforms)
    if norm_mean is None or norm_std is None:
        norm_mean, norm_std = IMAGENET_MEAN, IMAGENET_STD
    norm_mean, norm_std = list(norm_mean), list(norm_std)
    normalize = Normalize(mean=norm_mean, std=norm_std)
    specs = sorted(((TRANSFORMS.get(n), i, n) for i, n in enumerate(names)), key=lambda s: (s[0].order, s[1]))

    logger.info("Building train transforms ...")
    tr: list[Callable] = [Resize((height, width), interpolation=InterpolationMode.BILINEAR)]
    logger.info(f"+ resize to {height}x{width}")
    for spec, _, name in specs:
        if spec.stage == "pil":
            logger.info(f"+ {name}")
            tr.append(spec.factory(height, width, norm_mean, norm_std))
    logger.info("+ to torch tensor of range [0, 1]")
    tr.append(ToTensor())
    logger.info(f"+ normalization (mean={norm_mean}, std={norm_std})")
    tr.append(normalize)
    for spec, _, name in specs:
        if spec.stage == "tensor":
            logger.info(f"+ {name}")
            tr.append(spec.factory(height, width, norm_mean, norm_std))

    logger.info("Building test transforms ...")
    logger.info(f"+ resize to {height}x{width}")
    logger.info("+ to torch tensor of range [0, 1]")
    logger.info(f"+ normalization (mean={norm_mean}, std={norm_std})")
    te = Compose([Resize((height, width), interpolation=InterpolationMode.BILINEAR), ToTensor(), normalize])
    return Compose(tr), te
