"""compute_model_complexity corner cases: transposed convs, input size check, verbose table."""

from __future__ import annotations

import warnings

import pytest
from torch import nn

# ------------------------------------------------------------------------------------------------ complexity


def test_model_complexity_transposed_conv_and_input_size_check():
    from torchreid.utils import compute_model_complexity

    m = nn.ConvTranspose2d(2, 4, kernel_size=3)
    params, flops = compute_model_complexity(m, (1, 2, 5, 5))
    assert params == 2 * 4 * 9 + 4
    assert flops == 50 * 9 * 4 + 4 * 7 * 7  # every input element spreads over k*out outputs, plus the bias
    with pytest.raises(ValueError, match="must include the batch dimension"):
        compute_model_complexity(m, (5,))


def test_model_complexity_verbose_breakdown(capsys):
    from torchreid.utils import compute_model_complexity

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params, flops = compute_model_complexity(model, (2, 4), verbose=True, only_conv_linear=False)
    assert params == 4 * 3 + 3 + 3 * 2 + 2
    assert flops == 2 * 3 * 4 + 6 + 6 + 2 * 2 * 3 + 4  # linear (+bias), relu, linear (+bias)
    out = capsys.readouterr().out
    assert "Linear" in out and "ReLU" in out and "Total" in out
    assert model.training  # mode restored
