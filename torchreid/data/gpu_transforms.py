"""Batched, on-device versions of the standard training augmentations (``data.gpu_augment``).

With ``data.gpu_augment True`` the data-loader workers only decode and resize each image to ``height x width``
and return ``uint8`` tensors (4x less to pin and copy than float32); :class:`GPUAugment` then applies, on the
whole batch on the GPU and in the original order:

``random_flip`` (p 0.5) → ``random_crop`` (p 0.5: bilinear resize to 1.125x and a random crop back) →
``to float / 255`` → ``Normalize(mean, std)`` → ``random_erase`` (p 0.5, area 0.02-0.4, aspect ≥ 0.3,
filled with ``norm_mean``, exactly like the original ``RandomErasing(mean=norm_mean)`` after normalisation).

Each sample draws its own random parameters, so the distribution matches the per-image CPU transforms.
Transforms without a GPU version (``random_patch``, ``color_jitter``) stay in the workers and run before
these (both are photometric or patch pastes whose order relative to flip/crop does not change their
distribution). Works on CPU tensors too (the same code, useful in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "GPU_TRANSFORMS",
    "GPUAugment",
    "build_gpu_augment",
    "random_crop",
    "random_erase",
    "random_flip",
    "split_transforms",
    "to_float_normalized",
]

logger = logging.getLogger(__name__)

# transform names (as in data.transforms) that have a batched device version here
GPU_TRANSFORMS = ("random_flip", "random_crop", "random_erase")


def split_transforms(names: str | Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Split transform names into (kept on CPU workers, run on the device)."""
    if names is None:
        names = []
    if isinstance(names, str):
        names = [names]
    cpu = [n for n in names if n not in GPU_TRANSFORMS]
    dev = [n for n in names if n in GPU_TRANSFORMS]
    return cpu, dev


def _uniform(
    n: int, lo: float, hi: float, device: torch.device | str | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    return torch.rand(n, device=device, generator=generator) * (hi - lo) + lo


def random_flip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image of a ``(B, C, H, W)`` batch horizontally with probability ``p``."""
    if p <= 0:
        return x
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_crop(
    x: torch.Tensor, p: float = 0.5, scale: float = 1.125, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The original ``Random2DTranslation``: with probability ``p`` enlarge to ``scale``x (bilinear) and crop
    a random ``H x W`` window; otherwise keep the image. Offsets are rounded like the original's."""
    if p <= 0:
        return x
    b, _, h, w = x.shape
    nh, nw = round(h * scale), round(w * scale)
    dtype = x.dtype
    xf = x if x.is_floating_point() else x.float()
    big = F.interpolate(xf, size=(nh, nw), mode="bilinear", align_corners=False)
    if not x.is_floating_point():
        big = big.round_().clamp_(0, 255).to(dtype)
    dev = x.device
    y0 = torch.round(_uniform(b, 0, nh - h, dev, generator)).long()
    x0 = torch.round(_uniform(b, 0, nw - w, dev, generator)).long()
    rows = y0[:, None] + torch.arange(h, device=dev)[None, :]  # (B, H)
    cols = x0[:, None] + torch.arange(w, device=dev)[None, :]  # (B, W)
    bidx = torch.arange(b, device=dev)[:, None, None]
    crops = big[bidx, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    crops = crops.permute(0, 3, 1, 2)
    apply = torch.rand(b, device=dev, generator=generator) < p
    return torch.where(apply[:, None, None, None], crops, x)


def to_float_normalized(
    x: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """``uint8`` (0-255) or float (0-1) batch → normalised float32 (``ToTensor`` + ``Normalize``)."""
    x = x.float().div_(255.0) if not x.is_floating_point() else x.float()
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def random_erase(
    x: torch.Tensor,
    p: float = 0.5,
    sl: float = 0.02,
    sh: float = 0.4,
    r1: float = 0.3,
    fill: Sequence[float] = IMAGENET_MEAN,
    attempts: int = 10,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The original ``RandomErasing``: with probability ``p`` fill one random rectangle (area fraction in
    ``[sl, sh]``, aspect ratio in ``[r1, 1/r1]``) with ``fill``. Like the original, the first of several
    attempts whose rectangle fits is used and nothing is erased when none fits."""
    if p <= 0:
        return x
    b, c, h, w = x.shape
    dev = x.device
    area = _uniform(b * attempts, sl, sh, dev, generator).view(b, attempts) * (h * w)
    aspect = _uniform(b * attempts, r1, 1.0 / r1, dev, generator).view(b, attempts)
    eh = torch.round(torch.sqrt(area * aspect)).long()
    ew = torch.round(torch.sqrt(area / aspect)).long()
    fits = (eh < h) & (ew < w)
    first = torch.argmax(fits.int(), dim=1)  # first fitting attempt (0 when none fits; masked out below)
    any_fit = fits.any(dim=1)
    eh = eh.gather(1, first[:, None]).squeeze(1)
    ew = ew.gather(1, first[:, None]).squeeze(1)
    # random integer offsets in [0, h - eh] and [0, w - ew] (inclusive, like random.randint)
    top = torch.floor(torch.rand(b, device=dev, generator=generator) * (h - eh + 1).clamp(min=1)).long()
    left = torch.floor(torch.rand(b, device=dev, generator=generator) * (w - ew + 1).clamp(min=1)).long()
    apply = (torch.rand(b, device=dev, generator=generator) < p) & any_fit
    ys = torch.arange(h, device=dev)[None, :]
    xs = torch.arange(w, device=dev)[None, :]
    in_y = (ys >= top[:, None]) & (ys < (top + eh)[:, None])  # (B, H)
    in_x = (xs >= left[:, None]) & (xs < (left + ew)[:, None])  # (B, W)
    mask = (in_y[:, :, None] & in_x[:, None, :]) & apply[:, None, None]  # (B, H, W)
    fill_t = torch.as_tensor(list(fill)[:c] if len(fill) >= c else [fill[0]] * c, dtype=x.dtype, device=dev)
    return torch.where(mask[:, None], fill_t.view(1, c, 1, 1), x)


class GPUAugment(torch.nn.Module):
    """Applies the device-side part of the training transforms to a batch.

    ``transforms``: the configured transform names (others are ignored here: they run on the CPU);
    ``norm_mean``/``norm_std``: normalisation (``None`` → ImageNet). Input ``uint8`` or float in 0-1,
    ``(B, C, H, W)``; output normalised float32. ``train=False`` only converts and normalises.
    """

    def __init__(
        self,
        transforms: str | Sequence[str] | None = ("random_flip",),
        norm_mean: Sequence[float] | None = None,
        norm_std: Sequence[float] | None = None,
        train: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _, dev = split_transforms(transforms)
        self.ops = dev if train else []
        self.mean = tuple(norm_mean) if norm_mean is not None else IMAGENET_MEAN
        self.std = tuple(norm_std) if norm_std is not None else IMAGENET_STD
        self.generator = generator

    def extra_repr(self) -> str:
        return f"ops={self.ops}, mean={self.mean}, std={self.std}"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:  # video clips (B, T, C, H, W): augment every frame independently
            b, t = x.shape[:2]
            return self.forward(x.flatten(0, 1)).unflatten(0, (b, t))
        g = self.generator
        if "random_flip" in self.ops:
            x = random_flip(x, generator=g)
        if "random_crop" in self.ops:
            x = random_crop(x, generator=g)
        x = to_float_normalized(x, self.mean, self.std)
        if "random_erase" in self.ops:
            x = random_erase(x, fill=self.mean, generator=g)
        return x


def build_gpu_augment(
    height: int,
    width: int,
    transforms: str | Sequence[str] | None = "random_flip",
    norm_mean: Sequence[float] | None = None,
    norm_std: Sequence[float] | None = None,
) -> tuple[Any, GPUAugment]:
    """Split the training pipeline for ``data.gpu_augment``.

    Returns ``(worker_transform, device_transform)``: the workers run ``Resize(h, w)`` (PIL bilinear, as the CPU
    pipeline) → the PIL-stage transforms without a device version (``random_patch``, ``color_jitter``, registered
    ones) → ``uint8`` tensor; :class:`GPUAugment` does the rest on the batch. Unknown names raise the same error
    as :func:`~torchreid.data.transforms.build_transforms`; registered tensor-stage transforms (which expect
    normalised tensors) cannot be combined with ``gpu_augment`` and raise a clear error.
    """
    from torchvision.transforms import Compose, InterpolationMode, PILToTensor, Resize

    from .transforms import TRANSFORMS

    if transforms is None:
        names: list[str] = []
    elif isinstance(transforms, str):
        names = [transforms]
    else:
        names = list(transforms)
    resolved = []
    for n in names:
        key = TRANSFORMS.resolve(n.lower()) if hasattr(TRANSFORMS, "resolve") else n.lower()
        if key not in resolved:
            resolved.append(key)
    specs = sorted(
        ((TRANSFORMS.get(n), i, n) for i, n in enumerate(resolved)), key=lambda s: (s[0].order, s[1])
    )
    cpu_ops = []
    for spec, _, name in specs:
        if name in GPU_TRANSFORMS:
            continue
        if spec.stage != "pil":
            raise ValueError(
                f"transform {name!r} runs on normalised tensors and has no GPU version; "
                "set data.gpu_augment False to use it"
            )
        cpu_ops.append(
            spec.factory(height, width, list(norm_mean or IMAGENET_MEAN), list(norm_std or IMAGENET_STD))
        )
    worker = Compose(
        [Resize((height, width), interpolation=InterpolationMode.BILINEAR), *cpu_ops, PILToTensor()]
    )
    device = GPUAugment(resolved, norm_mean=norm_mean, norm_std=norm_std)
    logger.info(
        f"Train transforms with data.gpu_augment: workers resize to {height}x{width}"
        + "".join(f" + {type(op).__name__}" for op in cpu_ops)
        + f" -> uint8; on the device: {' + '.join(device.ops) or 'no augmentation'} + normalisation"
    )
    return worker, device
