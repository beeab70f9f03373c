"""Re-ID architectures and the model factory.

Every architecture module in this package registers its names with :func:`register_model`; use
:func:`build_model` to instantiate one and :func:`list_models` to see what exists.
"""

from __future__ import annotations

from .registry import (
    MODELS,
    ModelInfo,
    build_model,
    get_model_info,
    is_model,
    list_models,
    model_factory,
    register_model,
    show_avai_models,
)

__all__ = [
    "MODELS",
    "ModelInfo",
    "build_model",
    "get_model_info",
    "is_model",
    "list_models",
    "model_factory",
    "register_model",
    "show_avai_models",
]

# The original exposed its name → factory dict as ``torchreid.models.__model_factory``; scripts that read it
# (e.g. ``list(torchreid.models.__model_factory)``) keep working with this read-only view.
globals()["__model_factory"] = model_factory
