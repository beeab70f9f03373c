"""compute_model_complexity: the original's FLOP counts with only_conv_linear=False and its verbose layout."""

from __future__ import annotations

import logging

import pytest
from torch import nn

from torchreid.models import build_model
from torchreid.utils import model_complexity
from torchreid.utils.model_complexity import compute_model_complexity


def test_all_layers_flops_equal_the_original_on_resnet50():
    """2,705,571,840 is what the original v1.4.0 reports for resnet50 at 1x3x256x128 (all layers)."""
    model = build_model("resnet50", num_classes=751, pretrained=False)
    assert compute_model_complexity(model, (1, 3, 256, 128), only_conv_linear=False) == (
        23_508_032,
        2_705_571_840,
    )
    assert compute_model_complexity(model, (1, 3, 256, 128)) == (23_508_032, 2_669_150_208)


def test_all_layers_flops_osnet_x1_0():
    model = build_model("osnet_x1_0", num_classes=751, pretrained=False)
    assert compute_model_complexity(model, (1, 3, 256, 128), only_conv_linear=False) == (
        2_169_508,
        1_019_906_592,
    )


@pytest.mark.parametrize(
    ("layer", "shape", "expected"),
    [
        (nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 8, 8), (9 - 1) * 2 * 4 * 4),  # comparisons per output
        (nn.AvgPool2d(2), (1, 2, 8, 8), 4 * 2 * 4 * 4),
        (nn.AdaptiveAvgPool2d(1), (1, 2, 8, 6), 48 * 2),
        (nn.AdaptiveMaxPool2d(1), (1, 2, 8, 6), 47 * 2),
        (nn.ReLU(), (1, 5), 5),
        (nn.LeakyReLU(), (1, 5), 15),
        (nn.Sigmoid(), (1, 5), 0),  # the original does not count it
        (nn.BatchNorm2d(2), (1, 2, 3, 3), 4 * 18),  # mean/std + affine
        (nn.BatchNorm2d(2, affine=False), (1, 2, 3, 3), 2 * 18),
        (nn.LayerNorm(5), (1, 5), 20),
    ],
)
def test_per_layer_formulas_match_the_original(layer, shape, expected):
    assert compute_model_complexity(layer, shape, only_conv_linear=False)[1] == expected


def test_original_hook_functions_are_public():
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    import torch

    x = torch.zeros(1, 3, 5, 5)
    assert model_complexity.hook_convNd(conv, (x,), conv(x)) == 4 * 25 * 27
    assert model_complexity.hook_relu(nn.ReLU(), (x,), x) == x.numel()


def test_verbose_table_has_the_original_layout(caplog):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    with caplog.at_level(logging.INFO, logger="torchreid"):
        compute_model_complexity(model, (1, 3, 5, 5), verbose=True, only_conv_linear=False)
    lines = "\n".join(r.getMessage() for r in caplog.records).splitlines()
    rule = "  " + "-" * 55
    assert lines[0] == rule and lines[2] == rule and lines[-1] == rule and lines[-3] == rule
    assert lines[1] == "  Model complexity with input size (1, 3, 5, 5)"
    assert lines[3].startswith("  Conv2d (params=112, flops=")
    assert lines[-2].startswith("  Total (params=")


def test_not_verbose_is_silent(caplog, capsys):
    with caplog.at_level(logging.DEBUG, logger="torchreid"):
        compute_model_complexity(nn.Linear(2, 2), (1, 2))
    assert not caplog.records and capsys.readouterr().out == ""
