"""What a model needs at inference time, read from a training checkpoint or written into an export.

A checkpoint saved by the engine stores the run's config (``ckpt['config']``): the model name, the input size
(``data.height``/``data.width``) and the normalisation (``data.norm_mean``/``data.norm_std``). Exported files
(ONNX ``metadata_props``, OpenVINO ``rt_info``) carry the same facts under the keys of :data:`METADATA_KEYS`,
each value JSON-encoded, so a reader needs no side information.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["METADATA_KEYS", "checkpoint_metadata", "decode_metadata", "encode_metadata"]

METADATA_KEYS = (
    "model_name",
    "image_size",
    "pixel_mean",
    "pixel_std",
    "color_order",
    "feature_dim",
    "normalized",
    "source_checkpoint",
    "torchreid_version",
)
PREFIX = "torchreid."


def checkpoint_metadata(checkpoint: Any) -> dict[str, Any]:
    """Inference facts stored in a loaded checkpoint: model_name, image_size, pixel_mean, pixel_std, color_order.

    Only keys the checkpoint really has are returned (a raw state dict gives ``{}``). Top-level keys of the same
    names (written by other tools) win over the stored config.
    """
    if not isinstance(checkpoint, Mapping):
        return {}
    out: dict[str, Any] = {}
    config = checkpoint.get("config")
    if isinstance(config, Mapping):
        model = config.get("model") if isinstance(config.get("model"), Mapping) else {}
        data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
        if isinstance(model.get("name"), str) and model["name"]:
            out["model_name"] = model["name"]
        if isinstance(data.get("height"), int) and isinstance(data.get("width"), int):
            out["image_size"] = (int(data["height"]), int(data["width"]))
        for src, dst in (("norm_mean", "pixel_mean"), ("norm_std", "pixel_std")):
            value = data.get(src)
            if isinstance(value, (list, tuple)) and len(value) == 3:
                out[dst] = tuple(float(v) for v in value)
    for key in ("model_name", "image_size", "pixel_mean", "pixel_std", "color_order"):
        if key in checkpoint and not isinstance(checkpoint[key], Mapping):
            value = checkpoint[key]
            out[key] = tuple(value) if isinstance(value, (list, tuple)) else value
    if "color_order" in out and out["color_order"] not in ("rgb", "bgr"):
        del out["color_order"]
    return out


def encode_metadata(meta: Mapping[str, Any]) -> dict[str, str]:
    """``{'torchreid.<key>': json}`` for export formats whose metadata values are strings."""
    out = {}
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        out[PREFIX + key] = json.dumps(list(value) if isinstance(value, tuple) else value)
    return out


def decode_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    """Inverse of :func:`encode_metadata`; keys without the prefix are ignored."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if not key.startswith(PREFIX):
            continue
        try:
            decoded = json.loads(value)
        except (TypeError, ValueError):
            continue
        out[key[len(PREFIX) :]] = tuple(decoded) if isinstance(decoded, list) else decoded
    return out
