"""Triplet loss with batch-hard mining (Hermans et al., "In Defense of the Triplet Loss", 2017)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TripletLoss"]


class TripletLoss(nn.Module):
    """Batch-hard triplet loss on Euclidean distances.

    For each anchor, the hardest positive (farthest sample of the same identity, the anchor itself included) and
    the hardest negative (closest sample of another identity) are selected; the loss is
    ``mean(max(0, d(a, p) - d(a, n) + margin))``.

    Args:
        margin: distance margin (0.3 by default).
    """

    def __init__(self, margin: float = 0.3) -> None:
        super().__init__()
        self.margin = float(margin)
        self.ranking_loss = nn.MarginRankingLoss(margin=self.margin)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``inputs``: features ``(B, D)``; ``targets``: identity labels ``(B,)``."""
        x = inputs.float()
        # pairwise Euclidean distance (clamped before the square root for a finite gradient), in float32 even
        # inside an autocast region: an fp16 x @ x.t() overflows (squared norms of re-ID features exceed 65504)
        with torch.autocast(device_type=x.device.type, enabled=False):
            sq = x.pow(2).sum(dim=1, keepdim=True)
            dist = (sq + sq.t() - 2.0 * x @ x.t()).clamp(min=1e-12).sqrt()
        same = targets.view(-1, 1).eq(targets.view(1, -1))
        if bool(same.all()):
            raise ValueError(
                "TripletLoss needs at least two identities per batch; use train_sampler RandomIdentitySampler"
            )
        dist_ap = dist.masked_fill(~same, float("-inf")).max(dim=1).values
        dist_an = dist.masked_fill(same, float("inf")).min(dim=1).values
        y = torch.ones_like(dist_an)
        return self.ranking_loss(dist_an, dist_ap, y)
