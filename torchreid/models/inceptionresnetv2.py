"""Inception-ResNet-v2 (Szegedy et al., AAAI 2017) as a re-ID backbone.

Layout (state-dict names equal the original Torchreid, which followed the ``pretrainedmodels`` package)::

    conv2d_1a 3x3/2 → conv2d_2a 3x3 → conv2d_2b 3x3 → max pool → conv2d_3b 1x1 → conv2d_4a 3x3 → max pool
    mixed_5b                       → 320
    repeat    Block35 x10 (scale 0.17)
    mixed_6a  (reduction)          → 1088
    repeat_1  Block17 x20 (scale 0.10)
    mixed_7a  (reduction)          → 2080
    repeat_2  Block8 x9 (scale 0.20), block8 (no ReLU)
    conv2d_7b 1x1                  → 1536
    GAP → classifier
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._zoo_weights import cadene_weights
from .common import PooledReIDModel
from .inceptionv4 import BasicConv2d, avg_pool_branch
from .registry import register_model

__all__ = ["Block8", "Block17", "Block35", "InceptionResNetV2", "inceptionresnetv2"]

_META = cadene_weights("inceptionresnetv2", "inceptionresnetv2-520b38e4.pth")


class Mixed5b(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, 1)
        self.branch1 = nn.Sequential(BasicConv2d(192, 48, 1), BasicConv2d(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(192, 64, 1), BasicConv2d(64, 96, 3, padding=1), BasicConv2d(96, 96, 3, padding=1)
        )
        self.branch3 = avg_pool_branch(192, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class _ResidualInception(nn.Module):
    """Branches concatenated → 1x1 conv (with bias) → ``x + scale·out`` → ReLU (unless ``relu=False``)."""

    scale: float
    relu: nn.Module | None

    def _residual(self, x: torch.Tensor, branches: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out = self.conv2d(torch.cat(branches, 1)) * self.scale + x
        return out if self.relu is None else self.relu(out)


class Block35(_ResidualInception):
    """Inception-ResNet-A (35x35 grid in the paper)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(320, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(320, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(
            BasicConv2d(320, 32, 1), BasicConv2d(32, 48, 3, padding=1), BasicConv2d(48, 64, 3, padding=1)
        )
        self.conv2d = nn.Conv2d(128, 320, kernel_size=1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(x, (self.branch0(x), self.branch1(x), self.branch2(x)))


class Mixed6a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(320, 256, 1), BasicConv2d(256, 256, 3, padding=1), BasicConv2d(256, 384, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class Block17(_ResidualInception):
    """Inception-ResNet-B (17x17 grid in the paper)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1088, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1088, 128, 1),
            BasicConv2d(128, 160, (1, 7), padding=(0, 3)),
            BasicConv2d(160, 192, (7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(384, 1088, kernel_size=1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(x, (self.branch0(x), self.branch1(x)))


class Mixed7a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 288, 3, stride=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(1088, 256, 1), BasicConv2d(256, 288, 3, padding=1), BasicConv2d(288, 320, 3, stride=2)
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block8(_ResidualInception):
    """Inception-ResNet-C (8x8 grid in the paper); ``no_relu=True`` for the last one."""

    def __init__(self, scale: float = 1.0, no_relu: bool = False) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(2080, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(2080, 192, 1),
            BasicConv2d(192, 224, (1, 3), padding=(0, 1)),
            BasicConv2d(224, 256, (3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(448, 2080, kernel_size=1)
        self.relu = None if no_relu else nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(x, (self.branch0(x), self.branch1(x)))


class InceptionResNetV2(PooledReIDModel):
    """Inception-ResNet-v2 re-ID model (1536-d features)."""

    def __init__(self, num_classes: int, loss: str, **kwargs: Any) -> None:
        super().__init__()
        self.loss = loss
        self.conv2d_1a = BasicConv2d(3, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(*[Block35(scale=0.17) for _ in range(10)])
        self.mixed_6a = Mixed6a()
        self.repeat_1 = nn.Sequential(*[Block17(scale=0.10) for _ in range(20)])
        self.mixed_7a = Mixed7a()
        self.repeat_2 = nn.Sequential(*[Block8(scale=0.20) for _ in range(9)])
        self.block8 = Block8(no_relu=True)
        self.conv2d_7b = BasicConv2d(2080, 1536, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = 1536
        self.classifier = nn.Linear(1536, num_classes)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        x = self.conv2d_4a(self.conv2d_3b(self.maxpool_3a(x)))
        x = self.repeat(self.mixed_5b(self.maxpool_5a(x)))
        x = self.repeat_1(self.mixed_6a(x))
        x = self.block8(self.repeat_2(self.mixed_7a(x)))
        return self.conv2d_7b(x)


@register_model(feature_dim=1536, **_META)
def inceptionresnetv2(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> InceptionResNetV2:
    return InceptionResNetV2(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import cadene_settings  # noqa: E402

Mixed_5b = Mixed5b
Mixed_6a = Mixed6a
Mixed_7a = Mixed7a
pretrained_settings = {
    "inceptionresnetv2": cadene_settings("inceptionresnetv2-520b38e4.pth", 299, background=True)
}
