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

from ._zoo_weights import torchvision_weights
from .common import PooledReIDModel, build_fc_layers, init_params, model_variant

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


# version: (stem channels, stem kernel, features after the stem: "M" = 3x3/2 max pool (ceil mode), (squeeze,
# expand) = a Fire module with equal 1x1 and 3x3 expand widths, whose input is the previous output).
_LAYOUTS: dict[float, tuple[int, int, list[Any]]] = {
    1.0: (96, 7, ["M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256), "M", (64, 256)]),
    1.1: (64, 3, ["M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192), (64, 256), (64, 256)]),
}  # fmt: skip


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
        if version not in _LAYOUTS:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1.0 or 1.1 expected")
        stem_channels, stem_kernel, layout = _LAYOUTS[version]
        layers: list[nn.Module] = [
            nn.Conv2d(3, stem_channels, kernel_size=stem_kernel, stride=2),
            nn.ReLU(inplace=True),
        ]
        channels = stem_channels
        for item in layout:
            if item == "M":
                layers.append(_pool())
            else:
                squeeze, expand = item
                layers.append(Fire(channels, squeeze, expand, expand))
                channels = 2 * expand
        self.features = nn.Sequential(*layers)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, 512, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


_SQ10 = torchvision_weights("SqueezeNet1_0_Weights", "squeezenet1_0-b66bff10.pth", 512)

squeezenet1_0 = model_variant("squeezenet1_0", SqueezeNet, version=1.0, metadata=_SQ10)
squeezenet1_0_fc512 = model_variant(
    "squeezenet1_0_fc512",
    SqueezeNet,
    doc="SqueezeNet 1.0 with a 512-d fc embedding (Linear + BN1d + ReLU).",
    version=1.0,
    defaults={"fc_dims": [512]},
    metadata=_SQ10,
)
squeezenet1_1 = model_variant(
    "squeezenet1_1",
    SqueezeNet,
    version=1.1,
    metadata=torchvision_weights("SqueezeNet1_1_Weights", "squeezenet1_1-b8a52dc0.pth", 512),
)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import SQUEEZENET_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
