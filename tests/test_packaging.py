"""Packaging: a light core install, extras for the rest, clear messages for missing optional packages."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
import tomllib
from conftest import REPO

CORE = {"numpy", "torch", "torchvision", "yacs", "pyyaml", "pillow"}


def _names(lines):
    return {
        re.split(r"[<>=\[ ]", ln.strip())[0].lower() for ln in lines if ln.strip() and not ln.startswith("#")
    }


def _reqs(name):
    return (REPO / name).read_text().splitlines()


def test_core_is_light_and_declares_pyyaml():
    assert _names(_reqs("requirements.txt")) == CORE


def test_extras_match_requirements_extras_and_the_original_install():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {"vis", "datasets", "tb", "export", "search", "all"} <= set(extras)
    assert _names(extras["vis"]) == {"opencv-python-headless"}
    assert _names(extras["datasets"]) == {"h5py", "scipy", "gdown"}
    assert _names(extras["export"]) == {"onnx", "onnxruntime", "openvino"}
    # [all] = what the original installed, = what `make venv` adds to the core
    assert sorted(extras["all"]) == sorted(
        ln for ln in _reqs("requirements-extras.txt") if ln and ln[0] != "#"
    )
    assert project["scripts"]["torchreid"] == "torchreid.cli:main"
    assert "requirements-extras.txt" in (REPO / "Makefile").read_text()
    assert (REPO / "torchreid" / "py.typed").is_file()


OPTIONAL = {
    "cv2",
    "scipy",
    "h5py",
    "gdown",
    "tensorboard",
    "onnx",
    "onnxruntime",
    "openvino",
    "faiss",
    "matplotlib",
}


def test_optional_packages_are_never_imported_at_module_level():
    """Every import of an optional package in torchreid/ sits inside a function (imported when used)."""
    offenders = []
    for path in (REPO / "torchreid").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for (
            node
        ) in tree.body:  # module level only (TYPE_CHECKING blocks and try/except are not imports at run)
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            else:
                continue
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in mods if m.split(".")[0] in OPTIONAL]
    assert offenders == []


def test_core_import_without_optional_packages():
    """`import torchreid` and building/running the FeatureExtractor need none of the optional packages."""
    code = (
        "import sys\n"
        f"for name in {sorted(OPTIONAL)!r}: sys.modules[name] = None  # import raises ImportError\n"
        "sys.modules['torch.utils.tensorboard'] = None\n"
        "import torch, torchreid\n"
        "from torchreid.inference import FeatureExtractor\n"
        "from torchreid.models import build_model\n"
        "import torchreid.engine, torchreid.data, torchreid.cli\n"
        "m = build_model('osnet_x0_25', 1, pretrained=False)\n"
        "from torchreid.utils.optional import require\n"
        "try:\n"
        "    require('cv2', 'Rank visualisation')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Rank visualisation needs the optional package 'opencv-python-headless'" in out.stdout
    assert "torchreid[vis]" in out.stdout


def test_wheel_build_ships_configs_and_tools(tmp_path):
    """setup.py's build_py copies configs/ and tools/ into the package (torchreid/_data)."""
    pytest.importorskip("setuptools")
    out = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = tmp_path / "torchreid" / "_data"
    assert (data / "configs" / "im_osnet_x1_0_softmax_256x128_amsgrad.yaml").is_file()
    assert (data / "tools" / "parse_test_res.py").is_file()
    assert (tmp_path / "torchreid" / "cli" / "__init__.py").is_file()
