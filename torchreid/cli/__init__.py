"""The ``torchreid`` command (console script and ``python -m torchreid``).

    torchreid train --config-file im_osnet_x1_0_softmax_256x128_amsgrad.yaml -s market1501 -t market1501
    torchreid test  --config-file quickstart.yaml model.load_weights log/model.pth.tar-60
    torchreid export -w osnet_x0_25_msmt17 -o osnet.onnx --format all
    torchreid extract -m osnet_x0_25 -w osnet_x0_25_msmt17 images/ -o features.npz
    torchreid weights list | download NAME | verify [NAME]
    torchreid parse-results log/viper_osnet

Each sub-command lives in a module of :data:`SUBCOMMAND_MODULES` exposing ``add_subparser(subparsers)``, which
registers the command and sets ``func`` (``func(args) -> int``) with ``set_defaults``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["SUBCOMMAND_MODULES", "add_command_parser", "build_parser", "main"]

SUBCOMMAND_MODULES: list[str] = [
    "torchreid.cli.train",
    "torchreid.cli.export",
    "torchreid.cli.extract",
    "torchreid.cli.weights",
    "torchreid.cli.parse_results",
    "torchreid.search.cli",
]


def add_command_parser(
    subparsers: argparse._SubParsersAction, name: str, help: str, doc: str | None
) -> argparse.ArgumentParser:
    """Register sub-command ``name``; its ``--help`` shows ``doc`` (the module docstring) laid out as written."""
    return subparsers.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="torchreid",
        description="Person re-identification: train, evaluate, export, extract features, manage weights.",
    )
    parser.add_argument("--version", action="version", version=f"torchreid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in dict.fromkeys(SUBCOMMAND_MODULES):  # each once, whoever appended it
        importlib.import_module(name).add_subparser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``torchreid`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # train/test forward everything after the command unchanged (yacs "key value" overrides included)
    if argv and argv[0] in ("train", "test"):
        from .train import forward

        return forward(argv[0], argv[1:])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
