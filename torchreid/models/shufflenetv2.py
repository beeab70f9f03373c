"""ShuffleNet V2 (Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
ECCV 2018) as a re-ID backbone.

Layout (state-dict names equal the original Torchreid and torchvision)::

    conv1    3x3/2 conv (24) + BN + ReLU → 3x3/2 max pool
    stage2-4 4 / 8 / 4 units (the first of each halves the resolution)
    conv5    1x1 conv + BN + ReLU (1024, 2048 for x2.0)
    GAP → classifier

ImageNet weights come from torchvision for all four widths (the original had none for x1.5 and x2.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ._zoo_weights import torchvision_weights
from .common import PooledReIDModel, init_params, model_variant
from .shufflenet import channel_shuffle

__all__ = [
    "ShuffleNetV2",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class InvertedResidual(nn.Module):
    """Stride 1: split the channels, transform one half; stride 2: transform the input twice (``branch1``,
    ``branch2``). The halves are concatenated and shuffled."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"illegal stride value {stride}")
        self.stride = stride
        branch = oup // 2
        if stride == 1 and inp != branch * 2:
            raise ValueError(f"a stride-1 unit needs inp == oup, got {inp} and {oup}")
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch, 1, bias=False),
                nn.BatchNorm2d(branch),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
            _depthwise(branch, stride),
            nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(PooledReIDModel):
    """ShuffleNet V2 re-ID model.

    Args:
        stages_repeats: units in stage2-4.
        stages_out_channels: channels of conv1, stage2-4 and conv5.
    """

    def __init__(
        self,
        num_classes: int,
        loss: str,
        stages_repeats: Sequence[int],
        stages_out_channels: Sequence[int],
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError("expected 3 stage repeats and 5 output channel counts")
        in_c = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, in_c, 3, 2, 1, bias=False), nn.BatchNorm2d(in_c), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, out_c in zip(
            ("stage2", "stage3", "stage4"), stages_repeats, stages_out_channels[1:]
        ):
            units = [InvertedResidual(in_c, out_c, 2)] + [
                InvertedResidual(out_c, out_c, 1) for _ in range(repeats - 1)
            ]
            setattr(self, name, nn.Sequential(*units))
            in_c = out_c
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(in_c, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last), nn.ReLU(inplace=True)
        )
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = last
        self.classifier = nn.Linear(last, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.stage4(self.stage3(self.stage2(x))))


# (width, weights enum, weights file, stage channels, feature size) of each registered width.
_WIDTHS = [
    ("0_5", "ShuffleNet_V2_X0_5_Weights", "shufflenetv2_x0.5-f707e7126e.pth", [24, 48, 96, 192, 1024], 1024),
    ("1_0", "ShuffleNet_V2_X1_0_Weights", "shufflenetv2_x1-5666bf0f80.pth", [24, 116, 232, 464, 1024], 1024),
    ("1_5", "ShuffleNet_V2_X1_5_Weights", "shufflenetv2_x1_5-3c479a10.pth", [24, 176, 352, 704, 1024], 1024),
    ("2_0", "ShuffleNet_V2_X2_0_Weights", "shufflenetv2_x2_0-8be3c8ee.pth", [24, 244, 488, 976, 2048], 2048),
]
_FACTORIES = {
    f"shufflenet_v2_x{width}": model_variant(
        f"shufflenet_v2_x{width}",
        ShuffleNetV2,
        stages_repeats=[4, 8, 4],
        stages_out_channels=channels,
        metadata=torchvision_weights(enum, filename, feature_dim),
    )
    for width, enum, filename, channels, feature_dim in _WIDTHS
}
shufflenet_v2_x0_5 = _FACTORIES["shufflenet_v2_x0_5"]
shufflenet_v2_x1_0 = _FACTORIES["shufflenet_v2_x1_0"]
shufflenet_v2_x1_5 = _FACTORIES["shufflenet_v2_x1_5"]
shufflenet_v2_x2_0 = _FACTORIES["shufflenet_v2_x2_0"]


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import SHUFFLENETV2_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
