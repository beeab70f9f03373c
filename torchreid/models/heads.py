"""Optional re-ID heads for any backbone: ``build_model(name, num_classes, head='bnneck', ...)``.

**BNNeck** (Luo et al., "Bag of Tricks and a Strong Baseline for Deep Person Re-ID", CVPRW 2019)::

    backbone.featuremaps(x) → pooling (avg, or GeM with pooling='gem') → f_t
                           → BatchNorm1d (bias frozen at 0) → f_i → Linear without bias → logits

Training output: ``'softmax'`` → logits; ``'triplet'`` → ``(logits, f_t)`` (the triplet loss sees the features
*before* the BN, the cross-entropy those after it). Eval output: ``f_i`` (``neck_feat='after'``, default) or
``f_t`` (``neck_feat='before'``).

The backbone keeps its own state-dict names (``conv1.weight``, ``layer1.0...``), so ImageNet weights and the
backbone part of original checkpoints load into a BNNeck model; only its pooling/fc/classifier are replaced by
``pool``, ``bottleneck`` and ``classifier``. Use ``last_stride=1`` with backbones that accept it (the ResNet
family) for the usual BoT setting. Any registered model that has a ``featuremaps(x)`` method works; the others
raise ``ValueError``. ``nn.DataParallel`` works too (each replica runs its own copy of the backbone). Without ``head`` nothing changes: models are exactly the original.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_loss

__all__ = ["HEADS", "BNNeckModel", "GeneralizedMeanPooling", "attach_head", "build_pooling"]

# Top-level attributes of the original models that form their head (pooling, embedding, classifier).
_HEAD_ATTRS = frozenset(
    {"global_avgpool", "global_maxpool", "avgpool", "fc", "classifier", "dropout", "bottleneck", "pool"}
)


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling (Radenović et al., TPAMI 2018): ``(mean(x^p))^(1/p)`` over space, ``p`` learnable."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6, learnable: bool = True) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p, requires_grad=learnable)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        return F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(p), 1).pow(1.0 / p)

    def extra_repr(self) -> str:
        return f"p={float(self.p.detach()[0]):.2f}, eps={self.eps}"


def build_pooling(pooling: str = "avg", **kwargs: Any) -> nn.Module:
    """``'avg'``, ``'max'`` or ``'gem'`` global pooling to ``(B, C, 1, 1)``."""
    if pooling == "avg":
        return nn.AdaptiveAvgPool2d(1)
    if pooling == "max":
        return nn.AdaptiveMaxPool2d(1)
    if pooling == "gem":
        return GeneralizedMeanPooling(**kwargs)
    raise ValueError(f"Unknown pooling {pooling!r}; choose 'avg', 'max' or 'gem'")


class BNNeckModel(nn.Module):
    """A backbone's feature maps followed by the BNNeck head (see the module docstring)."""

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        loss: str = "softmax",
        pooling: str = "avg",
        neck_feat: str = "after",
        input_size: tuple[int, int, int] = (3, 256, 128),
        feature_channels: int | None = None,
        **pool_kwargs: Any,
    ) -> None:
        super().__init__()
        if not callable(getattr(backbone, "featuremaps", None)):
            raise ValueError(
                f"{type(backbone).__name__} has no featuremaps(x) method, so a head cannot be attached to it"
            )
        if neck_feat not in ("after", "before"):
            raise ValueError(f"neck_feat must be 'after' or 'before', got {neck_feat!r}")
        self.loss = loss
        self.neck_feat = neck_feat
        # Adopt the backbone's layers under their own names (so its weights keep their keys); keep the original
        # module (unregistered) to call its featuremaps().
        for name, child in backbone.named_children():
            if name not in _HEAD_ATTRS:
                self.add_module(name, child)
        object.__setattr__(self, "_body", backbone)
        if feature_channels is None:
            feature_channels = self._infer_channels(input_size)
        self.feature_dim = feature_channels
        self.pool = build_pooling(pooling, **pool_kwargs)
        self.bottleneck = nn.BatchNorm1d(feature_channels)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(feature_channels, num_classes, bias=False)
        nn.init.constant_(self.bottleneck.weight, 1)
        nn.init.constant_(self.bottleneck.bias, 0)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def _infer_channels(self, input_size: tuple[int, int, int]) -> int:
        was_training = self._body.training
        self._body.eval()
        try:
            with torch.no_grad():
                f = self._body.featuremaps(torch.zeros(1, *input_size))
        finally:
            self._body.train(was_training)
        return int(f.shape[1])

    def train(self, mode: bool = True) -> BNNeckModel:
        super().train(mode)
        self._body.training = mode  # the shared children already follow; keep the wrapper's flag in sync
        return self

    def _replicate_for_data_parallel(self) -> BNNeckModel:
        # nn.DataParallel replicates registered modules only; give each replica its own view of the backbone
        # whose children are the replica's (the same dict, which replicate() then fills per device), so a
        # replica on GPU k never runs the GPU-0 backbone.
        replica = super()._replicate_for_data_parallel()
        body = self._body._replicate_for_data_parallel()
        body._modules = replica._modules
        object.__setattr__(replica, "_body", body)
        return replica

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self._body.featuremaps(x)

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        f = self.featuremaps(x)
        if return_featuremaps:
            return f
        f_t = self.pool(f).flatten(1)
        f_i = self.bottleneck(f_t)
        if not self.training:
            return f_i if self.neck_feat == "after" else f_t
        logits = self.classifier(f_i)
        if self.loss == "softmax":
            return logits
        if self.loss == "triplet":
            return logits, f_t
        check_loss(self.loss)  # raises KeyError
        return logits


HEADS = {"bnneck": BNNeckModel}


def attach_head(
    backbone: nn.Module,
    head: str,
    num_classes: int,
    loss: str = "softmax",
    input_size: tuple[int, int, int] = (3, 256, 128),
    **kwargs: Any,
) -> nn.Module:
    """Wrap ``backbone`` (a built re-ID model) with the head named ``head`` (``'bnneck'``)."""
    try:
        cls = HEADS[head]
    except KeyError:
        raise KeyError(f"Unknown head {head!r}; available: {', '.join(HEADS)}") from None
    return cls(backbone, num_classes, loss=loss, input_size=input_size, **kwargs)
