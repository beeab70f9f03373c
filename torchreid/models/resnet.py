"""ResNet and ResNeXt (He et al., CVPR 2016; Xie et al., CVPR 2017) as re-ID backbones.

The torchvision layout (stride on the 3x3 conv of a bottleneck, "v1.5") with the re-ID head of the original
Torchreid: global average pooling → optional fc layers (``fc_dims``, Linear + BN1d + ReLU [+ Dropout]) →
``classifier``. ``last_stride`` sets the stride of ``layer4`` (1 doubles the final feature-map resolution, as in
``resnet50_fc512``). ImageNet weights come from torchvision's ``IMAGENET1K_V1`` enums (the weights the original
used), loaded through the cache of :mod:`torchreid.models.pretrained`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ._zoo_weights import torchvision_weights
from .common import ResStagesReIDModel, init_params, model_variant

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


class _ResidualBlock(nn.Module):
    """The constructor and forward pass the ResNet blocks share: :meth:`_build` creates the convs and norms,
    :meth:`_residual` applies them; the output is ``relu(residual(x) + shortcut(x))``."""

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
        self._build(inplanes, planes, stride, groups, base_width, dilation)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def _build(
        self, inplanes: int, planes: int, stride: int, groups: int, base_width: int, dilation: int
    ) -> None:
        raise NotImplementedError

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self._residual(x) + identity)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs (the first carries the stride)."""

    def _build(
        self, inplanes: int, planes: int, stride: int, groups: int, base_width: int, dilation: int
    ) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))


class Bottleneck(_ResidualBlock):
    """1x1 conv → 3x3 conv (grouped for ResNeXt, carries the stride) → 1x1 conv to ``4 * planes``."""

    expansion = 4

    def _build(
        self, inplanes: int, planes: int, stride: int, groups: int, base_width: int, dilation: int
    ) -> None:
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class ResNet(ResStagesReIDModel):
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
        self._build_stages_and_head(block, layers, last_stride, num_classes, fc_dims, dropout_p)
        init_params(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        """Extra keyword arguments of block ``index`` (of ``blocks``) in the stage of width ``planes``."""
        return {"groups": self.groups, "base_width": self.base_width}

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        """The layer4 feature maps ``(B, 512·expansion, H/32, W/32)`` (H/16 with ``last_stride=1``)."""
        return self._stages(self.maxpool(self.relu(self.bn1(self.conv1(x)))))


def _resnet(
    num_classes: int,
    loss: str,
    block: type[BasicBlock | Bottleneck],
    layers: Sequence[int],
    model_cls: type[ResNet] | None = None,
    **kwargs: Any,
) -> ResNet:
    return (model_cls or ResNet)(num_classes=num_classes, loss=loss, block=block, layers=layers, **kwargs)


_R50 = torchvision_weights("ResNet50_Weights", "resnet50-0676ba61.pth", 2048)


def _variant(
    name: str,
    block: type[BasicBlock | Bottleneck],
    layers: Sequence[int],
    weights: str,
    filename: str,
    feature_dim: int,
    **defaults: Any,
) -> Callable[..., nn.Module]:
    """Register ``name``: a ResNet of ``block`` x ``layers`` with torchvision's ``<weights>_Weights``."""
    metadata = torchvision_weights(f"{weights}_Weights", filename, feature_dim)
    return model_variant(name, _resnet, block=block, layers=layers, defaults=defaults, metadata=metadata)


# The variants (factories ``name(num_classes, loss='softmax', pretrained=True, **kwargs)``), in the original
# order: name, block, blocks per stage, torchvision weights, file, feature size, defaults the caller may override.
# fmt: off
resnet18 = _variant("resnet18", BasicBlock, [2, 2, 2, 2], "ResNet18", "resnet18-f37072fd.pth", 512)
resnet34 = _variant("resnet34", BasicBlock, [3, 4, 6, 3], "ResNet34", "resnet34-b627a593.pth", 512)
resnet50 = _variant("resnet50", Bottleneck, [3, 4, 6, 3], "ResNet50", "resnet50-0676ba61.pth", 2048)
resnet101 = _variant("resnet101", Bottleneck, [3, 4, 23, 3], "ResNet101", "resnet101-63fe2227.pth", 2048)
resnet152 = _variant("resnet152", Bottleneck, [3, 8, 36, 3], "ResNet152", "resnet152-394f9c45.pth", 2048)
resnext50_32x4d = _variant("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], "ResNeXt50_32X4D", "resnext50_32x4d-7cdf4587.pth", 2048, groups=32, width_per_group=4)
resnext101_32x8d = _variant("resnext101_32x8d", Bottleneck, [3, 4, 23, 3], "ResNeXt101_32X8D", "resnext101_32x8d-8ba56ff5.pth", 2048, groups=32, width_per_group=8)
resnet50_fc512 = _variant("resnet50_fc512", Bottleneck, [3, 4, 6, 3], "ResNet50", "resnet50-0676ba61.pth", 512, last_stride=1, fc_dims=[512], dropout_p=None)
# fmt: on
resnet50_fc512.__doc__ = "ResNet-50 with ``last_stride=1`` and a 512-d fc embedding (Linear + BN1d + ReLU)."


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import RESNET_MODEL_URLS as model_urls  # noqa: E402, F401
from ._legacy import init_pretrained_weights  # noqa: E402, F401
