"""Build script: package metadata lives in pyproject.toml; this file adds the Cython rank extension.

The extension is optional at run time (``torchreid.metrics.rank`` falls back to NumPy with a warning), so a
failed compile does not break the install.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithData(build_py):
    """Also ship ``configs/*.yaml`` and ``tools/*.py`` inside the wheel (``torchreid/_data/``), so the
    ``torchreid`` command finds the configs by name and its tool-backed sub-commands work when installed;
    source users keep using ``configs/`` and ``tools/`` where they are."""

    def run(self) -> None:
        super().run()
        for folder, pattern in (("configs", "*.yaml"), ("tools", "*.py")):
            target = Path(self.build_lib) / "torchreid" / "_data" / folder
            target.mkdir(parents=True, exist_ok=True)
            for src in sorted((HERE / folder).glob(pattern)):
                shutil.copyfile(src, target / src.name)


class OptionalBuildExt(build_ext):
    """Build the Cython extension, but never fail the install because of it."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler problem
            print(f"WARNING: building the Cython rank extension failed ({exc}); NumPy fallback will be used.")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"WARNING: could not build {ext.name} ({exc}); NumPy fallback will be used.")


def extensions() -> list:
    try:
        import numpy as np
        from Cython.Build import cythonize
    except ImportError:
        print("WARNING: Cython/NumPy not available at build time; skipping the rank extension.")
        return []
    from setuptools import Extension

    openmp = [] if sys.platform == "darwin" or os.environ.get("TORCHREID_NO_OPENMP") else ["-fopenmp"]
    ext = Extension(
        "torchreid.metrics.rank_cylib.rank_cy",
        ["torchreid/metrics/rank_cylib/rank_cy.pyx"],
        include_dirs=[np.get_include()],
        extra_compile_args=["-O3", *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    return cythonize([ext], language_level=3, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithData})
