"""Part-based Convolutional Baseline (PCB; Sun et al., "Beyond Part Models: Person Retrieval with Refined Part
Pooling", ECCV 2018).

A ResNet-50 (:mod:`torchreid.models.resnet`, ``last_stride=1``) whose ``layer4`` maps are average-pooled into
``parts`` horizontal stripes. Training: dropout → ``conv5`` (1x1 conv + BN + ReLU to ``reduced_dim``) → one
classifier per part (``classifier.<i>``); the output is the list of part logits (and, with ``'triplet'``, the
per-part L2-normalised pooled features flattened). Eval: the pooled ``layer4`` stripes, each L2-normalised over
its channels, concatenated to ``(B, 2048·parts)``. State-dict names equal the original Torchreid; ImageNet
weights are torchvision's ResNet-50.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_loss, init_params
from .registry import register_model
from .resnet import Bottleneck, ResNet

__all__ = ["PCB", "DimReduceLayer", "pcb_p4", "pcb_p6"]


class DimReduceLayer(nn.Module):
    """1x1 conv (no bias) → BN → ReLU / LeakyReLU(0.1) / nothing."""

    def __init__(self, in_channels: int, out_channels: int, nonlinear: str | None) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if nonlinear == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif nonlinear == "leakyrelu":
            layers.append(nn.LeakyReLU(0.1))
        elif nonlinear is not None:
            raise ValueError(f"Unknown nonlinearity {nonlinear!r}: 'relu', 'leakyrelu' or None expected")
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class PCB(ResNet):
    """PCB re-ID model on a ResNet backbone (``layer4`` stride 1)."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        block: type = Bottleneck,
        layers: Any = (3, 4, 6, 3),
        parts: int = 6,
        reduced_dim: int = 256,
        nonlinear: str | None = "relu",
        **kwargs: Any,
    ) -> None:
        kwargs.pop("fc_dims", None)
        kwargs["last_stride"] = 1
        super().__init__(num_classes, loss, block=block, layers=layers, **kwargs)
        del self.classifier  # re-created after conv5, keeping the original's state-dict order
        self.parts = parts
        self.parts_avgpool = nn.AdaptiveAvgPool2d((parts, 1))
        self.dropout = nn.Dropout(p=0.5)
        self.conv5 = DimReduceLayer(512 * block.expansion, reduced_dim, nonlinear=nonlinear)
        self.classifier = nn.ModuleList([nn.Linear(reduced_dim, num_classes) for _ in range(parts)])
        self.feature_dim = 512 * block.expansion * parts
        init_params(self.conv5)
        init_params(self.classifier)

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        f = self.featuremaps(x)
        if return_featuremaps:
            return f
        v_g = self.parts_avgpool(f)  # (B, C, parts, 1)
        if not self.training:
            return F.normalize(v_g, p=2, dim=1).flatten(1)
        check_loss(self.loss)
        v_h = self.conv5(self.dropout(v_g))
        logits = [self.classifier[i](v_h[:, :, i, :].flatten(1)) for i in range(self.parts)]
        if self.loss == "softmax":
            return logits
        return logits, F.normalize(v_g, p=2, dim=1).flatten(1)


def _pcb(num_classes: int, loss: str, parts: int, **kwargs: Any) -> PCB:
    kwargs.setdefault("reduced_dim", 256)
    kwargs.setdefault("nonlinear", "relu")
    return PCB(num_classes, loss, parts=parts, **kwargs)


_TV = {"weights": "resnet50-0676ba61.pth", "source": "torchvision", "license": "BSD-3-Clause"}


@register_model(pretrained_key="torchvision:ResNet50_Weights.IMAGENET1K_V1", feature_dim=12288, **_TV)
def pcb_p6(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> PCB:
    """PCB with 6 parts (eval features: 6 x 2048)."""
    return _pcb(num_classes, loss, 6, **kwargs)


@register_model(pretrained_key="torchvision:ResNet50_Weights.IMAGENET1K_V1", feature_dim=8192, **_TV)
def pcb_p4(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> PCB:
    """PCB with 4 parts (eval features: 4 x 2048)."""
    return _pcb(num_classes, loss, 4, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as _URLS  # noqa: E402
from ._legacy import init_pretrained_weights  # noqa: E402, F401
from .resnet import BasicBlock, conv3x3  # noqa: E402, F401

model_urls = {k: _URLS[k] for k in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")}
