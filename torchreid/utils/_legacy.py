"""LEGACY helpers of the original Torchreid v1.4.0's ``torchreid.utils`` modules, kept for code written against it.

Re-exported at their original paths (``torchreid.utils.torchtools.adjust_learning_rate``); the package itself
uses :mod:`torchreid.optim.lr_scheduler` instead.
"""

from __future__ import annotations

import torch

__all__ = ["adjust_learning_rate"]


def adjust_learning_rate(
    optimizer: torch.optim.Optimizer,
    base_lr: float,
    epoch: int,
    stepsize: int = 20,
    gamma: float = 0.1,
    linear_decay: bool = False,
    final_lr: float = 0,
    max_epoch: int = 100,
) -> None:
    """Set the learning rate of every parameter group for ``epoch``.

    Step decay ``base_lr * gamma ** (epoch // stepsize)``, or with ``linear_decay`` a straight line from
    ``base_lr`` (epoch 0) to ``final_lr`` (``max_epoch``).
    """
    if linear_decay:
        frac_done = epoch / max_epoch
        lr = frac_done * final_lr + (1.0 - frac_done) * base_lr
    else:
        lr = base_lr * (gamma ** (epoch // stepsize))
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr
