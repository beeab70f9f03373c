"""ResNet-50 IBN-a (Pan et al., "Two at Once: Enhancing Learning and Generalization Capacities via IBN-Net",
ECCV 2018) as a re-ID backbone.

The ResNet of :mod:`torchreid.models.resnet` in which the first BN of every bottleneck in ``layer1``-``layer3``
is an :class:`IBN` layer: half of the channels are instance-normalised (``bn1.IN``), the other half
batch-normalised (``bn1.BN``). State-dict names equal the original Torchreid. With ``pretrained=True`` the
torchvision ResNet-50 ImageNet weights are loaded where names and shapes match, as the original did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .common import model_variant
from .resnet import _R50, Bottleneck, ResNet, _resnet

__all__ = ["IBN", "BottleneckIBNa", "ResNetIBNa", "resnet50_ibn_a"]


class IBN(nn.Module):
    """Instance-batch normalisation: affine InstanceNorm on the first ``planes // 2`` channels, BatchNorm on
    the rest."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.half = planes // 2
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(planes - self.half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(x, [self.half, x.size(1) - self.half], dim=1)
        return torch.cat((self.IN(a.contiguous()), self.BN(b.contiguous())), 1)


class BottleneckIBNa(Bottleneck):
    """Bottleneck whose ``bn1`` is an :class:`IBN` layer when ``ibn`` is true."""

    def __init__(self, *args: Any, ibn: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if ibn:
            self.bn1 = IBN(self.conv1.out_channels)


class ResNetIBNa(ResNet):
    """ResNet with IBN-a bottlenecks in all stages but the last (``planes == 512``)."""

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        return {"ibn": planes != 512}


resnet50_ibn_a = model_variant(
    "resnet50_ibn_a", _resnet, block=BottleneckIBNa, layers=[3, 4, 6, 3], model_cls=ResNetIBNa, metadata=_R50
)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as _URLS  # noqa: E402
from ._legacy import init_pretrained_weights  # noqa: E402, F401
from .resnet import BasicBlock, conv3x3  # noqa: E402, F401

model_urls = {k: _URLS[k] for k in ("resnet50", "resnet101", "resnet152")}
