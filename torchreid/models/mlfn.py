"""Multi-Level Factorisation Net (MLFN; Chang et al., "Multi-Level Factorisation Net for Person
Re-Identification", CVPR 2018).

Layout (state-dict names equal the original Torchreid)::

    conv1 7x7/2 (with bias) + bn1 + ReLU → 3x3/2 max pool
    feature.0-15   MLFN blocks (3 x 256, 4 x 512, 6 x 1024, 3 x 2048 channels; strided at 3, 7, 13)
    fc_x           GAP of the last block → 1x1 conv + BN + ReLU (1024)
    fc_s           the 16 blocks' factor-selection vectors (16 x 32) → 1x1 conv + BN + ReLU (1024)
    features = (fc_x + fc_s) / 2 → classifier

An MLFN block is a ResNeXt-style bottleneck (32 groups = 32 latent factor modules) whose group outputs are
weighted by a factor selection module (GAP → three 1x1 conv + BN layers → sigmoid, one weight per group).

The original's ImageNet weights were published on mega.nz and never downloaded automatically: place
``mlfn_imagenet.pth`` in ``$TORCH_HOME/checkpoints`` to use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._zoo_weights import manual_weights
from .common import init_params, reid_output
from .registry import register_model

__all__ = ["MLFN", "MLFNBlock", "mlfn"]

_META = manual_weights(
    "mlfn", "mlfn_imagenet.pth", "https://mega.nz/#!YHxAhaxC!yu9E6zWl0x5zscSouTdbZu8gdFFytDdl-RAdD2DEfpk"
)


class MLFNBlock(nn.Module):
    """Factor modules (grouped bottleneck) gated per group by the factor selection module ``fsm``; returns the
    block output and the selection vector ``(B, groups, 1, 1)``."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, fsm_channels: Sequence[int], groups: int = 32
    ) -> None:
        super().__init__()
        self.groups = groups
        mid = out_channels // 2
        self.fm_conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.fm_bn1 = nn.BatchNorm2d(mid)
        self.fm_conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False, groups=groups)
        self.fm_bn2 = nn.BatchNorm2d(mid)
        self.fm_conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.fm_bn3 = nn.BatchNorm2d(out_channels)
        f0, f1 = fsm_channels
        self.fsm = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, f0, 1),
            nn.BatchNorm2d(f0),
            nn.ReLU(inplace=True),
            nn.Conv2d(f0, f1, 1),
            nn.BatchNorm2d(f1),
            nn.ReLU(inplace=True),
            nn.Conv2d(f1, groups, 1),
            nn.BatchNorm2d(groups),
            nn.Sigmoid(),
        )
        self.downsample = None
        if in_channels != out_channels or stride > 1:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual = x if self.downsample is None else self.downsample(x)
        s = self.fsm(x)
        out = F.relu(self.fm_bn1(self.fm_conv1(x)))
        out = F.relu(self.fm_bn2(self.fm_conv2(out)))
        # each group's channels are contiguous: weight all channels of group g by s[:, g]
        b, c = out.shape[:2]
        gate = (
            s.view(b, self.groups, 1, 1, 1).expand(b, self.groups, c // self.groups, 1, 1).reshape(b, c, 1, 1)
        )
        out = F.relu(self.fm_bn3(self.fm_conv3(out * gate)))
        return F.relu(residual + out), s


class MLFN(nn.Module):
    """MLFN re-ID model (``embed_dim``-d features)."""

    def __init__(
        self,
        num_classes: int,
        loss: str = "softmax",
        groups: int = 32,
        channels: Sequence[int] = (64, 256, 512, 1024, 2048),
        embed_dim: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.groups = groups
        self.conv1 = nn.Conv2d(3, channels[0], 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        # (blocks, output channels, stride of the first block, fsm channels) per stage
        stages = (
            (3, channels[1], 1, (128, 64)),
            (4, channels[2], 2, (256, 128)),
            (6, channels[3], 2, (512, 128)),
            (3, channels[4], 2, (512, 128)),
        )
        blocks: list[nn.Module] = []
        in_c = channels[0]
        for n, out_c, stride, fsm in stages:
            for i in range(n):
                blocks.append(MLFNBlock(in_c, out_c, stride if i == 0 else 1, fsm, groups))
                in_c = out_c
        self.feature = nn.ModuleList(blocks)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc_x = nn.Sequential(
            nn.Conv2d(channels[4], embed_dim, 1, bias=False), nn.BatchNorm2d(embed_dim), nn.ReLU(inplace=True)
        )
        self.fc_s = nn.Sequential(
            nn.Conv2d(groups * len(blocks), embed_dim, 1, bias=False),
            nn.BatchNorm2d(embed_dim),
            nn.ReLU(inplace=True),
        )
        self.feature_dim = embed_dim
        self.classifier = nn.Linear(embed_dim, num_classes)
        init_params(self)

    def forward(self, x: torch.Tensor) -> Any:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        s_hat = []
        for block in self.feature:
            x, s = block(x)
            s_hat.append(s)
        v = (self.fc_x(self.global_avgpool(x)) + self.fc_s(torch.cat(s_hat, 1))) * 0.5
        return reid_output(self.training, self.loss, v.flatten(1), self.classifier)


@register_model(feature_dim=1024, **_META)
def mlfn(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> MLFN:
    return MLFN(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import init_pretrained_weights  # noqa: E402, F401

model_urls = {"imagenet": "https://mega.nz/#!YHxAhaxC!yu9E6zWl0x5zscSouTdbZu8gdFFytDdl-RAdD2DEfpk"}
