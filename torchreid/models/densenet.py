"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) as re-ID backbones.

Layout (state-dict names equal the original Torchreid and torchvision)::

    features  conv0 7x7/2 + norm0 + ReLU + 3x3/2 max pool,
              denseblock1 → transition1 → ... → denseblock4, norm5
    ReLU → GAP → optional fc layers (``fc_dims``) → classifier

ImageNet weights come from torchvision (``IMAGENET1K_V1``); their files use the old names ``norm.1`` /
``conv.2`` inside dense layers, which are renamed to ``norm1`` / ``conv2`` on loading.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._zoo_weights import torchvision_weights
from .common import PooledReIDModel, build_fc_layers, init_params, model_variant

__all__ = [
    "DenseNet",
    "densenet121",
    "densenet121_fc512",
    "densenet161",
    "densenet169",
    "densenet201",
    "load_densenet_imagenet",
]


class _DenseLayer(nn.Sequential):
    """BN-ReLU-1x1 conv (to ``bn_size·growth_rate``) → BN-ReLU-3x3 conv (``growth_rate``), concatenated to
    its input."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(num_input_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module(
            "conv1", nn.Conv2d(num_input_features, bn_size * growth_rate, 1, stride=1, bias=False)
        )
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("relu2", nn.ReLU(inplace=True))
        self.add_module(
            "conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, 3, stride=1, padding=1, bias=False)
        )
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new_features = super().forward(x)
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return torch.cat([x, new_features], 1)


class _DenseBlock(nn.Sequential):
    def __init__(
        self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int, drop_rate: float
    ):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(num_input_features, num_output_features, 1, stride=1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(PooledReIDModel):
    """DenseNet-BC re-ID model.

    Args:
        num_classes: size of the identity classifier.
        loss: ``'softmax'`` or ``'triplet'``.
        growth_rate: channels each dense layer adds.
        block_config: dense layers per block.
        num_init_features: channels of the stem conv.
        bn_size: bottleneck width multiplier of the 1x1 convs.
        drop_rate: dropout after each dense layer.
        fc_dims: sizes of optional fc layers after pooling.
        dropout_p: dropout after each fc layer.
    """

    def __init__(
        self,
        num_classes: int,
        loss: str,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0,
        fc_dims: Sequence[int] | None = None,
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        stem = [
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]
        self.features = nn.Sequential(OrderedDict(stem))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, num_features, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x), inplace=True)


# Old torchvision DenseNet files name the layers of a dense layer "norm.1", "conv.2", ...
_OLD_NAME = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _rename_old_keys(state_dict: dict[str, torch.Tensor]) -> OrderedDict:
    out: OrderedDict = OrderedDict()
    for k, v in state_dict.items():
        m = _OLD_NAME.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


def load_densenet_imagenet(model: nn.Module, key: str, quiet: bool = False) -> dict[str, list[str]]:
    """Load torchvision's DenseNet weights ``key`` into ``model``, renaming the old layer names first."""
    from ..utils.checkpoint import load_checkpoint, load_pretrained_weights
    from .pretrained import fetch_weights

    path = fetch_weights(key, quiet=quiet)
    state_dict = load_checkpoint(path)
    state_dict = _rename_old_keys(state_dict.get("state_dict", state_dict))
    with tempfile.TemporaryDirectory() as tmp:
        renamed = os.path.join(tmp, os.path.basename(path))
        torch.save(state_dict, renamed)
        return load_pretrained_weights(model, renamed)


def _weights(enum: str, filename: str, feature_dim: int) -> dict[str, Any]:
    return torchvision_weights(enum, filename, feature_dim, weights_loader=load_densenet_imagenet)


_D121 = ("DenseNet121_Weights", "densenet121-a639ec97.pth")
densenet121 = model_variant(
    "densenet121", DenseNet, block_config=(6, 12, 24, 16), metadata=_weights(*_D121, 1024)
)
densenet169 = model_variant(
    "densenet169",
    DenseNet,
    block_config=(6, 12, 32, 32),
    metadata=_weights("DenseNet169_Weights", "densenet169-b2777c0a.pth", 1664),
)
densenet201 = model_variant(
    "densenet201",
    DenseNet,
    block_config=(6, 12, 48, 32),
    metadata=_weights("DenseNet201_Weights", "densenet201-c1103571.pth", 1920),
)
densenet161 = model_variant(
    "densenet161",
    DenseNet,
    block_config=(6, 12, 36, 24),
    defaults={"num_init_features": 96, "growth_rate": 48},
    metadata=_weights("DenseNet161_Weights", "densenet161-8d451a50.pth", 2208),
)
densenet121_fc512 = model_variant(
    "densenet121_fc512",
    DenseNet,
    doc="DenseNet-121 with a 512-d fc embedding (Linear + BN1d + ReLU).",
    block_config=(6, 12, 24, 16),
    defaults={"fc_dims": [512]},
    metadata=_weights(*_D121, 512),
)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import DENSENET_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
