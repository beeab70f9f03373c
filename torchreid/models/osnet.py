"""OSNet: Omni-Scale Network (Zhou et al., ICCV 2019; IBN variant from the TPAMI extension).

Layout (state-dict names equal the original Torchreid, so its zoo weights load unchanged)::

    conv1   7x7/2 conv + BN (IN for the IBN variant) + ReLU      → maxpool 3x3/2
    conv2   OSBlock x2, then [1x1 conv + 2x2 avgpool]            (``conv2.2``)
    conv3   OSBlock x2, then [1x1 conv + 2x2 avgpool]            (``conv3.2``)
    conv4   OSBlock x2
    conv5   1x1 conv
    GAP → fc (Linear + BN1d + ReLU, 512-d) → classifier

An OSBlock reduces the channels to C/4 with a 1x1 conv, runs four streams of 1, 2, 3 and 4 ``LightConv3x3``
(1x1 linear conv + depthwise 3x3 conv + BN + ReLU) whose outputs are weighted by one *shared* channel gate and
summed, projects back with a 1x1 conv, adds the (projected) input and applies ReLU (the IBN variant inserts an
InstanceNorm after the residual add in the conv2 blocks).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import PooledReIDModel, build_fc_layers, init_params
from .registry import register_model

__all__ = [
    "OSNET_CHANNELS",
    "ChannelGate",
    "Conv1x1",
    "Conv1x1Linear",
    "ConvLayer",
    "LightConv3x3",
    "OSBlock",
    "OSNet",
    "osnet_ibn_x1_0",
    "osnet_x0_5",
    "osnet_x0_25",
    "osnet_x0_75",
    "osnet_x1_0",
]

# Channels of conv1 and of the conv2/conv3/conv4 stages for each width multiplier.
OSNET_CHANNELS = {
    "x1_0": (64, 256, 384, 512),
    "x0_75": (48, 192, 288, 384),
    "x0_5": (32, 128, 192, 256),
    "x0_25": (16, 64, 96, 128),
}


# ---------------------------------------------------------------------------------------------------------------
# Basic layers (shared with osnet_ain)
# ---------------------------------------------------------------------------------------------------------------
class ConvLayer(nn.Module):
    """conv (no bias) → BN, or affine InstanceNorm when ``IN`` → ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        IN: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False, groups=groups
        )
        self.bn = nn.InstanceNorm2d(out_channels, affine=True) if IN else nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1(nn.Module):
    """1x1 conv (no bias) → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 1, stride=stride, padding=0, bias=False, groups=groups
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1Linear(nn.Module):
    """1x1 conv (no bias) → BN (optional), no activation."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, bn: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(out_channels) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return x


class LightConv3x3(nn.Module):
    """Lightweight 3x3 convolution: 1x1 linear conv → depthwise 3x3 conv → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1, stride=1, padding=0, bias=False)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, stride=1, padding=1, bias=False, groups=out_channels
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    """Aggregation gate: GAP → 1x1 conv (C → C/16) → ReLU → 1x1 conv → sigmoid; multiplies its input."""

    def __init__(self, in_channels: int, num_gates: int | None = None, reduction: int = 16) -> None:
        super().__init__()
        num_gates = in_channels if num_gates is None else num_gates
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(in_channels, in_channels // reduction, kernel_size=1, bias=True, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(in_channels // reduction, num_gates, kernel_size=1, bias=True, padding=0)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * g


# ---------------------------------------------------------------------------------------------------------------
# Omni-scale residual block
# ---------------------------------------------------------------------------------------------------------------
class OSBlock(nn.Module):
    """Omni-scale residual block with four streams (receptive fields 3, 5, 7, 9) and a shared gate."""

    def __init__(
        self, in_channels: int, out_channels: int, IN: bool = False, bottleneck_reduction: int = 4
    ) -> None:
        super().__init__()
        mid = out_channels // bottleneck_reduction
        self.conv1 = Conv1x1(in_channels, mid)
        self.conv2a = LightConv3x3(mid, mid)
        self.conv2b = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(2)])
        self.conv2c = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(3)])
        self.conv2d = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(4)])
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, out_channels)
        self.downsample = Conv1x1Linear(in_channels, out_channels) if in_channels != out_channels else None
        self.IN = nn.InstanceNorm2d(out_channels, affine=True) if IN else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        x1 = self.conv1(x)
        x2 = (
            self.gate(self.conv2a(x1))
            + self.gate(self.conv2b(x1))
            + self.gate(self.conv2c(x1))
            + self.gate(self.conv2d(x1))
        )
        x3 = self.conv3(x2)
        if self.downsample is not None:
            identity = self.downsample(identity)
        out = x3 + identity
        if self.IN is not None:
            out = self.IN(out)
        return F.relu(out)


# ---------------------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------------------
class OSNet(PooledReIDModel):
    """Omni-Scale Network.

    Args:
        num_classes: size of the identity classifier.
        blocks: block class of each of the three stages (conv2, conv3, conv4).
        layers: number of blocks per stage.
        channels: ``(conv1, conv2, conv3, conv4)`` output channels.
        feature_dim: size of the fc embedding (the eval-mode output); ``None`` or a negative value drops the fc
            layer (features are then the ``channels[3]``-d pooled conv5 maps).
        loss: ``'softmax'`` or ``'triplet'`` (training-mode output, see :func:`~torchreid.models.common.reid_output`).
        IN: the IBN variant (InstanceNorm in conv1 and in the conv2 blocks).
    """

    def __init__(
        self,
        num_classes: int,
        blocks: list[type[nn.Module]],
        layers: list[int],
        channels: list[int] | tuple[int, ...],
        feature_dim: int | None = 512,
        loss: str = "softmax",
        IN: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not (len(blocks) == len(layers) == len(channels) - 1):
            raise ValueError("OSNet expects len(blocks) == len(layers) == len(channels) - 1")
        self.loss = loss
        self.conv1 = ConvLayer(3, channels[0], 7, stride=2, padding=3, IN=IN)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = self._make_layer(blocks[0], layers[0], channels[0], channels[1], True, IN=IN)
        self.conv3 = self._make_layer(blocks[1], layers[1], channels[1], channels[2], True)
        self.conv4 = self._make_layer(blocks[2], layers[2], channels[2], channels[3], False)
        self.conv5 = Conv1x1(channels[3], channels[3])
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        fc_dims = None if feature_dim is None or feature_dim < 0 else [feature_dim]
        self.fc, self.feature_dim = build_fc_layers(fc_dims, channels[3], dropout_p=None)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    @staticmethod
    def _make_layer(
        block: type[nn.Module],
        num: int,
        in_channels: int,
        out_channels: int,
        reduce_spatial_size: bool,
        IN: bool = False,
    ) -> nn.Sequential:
        mods: list[nn.Module] = [block(in_channels, out_channels, IN=IN)]
        mods += [block(out_channels, out_channels, IN=IN) for _ in range(1, num)]
        if reduce_spatial_size:
            mods.append(nn.Sequential(Conv1x1(out_channels, out_channels), nn.AvgPool2d(2, stride=2)))
        return nn.Sequential(*mods)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        """The conv5 feature maps ``(B, C, H/16, W/16)``."""
        x = self.conv1(x)
        x = self.maxpool(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(x)
        return self.conv5(x)


# ---------------------------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------------------------
_SOURCE = "Google Drive (Torchreid model zoo, ImageNet-pretrained)"


def _osnet(width: str, num_classes: int, loss: str, IN: bool = False, **kwargs: Any) -> OSNet:
    return OSNet(
        num_classes,
        blocks=[OSBlock, OSBlock, OSBlock],
        layers=[2, 2, 2],
        channels=OSNET_CHANNELS[width],
        loss=loss,
        IN=IN,
        **kwargs,
    )


@register_model(
    pretrained_key="osnet_x1_0",
    feature_dim=512,
    weights="osnet_x1_0_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_x1_0(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNet:
    """OSNet, width x1.0 (2.2 M parameters without the classifier)."""
    return _osnet("x1_0", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_x0_75",
    feature_dim=512,
    weights="osnet_x0_75_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_x0_75(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNet:
    """OSNet, width x0.75."""
    return _osnet("x0_75", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_x0_5",
    feature_dim=512,
    weights="osnet_x0_5_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_x0_5(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNet:
    """OSNet, width x0.5."""
    return _osnet("x0_5", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_x0_25",
    feature_dim=512,
    weights="osnet_x0_25_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_x0_25(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNet:
    """OSNet, width x0.25 (0.2 M parameters without the classifier)."""
    return _osnet("x0_25", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_ibn_x1_0",
    feature_dim=512,
    weights="osnet_ibn_x1_0_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_ibn_x1_0(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNet:
    """OSNet x1.0 with instance-batch normalisation (IN in conv1 and in the conv2 blocks)."""
    return _osnet("x1_0", num_classes, loss, IN=True, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import init_pretrained_weights_by_key as init_pretrained_weights  # noqa: E402, F401
from .pretrained import KNOWN_WEIGHTS as _KNOWN  # noqa: E402

pretrained_urls = {
    k: _KNOWN[k].download_url
    for k in ("osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0")
}


class Conv3x3(nn.Module):
    """3x3 convolution + BN + ReLU (a block of the original not used by the OSNet variants)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False, groups=groups
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))
