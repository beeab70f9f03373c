"""SE-ResNet and SE-ResNeXt (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018) as re-ID backbones.

Layout (state-dict names equal the original Torchreid, which followed the ``pretrainedmodels`` package, so the
ImageNet weights published with it load unchanged)::

    layer0    7x7/2 conv + BN + ReLU → 3x3/2 max pool (ceil mode)
    layer1-4  bottlenecks, each ending with a squeeze-and-excitation gate (``se_module.fc1/fc2``, 1x1 convs)
    GAP → optional fc layers (``fc_dims``) → classifier

SE-ResNet bottlenecks put the stride on their first 1x1 conv, SE-ResNeXt bottlenecks on the grouped 3x3 conv.
``last_stride`` sets the stride of ``layer4`` (1 in ``se_resnet50_fc512``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ._zoo_weights import cadene_weights
from .common import ResStagesReIDModel, model_variant

__all__ = [
    "SEModule",
    "SENet",
    "SEResNeXtBottleneck",
    "SEResNetBottleneck",
    "se_resnet50",
    "se_resnet50_fc512",
    "se_resnet101",
    "se_resnet152",
    "se_resnext50_32x4d",
    "se_resnext101_32x4d",
    "senet154",
]

_META = {
    "se_resnet50": cadene_weights("se_resnet50", "se_resnet50-ce0d4300.pth"),
    "se_resnet101": cadene_weights("se_resnet101", "se_resnet101-7e38fcc6.pth"),
    "se_resnext50_32x4d": cadene_weights("se_resnext50_32x4d", "se_resnext50_32x4d-a260b3a4.pth"),
    "se_resnext101_32x4d": cadene_weights("se_resnext101_32x4d", "se_resnext101_32x4d-3b2fe3d8.pth"),
}


class SEModule(nn.Module):
    """Squeeze (global average pool) and excitation (1x1 conv → ReLU → 1x1 conv → sigmoid) channel gate."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * w


class _SEBottleneckBase(nn.Module):
    """Bottleneck with an SE gate: 1x1 conv → grouped 3x3 conv → 1x1 conv to ``4 * planes`` → SE, plus shortcut.

    A subclass gives the widths of the first two convs (:meth:`_widths`) and where the stride goes
    (``stride_on_1x1``: on the first 1x1 conv, as the Caffe SE-ResNets, or on the 3x3 conv).
    """

    expansion = 4
    stride_on_1x1 = False
    base_width = 64  # ResNeXt width per group when the ``base_width`` argument is None

    def __init__(
        self,
        inplanes: int,
        planes: int,
        groups: int,
        reduction: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        base_width: int | None = None,
    ) -> None:
        super().__init__()
        width1, width2 = self._widths(planes, groups, self.base_width if base_width is None else base_width)
        s1, s3 = (stride, 1) if self.stride_on_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, width1, kernel_size=1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width1)
        self.conv2 = nn.Conv2d(width1, width2, kernel_size=3, stride=s3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width2)
        self.conv3 = nn.Conv2d(width2, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(planes * self.expansion, reduction=reduction)
        self.downsample = downsample
        self.stride = stride

    def _widths(self, planes: int, groups: int, base_width: int) -> tuple[int, int]:
        """Output channels of ``conv1`` and ``conv2``."""
        return planes, planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se_module(self.bn3(self.conv3(out)))
        return self.relu(out + residual)


class SEResNetBottleneck(_SEBottleneckBase):
    """ResNet bottleneck with an SE gate; the stride is on the first 1x1 conv (as the Caffe models)."""

    stride_on_1x1 = True


class SEResNeXtBottleneck(_SEBottleneckBase):
    """ResNeXt bottleneck (grouped 3x3 conv carrying the stride) with an SE gate; ``base_width`` defaults to 4."""

    base_width = 4

    def _widths(self, planes: int, groups: int, base_width: int) -> tuple[int, int]:
        width = (planes * base_width // 64) * groups
        return width, width


class SENet(ResStagesReIDModel):
    """SE-ResNet / SE-ResNeXt re-ID model.

    ``num_classes``, ``loss``, ``layers``, ``last_stride``, ``fc_dims`` and ``dropout_p`` mean what they mean for
    :class:`~torchreid.models.resnet.ResNet`. Further:

    Args:
        block: :class:`SEResNetBottleneck`, :class:`SEResNeXtBottleneck` or :class:`SEBottleneck` (SENet-154).
        groups: cardinality of the 3x3 convs (1 for SE-ResNet).
        reduction: SE reduction ratio.
        dropout_p, inplanes, input_3x3, downsample_kernel_size, downsample_padding: fc dropout, stem width, three
            3x3 stem convs instead of one 7x7, and the projection shortcuts' conv; the defaults are SENet-154's (the
            original's signature, positional order included), the SE-ResNet factories pass None, 64, False, 1, 0.
        base_width: ResNeXt width per group (``None``: the block's own default, 4 for ``SEResNeXtBottleneck``).
    """

    def __init__(
        self,
        num_classes: int,
        loss: str,
        block: type[_SEBottleneckBase],
        layers: Sequence[int],
        groups: int = 1,
        reduction: int = 16,
        dropout_p: float | None = 0.2,
        inplanes: int = 128,
        input_3x3: bool = True,
        downsample_kernel_size: int = 3,
        downsample_padding: int = 1,
        last_stride: int = 2,
        fc_dims: Sequence[int] | None = None,
        base_width: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.inplanes = inplanes
        self.downsample_kernel_size = downsample_kernel_size
        self.downsample_padding = downsample_padding
        self._block_args = {"groups": groups, "reduction": reduction, "base_width": base_width}
        # (in, out, kernel, stride) of each conv → BN → ReLU: three 3x3 convs (SENet-154) or one 7x7 conv
        convs = [(3, 64, 3, 2), (64, 64, 3, 1), (64, inplanes, 3, 1)] if input_3x3 else [(3, inplanes, 7, 2)]
        stem: list[tuple[str, nn.Module]] = []
        for i, (cin, cout, k, s) in enumerate(convs, 1):
            stem.append((f"conv{i}", nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=False)))
            stem.append((f"bn{i}", nn.BatchNorm2d(cout)))
            stem.append((f"relu{i}", nn.ReLU(inplace=True)))
        stem.append(("pool", nn.MaxPool2d(3, stride=2, ceil_mode=True)))
        self.layer0 = nn.Sequential(OrderedDict(stem))
        self._build_stages_and_head(block, layers, last_stride, num_classes, fc_dims, dropout_p)

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        return self._block_args

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self._stages(self.layer0(x))


def _variant(
    name: str,
    block: type[_SEBottleneckBase],
    layers: Sequence[int],
    feature_dim: int = 2048,
    weights: str | None = None,
    **defaults: Any,
) -> Callable[..., nn.Module]:
    """Register ``name``: an SENet of ``block`` x ``layers`` with the ImageNet weights of ``weights`` (or ``name``)."""
    metadata = {"feature_dim": feature_dim, **_META[weights or name]}
    return model_variant(name, SENet, block=block, layers=layers, defaults=defaults, metadata=metadata)


# The registered variants (factories ``name(num_classes, loss='softmax', pretrained=True, **kwargs)``): name, block,
# blocks per stage, feature size, ImageNet weights, defaults the caller may override.
# SE-ResNet / SE-ResNeXt: a 7x7 stem of 64 channels, 1x1 projection shortcuts, no dropout (the SENet defaults are
# SENet-154's, as in the original).
_SE_RESNET = {
    "dropout_p": None,
    "inplanes": 64,
    "input_3x3": False,
    "downsample_kernel_size": 1,
    "downsample_padding": 0,
}
_RESNEXT = {**_SE_RESNET, "groups": 32, "base_width": 4}
# fmt: off
se_resnet50 = _variant("se_resnet50", SEResNetBottleneck, [3, 4, 6, 3], **_SE_RESNET)
se_resnet50_fc512 = _variant("se_resnet50_fc512", SEResNetBottleneck, [3, 4, 6, 3], 512, "se_resnet50", **_SE_RESNET, last_stride=1, fc_dims=[512])
se_resnet101 = _variant("se_resnet101", SEResNetBottleneck, [3, 4, 23, 3], **_SE_RESNET)
se_resnext50_32x4d = _variant("se_resnext50_32x4d", SEResNeXtBottleneck, [3, 4, 6, 3], **_RESNEXT)
se_resnext101_32x4d = _variant("se_resnext101_32x4d", SEResNeXtBottleneck, [3, 4, 23, 3], **_RESNEXT)
# fmt: on
se_resnet50_fc512.__doc__ = "SE-ResNet-50 with ``last_stride=1`` and a 512-d fc embedding."


class SEBottleneck(_SEBottleneckBase):
    """SENet-154 bottleneck: 1x1 conv to ``2*planes``, grouped 3x3 conv to ``4*planes`` (stride), 1x1, SE gate."""

    def _widths(self, planes: int, groups: int, base_width: int) -> tuple[int, int]:
        return planes * 2, planes * 4


# Not in the original's model factory (``build_model`` did not know them) but exported by its package.
def senet154(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> SENet:
    """SENet-154 (ImageNet weights of ``pretrainedmodels``)."""
    kwargs.pop("use_gpu", None)
    model = SENet(
        num_classes=num_classes,
        loss=loss,
        block=SEBottleneck,
        layers=[3, 8, 36, 3],
        groups=64,
        reduction=16,
        dropout_p=0.2,
        inplanes=128,
        input_3x3=True,
        downsample_kernel_size=3,
        downsample_padding=1,
        **kwargs,
    )
    if pretrained:
        init_pretrained_weights(model, pretrained_settings["senet154"]["imagenet"]["url"])
    return model


def se_resnet152(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> SENet:
    """SE-ResNet-152 (ImageNet weights of ``pretrainedmodels``)."""
    kwargs.pop("use_gpu", None)
    model = SENet(num_classes, loss, SEResNetBottleneck, [3, 8, 36, 3], **{**_SE_RESNET, **kwargs})
    if pretrained:
        init_pretrained_weights(model, pretrained_settings["se_resnet152"]["imagenet"]["url"])
    return model


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ..data.constants import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from ._legacy import cadene_settings, init_pretrained_weights  # noqa: E402

Bottleneck = _SEBottleneckBase
_IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
pretrained_settings = {
    name: cadene_settings(f"{name}-{sha}.pth", 224, **_IMAGENET)
    for name, sha in (
        ("senet154", "c7b49a05"),
        ("se_resnet50", "ce0d4300"),
        ("se_resnet101", "7e38fcc6"),
        ("se_resnet152", "d17c99b7"),
        ("se_resnext50_32x4d", "a260b3a4"),
        ("se_resnext101_32x4d", "3b2fe3d8"),
    )
}
