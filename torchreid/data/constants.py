"""Constants shared by the data pipeline, the models' metadata and inference: the one definition of each."""

from __future__ import annotations

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD"]

# ImageNet per-channel statistics (RGB, inputs scaled to [0, 1]): the default normalisation of every model here
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
