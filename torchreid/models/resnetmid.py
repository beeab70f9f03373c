"""ResNet-Mid (Yu et al., "The Devil is in the Middle: Exploiting Mid-level Representations for
Cross-Domain Instance Matching", 2017) as a re-ID model.

A ResNet-50 (:mod:`torchreid.models.resnet`) whose first two ``layer4`` blocks are pooled, concatenated and fused
by ``fc_fusion`` (Linear 4096 → 1024 + BN1d + ReLU); the features are ``[fused mid-level (1024), last block
(2048)]`` → 3072-d → classifier. State-dict names equal the original Torchreid; ImageNet weights are
torchvision's ResNet-50.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .common import build_fc_layers, init_params, reid_output
from .registry import register_model
from .resnet import BasicBlock, Bottleneck, ResNet

__all__ = ["ResNetMid", "resnet50mid"]


class ResNetMid(ResNet):
    """ResNet-Mid; the arguments in the original's order, then ``dropout_p`` (after each fusion fc layer)."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        block: type[BasicBlock | Bottleneck] = Bottleneck,
        layers: Sequence[int] = (3, 4, 6, 3),
        last_stride: int = 2,
        fc_dims: Sequence[int] | None = (1024,),
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not fc_dims:
            raise ValueError("ResNetMid needs fc_dims for its mid-level fusion layer")
        super().__init__(num_classes, loss, block=block, layers=layers, last_stride=last_stride, **kwargs)
        del self.classifier  # re-created after fc_fusion, keeping the original's state-dict order
        width = 512 * block.expansion
        self.fc_fusion, fused_dim = build_fc_layers(list(fc_dims), width * 2, dropout_p)
        self.feature_dim = fused_dim + width
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self.fc_fusion)
        init_params(self.classifier)

    def featuremaps_mid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs of the last three ``layer4`` blocks."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        x4a = self.layer4[0](x)
        x4b = self.layer4[1](x4a)
        x4c = self.layer4[2](x4b)
        return x4a, x4b, x4c

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        x4a, x4b, x4c = self.featuremaps_mid(x)
        if return_featuremaps:
            return x4c
        v4ab = torch.cat([self.global_avgpool(x4a), self.global_avgpool(x4b)], 1).flatten(1)
        v = torch.cat([self.fc_fusion(v4ab), self.global_avgpool(x4c).flatten(1)], 1)
        return reid_output(self.training, self.loss, v, self.classifier)


@register_model(
    pretrained_key="torchvision:ResNet50_Weights.IMAGENET1K_V1",
    feature_dim=3072,
    weights="resnet50-0676ba61.pth",
    source="torchvision",
    license="BSD-3-Clause",
)
def resnet50mid(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNetMid:
    """ResNet-50 with mid-level feature fusion (``last_stride=2``, ``fc_dims=[1024]``: 3072-d features)."""
    return ResNetMid(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as _URLS  # noqa: E402
from ._legacy import init_pretrained_weights  # noqa: E402, F401
from .resnet import conv3x3  # noqa: E402, F401 - BasicBlock is imported above

model_urls = {k: _URLS[k] for k in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")}
