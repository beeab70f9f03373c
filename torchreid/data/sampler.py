"""LEGACY module path of the original Torchreid v1.4.0 (``torchreid.data.sampler``); the samplers live in
:mod:`torchreid.data.samplers`."""

from __future__ import annotations

from .samplers import (
    AVAI_SAMPLERS,
    RandomDatasetSampler,
    RandomDomainSampler,
    RandomIdentitySampler,
    build_train_sampler,
)

__all__ = [
    "AVAI_SAMPLERS",
    "RandomDatasetSampler",
    "RandomDomainSampler",
    "RandomIdentitySampler",
    "build_train_sampler",
]
