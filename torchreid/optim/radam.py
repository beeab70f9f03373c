"""LEGACY module of the original Torchreid v1.4.0: ``RAdam``, ``PlainRAdam`` and ``AdamW``.

The original shipped its own implementations (from the RAdam authors' code). These classes keep its names and
constructor signatures on top of PyTorch's optimizers, with the original's semantics: weight decay is decoupled
(``p -= lr * weight_decay * p``), and while the variance rectification is not yet tractable (the first steps)
``RAdam`` falls back to an SGD-with-momentum step (``degenerated_to_sgd=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["AdamW", "PlainRAdam", "RAdam"]

Betas = tuple[float, float]


def _check(lr: float, eps: float, betas: Betas) -> None:
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


class RAdam(torch.optim.RAdam):
    """Rectified Adam (Liu et al., ICLR 2020) with decoupled weight decay, as the original's ``RAdam``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        degenerated_to_sgd: bool = True,
    ) -> None:
        _check(lr, eps, betas)
        if not degenerated_to_sgd:
            raise ValueError(
                "degenerated_to_sgd=False (skip updates until the rectification is tractable) is not supported; "
                "use the default True"
            )
        self.degenerated_to_sgd = degenerated_to_sgd
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled_weight_decay=True
        )


class PlainRAdam(RAdam):
    """The original's ``PlainRAdam``: the same update as :class:`RAdam` (one rectification per step)."""


class AdamW(torch.optim.AdamW):
    """Adam with decoupled weight decay; ``warmup`` > 0 ramps the learning rate linearly over that many steps."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: Betas = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup: int = 0,
    ) -> None:
        _check(lr, eps, betas)
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        for group in self.param_groups:
            group["warmup"] = warmup
        self._warm_steps = 0

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        self._warm_steps += 1
        saved = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            if group["warmup"] > self._warm_steps:  # this step only: 1e-8 + step * lr / warmup
                group["lr"] = 1e-8 + self._warm_steps * group["lr"] / group["warmup"]
        try:
            return super().step(closure)
        finally:
            for group, lr in zip(self.param_groups, saved):
                group["lr"] = lr
