"""Image datasets: one module per dataset, each registering its class with ``register_image_dataset``.

The classes are also attributes of this package under their original names (``from
torchreid.data.datasets.image import Market1501``); the modules are imported on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from .. import _module_getattr

    return _module_getattr(__name__, ("image",), name)
