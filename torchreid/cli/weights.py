"""``torchreid weights``: the re-ID model zoo (list / download / verify / path).

torchreid weights list [--arch osnet_x0_25] [--json]
torchreid weights download osnet_x0_25_msmt17 [...]
torchreid weights verify [NAME ...]          # the cached files (all cached ones by default)
torchreid weights path osnet_x0_25_msmt17    # where the file is (or must be placed)
"""

from __future__ import annotations

import argparse
import json
import sys

from . import add_command_parser

__all__ = ["add_subparser"]


def _list(args: argparse.Namespace) -> int:
    from ..models.zoo import ZOO, list_zoo, zoo_path

    names = list_zoo(args.arch)
    if args.json:
        print(json.dumps([ZOO[n].as_dict() for n in names], indent=1))
        return 0
    print(f"{'name':34s} {'trained on':32s} {'input':9s} {'reported (rank-1 / mAP)':40s} cached")
    for n in names:
        e = ZOO[n]
        metrics = ", ".join(f"{t} {m['rank1']}/{m['mAP']}" for t, m in e.metrics.items())
        size = f"{e.input_size[0]}x{e.input_size[1]}"
        cached = "yes" if zoo_path(n).is_file() else "-"
        print(f"{n:34s} {e.trained_on:32s} {size:9s} {metrics:40s} {cached}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..models.zoo import resolve_weights

    status = 0
    for name in args.names:
        try:
            print(f"{name}: {resolve_weights(name)}")
        except (FileNotFoundError, RuntimeError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
    return status


def _verify(args: argparse.Namespace) -> int:
    from ..models.zoo import ZOO, list_zoo, verify_zoo_file, zoo_path

    names = args.names or [n for n in list_zoo() if zoo_path(n).is_file()]
    if not names:
        print("no zoo weights are cached")
        return 0
    status = 0
    for name in names:
        try:
            if not zoo_path(name).is_file():
                print(f"{name}: not cached ({zoo_path(name)})", file=sys.stderr)
                status = 2
                continue
            digest = verify_zoo_file(name)
            state = "ok" if ZOO[name].sha256 else "no published sha256"
            print(f"{name}: {state} (sha256 {digest})")
        except (KeyError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
    return status


def _path(args: argparse.Namespace) -> int:
    from ..models.zoo import zoo_path

    try:
        print(zoo_path(args.name))
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command_parser(subparsers, "weights", "list, download and verify the re-ID model zoo", __doc__)
    sub = p.add_subparsers(dest="weights_command", metavar="{list,download,verify,path}")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    lp = sub.add_parser("list", help="zoo names with training data, input size, reported metrics")
    lp.add_argument("--arch", default=None, help="only this architecture")
    lp.add_argument("--json", action="store_true", help="full entries as JSON")
    lp.set_defaults(func=_list)
    dp = sub.add_parser("download", help="download (or check) zoo files into $TORCH_HOME/checkpoints")
    dp.add_argument("names", nargs="+")
    dp.set_defaults(func=_download)
    vp = sub.add_parser("verify", help="check the sha256 of cached zoo files")
    vp.add_argument("names", nargs="*")
    vp.set_defaults(func=_verify)
    pp = sub.add_parser("path", help="where a zoo file is cached (or must be placed)")
    pp.add_argument("name")
    pp.set_defaults(func=_path)
