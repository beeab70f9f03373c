"""Registry container protocol and errors; lazy public names; import torchreid stays lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ registry


def test_registry_container_protocol_and_errors():
    from torchreid.utils import Registry, RegistryKeyError

    reg = Registry("widget")

    @reg.register(aliases=("w1",))
    def widget_one():
        return 1

    reg.register("two", lambda: 2)
    assert len(reg) == 2 and list(reg) == ["widget_one", "two"]
    assert reg.aliases() == {"w1": "widget_one"}
    assert reg.items()[0] == ("widget_one", widget_one)
    assert "w1" in reg and reg.get("w1") is widget_one
    assert repr(reg) == "Registry('widget', 2 entries)"
    with pytest.raises(ValueError, match="a name is required to register this widget"):
        reg.register(None, 3)  # an int has no __name__
    with pytest.raises(RegistryKeyError, match="'w1' is already registered"):
        reg.register("w1", 4)
    reg.register("two", 5, overwrite=True)
    assert reg.get("two") == 5
    with pytest.raises(KeyError, match=r"Unknown widget 'widget_on'\. Did you mean: widget_one"):
        reg.get("widget_on")


def test_every_lazy_public_name_resolves():
    import torchreid
    import torchreid.utils as utils

    for name in utils.__all__:
        assert getattr(utils, name) is not None, name
    assert dir(utils) == utils.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        utils.nope  # noqa: B018
    assert "models" in dir(torchreid) and "__version__" in dir(torchreid)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        torchreid.nope  # noqa: B018


def test_import_torchreid_is_lazy():
    code = (
        "import sys, torchreid\n"
        "assert 'torchreid.models' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n"
        "m = torchreid.metrics\n"
        "assert m is sys.modules['torchreid.metrics'] and torchreid.metrics is m\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_lazy_exports_gives_all_getattr_and_dir_of_one_table():
    from torchreid.utils.registry import lazy_exports

    names, getattr_, dir_ = lazy_exports(
        "torchreid.utils", {"Registry": "registry", "AverageMeter": "avgmeter"}
    )
    assert names == ["AverageMeter", "Registry"] and dir_() == names
    from torchreid.utils.registry import Registry

    assert getattr_("Registry") is Registry
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr_("nope")
    import torchreid.inference as inference

    assert inference.__all__ == sorted(inference.__all__) and "OnnxFeatureExtractor" in dir(inference)
