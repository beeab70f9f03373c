"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017) as a re-ID
backbone.

Layout (state-dict names equal the original Torchreid, which followed the ``pretrainedmodels`` package)::

    conv1 3x3/2 (32) + bn1 + ReLU → conv2 3x3 (64) + bn2 + ReLU
    block1-3    entry flow (128, 256, 728; each halves the resolution)
    block4-11   middle flow (728, 3 separable convs each)
    block12     exit flow (728 → 1024, halves the resolution)
    conv3 (separable, 1536) + bn3 + ReLU → conv4 (separable, 2048) + bn4 + ReLU
    GAP → optional fc layers (``fc_dims``) → classifier

A block is ``rep`` (ReLU → separable conv → BN, repeated; a 3x3/2 max pool when it downsamples) plus a
shortcut (``skip`` 1x1 conv + ``skipbn`` when the shape changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ._zoo_weights import cadene_weights
from .common import PooledReIDModel, build_fc_layers, init_params
from .registry import register_model

__all__ = ["Block", "SeparableConv2d", "Xception", "xception"]

_META = cadene_weights("xception", "xception-43020ad28.pth")


class SeparableConv2d(nn.Module):
    """Depthwise ``kxk`` conv (``conv1``) followed by a pointwise 1x1 conv (``pointwise``), both without bias."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, in_channels, kernel_size, stride, padding, dilation, groups=in_channels, bias=bias
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, 1, 0, 1, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """Xception block of ``reps`` separable convs with a residual shortcut.

    ``grow_first`` changes the channel count in the first separable conv (else in the last);
    ``start_with_relu=False`` drops the leading ReLU (the first block follows a ReLU already).
    """

    def __init__(
        self,
        in_filters: int,
        out_filters: int,
        reps: int,
        strides: int = 1,
        start_with_relu: bool = True,
        grow_first: bool = True,
    ) -> None:
        super().__init__()
        if out_filters != in_filters or strides != 1:
            self.skip = nn.Conv2d(in_filters, out_filters, 1, stride=strides, bias=False)
            self.skipbn = nn.BatchNorm2d(out_filters)
        else:
            self.skip = None

        def unit(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.ReLU(inplace=True),
                SeparableConv2d(cin, cout, 3, stride=1, padding=1),
                nn.BatchNorm2d(cout),
            ]

        rep: list[nn.Module] = []
        filters = in_filters
        if grow_first:
            rep += unit(in_filters, out_filters)
            filters = out_filters
        for _ in range(reps - 1):
            rep += unit(filters, filters)
        if not grow_first:
            rep += unit(in_filters, out_filters)
        if start_with_relu:
            rep[0] = nn.ReLU(inplace=False)  # the input is still needed by the shortcut
        else:
            rep = rep[1:]
        if strides != 1:
            rep.append(nn.MaxPool2d(3, strides, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.rep(inp)
        skip = inp if self.skip is None else self.skipbn(self.skip(inp))
        return x + skip


class Xception(PooledReIDModel):
    """Xception re-ID model (2048-d features, or the last fc dimension)."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        fc_dims: Sequence[int] | None = None,
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.block1 = Block(64, 128, 2, 2, start_with_relu=False, grow_first=True)
        self.block2 = Block(128, 256, 2, 2, start_with_relu=True, grow_first=True)
        self.block3 = Block(256, 728, 2, 2, start_with_relu=True, grow_first=True)
        for i in range(4, 12):
            setattr(self, f"block{i}", Block(728, 728, 3, 1, start_with_relu=True, grow_first=True))
        self.block12 = Block(728, 1024, 2, 2, start_with_relu=True, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(1536)
        self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(2048)
        self.relu = nn.ReLU(inplace=True)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, 2048, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.relu(self.bn3(self.conv3(x)))
        return self.relu(self.bn4(self.conv4(x)))


@register_model(feature_dim=2048, **_META)
def xception(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> Xception:
    kwargs.setdefault("fc_dims", None)
    return Xception(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import cadene_settings, init_pretrained_weights  # noqa: E402, F401

pretrained_settings = {"xception": cadene_settings("xception-43020ad28.pth", 299, scale=0.8975)}
