"""Harmonious Attention CNN (HACNN; Li et al., "Harmonious Attention Network for Person Re-identification",
CVPR 2018).

Layout (state-dict names equal the original Torchreid)::

    conv            3x3/2 ConvBlock (32)
    inception1-3    Inception-A + Inception-B (stride 2) blocks (128, 256, 384 channels)
    ha1-3           harmonious attention: soft (spatial x channel) attention that re-weights the global
                    stream, and hard attention that predicts the translation of 4 horizontal regions
    global branch   GAP → fc_global (512) → classifier_global
    local branch    per region: the spatial transformer crops the previous block's output, which is added
                    to the region's running local features and passed through local_conv1-3 (shared over
                    regions); GAP, concatenated → fc_local (512) → classifier_local

The input must be 160x64 (height x width); other sizes raise a ``ValueError``.

Outputs: eval → ``cat(l2norm(global), l2norm(local))`` of shape ``(B, 1024)``; train + ``'softmax'`` →
``(logits_global, logits_local)``; train + ``'triplet'`` → ``((logits_global, logits_local),
(features_global, features_local))``. With ``learn_region=False`` only the global branch exists and the
standard contract applies. **Improve** over the original: nothing is ever moved to CUDA by the model; every
tensor it creates follows the input's device and dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_loss, reid_output
from .registry import register_model

__all__ = ["HACNN", "hacnn"]

INPUT_HW = (160, 64)
NUM_REGIONS = 4
# (s_w, s_h) scale of each region's affine transform: full width, a quarter of the height
_REGION_SCALE = ((1.0, 0.0), (0.0, 0.25))
# output sizes of the spatial transformer per block (for 160x64 inputs)
_LOCAL_SIZES = ((24, 28), (12, 14), (6, 7))


class ConvBlock(nn.Module):
    """Conv (with bias) → BN → ReLU."""

    def __init__(self, in_c: int, out_c: int, k: int, s: int = 1, p: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, k, stride=s, padding=p)
        self.bn = nn.BatchNorm2d(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 4
        self.stream1 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, p=1))
        self.stream2 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, p=1))
        self.stream3 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, p=1))
        self.stream4 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), ConvBlock(in_channels, mid, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x), self.stream4(x)], 1)


class InceptionB(nn.Module):
    """Halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 4
        self.stream1 = nn.Sequential(ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, s=2, p=1))
        self.stream2 = nn.Sequential(
            ConvBlock(in_channels, mid, 1), ConvBlock(mid, mid, 3, p=1), ConvBlock(mid, mid, 3, s=2, p=1)
        )
        self.stream3 = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), ConvBlock(in_channels, mid * 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stream1(x), self.stream2(x), self.stream3(x)], 1)


class SpatialAttn(nn.Module):
    """Channel mean → 3x3/2 conv → bilinear x2 upsampling → 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvBlock(1, 1, 3, s=2, p=1)
        self.conv2 = ConvBlock(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x.mean(1, keepdim=True))
        x = F.interpolate(x, (x.size(2) * 2, x.size(3) * 2), mode="bilinear", align_corners=True)
        return self.conv2(x)


class ChannelAttn(nn.Module):
    """Global average pool → 1x1 conv (C/r) → 1x1 conv (C)."""

    def __init__(self, in_channels: int, reduction_rate: int = 16) -> None:
        super().__init__()
        if in_channels % reduction_rate != 0:
            raise ValueError(f"in_channels ({in_channels}) must be divisible by {reduction_rate}")
        self.conv1 = ConvBlock(in_channels, in_channels // reduction_rate, 1)
        self.conv2 = ConvBlock(in_channels // reduction_rate, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))


class SoftAttn(nn.Module):
    """Spatial x channel attention → 1x1 conv → sigmoid: a per-position, per-channel weight in (0, 1)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.spatial_attn = SpatialAttn()
        self.channel_attn = ChannelAttn(in_channels)
        self.conv = ConvBlock(in_channels, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(self.spatial_attn(x) * self.channel_attn(x)))


class HardAttn(nn.Module):
    """Predicts the (x, y) translation of each of the 4 regions (tanh-bounded), initialised to 4 horizontal
    stripes."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, NUM_REGIONS * 2)
        self.init_params()

    def init_params(self) -> None:
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([0, -0.75, 0, -0.25, 0, 0.25, 0, 0.75], dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = torch.tanh(self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1)))
        return theta.view(-1, NUM_REGIONS, 2)


class HarmAttn(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.soft_attn = SoftAttn(in_channels)
        self.hard_attn = HardAttn(in_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.soft_attn(x), self.hard_attn(x)


class HACNN(nn.Module):
    """HACNN re-ID model.

    Args:
        num_classes: size of both identity classifiers.
        loss: ``'softmax'`` or ``'triplet'``.
        nchannels: channels of the three blocks.
        feat_dim: dimension of each branch's embedding.
        learn_region: build the local (region) branch.
    """

    def __init__(
        self,
        num_classes: int,
        loss: str = "softmax",
        nchannels: Sequence[int] = (128, 256, 384),
        feat_dim: int = 512,
        learn_region: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.learn_region = learn_region
        c1, c2, c3 = nchannels
        self.conv = ConvBlock(3, 32, 3, s=2, p=1)
        self.inception1 = nn.Sequential(InceptionA(32, c1), InceptionB(c1, c1))
        self.ha1 = HarmAttn(c1)
        self.inception2 = nn.Sequential(InceptionA(c1, c2), InceptionB(c2, c2))
        self.ha2 = HarmAttn(c2)
        self.inception3 = nn.Sequential(InceptionA(c2, c3), InceptionB(c3, c3))
        self.ha3 = HarmAttn(c3)
        self.fc_global = nn.Sequential(nn.Linear(c3, feat_dim), nn.BatchNorm1d(feat_dim), nn.ReLU())
        self.classifier_global = nn.Linear(feat_dim, num_classes)
        if learn_region:
            self.local_conv1 = InceptionB(32, c1)
            self.local_conv2 = InceptionB(c1, c2)
            self.local_conv3 = InceptionB(c2, c3)
            self.fc_local = nn.Sequential(
                nn.Linear(c3 * NUM_REGIONS, feat_dim), nn.BatchNorm1d(feat_dim), nn.ReLU()
            )
            self.classifier_local = nn.Linear(feat_dim, num_classes)
            self.feature_dim = feat_dim * 2
        else:
            self.feature_dim = feat_dim

    @staticmethod
    def transform_theta(theta_i: torch.Tensor) -> torch.Tensor:
        """``(B, 2)`` region translation → ``(B, 2, 3)`` affine matrix with the fixed region scale, on the
        device and in the dtype of ``theta_i``."""
        theta = theta_i.new_zeros(theta_i.size(0), 2, 3)
        theta[:, :, :2] = theta_i.new_tensor(_REGION_SCALE)
        theta[:, :, -1] = theta_i
        return theta

    @staticmethod
    def stn(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(theta, list(x.size()), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)

    def _local_step(
        self,
        source: torch.Tensor,
        theta: torch.Tensor,
        size: tuple[int, int],
        conv: nn.Module,
        previous: list[torch.Tensor] | None,
    ) -> list[torch.Tensor]:
        out = []
        for r in range(NUM_REGIONS):
            t = self.stn(source, self.transform_theta(theta[:, r, :]))
            t = F.interpolate(t, size, mode="bilinear", align_corners=True)
            if previous is not None:
                t = t + previous[r]
            out.append(conv(t))
        return out

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[-2:]) != INPUT_HW:
            raise ValueError(
                f"hacnn needs input images of {INPUT_HW[0]}x{INPUT_HW[1]} (height x width), got a tensor of shape "
                f"{tuple(x.shape)}. Set data.height={INPUT_HW[0]} and data.width={INPUT_HW[1]}."
            )

    def forward(self, x: torch.Tensor) -> Any:
        self._check_input(x)
        if self.training:
            check_loss(self.loss)
        x = self.conv(x)
        x1 = self.inception1(x)
        x1_attn, x1_theta = self.ha1(x1)
        x1_out = x1 * x1_attn
        x2 = self.inception2(x1_out)
        x2_attn, x2_theta = self.ha2(x2)
        x2_out = x2 * x2_attn
        x3 = self.inception3(x2_out)
        x3_attn, x3_theta = self.ha3(x3)
        x3_out = x3 * x3_attn
        x_global = self.fc_global(F.adaptive_avg_pool2d(x3_out, 1).flatten(1))
        if not self.learn_region:
            return reid_output(self.training, self.loss, x_global, self.classifier_global)

        local = self._local_step(x, x1_theta, _LOCAL_SIZES[0], self.local_conv1, None)
        local = self._local_step(x1_out, x2_theta, _LOCAL_SIZES[1], self.local_conv2, local)
        local = self._local_step(x2_out, x3_theta, _LOCAL_SIZES[2], self.local_conv3, local)
        x_local = self.fc_local(torch.cat([F.adaptive_avg_pool2d(t, 1).flatten(1) for t in local], 1))

        if not self.training:
            return torch.cat([F.normalize(x_global, p=2, dim=1), F.normalize(x_local, p=2, dim=1)], 1)
        logits = (self.classifier_global(x_global), self.classifier_local(x_local))
        if self.loss == "softmax":
            return logits
        return logits, (x_global, x_local)


@register_model(missing_weights="warn", feature_dim=1024, input_size=(3, *INPUT_HW), source=None)
def hacnn(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> HACNN:
    """HACNN; ``use_gpu`` is accepted and ignored (the model follows its input's device)."""
    return HACNN(num_classes, loss, **kwargs)
