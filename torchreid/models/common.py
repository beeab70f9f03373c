"""Small pieces shared by the architecture modules.

- :func:`build_fc_layers` — the original ``_construct_fc_layer``: ``Linear → BatchNorm1d → ReLU (→ Dropout)``
  per entry of ``fc_dims``; returns the layers (or ``None``) and the resulting feature dimension.
- :func:`reid_output` / :func:`check_loss` — the forward contract every re-ID model follows:
  eval → features ``(B, D)``; train + ``'softmax'`` → logits; train + ``'triplet'`` → ``(logits, features)``;
  any other loss → ``KeyError``.
- :class:`PooledReIDModel` — base class giving the usual ``forward``: ``featuremaps`` → ``global_avgpool`` →
  optional ``fc`` → :func:`reid_output`.
- :func:`init_params` — the default initialisation the original applied to freshly built layers.

Register factories with :func:`torchreid.models.registry.register_model`; a factory has the signature
``fn(num_classes, loss='softmax', pretrained=True, **kwargs) -> nn.Module``, builds the architecture only (the
registry loads the ImageNet weights the decorator declares) and never moves the model to a device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ._legacy import LegacyModelMethods

__all__ = [
    "SUPPORTED_LOSSES",
    "PooledReIDModel",
    "build_fc_layers",
    "check_loss",
    "init_params",
    "reid_output",
]

# Losses for which the standard contract defines a training-mode output.
SUPPORTED_LOSSES = ("softmax", "triplet")


def build_fc_layers(
    fc_dims: Sequence[int] | int | None, input_dim: int, dropout_p: float | None = None
) -> tuple[nn.Sequential | None, int]:
    """Fully connected embedding layers, as the original's ``_construct_fc_layer``.

    Each entry ``d`` of ``fc_dims`` adds ``Linear(in, d)``, ``BatchNorm1d(d)``, ``ReLU(inplace=True)`` and,
    when ``dropout_p`` is not ``None``, ``Dropout(dropout_p)``. Returns ``(layers, feature_dim)``; ``layers``
    is ``None`` (and ``feature_dim == input_dim``) when ``fc_dims`` is ``None`` or empty, so the state-dict keys
    are ``<attr>.0.weight``, ``<attr>.1.running_mean`` ... exactly as in the original.
    """
    if fc_dims is None or (isinstance(fc_dims, (list, tuple)) and len(fc_dims) == 0):
        return None, input_dim
    if isinstance(fc_dims, int):
        fc_dims = [fc_dims]
    if not isinstance(fc_dims, (list, tuple)):
        raise TypeError(f"fc_dims must be a list or tuple of ints, got {type(fc_dims).__name__}")
    layers: list[nn.Module] = []
    for dim in fc_dims:
        layers.append(nn.Linear(input_dim, dim))
        layers.append(nn.BatchNorm1d(dim))
        layers.append(nn.ReLU(inplace=True))
        if dropout_p is not None:
            layers.append(nn.Dropout(p=dropout_p))
        input_dim = dim
    return nn.Sequential(*layers), int(fc_dims[-1])


def check_loss(loss: str) -> str:
    """Raise ``KeyError`` for a loss the standard contract does not know (call it in ``__init__`` if you want
    construction to fail early; the forward pass raises anyway)."""
    if loss not in SUPPORTED_LOSSES:
        raise KeyError(f"Unsupported loss: {loss!r} (expected one of {', '.join(SUPPORTED_LOSSES)})")
    return loss


def reid_output(training: bool, loss: str, features: torch.Tensor, classifier: nn.Module) -> Any:
    """The standard return value of a re-ID model's ``forward``.

    ``features`` is the embedding ``v`` (after pooling and the optional fc layers). In eval mode it is returned
    as is (the classifier is not evaluated); in training mode the classifier is applied and the output depends
    on ``loss``: ``'softmax'`` → logits, ``'triplet'`` → ``(logits, features)``; otherwise ``KeyError``.

    Usage inside a model::

        def forward(self, x):
            v = self.featuremaps(x) ...
            return reid_output(self.training, self.loss, v, self.classifier)
    """
    if not training:
        return features
    logits = classifier(features)
    if loss == "softmax":
        return logits
    if loss == "triplet":
        return logits, features
    raise KeyError(f"Unsupported loss: {loss!r} (expected one of {', '.join(SUPPORTED_LOSSES)})")


class PooledReIDModel(LegacyModelMethods, nn.Module):
    """Base of the models whose forward is ``featuremaps`` → ``global_avgpool`` → optional ``fc`` → classifier.

    It adds no modules (so state-dict keys and their order are those the subclass registers in ``__init__``),
    only :meth:`forward`. A subclass defines ``featuremaps(x)`` and sets ``loss``, ``global_avgpool``,
    ``classifier`` and, optionally, ``fc`` (an embedding applied after pooling, or ``None``).
    """

    def forward(self, x: torch.Tensor, return_featuremaps: bool = False) -> Any:
        f = self.featuremaps(x)
        if return_featuremaps:
            return f
        v = self.global_avgpool(f).flatten(1)
        fc = getattr(self, "fc", None)
        if fc is not None:
            v = fc(v)
        return reid_output(self.training, self.loss, v, self.classifier)


def init_params(module: nn.Module) -> None:
    """The original's ``_init_params``: Kaiming-normal (fan_out, ReLU) convolutions, unit/zero norms,
    ``N(0, 0.01)`` linear layers, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d, nn.InstanceNorm2d)):
            if getattr(m, "weight", None) is not None:
                nn.init.constant_(m.weight, 1)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
