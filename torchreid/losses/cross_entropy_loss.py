"""Cross-entropy loss with label smoothing (Szegedy et al., CVPR 2016)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(nn.Module):
    r"""Cross entropy with optional label smoothing.

    With label smoothing the target distribution is :math:`(1 - \epsilon) y + \epsilon / K`, where :math:`K` is
    ``num_classes``; the loss is averaged over the batch.

    Args:
        num_classes: number of classes ``K``.
        eps: smoothing weight :math:`\epsilon` (0.1 by default).
        use_gpu: kept for compatibility; targets always follow the device of the inputs.
        label_smooth: apply label smoothing (otherwise ``eps`` is 0).
    """

    def __init__(
        self, num_classes: int, eps: float = 0.1, use_gpu: bool = True, label_smooth: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.eps = float(eps) if label_smooth else 0.0
        self.use_gpu = use_gpu
        self.logsoftmax = nn.LogSoftmax(dim=1)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``inputs``: logits ``(B, K)``; ``targets``: integer labels ``(B,)``."""
        if inputs.dim() != 2 or inputs.size(1) != self.num_classes:
            raise ValueError(
                f"CrossEntropyLoss expects logits of shape (batch, {self.num_classes}), got {tuple(inputs.shape)}"
            )
        log_probs = self.logsoftmax(inputs.float())
        one_hot = torch.zeros_like(log_probs).scatter_(1, targets.long().unsqueeze(1), 1.0)
        smoothed = (1.0 - self.eps) * one_hot + self.eps / self.num_classes
        return (-smoothed * log_probs).mean(0).sum()
