"""ImageNet weights of the model zoo that torchvision does not host.

- :func:`cadene_weights`: files of the ``pretrainedmodels`` package (Cadene) that the original Torchreid loaded;
- :func:`manual_weights`: files the original asked users to download by hand;
- :func:`load_or_warn`: load them when available, else warn and keep the random initialisation.

Each registers the file with :mod:`torchreid.models.pretrained` and returns the metadata for
:func:`torchreid.models.registry.register_model`, so an architecture module states each file once.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import nn

from .pretrained import WeightSpec, register_weights

__all__ = ["CADENE_URL", "cadene_weights", "load_or_warn", "manual_weights"]

CADENE_URL = "http://data.lip6.fr/cadene/pretrainedmodels/"


def cadene_weights(key: str, filename: str, license: str = "BSD-3-Clause") -> dict[str, Any]:
    """Register ``filename`` (hosted with ``pretrainedmodels``) under the weights key ``key``.

    Returns ``{'weights', 'url', 'source', 'license'}`` for ``register_model``.
    """
    url = CADENE_URL + filename
    register_weights(
        key,
        WeightSpec(filename=filename, url=url, source="pretrainedmodels (Cadene), ImageNet-pretrained"),
        overwrite=True,
    )
    return {"weights": filename, "url": url, "source": "pretrainedmodels (Cadene)", "license": license}


def manual_weights(key: str, filename: str, where: str) -> dict[str, Any]:
    """Register ImageNet weights that cannot be downloaded automatically (the original pointed users to a
    web page); they are used when ``filename`` has been placed in the cache folder.

    Returns the metadata for ``register_model``.
    """
    register_weights(key, WeightSpec(filename=filename, source=f"manual download: {where}"), overwrite=True)
    return {"weights": filename, "source": f"manual download ({where})"}


def load_or_warn(model: nn.Module, pretrained: bool, key: str | None, name: str) -> nn.Module:
    """Load the ImageNet weights ``key`` when ``pretrained``; when they are not available (none exist, or a
    manual-download file is not in the cache) warn and keep the random initialisation, as the original did."""
    if not pretrained:
        return model
    if key is None:
        warnings.warn(
            f"ImageNet-pretrained weights are not available for {name}; it is randomly initialised",
            stacklevel=3,
        )
        return model
    from .pretrained import WeightsNotFoundError, load_imagenet_weights

    try:
        load_imagenet_weights(model, key)
    except WeightsNotFoundError as exc:
        warnings.warn(f"{name} is randomly initialised: {exc}", stacklevel=3)
    return model
