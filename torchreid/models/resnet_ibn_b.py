"""ResNet-50 IBN-b (Pan et al., ECCV 2018) as a re-ID backbone.

The ResNet of :mod:`torchreid.models.resnet` with affine InstanceNorm in place of the stem BN (``bn1``) and
after the residual addition of the last bottleneck of ``layer1`` and ``layer2`` (``layer1.2.IN``,
``layer2.3.IN``). State-dict names equal the original Torchreid. With ``pretrained=True`` the torchvision
ResNet-50 ImageNet weights are loaded where names and shapes match, as the original did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .common import model_variant
from .resnet import _R50, Bottleneck, ResNet, _resnet

__all__ = ["BottleneckIBNb", "ResNetIBNb", "resnet50_ibn_b"]


class BottleneckIBNb(Bottleneck):
    """Bottleneck followed (after the residual add, before the ReLU) by an affine InstanceNorm when ``IN``."""

    def __init__(self, *args: Any, IN: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.IN = nn.InstanceNorm2d(self.bn3.num_features, affine=True) if IN else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self._residual(x) + identity
        if self.IN is not None:
            out = self.IN(out)
        return self.relu(out)


class ResNetIBNb(ResNet):
    """ResNet with an InstanceNorm stem and IN after the last block of ``layer1`` and ``layer2``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bn1 = nn.InstanceNorm2d(64, affine=True)
        nn.init.ones_(self.bn1.weight)
        nn.init.zeros_(self.bn1.bias)

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        # IN after the last block of layer1 and layer2 (never on a stage's first block)
        return {"IN": 0 < index == blocks - 1 and planes in (64, 128)}


resnet50_ibn_b = model_variant(
    "resnet50_ibn_b", _resnet, block=BottleneckIBNb, layers=[3, 4, 6, 3], model_cls=ResNetIBNb, metadata=_R50
)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as _URLS  # noqa: E402
from ._legacy import init_pretrained_weights  # noqa: E402, F401
from .resnet import BasicBlock, conv3x3  # noqa: E402, F401

model_urls = {k: _URLS[k] for k in ("resnet50", "resnet101", "resnet152")}
