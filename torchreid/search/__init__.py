"""Search a gallery: a persistent feature index (exact or faiss), re-ranking, sharding, and the ``torchreid index``
command. See README "Search a gallery"."""

from __future__ import annotations

from .distributed import load_shard, sharded_search
from .index import FeatureIndex
from .storage import IndexFormatError

__all__ = ["FeatureIndex", "IndexFormatError", "load_shard", "sharded_search"]
