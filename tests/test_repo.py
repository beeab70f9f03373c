"""Repository-level promises: packaging, the two README commands, CI, Docker and lint configuration."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO


def test_readme_gives_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme


def test_ci_calls_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ci


def test_makefile_has_user_targets():
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "test", "lint", "build-image", "run"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"Makefile lacks target {target!r}"


def test_dockerfile_is_valid():
    dockerfile = REPO / "Dockerfile"
    text = dockerfile.read_text()
    assert re.search(r"^FROM \S*cuda\S*runtime", text, re.M), "the image must start from a CUDA runtime base"
    assert "build_ext" in text, "the image must build the Cython extension"
    hadolint = shutil.which("hadolint") or str(REPO / ".venv" / "bin" / "hadolint")
    if not shutil.which(hadolint):
        pytest.skip("hadolint is not installed")
    proc = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_is_lazy_and_fast():
    """``import torchreid`` must not import torch's heavy sub-packages or touch the network."""
    code = "import sys, torchreid; print('torchreid.models' in sys.modules, torchreid.__version__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "False"
    assert re.fullmatch(r"\d+\.\d+\.\d+", out[1])


def test_version_matches_package_metadata():
    import torchreid

    assert torchreid.__version__.split(".")[0] == "2"
