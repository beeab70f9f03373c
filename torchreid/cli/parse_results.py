"""``torchreid parse-results DIR``: average the results of several runs (``tools/parse_test_res.py``)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ["add_subparser", "load_tool"]

PACKAGE = Path(__file__).resolve().parents[1]


def load_tool(name: str) -> ModuleType:
    """A script of the repository's ``tools/`` (or the wheel's packaged copy) as a module."""
    for folder in (PACKAGE.parent / "tools", PACKAGE / "_data" / "tools"):
        path = folder / f"{name}.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location(f"torchreid_tools_{name}", path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
            return module
    raise FileNotFoundError(f"tools/{name}.py is not available in this installation")


def _run(args: argparse.Namespace) -> int:
    return int(load_tool("parse_test_res").main([args.directory]))


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "parse-results", help="average the test results of several runs", description=__doc__
    )
    p.add_argument("directory", help="folder whose sub-folders each hold one run")
    p.set_defaults(func=_run)
