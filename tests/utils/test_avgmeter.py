"""AverageMeter and MetricMeter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ meters


def test_average_meter_weights_by_n_and_accepts_tensors():
    from torchreid.utils import AverageMeter

    m = AverageMeter()
    m.update(torch.tensor(2.0), n=3)
    m.update(4.0)
    assert (m.val, m.sum, m.count) == (4.0, 10.0, 4)
    assert m.avg == pytest.approx(2.5)
    m.reset()
    assert (m.val, m.avg, m.sum, m.count) == (0.0, 0.0, 0.0, 0)


def test_metric_meter_format_and_input_checks():
    from torchreid.utils import MetricMeter

    mm = MetricMeter(delimiter=" | ")
    mm.update(None)  # ignored
    assert str(mm) == ""
    mm.update({"loss": torch.tensor(1.0), "acc": 50.0})
    mm.update({"loss": 3.0, "acc": 100.0})
    assert str(mm) == "loss 3.0000 (2.0000) | acc 100.0000 (75.0000)"
    with pytest.raises(TypeError, match="dictionary"):
        mm.update([("loss", 1.0)])
