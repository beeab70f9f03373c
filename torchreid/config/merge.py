"""Merging YAML files and ``key value`` lists into a config, with errors that name the key and the fix.

An unknown key raises :class:`ConfigKeyError` naming the key, where it came from and the closest valid keys;
values are converted to the type of the default where that is lossless; a merge validates every key before it
writes any (all or nothing). Keys of the original that no longer do anything (:data:`DEPRECATED_KEYS`) are
accepted and ignored with a warning, so configs written for the original keep working.
"""

from __future__ import annotations

import ast
import difflib
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from yacs.config import CfgNode

__all__ = ["DEPRECATED_KEYS", "ConfigKeyError", "ReidCfgNode", "merge_from_file", "merge_from_list"]

# Keys the original accepted (or shipped in its configs) that have no effect any more.
DEPRECATED_KEYS = {
    "test.visactmap": "activation maps are produced by tools/visualize_actmap.py",
}


class ConfigKeyError(KeyError, ValueError):
    """Unknown config key (a ``KeyError`` like yacs' own error, and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReidCfgNode(CfgNode):
    """A ``CfgNode`` whose ``merge_from_file`` / ``merge_from_list`` give actionable errors."""

    def merge_from_file(self, cfg_filename: str) -> None:  # type: ignore[override]
        merge_from_file(self, cfg_filename)

    def merge_from_list(self, cfg_list: list) -> None:  # type: ignore[override]
        merge_from_list(self, cfg_list)


def _all_keys(node: CfgNode, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        if isinstance(v, CfgNode):
            keys.extend(_all_keys(v, full + "."))
        else:
            keys.append(full)
    return keys


def _unknown_key_error(
    cfg: CfgNode, full_key: str, source: str, children: Sequence[str] = ()
) -> ConfigKeyError:
    """``children``: the keys under ``full_key`` when the unknown key is a whole section."""
    valid = _all_keys(cfg)
    close = difflib.get_close_matches(full_key, valid, n=3, cutoff=0.6)
    if not close:  # e.g. the right leaf name under another section
        leaves = {full_key.rsplit(".", 1)[-1], *map(str, children)}
        close = [k for k in valid if k.rsplit(".", 1)[-1] in leaves][:3] or difflib.get_close_matches(
            full_key.rsplit(".", 1)[-1], valid, n=3, cutoff=0.6
        )
    if close:
        hint = f" Did you mean: {', '.join(close)}?"
    else:
        # every part before the last is a valid section: the merge stops at the first unknown key
        parent = cfg
        for part in full_key.split(".")[:-1]:
            parent = parent[part]
        hint = f" Valid keys here: {', '.join(sorted(parent))}."
    return ConfigKeyError(f"Non-existent config key: '{full_key}' (in {source}).{hint}")


# string keys whose values YAML / the command line may turn into booleans (YAML reads `amp: off` as False)
_BOOL_AS_STR = {"train.amp": {False: "off"}, "train.compile": {False: "", True: "default"}}


def _coerce(value: Any, default: Any, full_key: str, source: str) -> Any:
    """Convert ``value`` to the type of ``default`` where that is lossless, else raise a clear ValueError."""
    if isinstance(value, bool) and value in _BOOL_AS_STR.get(full_key, {}):
        return _BOOL_AS_STR[full_key][value]
    if isinstance(value, tuple):
        value = list(value)
    if default is None:
        return value
    if isinstance(value, str) and not isinstance(default, str):
        # like yacs: YAML reads `lr: 3e-4` as a string; decode it as a Python literal
        value = _decode(value)
        if isinstance(value, tuple):
            value = list(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list):
            return value
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return [value]  # a single value where a list is expected, e.g. `-t market1501`
    elif type(value) is type(default):
        return value
    raise ValueError(
        f"Config key '{full_key}' (in {source}) expects {type(default).__name__} like {default!r}, "
        f"got {type(value).__name__} {value!r}"
    )


def _merge_dict(cfg: CfgNode, data: dict, source: str) -> None:
    """Validate every key of ``data`` against ``cfg`` first, then write the values (all or nothing)."""
    updates: list[tuple[CfgNode, str, Any]] = []

    def walk(node: CfgNode, sub: Any, prefix: str) -> None:
        if not isinstance(sub, dict):
            raise ValueError(
                f"Config section '{prefix.rstrip('.') or '<root>'}' (in {source}) must be a mapping"
            )
        for k, v in sub.items():
            full = f"{prefix}{k}"
            if full in DEPRECATED_KEYS:
                warnings.warn(
                    f"Config key '{full}' (in {source}) is deprecated and ignored: {DEPRECATED_KEYS[full]}",
                    stacklevel=4,
                )
                continue
            if k not in node:
                raise _unknown_key_error(cfg, full, source, list(v) if isinstance(v, dict) else ())
            if isinstance(node[k], CfgNode):
                walk(node[k], v, full + ".")
            else:
                updates.append((node, k, _coerce(v, node[k], full, source)))

    walk(cfg, data, "")
    for node, k, v in updates:
        node[k] = v


def merge_from_file(cfg: CfgNode, cfg_filename: str | os.PathLike) -> CfgNode:
    """Merge a YAML file into ``cfg`` (unknown keys → :class:`ConfigKeyError` naming key and file)."""
    path = os.fspath(cfg_filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: '{path}'")
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"Config file '{path}' is not valid YAML: {exc}") from exc
    if data is None:
        return cfg
    if "_BASE_" in data:
        raise ValueError(f"Config file '{path}': '_BASE_' inheritance is not supported")
    _merge_dict(cfg, data, f"config file '{path}'")
    return cfg


def _decode(value: Any) -> Any:
    """Decode a command-line string the way yacs does (Python literal when possible, else the string)."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def merge_from_list(
    cfg: CfgNode, opts: Iterable[Any] | None, source: str = "command-line overrides"
) -> CfgNode:
    """Merge ``['train.lr', '0.01', 'data.sources', "['market1501']", ...]`` into ``cfg``."""
    opts = list(opts or [])
    if len(opts) % 2:
        raise ValueError(
            f"Config overrides must be 'key value' pairs; got an odd number of items ({len(opts)}): {opts}"
        )
    data: dict = {}
    for key, value in zip(opts[0::2], opts[1::2]):
        if not isinstance(key, str) or not key:
            raise ValueError(f"Config override key must be a non-empty string, got {key!r}")
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"Config override '{key}' conflicts with another override ({source})")
        node[parts[-1]] = _decode(value)
    _merge_dict(cfg, data, source)
    return cfg
