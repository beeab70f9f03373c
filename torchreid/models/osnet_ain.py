"""OSNet-AIN: OSNet with instance normalisation placed by architecture search (Zhou et al., TPAMI 2021).

Differences from :mod:`torchreid.models.osnet` (state-dict names equal the original Torchreid's):

- conv1 uses InstanceNorm; the pooling transitions are separate modules ``pool2`` / ``pool3``;
- the four streams of a block live in ``conv2`` (a ``ModuleList`` of ``LightConvStream``, depth 1..4);
- ``OSBlockINin`` normalises the residual branch with an affine InstanceNorm *before* the add (its last 1x1
  conv has no BN); the searched stage layout is ``[INin, INin] / [OS, INin] / [INin, OS]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import PooledReIDModel, build_fc_layers, init_params
from .osnet import OSNET_CHANNELS, ChannelGate, Conv1x1, Conv1x1Linear, ConvLayer, LightConv3x3
from .registry import register_model

__all__ = [
    "LightConvStream",
    "OSBlock",
    "OSBlockAIN",
    "OSBlockINin",
    "OSNet",
    "OSNetAIN",
    "osnet_ain_x0_5",
    "osnet_ain_x0_25",
    "osnet_ain_x0_75",
    "osnet_ain_x1_0",
]


class LightConvStream(nn.Module):
    """``depth`` stacked :class:`LightConv3x3` (one stream of an omni-scale block)."""

    def __init__(self, in_channels: int, out_channels: int, depth: int) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        mods = [LightConv3x3(in_channels, out_channels)]
        mods += [LightConv3x3(out_channels, out_channels) for _ in range(depth - 1)]
        self.layers = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class OSBlockAIN(nn.Module):
    """Omni-scale block of OSNet-AIN (no instance normalisation)."""

    def __init__(
        self, in_channels: int, out_channels: int, reduction: int = 4, T: int = 4, **kwargs: Any
    ) -> None:
        super().__init__()
        mid = out_channels // reduction
        self.conv1 = Conv1x1(in_channels, mid)
        self.conv2 = nn.ModuleList([LightConvStream(mid, mid, t) for t in range(1, T + 1)])
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, out_channels)
        self.downsample = Conv1x1Linear(in_channels, out_channels) if in_channels != out_channels else None

    def _streams(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = torch.zeros_like(x1)
        for stream in self.conv2:
            x2 = x2 + self.gate(stream(x1))
        return x2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x3 = self.conv3(self._streams(x))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(x3 + identity)


class OSBlockINin(OSBlockAIN):
    """Omni-scale block with InstanceNorm inside the residual branch (``conv3`` without BN, then ``IN``)."""

    def __init__(
        self, in_channels: int, out_channels: int, reduction: int = 4, T: int = 4, **kwargs: Any
    ) -> None:
        super().__init__(in_channels, out_channels, reduction, T)
        mid = out_channels // reduction
        self.conv3 = Conv1x1Linear(mid, out_channels, bn=False)
        self.IN = nn.InstanceNorm2d(out_channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x3 = self.IN(self.conv3(self._streams(x)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(x3 + identity)


class OSNetAIN(PooledReIDModel):
    """OSNet-AIN backbone + fc embedding + classifier (see :class:`torchreid.models.osnet.OSNet`)."""

    def __init__(
        self,
        num_classes: int,
        blocks: list[list[type[nn.Module]]],
        layers: list[int],
        channels: list[int] | tuple[int, ...],
        feature_dim: int | None = 512,
        loss: str = "softmax",
        conv1_IN: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not (len(blocks) == len(layers) == len(channels) - 1):
            raise ValueError("OSNetAIN expects len(blocks) == len(layers) == len(channels) - 1")
        self.loss = loss
        self.conv1 = ConvLayer(3, channels[0], 7, stride=2, padding=3, IN=conv1_IN)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = self._make_layer(blocks[0], channels[0], channels[1])
        self.pool2 = nn.Sequential(Conv1x1(channels[1], channels[1]), nn.AvgPool2d(2, stride=2))
        self.conv3 = self._make_layer(blocks[1], channels[1], channels[2])
        self.pool3 = nn.Sequential(Conv1x1(channels[2], channels[2]), nn.AvgPool2d(2, stride=2))
        self.conv4 = self._make_layer(blocks[2], channels[2], channels[3])
        self.conv5 = Conv1x1(channels[3], channels[3])
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        fc_dims = None if feature_dim is None or feature_dim < 0 else [feature_dim]
        self.fc, self.feature_dim = build_fc_layers(fc_dims, channels[3])
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    @staticmethod
    def _make_layer(blocks: list[type[nn.Module]], in_channels: int, out_channels: int) -> nn.Sequential:
        mods = [blocks[0](in_channels, out_channels)]
        mods += [b(out_channels, out_channels) for b in blocks[1:]]
        return nn.Sequential(*mods)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        """The conv5 feature maps ``(B, C, H/16, W/16)``."""
        x = self.maxpool(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.pool3(self.conv3(x))
        return self.conv5(self.conv4(x))


_BLOCKS = [[OSBlockINin, OSBlockINin], [OSBlockAIN, OSBlockINin], [OSBlockINin, OSBlockAIN]]
_SOURCE = "Google Drive (Torchreid model zoo, ImageNet-pretrained)"


def _osnet_ain(width: str, num_classes: int, loss: str, **kwargs: Any) -> OSNetAIN:
    return OSNetAIN(
        num_classes, blocks=_BLOCKS, layers=[2, 2, 2], channels=OSNET_CHANNELS[width], loss=loss, **kwargs
    )


@register_model(
    pretrained_key="osnet_ain_x1_0",
    feature_dim=512,
    weights="osnet_ain_x1_0_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_ain_x1_0(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNetAIN:
    """OSNet-AIN, width x1.0 (the cross-domain model of the zoo)."""
    return _osnet_ain("x1_0", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_ain_x0_75",
    feature_dim=512,
    weights="osnet_ain_x0_75_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_ain_x0_75(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNetAIN:
    """OSNet-AIN, width x0.75."""
    return _osnet_ain("x0_75", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_ain_x0_5",
    feature_dim=512,
    weights="osnet_ain_x0_5_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_ain_x0_5(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNetAIN:
    """OSNet-AIN, width x0.5."""
    return _osnet_ain("x0_5", num_classes, loss, **kwargs)


@register_model(
    pretrained_key="osnet_ain_x0_25",
    feature_dim=512,
    weights="osnet_ain_x0_25_imagenet.pth",
    source=_SOURCE,
    license="MIT",
)
def osnet_ain_x0_25(
    num_classes: int = 1000, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> OSNetAIN:
    """OSNet-AIN, width x0.25."""
    return _osnet_ain("x0_25", num_classes, loss, **kwargs)


# the original module's class names (``from torchreid.models.osnet_ain import OSNet, OSBlock``)
OSNet = OSNetAIN
OSBlock = OSBlockAIN

# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import init_pretrained_weights_by_key as init_pretrained_weights  # noqa: E402, F401
from .osnet import Conv3x3  # noqa: E402, F401
from .pretrained import KNOWN_WEIGHTS as _KNOWN  # noqa: E402

pretrained_urls = {
    k: _KNOWN[k].download_url
    for k in ("osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25")
}
