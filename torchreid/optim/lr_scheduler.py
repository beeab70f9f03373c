"""``build_lr_scheduler``: per-epoch learning-rate schedules (single_step, multi_step, cosine) + linear warm-up."""

from __future__ import annotations

import difflib
from typing import Any

import torch

__all__ = ["AVAI_SCH", "AVAI_SCHEDULERS", "WarmupScheduler", "build_lr_scheduler"]

AVAI_SCHEDULERS = ["single_step", "multi_step", "cosine"]
AVAI_SCH = AVAI_SCHEDULERS  # the original's name


class WarmupScheduler:
    """Linear warm-up on top of another per-epoch scheduler.

    The wrapped scheduler keeps its own (absolute-epoch) schedule; during the first ``warmup_epochs`` epochs its
    learning rate is multiplied by a factor growing linearly from ``warmup_factor`` (epoch 0) to 1 (epoch
    ``warmup_epochs``). ``step()`` once per epoch, like the wrapped scheduler.
    """

    def __init__(self, scheduler: Any, warmup_epochs: int, warmup_factor: float = 0.1) -> None:
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
        if not 0.0 < warmup_factor <= 1.0:
            raise ValueError(f"warmup_factor must be in (0, 1], got {warmup_factor}")
        self.scheduler = scheduler
        self.optimizer = scheduler.optimizer
        self.warmup_epochs = int(warmup_epochs)
        self.warmup_factor = float(warmup_factor)
        self.last_epoch = 0
        self._clean_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self._apply()

    def _factor(self, epoch: int) -> float:
        if epoch >= self.warmup_epochs:
            return 1.0
        alpha = epoch / self.warmup_epochs
        return self.warmup_factor + (1.0 - self.warmup_factor) * alpha

    def _apply(self) -> None:
        f = self._factor(self.last_epoch)
        for group, lr in zip(self.optimizer.param_groups, self._clean_lrs):
            group["lr"] = lr * f

    def step(self) -> None:
        # let the wrapped scheduler work on the un-warmed learning rates (chainable schedulers read them)
        for group, lr in zip(self.optimizer.param_groups, self._clean_lrs):
            group["lr"] = lr
        self.scheduler.step()
        self._clean_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {
            "scheduler": self.scheduler.state_dict(),
            "warmup_epochs": self.warmup_epochs,
            "warmup_factor": self.warmup_factor,
            "last_epoch": self.last_epoch,
            "clean_lrs": list(self._clean_lrs),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scheduler" not in state:  # a checkpoint written without warm-up: only the wrapped scheduler
            self.scheduler.load_state_dict(state)
            self.last_epoch = int(state.get("last_epoch", 0))
            self._clean_lrs = [g["lr"] for g in self.optimizer.param_groups]
        else:
            self.scheduler.load_state_dict(state["scheduler"])
            self.warmup_epochs = int(state["warmup_epochs"])
            self.warmup_factor = float(state["warmup_factor"])
            self.last_epoch = int(state["last_epoch"])
            self._clean_lrs = [float(x) for x in state["clean_lrs"]]
        self._apply()


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer,
    lr_scheduler: str = "single_step",
    stepsize: int | list[int] = 1,
    gamma: float = 0.1,
    max_epoch: int = 1,
    warmup_epochs: int = 0,
    warmup_factor: float = 0.1,
) -> Any:
    """Build a scheduler that is stepped once per epoch.

    - ``single_step``: decay by ``gamma`` every ``stepsize`` epochs (a list uses its last value);
    - ``multi_step``: decay by ``gamma`` at each epoch of the list ``stepsize``;
    - ``cosine``: cosine annealing over ``max_epoch`` epochs.

    ``warmup_epochs > 0`` wraps the result in a :class:`WarmupScheduler`.
    """
    if lr_scheduler not in AVAI_SCHEDULERS:
        close = difflib.get_close_matches(str(lr_scheduler), AVAI_SCHEDULERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unsupported scheduler: {lr_scheduler!r}.{hint} Must be one of {AVAI_SCHEDULERS}")

    if lr_scheduler == "single_step":
        if isinstance(stepsize, (list, tuple)):
            if not stepsize:
                raise ValueError("stepsize is empty; single_step needs one step size")
            stepsize = stepsize[-1]
        if not isinstance(stepsize, int) or stepsize <= 0:
            raise TypeError(
                f"For single_step lr_scheduler, stepsize must be a positive integer, got {stepsize!r}"
            )
        scheduler: Any = torch.optim.lr_scheduler.StepLR(optimizer, step_size=stepsize, gamma=gamma)
    elif lr_scheduler == "multi_step":
        if not isinstance(stepsize, (list, tuple)):
            raise TypeError(f"For multi_step lr_scheduler, stepsize must be a list, got {stepsize!r}")
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(stepsize), gamma=gamma)
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(max_epoch))

    if warmup_epochs and warmup_epochs > 0:
        scheduler = WarmupScheduler(scheduler, warmup_epochs, warmup_factor)
    return scheduler
