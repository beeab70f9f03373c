"""``torchreid train`` / ``torchreid test``: ``scripts/main.py``'s command line (``torchreid.runner.main``).

Everything after the command is passed on unchanged (``--config-file``, ``-s/-t``, ``key value`` overrides);
``--config-file`` also accepts the name of a shipped config. ``test`` adds ``test.evaluate True``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_subparser", "forward"]


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    for name, text in (
        ("train", "train (and evaluate) a model from a config"),
        ("test", "evaluate a model only"),
    ):
        p = subparsers.add_parser(name, help=text, add_help=False, description=__doc__)
        p.add_argument("args", nargs=argparse.REMAINDER, help="scripts/main.py arguments")
        p.set_defaults(func=lambda args, _name=name: forward(_name, args.args))


def _resolve_config(argv: list[str]) -> list[str]:
    from .configs import find_config

    out = list(argv)
    for i, item in enumerate(out):
        if item == "--config-file" and i + 1 < len(out):
            out[i + 1] = str(find_config(out[i + 1]))
        elif item.startswith("--config-file="):
            out[i] = "--config-file=" + str(find_config(item.split("=", 1)[1]))
    return out


def forward(command: str, argv: list[str]) -> int:
    """Run ``torchreid.runner.main`` with ``argv`` (config names resolved); return an exit code."""
    if "--list-configs" in argv:
        from .configs import list_configs

        print("\n".join(list_configs()))
        return 0
    if argv and argv[0] in ("-h", "--help"):
        from ..runner import build_parser

        parser = build_parser()
        parser.prog = f"torchreid {command}"
        parser.print_help()
        return 0
    try:
        argv = _resolve_config(argv)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if command == "test" and "test.evaluate" not in argv:
        argv = [*argv, "test.evaluate", "True"]
    from ..runner import main as run_main

    run_main(argv)
    return 0
