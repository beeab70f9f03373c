"""ShuffleNet (Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
Devices", CVPR 2018) as a re-ID backbone.

Layout (state-dict names equal the original Torchreid)::

    conv1    3x3/2 conv (24) + BN + ReLU → 3x3/2 max pool
    stage2   4 units  (240 channels for g=3)
    stage3   8 units  (480)
    stage4   4 units  (960)
    GAP → classifier

A unit is grouped 1x1 conv → BN → ReLU → channel shuffle → depthwise 3x3 → BN → grouped 1x1 conv → BN, added to
its input (stride 1) or concatenated with a 3x3/2 average pool of it (stride 2), then ReLU. No ImageNet weights
exist for this model (as in the original).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import PooledReIDModel, init_params
from .registry import register_model

__all__ = ["ShuffleNet", "channel_shuffle", "shufflenet"]

# output channels of stage2-4 per number of groups
CFG = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088), 8: (384, 768, 1536)}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: ``(g, c/g) → (c/g, g)``."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


class Bottleneck(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, stride: int, num_groups: int, group_conv1x1: bool = True
    ) -> None:
        super().__init__()
        assert stride in (1, 2), f"stride must be 1 or 2, got {stride}"
        self.stride = stride
        mid = out_channels // 4
        if stride == 2:
            out_channels -= in_channels  # the shortcut is concatenated
        self.num_groups = num_groups
        self.conv1 = nn.Conv2d(in_channels, mid, 1, groups=num_groups if group_conv1x1 else 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, groups=num_groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = channel_shuffle(out, self.num_groups)
        out = self.bn2(self.conv2(out))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            return F.relu(torch.cat([self.shortcut(x), out], 1))
        return F.relu(x + out)


class ShuffleNet(PooledReIDModel):
    """ShuffleNet (1x) re-ID model with ``num_groups`` groups (960-d features for g=3)."""

    def __init__(self, num_classes: int, loss: str = "softmax", num_groups: int = 3, **kwargs: Any) -> None:
        super().__init__()
        self.loss = loss
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(24),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        c2, c3, c4 = CFG[num_groups]
        self.stage2 = self._stage(24, c2, 4, num_groups, group_conv1x1=False)
        self.stage3 = self._stage(c2, c3, 8, num_groups)
        self.stage4 = self._stage(c3, c4, 4, num_groups)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = c4
        self.classifier = nn.Linear(c4, num_classes)
        init_params(self)

    @staticmethod
    def _stage(in_c: int, out_c: int, n: int, groups: int, group_conv1x1: bool = True) -> nn.Sequential:
        units = [Bottleneck(in_c, out_c, 2, groups, group_conv1x1=group_conv1x1)]
        units += [Bottleneck(out_c, out_c, 1, groups) for _ in range(1, n)]
        return nn.Sequential(*units)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage4(self.stage3(self.stage2(self.conv1(x))))


@register_model(missing_weights="warn", feature_dim=960, source=None)
def shufflenet(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ShuffleNet:
    return ShuffleNet(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import init_pretrained_weights  # noqa: E402, F401

cfg = {k: list(v) for k, v in CFG.items()}
model_urls = {"imagenet": "https://mega.nz/#!RDpUlQCY!tr_5xBEkelzDjveIYBBcGcovNCOrgfiJO9kiidz9fZM"}


class ChannelShuffle(nn.Module):
    """The channel shuffle as a module (``num_groups`` groups)."""

    def __init__(self, num_groups: int) -> None:
        super().__init__()
        self.g = num_groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.g)
