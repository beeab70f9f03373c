"""ImageNet weights of the model zoo that torchvision does not host.

- :func:`cadene_weights`: files of the ``pretrainedmodels`` package (Cadene) that the original Torchreid loaded;
- :func:`manual_weights`: files the original asked users to download by hand;
- :func:`torchvision_weights`: the metadata of torchvision's ``IMAGENET1K_V1`` weights (nothing to register);

Each registers the file with :mod:`torchreid.models.pretrained` and returns the metadata for
:func:`torchreid.models.registry.register_model`, so an architecture module states each file once.
"""

from __future__ import annotations

from typing import Any

from .pretrained import WeightSpec, register_weights

__all__ = ["CADENE_URL", "cadene_weights", "manual_weights", "torchvision_weights"]

CADENE_URL = "http://data.lip6.fr/cadene/pretrainedmodels/"


def cadene_weights(key: str, filename: str, license: str = "BSD-3-Clause") -> dict[str, Any]:
    """Register ``filename`` (hosted with ``pretrainedmodels``) under the weights key ``key``.

    Returns ``{'pretrained_key', 'weights', 'url', 'source', 'license'}`` for ``register_model``.
    """
    url = CADENE_URL + filename
    register_weights(
        key,
        WeightSpec(filename=filename, url=url, source="pretrainedmodels (Cadene), ImageNet-pretrained"),
        overwrite=True,
    )
    return {
        "pretrained_key": key,
        "weights": filename,
        "url": url,
        "source": "pretrainedmodels (Cadene)",
        "license": license,
    }


def manual_weights(key: str, filename: str, where: str) -> dict[str, Any]:
    """Register ImageNet weights that cannot be downloaded automatically (the original pointed users to a
    web page); they are used when ``filename`` has been placed in the cache folder.

    Returns the metadata for ``register_model``.
    """
    register_weights(key, WeightSpec(filename=filename, source=f"manual download: {where}"), overwrite=True)
    return {
        "pretrained_key": key,
        "missing_weights": "warn",  # as the original: without the file the model stays randomly initialised
        "weights": filename,
        "source": f"manual download ({where})",
    }


def torchvision_weights(enum: str, filename: str, feature_dim: int, **extra: Any) -> dict[str, Any]:
    """The ``register_model`` metadata of torchvision's ``<enum>.IMAGENET1K_V1`` weights (file ``filename``)
    for a model whose features have ``feature_dim`` channels; ``extra`` adds fields (e.g. ``weights_loader``)."""
    return {
        "pretrained_key": f"torchvision:{enum}.IMAGENET1K_V1",
        "feature_dim": feature_dim,
        "weights": filename,
        "source": "torchvision",
        "license": "BSD-3-Clause",
        **extra,
    }
