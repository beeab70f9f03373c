"""Data: datasets (registries), transforms, samplers and the data managers that build the loaders."""

from __future__ import annotations

from .datamanager import DataManager, ImageDataManager, VideoDataManager
from .datasets import (
    init_image_dataset,
    init_video_dataset,
    register_image_dataset,
    register_video_dataset,
)
from .datasets.dataset import Dataset, ImageDataset, VideoDataset
from .datasets.image.custom import register_custom_dataset
from .samplers import build_train_sampler
from .transforms import build_transforms

__all__ = [
    "DataManager",
    "Dataset",
    "ImageDataManager",
    "ImageDataset",
    "VideoDataManager",
    "VideoDataset",
    "build_train_sampler",
    "build_transforms",
    "init_image_dataset",
    "init_video_dataset",
    "register_custom_dataset",
    "register_image_dataset",
    "register_video_dataset",
]
