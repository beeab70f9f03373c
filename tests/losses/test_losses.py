"""Losses against hand / brute-force computations."""

from __future__ import annotations

import math

import pytest
import torch

from torchreid.losses import CrossEntropyLoss, DeepSupervision, TripletLoss


def test_label_smoothing_matches_hand_computation():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    targets = torch.tensor([0, 2])
    eps, k = 0.1, 3
    expected = 0.0
    for row, t in zip(logits.tolist(), targets.tolist()):
        logz = math.log(sum(math.exp(v) for v in row))
        for j, v in enumerate(row):
            q = (1 - eps) * (1.0 if j == t else 0.0) + eps / k
            expected += -q * (v - logz)
    expected /= 2
    loss = CrossEntropyLoss(num_classes=3, eps=eps, use_gpu=False)(logits, targets)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_no_label_smoothing_equals_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(8, 5)
    targets = torch.randint(0, 5, (8,))
    loss = CrossEntropyLoss(num_classes=5, label_smooth=False)(logits, targets)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, targets).item(), rel=1e-6)


def test_cross_entropy_shape_error():
    with pytest.raises(ValueError, match="5"):
        CrossEntropyLoss(num_classes=5)(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def _brute_force_triplet(x, y, margin):
    n = x.size(0)
    total = 0.0
    for i in range(n):
        d = [math.sqrt(max(((x[i] - x[j]) ** 2).sum().item(), 1e-12)) for j in range(n)]
        ap = max(d[j] for j in range(n) if y[j] == y[i])
        an = min(d[j] for j in range(n) if y[j] != y[i])
        total += max(0.0, ap - an + margin)
    return total / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_batch_hard_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(12, 7, generator=g)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    loss = TripletLoss(margin=0.3)(x, y)
    assert loss.item() == pytest.approx(_brute_force_triplet(x, y, 0.3), rel=1e-5, abs=1e-6)


def test_triplet_gradient_is_finite_for_duplicate_features():
    x = torch.ones(4, 3, requires_grad=True)
    loss = TripletLoss()(x, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert loss.item() == pytest.approx(0.3, abs=1e-5)


def test_triplet_single_identity_is_a_clear_error():
    with pytest.raises(ValueError, match="RandomIdentitySampler"):
        TripletLoss()(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_deep_supervision_is_the_mean():
    crit = CrossEntropyLoss(num_classes=4)
    y = torch.tensor([0, 1, 2])
    xs = [torch.randn(3, 4) for _ in range(3)]
    expected = sum(crit(x, y) for x in xs) / 3
    assert DeepSupervision(crit, xs, y).item() == pytest.approx(expected.item(), rel=1e-6)
    assert DeepSupervision(crit, tuple(xs), y).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(TypeError):
        DeepSupervision(crit, xs[0], y)
