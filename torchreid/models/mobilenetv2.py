"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018) as a re-ID
backbone.

Layout (state-dict names equal the original Torchreid)::

    conv1      3x3/2 ConvBlock (32·w)
    conv2-8    inverted residual stages (t, c, n, s): (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2)
               (6,96,3,1) (6,160,3,2) (6,320,1,1), channels scaled by the width multiplier w
    conv9      1x1 ConvBlock to 1280 (1280·w when w > 1)
    GAP → optional fc layers (``fc_dims``) → classifier

The ImageNet weights of the original were published on mega.nz and were never downloaded automatically: place
``mobilenetv2_1.0.pth`` / ``mobilenetv2_1.4.pth`` in ``$TORCH_HOME/checkpoints`` to use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._zoo_weights import manual_weights
from .common import PooledReIDModel, build_fc_layers, init_params
from .registry import register_model

__all__ = ["MobileNetV2", "mobilenetv2_x1_0", "mobilenetv2_x1_4"]

_META_1_0 = manual_weights(
    "mobilenetv2_x1_0",
    "mobilenetv2_1.0.pth",
    "https://mega.nz/#!NKp2wAIA!1NH1pbNzY_M2hVk_hdsxNM1NUOWvvGPHhaNr-fASF6c",
)
_META_1_4 = manual_weights(
    "mobilenetv2_x1_4",
    "mobilenetv2_1.4.pth",
    "https://mega.nz/#!RGhgEIwS!xN2s2ZdyqI6vQ3EwgmRXLEW3khr9tpXg96G9SUJugGk",
)


class ConvBlock(nn.Module):
    """Conv (no bias) → BN → ReLU6."""

    def __init__(self, in_c: int, out_c: int, k: int, s: int = 1, p: int = 0, g: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, k, stride=s, padding=p, bias=False, groups=g)
        self.bn = nn.BatchNorm2d(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expansion → depthwise 3x3 → linear 1x1 projection (+ identity when shapes
    allow)."""

    def __init__(self, in_channels: int, out_channels: int, expansion_factor: int, stride: int = 1) -> None:
        super().__init__()
        mid = in_channels * expansion_factor
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv1 = ConvBlock(in_channels, mid, 1)
        self.dwconv2 = ConvBlock(mid, mid, 3, stride, 1, g=mid)
        self.conv3 = nn.Sequential(nn.Conv2d(mid, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.conv3(self.dwconv2(self.conv1(x)))
        return x + m if self.use_residual else m


# (expansion t, channels c, repeats n, stride s) of conv2 ... conv8
_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(PooledReIDModel):
    """MobileNetV2 re-ID model with width multiplier ``width_mult``."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        width_mult: float = 1.0,
        fc_dims: Sequence[int] | None = None,
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.in_channels = int(32 * width_mult)
        last_dim = int(1280 * width_mult) if width_mult > 1.0 else 1280
        self.conv1 = ConvBlock(3, self.in_channels, 3, s=2, p=1)
        for i, (t, c, n, s) in enumerate(_SETTINGS):
            setattr(self, f"conv{i + 2}", self._make_layer(t, int(c * width_mult), n, s))
        self.conv9 = ConvBlock(self.in_channels, last_dim, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, last_dim, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def _make_layer(self, t: int, c: int, n: int, s: int) -> nn.Sequential:
        layers = [Bottleneck(self.in_channels, c, t, s)]
        self.in_channels = c
        layers += [Bottleneck(c, c, t) for _ in range(1, n)]
        return nn.Sequential(*layers)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 10):
            x = getattr(self, f"conv{i}")(x)
        return x


@register_model(feature_dim=1280, **_META_1_0)
def mobilenetv2_x1_0(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> MobileNetV2:
    return MobileNetV2(num_classes, loss, width_mult=1.0, **kwargs)


@register_model(feature_dim=1792, **_META_1_4)
def mobilenetv2_x1_4(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> MobileNetV2:
    return MobileNetV2(num_classes, loss, width_mult=1.4, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import init_pretrained_weights  # noqa: E402, F401

model_urls = {
    "mobilenetv2_x1_0": "https://mega.nz/#!NKp2wAIA!1NH1pbNzY_M2hVk_hdsxNM1NUOWvvGPHhaNr-fASF6c",
    "mobilenetv2_x1_4": "https://mega.nz/#!RGhgEIwS!xN2s2ZdyqI6vQ3EwgmRXLEW3khr9tpXg96G9SUJugGk",
}
