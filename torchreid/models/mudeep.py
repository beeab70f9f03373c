"""Multi-scale deep learning architecture (MuDeep; Qian et al., "Multi-scale Deep Learning Architectures for
Person Re-identification", ICCV 2017).

Layout (state-dict names equal the original Torchreid)::

    block1  two 3x3 ConvBlocks (48, 96) → 3x3/2 max pool
    block2  multi-scale A: four streams of 24 channels                       → 96
    block3  reduction: max pool ‖ 3x3/2 conv ‖ conv tower                    → 256 (1/4 resolution)
    block4  multi-scale B: four streams of 256 channels, returned separately
    block5  fusion: learned per-channel weights a1..a4, summed → 4x4/4 average pool
    fc (Linear 256·16·8 → 4096 + BN1d + ReLU) → classifier

Because of the fc layer the input must be 256x128 (height x width); other sizes raise a ``ValueError``.
There are no ImageNet weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import reid_output
from .registry import register_model

__all__ = ["MuDeep", "mudeep"]

INPUT_HW = (256, 128)

Size = int | tuple[int, int]


class ConvBlock(nn.Module):
    """Conv (with bias) → BN → ReLU."""

    def __init__(self, in_c: int, out_c: int, k: Size, s: int = 1, p: Size = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, k, stride=s, padding=p)
        self.bn = nn.BatchNorm2d(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class ConvLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvBlock(3, 48, 3, 1, 1)
        self.conv2 = ConvBlock(48, 96, 3, 1, 1)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.conv2(self.conv1(x)))


def _avg_pool3() -> nn.AvgPool2d:
    return nn.AvgPool2d(kernel_size=3, stride=1, padding=1)


class MultiScaleA(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stream1 = nn.Sequential(ConvBlock(96, 96, 1), ConvBlock(96, 24, 3, 1, 1))
        self.stream2 = nn.Sequential(_avg_pool3(), ConvBlock(96, 24, 1))
        self.stream3 = ConvBlock(96, 24, 1)
        self.stream4 = nn.Sequential(
            ConvBlock(96, 16, 1), ConvBlock(16, 24, 3, 1, 1), ConvBlock(24, 24, 3, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)], 1)


class Reduction(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stream1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stream2 = ConvBlock(96, 96, 3, 2, 1)
        self.stream3 = nn.Sequential(
            ConvBlock(96, 48, 1), ConvBlock(48, 56, 3, 1, 1), ConvBlock(56, 64, 3, 2, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x)], 1)


class MultiScaleB(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stream1 = nn.Sequential(_avg_pool3(), ConvBlock(256, 256, 1))
        self.stream2 = nn.Sequential(
            ConvBlock(256, 64, 1),
            ConvBlock(64, 128, (1, 3), 1, (0, 1)),
            ConvBlock(128, 256, (3, 1), 1, (1, 0)),
        )
        self.stream3 = ConvBlock(256, 256, 1)
        self.stream4 = nn.Sequential(
            ConvBlock(256, 64, 1),
            ConvBlock(64, 64, (1, 3), 1, (0, 1)),
            ConvBlock(64, 128, (3, 1), 1, (1, 0)),
            ConvBlock(128, 128, (1, 3), 1, (0, 1)),
            ConvBlock(128, 256, (3, 1), 1, (1, 0)),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)


class Fusion(nn.Module):
    """Weighted sum of the four streams (per-channel weights ``a1..a4``) → 4x4/4 average pool (the pool is the
    original Torchreid's addition to the paper, to shrink the fc layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.a1 = nn.Parameter(torch.rand(1, 256, 1, 1))
        self.a2 = nn.Parameter(torch.rand(1, 256, 1, 1))
        self.a3 = nn.Parameter(torch.rand(1, 256, 1, 1))
        self.a4 = nn.Parameter(torch.rand(1, 256, 1, 1))
        self.avgpool = nn.AvgPool2d(kernel_size=4, stride=4, padding=0)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, x4: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.a1 * x1 + self.a2 * x2 + self.a3 * x3 + self.a4 * x4)


class MuDeep(nn.Module):
    """MuDeep re-ID model (4096-d features; input 256x128)."""

    def __init__(self, num_classes: int, loss: str = "softmax", **kwargs: Any) -> None:
        super().__init__()
        self.loss = loss
        self.block1 = ConvLayers()
        self.block2 = MultiScaleA()
        self.block3 = Reduction()
        self.block4 = MultiScaleB()
        self.block5 = Fusion()
        h, w = INPUT_HW[0] // 16, INPUT_HW[1] // 16
        self.fc = nn.Sequential(nn.Linear(256 * h * w, 4096), nn.BatchNorm1d(4096), nn.ReLU())
        self.feature_dim = 4096
        self.classifier = nn.Linear(4096, num_classes)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[-2:]) != INPUT_HW:
            raise ValueError(
                f"mudeep needs input images of {INPUT_HW[0]}x{INPUT_HW[1]} (height x width) because its fc layer "
                f"has a fixed size; got a tensor of shape {tuple(x.shape)}. Set data.height={INPUT_HW[0]} and "
                f"data.width={INPUT_HW[1]}."
            )
        x = self.block3(self.block2(self.block1(x)))
        return self.block5(*self.block4(x))

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        f = self.featuremaps(x)
        if return_featuremaps:
            return f
        v = self.fc(f.flatten(1))
        return reid_output(self.training, self.loss, v, self.classifier)


@register_model(missing_weights="warn", feature_dim=4096, input_size=(3, *INPUT_HW), source=None)
def mudeep(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> MuDeep:
    return MuDeep(num_classes, loss, **kwargs)
