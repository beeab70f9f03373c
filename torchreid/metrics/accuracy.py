"""Top-k classification accuracy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["accuracy"]


def accuracy(
    output: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor, topk: Iterable[int] = (1,)
) -> list[torch.Tensor]:
    """Top-k accuracies in percent.

    Args:
        output: logits ``(batch, num_classes)``; a tuple/list (e.g. a model returning several outputs) uses its
            first element, as the original did.
        target: ground-truth labels ``(batch,)``.
        topk: the k values.

    Returns:
        one 1-element tensor per k holding the accuracy in % (e.g. ``tensor([87.5])``).
    """
    if isinstance(output, (tuple, list)):
        if len(output) == 0:
            raise ValueError("output is an empty sequence")
        output = output[0]
    if output.dim() != 2:
        raise ValueError(f"output must be (batch, num_classes), got shape {tuple(output.shape)}")
    topk = tuple(int(k) for k in topk)
    if any(k < 1 for k in topk):
        raise ValueError(f"topk values must be >= 1, got {topk}")
    maxk = max(topk)
    if maxk > output.size(1):
        raise ValueError(f"topk={maxk} exceeds the number of classes ({output.size(1)})")
    batch_size = target.size(0)
    if output.size(0) != batch_size:
        raise ValueError(f"output has {output.size(0)} rows but target has {batch_size} labels")
    if batch_size == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    with torch.no_grad():
        _, pred = output.topk(maxk, 1, True, True)
        correct = pred.t().eq(target.view(1, -1).expand_as(pred.t()))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
    return res
