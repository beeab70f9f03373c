"""Build script: package metadata lives in pyproject.toml; this file adds the Cython rank extension.

The extension is optional at run time (``torchreid.metrics.rank`` falls back to NumPy with a warning), so a
failed compile does not break the install.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


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


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
