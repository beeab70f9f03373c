"""Small pieces shared by the architecture modules.

- :func:`build_fc_layers` — the original ``_construct_fc_layer``: ``Linear → BatchNorm1d → ReLU (→ Dropout)``
  per entry of ``fc_dims``; returns the layers (or ``None``) and the resulting feature dimension.
- :func:`reid_output` / :func:`check_loss` — the forward contract every re-ID model follows:
  eval → features ``(B, D)``; train + ``'softmax'`` → logits; train + ``'triplet'`` → ``(logits, features)``;
  any other loss → ``KeyError``.
- :class:`PooledReIDModel` — base class giving the usual ``forward``: ``featuremaps`` → ``global_avgpool`` →
  optional ``fc`` → :func:`reid_output`.
- :func:`init_params` — the default initialisation the original applied to freshly built layers.
- :func:`make_res_layer` — one ResNet-style stage (projection shortcut on the first block);
  :class:`ResStagesReIDModel` — the four stages ``layer1``-``layer4`` and the pooled head of the ResNet and SENet
  families.
- :func:`model_variant` — a registered factory that builds one configuration of an architecture (the table of
  variants of a family, e.g. ``resnet50 = model_variant("resnet50", _resnet, block=..., layers=...)``).

Register factories with :func:`torchreid.models.registry.register_model`; a factory has the signature
``fn(num_classes, loss='softmax', pretrained=True, **kwargs) -> nn.Module``, builds the architecture only (the
registry loads the ImageNet weights the decorator declares) and never moves the model to a device.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ._legacy import LegacyModelMethods

__all__ = [
    "SUPPORTED_LOSSES",
    "PooledReIDModel",
    "ResStagesReIDModel",
    "build_fc_layers",
    "check_loss",
    "init_params",
    "make_res_layer",
    "model_variant",
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


class ResStagesReIDModel(PooledReIDModel):
    """Base of the ResNet-style models: after a stem, four stages ``layer1``-``layer4`` of widths 64-512 (strides
    1, 2, 2, ``last_stride``) built with :func:`make_res_layer`, then GAP → optional fc → classifier.

    A subclass sets ``inplanes`` (the stem's output channels) and may override :meth:`_block_kwargs` and the
    shortcut's ``downsample_kernel_size`` / ``downsample_padding``.
    """

    downsample_kernel_size = 1
    downsample_padding = 0

    def _build_stages_and_head(
        self,
        block: Any,
        layers: Sequence[int],
        last_stride: int,
        num_classes: int,
        fc_dims: Sequence[int] | None,
        dropout_p: float | None,
    ) -> None:
        """Create ``layer1``-``layer4``, ``global_avgpool``, ``fc`` and ``classifier`` (in that order)."""
        for i, (planes, stride) in enumerate(zip((64, 128, 256, 512), (1, 2, 2, last_stride))):
            setattr(self, f"layer{i + 1}", self._make_layer(block, planes, layers[i], stride=stride))
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc, self.feature_dim = build_fc_layers(fc_dims, 512 * block.expansion, dropout_p)
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def _make_layer(self, block: Any, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layer, self.inplanes = make_res_layer(
            block,
            self.inplanes,
            planes,
            blocks,
            stride,
            block_kwargs=lambda index: self._block_kwargs(planes, index, blocks),
            downsample_kernel_size=self.downsample_kernel_size,
            downsample_padding=self.downsample_padding,
        )
        return layer

    def _block_kwargs(self, planes: int, index: int, blocks: int) -> dict[str, Any]:
        """Extra keyword arguments of block ``index`` (of ``blocks``) in the stage of width ``planes``."""
        return {}

    def _stages(self, x: torch.Tensor) -> torch.Tensor:
        """``layer1`` → ``layer4``."""
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


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


def make_res_layer(
    block: Callable[..., nn.Module],
    inplanes: int,
    planes: int,
    blocks: int,
    stride: int = 1,
    block_kwargs: Callable[[int], Mapping[str, Any]] = lambda index: {},
    downsample_kernel_size: int = 1,
    downsample_padding: int = 0,
) -> tuple[nn.Sequential, int]:
    """One ResNet-style stage of ``blocks`` blocks of width ``planes``; returns it and its output channels.

    The first block takes ``stride`` and, when the stride or the channel count changes, a projection shortcut
    ``downsample = Sequential(Conv2d(k, stride, no bias), BatchNorm2d)``; the others keep the resolution.
    ``block_kwargs(index)`` gives the extra keyword arguments of block ``index``. Modules are created in the
    original's order (shortcut, then the blocks), so state-dict keys and seeded initialisation are unchanged.
    """
    out_planes = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out_planes:
        downsample = nn.Sequential(
            nn.Conv2d(
                inplanes,
                out_planes,
                kernel_size=downsample_kernel_size,
                stride=stride,
                padding=downsample_padding,
                bias=False,
            ),
            nn.BatchNorm2d(out_planes),
        )
    mods = [block(inplanes=inplanes, planes=planes, stride=stride, downsample=downsample, **block_kwargs(0))]
    mods += [block(inplanes=out_planes, planes=planes, **block_kwargs(i)) for i in range(1, blocks)]
    return nn.Sequential(*mods), out_planes


def model_variant(
    name: str,
    build: Callable[..., nn.Module],
    *,
    doc: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **config: Any,
) -> Callable[..., nn.Module]:
    """Register and return the factory ``name(num_classes, loss='softmax', pretrained=True, **kwargs)``.

    It calls ``build(num_classes=..., loss=..., **config, **kwargs)``; ``defaults`` are keyword arguments the
    caller may override (e.g. ``last_stride``, ``fc_dims``), ``config`` fixes the architecture (block, layers),
    ``metadata`` goes to :func:`~torchreid.models.registry.register_model` (ImageNet weights, feature size).
    """
    from .registry import register_model

    def factory(num_classes: int, loss: str = "softmax", pretrained: bool = True, **kwargs: Any) -> nn.Module:
        for key, value in (defaults or {}).items():
            kwargs.setdefault(key, copy.copy(value))  # a fresh list per model, as a literal default would be
        return build(num_classes=num_classes, loss=loss, **config, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__module__ = sys._getframe(1).f_globals.get("__name__", __name__)  # the caller's, as a def there
    factory.__doc__ = doc
    model_cls = config.get("model_cls", build)  # the return annotation a def would have had
    factory.__annotations__["return"] = (
        model_cls.__name__
        if isinstance(model_cls, type)
        else build.__annotations__.get("return", "nn.Module")
    )
    return register_model(factory, name=name, **(metadata or {}))
