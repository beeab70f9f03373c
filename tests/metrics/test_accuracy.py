"""accuracy(): top-k percentages as the original."""

from __future__ import annotations

import pytest
import torch

from torchreid.metrics import accuracy


def test_topk_percentages():
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    target = torch.tensor([1, 1, 0, 2])
    top1, top2, top3 = accuracy(logits, target, topk=(1, 2, 3))
    assert top1.shape == (1,)
    assert top1.item() == pytest.approx(25.0)  # only sample 0
    assert top2.item() == pytest.approx(75.0)  # samples 0, 1, 3
    assert top3.item() == pytest.approx(100.0)
    (default,) = accuracy(logits, target)
    assert default.item() == pytest.approx(25.0)


def test_tuple_output_uses_first_element():
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    other = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert accuracy((logits, other), torch.tensor([1, 0]))[0].item() == pytest.approx(100.0)
    assert accuracy([other, logits], torch.tensor([1, 0]))[0].item() == pytest.approx(0.0)


def test_bad_inputs():
    logits = torch.rand(4, 3)
    with pytest.raises(ValueError, match="exceeds"):
        accuracy(logits, torch.zeros(4, dtype=torch.long), topk=(5,))
    with pytest.raises(ValueError, match="rows"):
        accuracy(logits, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="num_classes"):
        accuracy(torch.rand(4), torch.zeros(4, dtype=torch.long))


def test_accuracy_input_errors():
    with pytest.raises(ValueError, match="output is an empty sequence"):
        accuracy([], torch.tensor([0]))
    with pytest.raises(ValueError, match=r"topk values must be >= 1, got \(0,\)"):
        accuracy(torch.zeros(2, 3), torch.tensor([0, 1]), topk=(0,))
    with pytest.raises(ValueError, match="empty batch"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
