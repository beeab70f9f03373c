"""Optimizers and learning-rate schedulers."""

from __future__ import annotations

from .lr_scheduler import AVAI_SCHEDULERS, WarmupScheduler, build_lr_scheduler
from .optimizer import AVAI_OPTIMS, build_optimizer

__all__ = ["AVAI_OPTIMS", "AVAI_SCHEDULERS", "WarmupScheduler", "build_lr_scheduler", "build_optimizer"]
