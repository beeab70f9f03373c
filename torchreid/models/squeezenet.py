"""SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters", 2016) as a re-ID
backbone.

Layout (state-dict names equal the original Torchreid and torchvision)::

    features  stem conv + max pools + 8 Fire modules (v1.0: 7x7/2 conv (96); v1.1: 3x3/2 conv (64))
    GAP → optional fc layers (``fc_dims``) → classifier (512-d features without fc)

A Fire module squeezes with a 1x1 conv, then expands with parallel 1x1 and 3x3 convs whose outputs are
concatenated. ImageNet weights come from torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .common import PooledReIDModel, build_fc_layers, init_params
from .registry import register_model

__all__ = ["Fire", "SqueezeNet", "squeezenet1_0", "squeezenet1_0_fc512", "squeezenet1_1"]


class Fire(nn.Module):
    def __init__(
        self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int
    ) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)


class SqueezeNet(PooledReIDModel):
    """SqueezeNet re-ID model; ``version`` is ``1.0`` or ``1.1``."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        version: float = 1.0,
        fc_dims: Sequence[int] | None = None,
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        if version == 1.0:
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2),
                relu(),
                _pool(),
                Fire(96, 16, 64, 64),
                Fire(128, 16, 64, 64),
                Fire(128, 32, 128, 128),
                _pool(),
                Fire(256, 32, 128, 128),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                _pool(),
                Fire(512, 64, 256, 256),
            )
        elif version == 1.1:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2),
                relu(),
                _pool(),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                _pool(),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                _pool(),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1.0 or 1.1 expected")
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, 512, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _squeezenet(num_classes: int, loss: str, version: float, **kwargs: Any) -> SqueezeNet:
    return SqueezeNet(num_classes, loss, version=version, **kwargs)


_TV = {"source": "torchvision", "license": "BSD-3-Clause"}


@register_model(
    pretrained_key="torchvision:SqueezeNet1_0_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="squeezenet1_0-b66bff10.pth",
    **_TV,
)
def squeezenet1_0(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> SqueezeNet:
    return _squeezenet(num_classes, loss, 1.0, **kwargs)


@register_model(
    pretrained_key="torchvision:SqueezeNet1_0_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="squeezenet1_0-b66bff10.pth",
    **_TV,
)
def squeezenet1_0_fc512(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> SqueezeNet:
    """SqueezeNet 1.0 with a 512-d fc embedding (Linear + BN1d + ReLU)."""
    kwargs.setdefault("fc_dims", [512])
    return _squeezenet(num_classes, loss, 1.0, **kwargs)


@register_model(
    pretrained_key="torchvision:SqueezeNet1_1_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="squeezenet1_1-b8a52dc0.pth",
    **_TV,
)
def squeezenet1_1(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> SqueezeNet:
    return _squeezenet(num_classes, loss, 1.1, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import SQUEEZENET_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
