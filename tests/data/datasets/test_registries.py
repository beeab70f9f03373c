"""The dataset registries of torchreid.data.datasets: lazy loading of the built-in datasets."""

from __future__ import annotations


def test_dataset_registries_load_builtins_for_every_container_method():
    """len/iter/items/aliases of the dataset registries must see the built-in datasets (lazy loading)."""
    from torchreid.data.datasets import IMAGE_DATASETS, VIDEO_DATASETS

    assert len(IMAGE_DATASETS) >= 14 and "market1501" in list(IMAGE_DATASETS)
    assert "mars" in dict(VIDEO_DATASETS.items())
    assert isinstance(IMAGE_DATASETS.aliases(), dict)
