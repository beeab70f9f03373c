"""Legacy names of the original ``torchreid.metrics.rank`` (kept for scripts that import them).

Each is :func:`torchreid.metrics.rank.evaluate_rank` with the NumPy back-end; all are importable from
``torchreid.metrics.rank`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import ArrayLike

    from .rank_inputs import IdsLike

__all__ = ["eval_cuhk03", "eval_market1501", "evaluate_py"]


def evaluate_py(
    distmat: ArrayLike | torch.Tensor,
    q_pids: IdsLike,
    g_pids: IdsLike,
    q_camids: IdsLike,
    g_camids: IdsLike,
    max_rank: int,
    use_metric_cuhk03: bool,
) -> tuple[np.ndarray, float]:
    """Pure NumPy evaluation (name kept from the original)."""
    from .rank import evaluate_rank  # rank imports this module: resolve at call time

    return evaluate_rank(  # type: ignore[return-value]
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03, False, backend="numpy"
    )


def _protocol(name: str, use_metric_cuhk03: bool, doc: str) -> Callable[..., tuple[np.ndarray, float]]:
    """The original's one-protocol entry point ``name(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)``."""

    def entry(
        distmat: ArrayLike | torch.Tensor,
        q_pids: IdsLike,
        g_pids: IdsLike,
        q_camids: IdsLike,
        g_camids: IdsLike,
        max_rank: int,
    ) -> tuple[np.ndarray, float]:
        return evaluate_py(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = doc
    return entry


eval_market1501 = _protocol(
    "eval_market1501", False, "Market-1501 protocol with the NumPy back-end (name kept from the original)."
)
eval_cuhk03 = _protocol(
    "eval_cuhk03", True, "CUHK03 protocol with the NumPy back-end (name kept from the original)."
)
