"""NASNet-A Mobile (Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition",
CVPR 2018) as a re-ID backbone.

Layout (state-dict names equal the original Torchreid, which followed the ``pretrainedmodels`` package)::

    conv0                 3x3/2 conv + BN (32)
    cell_stem_0/1         stem reduction cells                     → 44, 88
    cell_0 (first) + cell_1-3 (normal)                             → 264   (1/8)
    reduction_cell_0                                               → 352   (1/16)
    cell_6 (first) + cell_7-9                                      → 528
    reduction_cell_1                                               → 704   (1/32)
    cell_12 (first) + cell_13-15                                   → 1056
    ReLU → GAP → dropout(0.5) → classifier

Each cell takes the outputs of the two previous cells. A "first" cell brings the older input to the new
resolution with two shifted 1x1/2 paths (``path_1``, ``path_2``, ``final_path_bn``). In reduction cells the
stride-2 branches pad one pixel on the top and left and drop the first row and column of their output, as the
TensorFlow model does (``'SAME'`` padding).

The registry name ``nasnsetmobile`` keeps the original's misspelling; ``nasnetamobile`` is an alias.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._zoo_weights import cadene_weights
from .common import init_params, reid_output
from .registry import register_model

__all__ = ["NASNetAMobile", "nasnsetmobile"]

_META = cadene_weights("nasnetamobile", "nasnetamobile-7e03cead.pth")


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=0.001, momentum=0.1, affine=True)


def _avg3(stride: int = 1) -> nn.AvgPool2d:
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


def _shift(x: torch.Tensor) -> torch.Tensor:
    """Drop the first row and column (undoes a one-pixel top/left zero pad after a strided op)."""
    return x[:, :, 1:, 1:].contiguous()


class ReluConvBn(nn.Sequential):
    """ReLU → 1x1 conv (no bias) → BN."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False))
        self.add_module("bn", _bn(out_channels))


class SeparableConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.depthwise_conv2d = nn.Conv2d(
            in_channels, in_channels, kernel, stride=stride, padding=padding, bias=False, groups=in_channels
        )
        self.pointwise_conv2d = nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv2d(self.depthwise_conv2d(x))


class BranchSeparables(nn.Module):
    """ReLU → separable conv → BN → ReLU → separable conv → BN.

    ``stem=True`` changes the channel count in the first separable conv (else in the second); ``shifted=True``
    pads the input on the top/left and crops the first conv's output (used in reduction cells).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        padding: int,
        stem: bool = False,
        shifted: bool = False,
    ) -> None:
        super().__init__()
        mid = out_channels if stem else in_channels
        self.relu = nn.ReLU()
        self.separable_1 = SeparableConv2d(in_channels, mid, kernel, stride, padding)
        self.bn_sep_1 = _bn(mid)
        self.relu1 = nn.ReLU()
        self.separable_2 = SeparableConv2d(mid, out_channels, kernel, 1, padding)
        self.bn_sep_2 = _bn(out_channels)
        self.shifted = shifted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if self.shifted:
            x = _shift(self.separable_1(F.pad(x, (1, 0, 1, 0))))
        else:
            x = self.separable_1(x)
        x = self.relu1(self.bn_sep_1(x))
        return self.bn_sep_2(self.separable_2(x))


class ShiftedPool(nn.Module):
    """Pad one pixel top/left → 3x3/2 pool (max or average) → crop the first row and column."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if kind == "max" else _avg3(stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _shift(self.pool(F.pad(x, (1, 0, 1, 0))))


class FactorizedReduction(nn.Module):
    """Two 1x1/2 paths (the second shifted by one pixel) concatenated and batch-normalised: brings the
    previous-previous cell output to the current resolution. Registers ``path_1``, ``path_2``, ``final_path_bn``
    on ``owner`` so the state-dict names stay flat."""

    @staticmethod
    def build(owner: nn.Module, in_channels: int, out_channels: int) -> None:
        half = out_channels // 2
        owner.path_1 = nn.Sequential()
        owner.path_1.add_module("avgpool", nn.AvgPool2d(1, stride=2, count_include_pad=False))
        owner.path_1.add_module("conv", nn.Conv2d(in_channels, half, 1, stride=1, bias=False))
        owner.path_2 = nn.ModuleDict()
        owner.path_2["avgpool"] = nn.AvgPool2d(1, stride=2, count_include_pad=False)
        owner.path_2["conv"] = nn.Conv2d(in_channels, half, 1, stride=1, bias=False)
        owner.final_path_bn = _bn(out_channels)

    @staticmethod
    def apply(owner: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        p1 = owner.path_1(x)
        p2 = _shift(F.pad(x, (0, 1, 0, 1)))
        p2 = owner.path_2["conv"](owner.path_2["avgpool"](p2))
        return owner.final_path_bn(torch.cat([p1, p2], 1))


class CellStem0(nn.Module):
    def __init__(self, stem_filters: int, num_filters: int = 42) -> None:
        super().__init__()
        self.conv_1x1 = ReluConvBn(stem_filters, num_filters)
        self.comb_iter_0_left = BranchSeparables(num_filters, num_filters, 5, 2, 2)
        self.comb_iter_0_right = BranchSeparables(stem_filters, num_filters, 7, 2, 3, stem=True)
        self.comb_iter_1_left = nn.MaxPool2d(3, stride=2, padding=1)
        self.comb_iter_1_right = BranchSeparables(stem_filters, num_filters, 7, 2, 3, stem=True)
        self.comb_iter_2_left = _avg3(stride=2)
        self.comb_iter_2_right = BranchSeparables(stem_filters, num_filters, 5, 2, 2, stem=True)
        self.comb_iter_3_right = _avg3()
        self.comb_iter_4_left = BranchSeparables(num_filters, num_filters, 3, 1, 1)
        self.comb_iter_4_right = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv_1x1(x)
        c0 = self.comb_iter_0_left(x1) + self.comb_iter_0_right(x)
        c1 = self.comb_iter_1_left(x1) + self.comb_iter_1_right(x)
        c2 = self.comb_iter_2_left(x1) + self.comb_iter_2_right(x)
        c3 = self.comb_iter_3_right(c0) + c1
        c4 = self.comb_iter_4_left(c0) + self.comb_iter_4_right(x1)
        return torch.cat([c1, c2, c3, c4], 1)


class _ReductionLike(nn.Module):
    """The combination pattern shared by the second stem cell and the reduction cells."""

    def _combine(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(left) + self.comb_iter_0_right(right)
        c1 = self.comb_iter_1_left(left) + self.comb_iter_1_right(right)
        c2 = self.comb_iter_2_left(left) + self.comb_iter_2_right(right)
        c3 = self.comb_iter_3_right(c0) + c1
        c4 = self.comb_iter_4_left(c0) + self.comb_iter_4_right(left)
        return torch.cat([c1, c2, c3, c4], 1)

    def _reduction_branches(self, n: int, shifted: bool) -> None:
        if shifted:
            max_pool, avg_pool = ShiftedPool("max"), ShiftedPool("avg")
            max_pool_4 = ShiftedPool("max")
        else:
            max_pool, avg_pool = nn.MaxPool2d(3, stride=2, padding=1), _avg3(stride=2)
            max_pool_4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.comb_iter_0_left = BranchSeparables(n, n, 5, 2, 2, shifted=shifted)
        self.comb_iter_0_right = BranchSeparables(n, n, 7, 2, 3, shifted=shifted)
        self.comb_iter_1_left = max_pool
        self.comb_iter_1_right = BranchSeparables(n, n, 7, 2, 3, shifted=shifted)
        self.comb_iter_2_left = avg_pool
        self.comb_iter_2_right = BranchSeparables(n, n, 5, 2, 2, shifted=shifted)
        self.comb_iter_3_right = _avg3()
        self.comb_iter_4_left = BranchSeparables(n, n, 3, 1, 1, shifted=shifted)
        self.comb_iter_4_right = max_pool_4


class CellStem1(_ReductionLike):
    def __init__(self, stem_filters: int, num_filters: int) -> None:
        super().__init__()
        self.conv_1x1 = ReluConvBn(2 * num_filters, num_filters)
        FactorizedReduction.build(self, stem_filters, num_filters)
        self._reduction_branches(num_filters, shifted=False)

    def forward(self, x_conv0: torch.Tensor, x_stem_0: torch.Tensor) -> torch.Tensor:
        left = self.conv_1x1(x_stem_0)
        right = FactorizedReduction.apply(self, x_conv0)
        return self._combine(left, right)


class _Cell(nn.Module):
    """A cell of the body on the outputs of the two previous cells: ``x`` (``in_channels_right`` channels, taken
    to ``out_channels_right`` by ``conv_1x1``) and ``x_prev`` (``in_channels_left``, taken to ``out_channels_left``
    by ``conv_prev_1x1``), then combined by the branches of the cell's kind (:meth:`_branches`)."""

    def __init__(
        self, in_channels_left: int, out_channels_left: int, in_channels_right: int, out_channels_right: int
    ) -> None:
        super().__init__()
        left = self._inputs(in_channels_left, out_channels_left, in_channels_right, out_channels_right)
        self._branches(left, out_channels_right)

    def _inputs(self, in_left: int, out_left: int, in_right: int, out_right: int) -> int:
        """Create the 1x1 convs on both inputs; return the channels of the prepared ``x_prev``."""
        self.conv_prev_1x1 = ReluConvBn(in_left, out_left)
        self.conv_1x1 = ReluConvBn(in_right, out_right)
        return out_left

    def _branches(self, out_left: int, out_right: int) -> None:
        raise NotImplementedError


class ReductionCell(_ReductionLike, _Cell):
    def _branches(self, out_left: int, out_right: int) -> None:
        self._reduction_branches(out_right, shifted=True)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        # named as the original: the current input is combined on the "left" of each pair
        return self._combine(self.conv_1x1(x), self.conv_prev_1x1(x_prev))


class NormalCell(_Cell):
    def _branches(self, out_left: int, out_right: int) -> None:
        self.comb_iter_0_left = BranchSeparables(out_right, out_right, 5, 1, 2)
        self.comb_iter_0_right = BranchSeparables(out_left, out_left, 3, 1, 1)
        self.comb_iter_1_left = BranchSeparables(out_left, out_left, 5, 1, 2)
        self.comb_iter_1_right = BranchSeparables(out_left, out_left, 3, 1, 1)
        self.comb_iter_2_left = _avg3()
        self.comb_iter_3_left = _avg3()
        self.comb_iter_3_right = _avg3()
        self.comb_iter_4_left = BranchSeparables(out_right, out_right, 3, 1, 1)

    def _combine(self, x_left: torch.Tensor, x_right: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(x_right) + self.comb_iter_0_right(x_left)
        c1 = self.comb_iter_1_left(x_left) + self.comb_iter_1_right(x_left)
        c2 = self.comb_iter_2_left(x_right) + x_left
        c3 = self.comb_iter_3_left(x_left) + self.comb_iter_3_right(x_left)
        c4 = self.comb_iter_4_left(x_right) + x_right
        return torch.cat([x_left, c0, c1, c2, c3, c4], 1)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        return self._combine(self.conv_prev_1x1(x_prev), self.conv_1x1(x))


class FirstCell(NormalCell):
    """Normal cell whose previous-previous input has twice the resolution (after a reduction): ``x_prev`` is
    brought to ``2 * out_channels_left`` channels at the new resolution by a factorized reduction."""

    def _inputs(self, in_left: int, out_left: int, in_right: int, out_right: int) -> int:
        self.conv_1x1 = ReluConvBn(in_right, out_right)
        FactorizedReduction.build(self, in_left, 2 * out_left)
        return 2 * out_left

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        return self._combine(FactorizedReduction.apply(self, x_prev), self.conv_1x1(x))


class NASNetAMobile(nn.Module):
    """NASNet-A Mobile (4 @ 1056) re-ID model (1056-d features)."""

    def __init__(
        self,
        num_classes: int,
        loss: str,
        stem_filters: int = 32,
        penultimate_filters: int = 1056,
        filters_multiplier: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.loss = loss
        f = penultimate_filters // 24
        self.conv0 = nn.Sequential()
        self.conv0.add_module("conv", nn.Conv2d(3, stem_filters, 3, padding=0, stride=2, bias=False))
        self.conv0.add_module("bn", _bn(stem_filters))
        self.cell_stem_0 = CellStem0(stem_filters, num_filters=f // filters_multiplier**2)
        self.cell_stem_1 = CellStem1(stem_filters, num_filters=f // filters_multiplier)

        self.cell_0 = FirstCell(f, f // 2, 2 * f, f)
        self.cell_1 = NormalCell(2 * f, f, 6 * f, f)
        self.cell_2 = NormalCell(6 * f, f, 6 * f, f)
        self.cell_3 = NormalCell(6 * f, f, 6 * f, f)
        self.reduction_cell_0 = ReductionCell(6 * f, 2 * f, 6 * f, 2 * f)

        self.cell_6 = FirstCell(6 * f, f, 8 * f, 2 * f)
        self.cell_7 = NormalCell(8 * f, 2 * f, 12 * f, 2 * f)
        self.cell_8 = NormalCell(12 * f, 2 * f, 12 * f, 2 * f)
        self.cell_9 = NormalCell(12 * f, 2 * f, 12 * f, 2 * f)
        self.reduction_cell_1 = ReductionCell(12 * f, 4 * f, 12 * f, 4 * f)

        self.cell_12 = FirstCell(12 * f, 2 * f, 16 * f, 4 * f)
        self.cell_13 = NormalCell(16 * f, 4 * f, 24 * f, 4 * f)
        self.cell_14 = NormalCell(24 * f, 4 * f, 24 * f, 4 * f)
        self.cell_15 = NormalCell(24 * f, 4 * f, 24 * f, 4 * f)

        self.feature_dim = 24 * f
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        init_params(self)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        x_conv0 = self.conv0(x)
        x_stem_0 = self.cell_stem_0(x_conv0)
        x_stem_1 = self.cell_stem_1(x_conv0, x_stem_0)
        prev, cur = x_stem_0, x_stem_1
        for name in (
            "cell_0",
            "cell_1",
            "cell_2",
            "cell_3",
            "reduction_cell_0",
            "cell_6",
            "cell_7",
            "cell_8",
            "cell_9",
            "reduction_cell_1",
            "cell_12",
            "cell_13",
            "cell_14",
            "cell_15",
        ):
            prev, cur = cur, getattr(self, name)(cur, prev)
        return cur

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        f = self.featuremaps(x)
        if return_featuremaps:
            return f
        v = F.adaptive_avg_pool2d(F.relu(f), 1).flatten(1)
        v = F.dropout(v, p=0.5, training=self.training)
        return reid_output(self.training, self.loss, v, self.classifier)


@register_model(feature_dim=1056, aliases=("nasnetamobile",), **_META)
def nasnsetmobile(
    num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any
) -> NASNetAMobile:
    """NASNet-A Mobile; the name keeps the original's misspelling (alias: ``nasnetamobile``)."""
    return NASNetAMobile(num_classes, loss, **kwargs)


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path (see torchreid/models/_legacy.py) ---
from ._legacy import cadene_settings, init_pretrained_weights  # noqa: E402, F401

pretrained_settings = {"nasnetamobile": cadene_settings("nasnetamobile-7e03cead.pth", 224)}
nasnetamobile = nasnsetmobile
ReductionCell0 = ReductionCell
ReductionCell1 = ReductionCell


class MaxPoolPad(ShiftedPool):
    """Zero-pad top/left → 3x3/2 max pool → crop the first row and column."""

    def __init__(self) -> None:
        super().__init__("max")


class AvgPoolPad(ShiftedPool):
    """Zero-pad top/left → 3x3 average pool (padding excluded from the mean) → crop the first row and column."""

    def __init__(self, stride: int = 2, padding: int = 1) -> None:
        super().__init__("avg")
        self.pool = nn.AvgPool2d(3, stride=stride, padding=padding, count_include_pad=False)


class BranchSeparablesStem(BranchSeparables):
    """Branch whose first separable conv already changes the channel count."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        bias: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, stem=True)


class BranchSeparablesReduction(BranchSeparables):
    """Branch that pads the input top/left and crops the first conv's output (reduction cells)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        z_padding: int = 1,
        bias: bool = False,
    ) -> None:
        if z_padding != 1:
            raise ValueError("BranchSeparablesReduction supports z_padding=1 only (the value NASNet-A uses)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, shifted=True)
