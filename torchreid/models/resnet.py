"""ResNet and ResNeXt (He et al., CVPR 2016; Xie et al., CVPR 2017) as re-ID backbones.

The torchvision layout (stride on the 3x3 conv of a bottleneck, "v1.5") with the re-ID head of the original
Torchreid: global average pooling → optional fc layers (``fc_dims``, Linear + BN1d + ReLU [+ Dropout]) →
``classifier``. ``last_stride`` sets the stride of ``layer4`` (1 doubles the final feature-map resolution, as in
``resnet50_fc512``). ImageNet weights come from torchvision's ``IMAGENET1K_V1`` enums (the weights the original
used), loaded through the cache of :mod:`torchreid.models.pretrained`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .common import PooledReIDModel, build_fc_layers, init_params
from .registry import register_model

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet50_fc512",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
]


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    return nn.Conv2d(
        in_planes,
        out_planes,
        3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(PooledReIDModel):
    """ResNet / ResNeXt re-ID model.

    Args:
        num_classes: size of the identity classifier.
        loss: ``'softmax'`` or ``'triplet'``.
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage.
        groups, width_per_group: ResNeXt cardinality and width.
        last_stride: stride of ``layer4`` (2 in ImageNet ResNets, 1 in ``resnet50_fc512``).
        fc_dims: sizes of optional fc layers after pooling (``None``: features are the pooled maps).
        dropout_p: dropout after each fc layer.
        zero_init_residual: zero the last BN of each block.
    """

    def __init__(
        self,
        num_classes: int,
        loss: str,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        last_stride: int = 2,
        fc_dims: Sequence[int] | None = None,
        dropout_p: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=last_stride)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, 512 * block.expansion, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        mods = [block(self.inplanes, planes, stride, downsample, **self._block_kwargs(planes, 0, blocks))]
        self.inplanes = planes * block.expansion
        mods += [
            block(self.inplanes, planes, **self._block_kwargs(planes, i, blocks)) for i in range(1, blocks)
        ]
        return nn.Sequential(*mods)

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        """Extra keyword arguments of block ``index`` (of ``blocks``) in the stage of width ``planes``."""
        return {"groups": self.groups, "base_width": self.base_width}

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        """The layer4 feature maps ``(B, 512·expansion, H/32, W/32)`` (H/16 with ``last_stride=1``)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


def _resnet(
    num_classes: int,
    loss: str,
    block: type[BasicBlock | Bottleneck],
    layers: Sequence[int],
    model_cls: type[ResNet] | None = None,
    **kwargs: Any,
) -> ResNet:
    return (model_cls or ResNet)(num_classes=num_classes, loss=loss, block=block, layers=layers, **kwargs)


_TV = {"source": "torchvision", "license": "BSD-3-Clause"}


@register_model(
    pretrained_key="torchvision:ResNet18_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="resnet18-f37072fd.pth",
    **_TV,
)
def resnet18(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    return _resnet(num_classes, loss, BasicBlock, [2, 2, 2, 2], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNet34_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="resnet34-b627a593.pth",
    **_TV,
)
def resnet34(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    return _resnet(num_classes, loss, BasicBlock, [3, 4, 6, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNet50_Weights.IMAGENET1K_V1",
    feature_dim=2048,
    weights="resnet50-0676ba61.pth",
    **_TV,
)
def resnet50(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    return _resnet(num_classes, loss, Bottleneck, [3, 4, 6, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNet101_Weights.IMAGENET1K_V1",
    feature_dim=2048,
    weights="resnet101-63fe2227.pth",
    **_TV,
)
def resnet101(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    return _resnet(num_classes, loss, Bottleneck, [3, 4, 23, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNet152_Weights.IMAGENET1K_V1",
    feature_dim=2048,
    weights="resnet152-394f9c45.pth",
    **_TV,
)
def resnet152(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    return _resnet(num_classes, loss, Bottleneck, [3, 8, 36, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNeXt50_32X4D_Weights.IMAGENET1K_V1",
    feature_dim=2048,
    weights="resnext50_32x4d-7cdf4587.pth",
    **_TV,
)
def resnext50_32x4d(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> ResNet:
    kwargs.setdefault("groups", 32)
    kwargs.setdefault("width_per_group", 4)
    return _resnet(num_classes, loss, Bottleneck, [3, 4, 6, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNeXt101_32X8D_Weights.IMAGENET1K_V1",
    feature_dim=2048,
    weights="resnext101_32x8d-8ba56ff5.pth",
    **_TV,
)
def resnext101_32x8d(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> ResNet:
    kwargs.setdefault("groups", 32)
    kwargs.setdefault("width_per_group", 8)
    return _resnet(num_classes, loss, Bottleneck, [3, 4, 23, 3], **kwargs)


@register_model(
    pretrained_key="torchvision:ResNet50_Weights.IMAGENET1K_V1",
    feature_dim=512,
    weights="resnet50-0676ba61.pth",
    **_TV,
)
def resnet50_fc512(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 with ``last_stride=1`` and a 512-d fc embedding (Linear + BN1d + ReLU)."""
    kwargs.setdefault("last_stride", 1)
    kwargs.setdefault("fc_dims", [512])
    kwargs.setdefault("dropout_p", None)
    return _resnet(num_classes, loss, Bottleneck, [3, 4, 6, 3], **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
