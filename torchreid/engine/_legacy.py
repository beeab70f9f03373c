"""Legacy names: what the original Torchreid's engine modules re-exported (``from torchreid.engine.engine import
re_ranking`` worked there). Resolved lazily, so the core modules import only what they use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["LEGACY_NAMES", "module_getattr"]

# module -> {name: module that defines it}
LEGACY_NAMES: dict[str, dict[str, str]] = {
    "torchreid.engine.engine": {
        "DeepSupervision": "torchreid.losses",
        "metrics": "torchreid",
        "open_all_layers": "torchreid.utils.torchtools",
        "open_specified_layers": "torchreid.utils.torchtools",
        "re_ranking": "torchreid.evaluation.rerank",
        "visualize_ranked_results": "torchreid.evaluation.visrank",
    },
    "torchreid.engine.image.softmax": {"metrics": "torchreid"},
    "torchreid.engine.image.triplet": {"metrics": "torchreid", "CrossEntropyLoss": "torchreid.losses"},
}


def module_getattr(module_name: str) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` for ``module_name`` serving its legacy names."""
    names = LEGACY_NAMES.get(module_name, {})

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    return __getattr__
