"""``torchreid export``: ONNX / OpenVINO IR with metadata, verified against PyTorch (see torchreid.inference.export)."""

from __future__ import annotations

import argparse

from . import add_command_parser

__all__ = ["add_subparser"]


def _run(args: argparse.Namespace) -> int:
    from ..inference.export import run_safely

    return run_safely(args)


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    from ..inference import export

    p = add_command_parser(
        subparsers, "export", "export a model to ONNX / OpenVINO with its metadata", export.__doc__
    )
    export.add_arguments(p)
    p.set_defaults(func=_run)
