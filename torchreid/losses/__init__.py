"""Losses: label-smoothed cross entropy, batch-hard triplet, and deep supervision."""

from __future__ import annotations

from typing import Any

import torch

from .cross_entropy_loss import CrossEntropyLoss
from .hard_mine_triplet_loss import TripletLoss

__all__ = ["CrossEntropyLoss", "DeepSupervision", "TripletLoss"]


def DeepSupervision(criterion: Any, xs: Any, y: torch.Tensor) -> torch.Tensor:
    """Apply ``criterion`` to every output in ``xs`` (a tuple/list, e.g. PCB part logits) and average.

    Args:
        criterion: loss function, called as ``criterion(x, y)``.
        xs: tuple or list of outputs.
        y: ground-truth labels.
    """
    if not isinstance(xs, (tuple, list)) or len(xs) == 0:
        raise TypeError(f"DeepSupervision expects a non-empty tuple/list of outputs, got {type(xs).__name__}")
    loss = 0.0
    for x in xs:
        loss = loss + criterion(x, y)
    return loss / len(xs)
