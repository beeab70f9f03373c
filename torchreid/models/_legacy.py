"""LEGACY names of the original Torchreid v1.4.0's model modules, kept so that code written against it runs.

Nothing in the package uses these; they are re-exported at their original paths (``torchreid.models.osnet``,
``torchreid.models.resnet``, ...) by a marked block at the end of each architecture module:

- ``model_urls`` / ``pretrained_urls`` / ``pretrained_settings``: the original's per-module weight tables (the
  weights the builder loads are declared once, in each model's registry metadata);
- ``init_pretrained_weights(model, model_url)`` (``(model, key='')`` in the OSNet modules): load ImageNet weights
  into ``model``, keeping every layer whose name or shape does not match. Unlike the original, the file goes
  through the verified cache of :mod:`torchreid.models.pretrained` (no partial downloads);
- :class:`LegacyModelMethods`: the original's private helpers ``_construct_fc_layer`` and ``_init_params``,
  which subclasses written against the original call.

This module imports no architecture module (they import it), so it can never create an import cycle.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from torch import nn

__all__ = [
    "CADENE_URL",
    "DENSENET_MODEL_URLS",
    "RESNET_MODEL_URLS",
    "SHUFFLENETV2_MODEL_URLS",
    "SQUEEZENET_MODEL_URLS",
    "LegacyModelMethods",
    "cadene_settings",
    "init_pretrained_weights",
    "init_pretrained_weights_by_key",
]

logger = logging.getLogger(__name__)

TV = "https://download.pytorch.org/models/"
CADENE_URL = "http://data.lip6.fr/cadene/pretrainedmodels/"

RESNET_MODEL_URLS: dict[str, str] = {
    "resnet18": TV + "resnet18-5c106cde.pth",
    "resnet34": TV + "resnet34-333f7ec4.pth",
    "resnet50": TV + "resnet50-19c8e357.pth",
    "resnet101": TV + "resnet101-5d3b4d8f.pth",
    "resnet152": TV + "resnet152-b121ed2d.pth",
    "resnext50_32x4d": TV + "resnext50_32x4d-7cdf4587.pth",
    "resnext101_32x8d": TV + "resnext101_32x8d-8ba56ff5.pth",
}
DENSENET_MODEL_URLS: dict[str, str] = {
    "densenet121": TV + "densenet121-a639ec97.pth",
    "densenet169": TV + "densenet169-b2777c0a.pth",
    "densenet201": TV + "densenet201-c1103571.pth",
    "densenet161": TV + "densenet161-8d451a50.pth",
}
SQUEEZENET_MODEL_URLS: dict[str, str] = {
    "squeezenet1_0": TV + "squeezenet1_0-a815701f.pth",
    "squeezenet1_1": TV + "squeezenet1_1-f364aa15.pth",
}
SHUFFLENETV2_MODEL_URLS: dict[str, str | None] = {
    "shufflenetv2_x0.5": TV + "shufflenetv2_x0.5-f707e7126e.pth",
    "shufflenetv2_x1.0": TV + "shufflenetv2_x1-5666bf0f80.pth",
    "shufflenetv2_x1.5": None,
    "shufflenetv2_x2.0": None,
}


def cadene_settings(
    filename: str,
    input_size: int,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
    background: bool = False,
    **extra: Any,
) -> dict[str, dict[str, Any]]:
    """One entry of the original's ``pretrained_settings`` (the ``pretrainedmodels`` package's layout)."""

    def one(num_classes: int) -> dict[str, Any]:
        return {
            "url": CADENE_URL + filename,
            "input_space": "RGB",
            "input_size": [3, input_size, input_size],
            "input_range": [0, 1],
            "mean": list(mean),
            "std": list(std),
            "num_classes": num_classes,
            **extra,
        }

    settings = {"imagenet": one(1000)}
    if background:
        settings["imagenet+background"] = one(1001)
    return settings


def _spec_for_url(url: str) -> Any:
    """The registered :class:`WeightSpec` whose download location is ``url``, else a new one named after it."""
    from .pretrained import KNOWN_WEIGHTS, WeightSpec

    for spec in KNOWN_WEIGHTS.values():
        if url in (spec.download_url, spec.url) or (spec.source and url in spec.source):
            return spec
    return WeightSpec(filename=os.path.basename(url.split("?", 1)[0]) or "weights.pth", url=url, source=url)


def _load(model: nn.Module, spec_or_key: Any) -> None:
    from ..utils.checkpoint import load_pretrained_weights
    from .pretrained import fetch_weights

    path = fetch_weights(spec_or_key)
    report = load_pretrained_weights(model, path)
    if report.get("loaded"):
        logger.info(f'Successfully loaded imagenet pretrained weights from "{path}"')
        if report.get("skipped"):
            logger.info(
                "** The following layers are discarded due to unmatched keys or layer size: "
                f"{report['skipped']}"
            )


def init_pretrained_weights(model: nn.Module, model_url: str) -> None:
    """LEGACY: load the ImageNet weights at ``model_url`` into ``model`` (matching names and shapes only)."""
    _load(model, _spec_for_url(model_url))


def init_pretrained_weights_by_key(model: nn.Module, key: str = "") -> None:
    """LEGACY (OSNet modules): load the ImageNet weights of the model zoo entry ``key`` (e.g. ``'osnet_x1_0'``)."""
    _load(model, key)


class LegacyModelMethods:
    """The original models' private helpers, for subclasses written against the original."""

    feature_dim: int

    def _construct_fc_layer(
        self, fc_dims: Sequence[int] | int | None, input_dim: int, dropout_p: float | None = None
    ) -> nn.Sequential | None:
        """Linear + BatchNorm1d + ReLU (+ Dropout) per entry of ``fc_dims``; sets ``self.feature_dim``.

        ``None`` (or a negative int, as in OSNet) builds nothing and keeps ``input_dim`` as the feature size.
        """
        from .common import build_fc_layers

        if isinstance(fc_dims, int) and fc_dims < 0:
            fc_dims = None
        layers, self.feature_dim = build_fc_layers(fc_dims, input_dim, dropout_p)
        return layers

    def _init_params(self) -> None:
        """Kaiming-normal convolutions, unit/zero norms, ``N(0, 0.01)`` linear layers, zero biases."""
        from .common import init_params

        init_params(self)  # type: ignore[arg-type]
