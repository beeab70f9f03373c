"""Pairwise distances between feature matrices (torch tensors, CPU or GPU).

``'euclidean'`` is the **squared** Euclidean distance ``‖a‖² + ‖b‖² - 2 a·b`` computed with ``addmm`` exactly as
the original Torchreid did (so results agree with it to float32 rounding; values can be slightly negative for
identical rows). ``'cosine'`` is ``1 - (a/‖a‖)·(b/‖b‖)``.

The output is written block by block into one preallocated ``(m, n)`` tensor, so apart from the result itself the
extra memory is bounded by one block (``chunk_size`` rows), never a second ``(m, n)`` temporary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import ArrayLike

__all__ = ["compute_distance_matrix", "cosine_distance", "euclidean_squared_distance"]

METRICS = ("euclidean", "cosine")
_DEFAULT_BLOCK_ELEMENTS = 1 << 24  # elements of the output written per block


def _as_2d_tensor(x: torch.Tensor | ArrayLike, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D (num_samples, feat_dim) tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    return x


def _prepare(
    input1: torch.Tensor | ArrayLike, input2: torch.Tensor | ArrayLike
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked inputs (one floating dtype) and the uninitialised ``(m, n)`` output."""
    a = _as_2d_tensor(input1, "input1")
    b = _as_2d_tensor(input2, "input2")
    if a.size(1) != b.size(1):
        raise ValueError(
            f"feature dimensions differ: input1 is {tuple(a.shape)}, input2 is {tuple(b.shape)} "
            "(both must be (num_samples, feat_dim) with the same feat_dim)"
        )
    if a.device != b.device:
        raise ValueError(f"input1 is on {a.device} but input2 is on {b.device}")
    if a.dtype != b.dtype:
        dtype = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(dtype), b.to(dtype)
    return a, b, torch.empty((a.size(0), b.size(0)), dtype=a.dtype, device=a.device)


def _needs_grad(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)


def _block_rows(m: int, n: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        return chunk_size
    return max(1, min(m, _DEFAULT_BLOCK_ELEMENTS // max(n, 1)))


def _blocks(out: torch.Tensor, chunk_size: int | None) -> Iterator[tuple[slice, torch.Tensor]]:
    """``(rows, out[rows])`` for consecutive row blocks of the output."""
    m, n = out.shape
    step = _block_rows(m, n, chunk_size)
    for s in range(0, m, step):
        rows = slice(s, min(m, s + step))
        yield rows, out[rows]


def euclidean_squared_distance(
    input1: torch.Tensor | ArrayLike, input2: torch.Tensor | ArrayLike, chunk_size: int | None = None
) -> torch.Tensor:
    """Squared Euclidean distance matrix ``(m, n)`` between ``input1 (m, d)`` and ``input2 (n, d)``."""
    a, b, out = _prepare(input1, input2)
    if out.numel() == 0:
        return out
    sq_a = a.pow(2).sum(dim=1)
    sq_b = b.pow(2).sum(dim=1)
    bt = b.t()
    if _needs_grad(a, b):  # out= does not support autograd: the original's out-of-place formula
        return (sq_a.unsqueeze(1) + sq_b.unsqueeze(0)).addmm(a, bt, beta=1, alpha=-2)
    for rows, block in _blocks(out, chunk_size):
        # same operation order as the original: (|a|^2 + |b|^2) then addmm(beta=1, alpha=-2)
        torch.add(sq_a[rows].unsqueeze(1), sq_b.unsqueeze(0), out=block)
        block.addmm_(a[rows], bt, beta=1, alpha=-2)
    return out


def cosine_distance(
    input1: torch.Tensor | ArrayLike, input2: torch.Tensor | ArrayLike, chunk_size: int | None = None
) -> torch.Tensor:
    """Cosine distance matrix ``1 - cos(a, b)`` of shape ``(m, n)``."""
    a, b, out = _prepare(input1, input2)
    if out.numel() == 0:
        return out
    a = F.normalize(a, p=2, dim=1)
    bt = F.normalize(b, p=2, dim=1).t()
    if _needs_grad(a, b):  # out= does not support autograd: the original's out-of-place formula
        return 1 - torch.mm(a, bt)
    for rows, block in _blocks(out, chunk_size):
        torch.mm(a[rows], bt, out=block)
        block.neg_().add_(1)
    return out


def compute_distance_matrix(
    input1: torch.Tensor | ArrayLike,
    input2: torch.Tensor | ArrayLike,
    metric: str = "euclidean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Distance matrix between two sets of feature vectors.

    Args:
        input1: ``(m, d)`` tensor (NumPy arrays are converted).
        input2: ``(n, d)`` tensor on the same device.
        metric: ``'euclidean'`` (squared Euclidean, as the original) or ``'cosine'``.
        chunk_size: rows of the output computed per block (default: about 16M elements per block).

    Returns:
        ``(m, n)`` tensor on the inputs' device.

    Raises:
        ValueError: an input is not 2-D, the feature dimensions differ, or ``metric`` is unknown.
    """
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"Unknown distance metric: {metric!r}. Please choose either 'euclidean' or 'cosine'")
    if metric == "euclidean":
        return euclidean_squared_distance(input1, input2, chunk_size=chunk_size)
    return cosine_distance(input1, input2, chunk_size=chunk_size)
