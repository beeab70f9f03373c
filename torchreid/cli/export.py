"""``torchreid export``: ONNX / OpenVINO IR with metadata, verified against PyTorch (see torchreid.inference.export)."""

from __future__ import annotations

import argparse

__all__ = ["add_subparser"]


def _run(args: argparse.Namespace) -> int:
    from ..inference.export import run_safely

    return run_safely(args)


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    from ..inference import export

    p = subparsers.add_parser(
        "export",
        help="export a model to ONNX / OpenVINO with its metadata",
        description=export.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_arguments(p)
    p.set_defaults(func=_run)
