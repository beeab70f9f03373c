"""Every public name of the original Torchreid v1.4.0 resolves at its original module path.

Generated from ``../shared/reference/original_public_names.json`` (75 modules, 515 names); skipped with a reason
when ``../shared`` is absent. The compiled ``rank_cy`` extension is not listed in that file; its three original
functions are checked separately.
"""

from __future__ import annotations

import importlib
import json

import pytest
from conftest import REFERENCE

NAMES_FILE = REFERENCE / "original_public_names.json"


def _load() -> dict[str, list[str]]:
    if not NAMES_FILE.exists():
        return {}
    return json.loads(NAMES_FILE.read_text())


ORIGINAL = _load()


def _missing(module_path: str, names: list[str]) -> list[str]:
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        return [f"{module_path}.{n} (module: {exc})" for n in names]
    return [f"{module_path}.{n}" for n in names if not hasattr(module, n)]


def test_names_file_shape() -> None:
    if not ORIGINAL:
        pytest.skip(f"{NAMES_FILE} is not available (reference outputs live in ../shared)")
    assert len(ORIGINAL) == 75
    assert sum(len(v) for v in ORIGINAL.values()) == 515


@pytest.mark.parametrize("module_path", sorted(ORIGINAL) or ["<names file absent>"])
def test_original_names_resolve(module_path: str) -> None:
    if not ORIGINAL:
        pytest.skip(f"{NAMES_FILE} is not available (reference outputs live in ../shared)")
    missing = _missing(module_path, ORIGINAL[module_path])
    assert not missing, f"{len(missing)} original names missing: {missing}"


def test_all_original_names_resolve_summary() -> None:
    """One list of every miss (easier to read than 75 failures)."""
    if not ORIGINAL:
        pytest.skip(f"{NAMES_FILE} is not available (reference outputs live in ../shared)")
    missing = [m for mod, names in ORIGINAL.items() for m in _missing(mod, names)]
    assert not missing, f"{len(missing)} of 515 original names missing:\n" + "\n".join(missing)


def test_rank_cy_original_functions() -> None:
    rank_cy = pytest.importorskip("torchreid.metrics.rank_cylib.rank_cy", reason="Cython extension not built")
    for name in ("evaluate_cy", "eval_cuhk03_cy", "eval_market1501_cy"):
        assert callable(getattr(rank_cy, name, None)), f"rank_cy.{name} is missing"


def test_architecture_modules_are_attributes_after_import_torchreid() -> None:
    """``torchreid.models.osnet.osnet_x1_0`` works after only ``import torchreid`` (lazy attributes)."""
    import torchreid

    assert callable(torchreid.models.osnet.osnet_x1_0)
    assert callable(torchreid.models.resnet.resnet50)
    assert torchreid.models.osnet_ain.OSNet is torchreid.models.osnet_ain.OSNetAIN
    from torchreid.models import osnet_x1_0, resnet50  # noqa: F401
