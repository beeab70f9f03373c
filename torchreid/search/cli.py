"""``torchreid index``: build, extend, query and describe a persistent gallery index from the command line.

::

    torchreid index build gallery_idx photos/ more.csv --model osnet_x1_0 --weights model.pth
    torchreid index add gallery_idx new_photos/            # extracted with the model the index records
    torchreid index query gallery_idx person.jpg -k 10 --json hits.json --html hits.html
    torchreid index info gallery_idx

Also runnable as ``python -m torchreid.search.cli``. Queries and additions are extracted with the model, weights and
preprocessing recorded in the index; asking for another model is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cli import add_command_parser
from .build import build_from_items, list_items, model_mismatch, partial_dir, paths_in
from .index import FeatureIndex

__all__ = ["add_subparser", "main", "make_extractor", "model_info"]

from ..data.constants import IMAGENET_MEAN as _IMAGENET_MEAN  # the one definition
from ..data.constants import IMAGENET_STD as _IMAGENET_STD


def _imagenet() -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:  # the single definition, when the data package provides it
        from ..data.constants import IMAGENET_MEAN, IMAGENET_STD

        return tuple(IMAGENET_MEAN), tuple(IMAGENET_STD)
    except ImportError:
        return _IMAGENET_MEAN, _IMAGENET_STD


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 22):
            h.update(b)
    return h.hexdigest()


def _resolve_weights(weights: str) -> Path:
    p = Path(weights)
    if p.is_file():
        return p
    try:
        from ..models.zoo import resolve_weights
    except ImportError:
        raise FileNotFoundError(f"weights {weights!r} is not a file") from None
    return Path(resolve_weights(weights))


def model_info(
    name: str,
    weights: str = "",
    image_size: tuple[int, int] = (256, 128),
    pixel_mean: tuple[float, ...] | None = None,
    pixel_std: tuple[float, ...] | None = None,
    pixel_norm: bool = True,
) -> dict[str, Any]:
    """What decides the features: recorded in the index manifest and compared before queries are extracted."""
    mean, std = _imagenet()
    path = _resolve_weights(weights) if weights else None
    return {
        "name": name,
        "weights": str(path.resolve()) if path else "",
        "weights_sha256": _sha256(path) if path else "imagenet-pretrained",
        "image_size": [int(image_size[0]), int(image_size[1])],
        "pixel_mean": [float(x) for x in (pixel_mean or mean)],
        "pixel_std": [float(x) for x in (pixel_std or std)],
        "pixel_norm": bool(pixel_norm),
    }


def make_extractor(info: dict[str, Any], device: str = "cpu") -> Any:
    """A :class:`torchreid.utils.FeatureExtractor` configured exactly as ``info`` records."""
    from ..utils.feature_extractor import FeatureExtractor

    return FeatureExtractor(
        model_name=info["name"], model_path=info.get("weights", ""), image_size=tuple(info["image_size"]),
        pixel_mean=info["pixel_mean"], pixel_std=info["pixel_std"], pixel_norm=info.get("pixel_norm", True),
        device=device, verbose=False,
    )  # fmt: skip


def _add_model_args(p: argparse.ArgumentParser, required: bool) -> None:
    g = p.add_argument_group("model (default for add/query: the one the index records)")
    g.add_argument("--model", required=required, default=None, help="model name, e.g. osnet_x1_0")
    g.add_argument("--weights", default=None, help="trained weights (a file or a model-zoo name)")
    g.add_argument("--height", type=int, default=None, help="input height (default 256)")
    g.add_argument("--width", type=int, default=None, help="input width (default 128)")
    g.add_argument("--mean", type=float, nargs=3, default=None, help="pixel mean (default ImageNet)")
    g.add_argument("--std", type=float, nargs=3, default=None, help="pixel std (default ImageNet)")
    g.add_argument("--device", default="cpu", help="cpu or cuda")
    g.add_argument("--batch-size", type=int, default=32)


def _requested_model(args: argparse.Namespace, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The model the user asked for, with unspecified fields taken from ``stored`` (the index's model)."""
    stored = stored or {}
    name = args.model or stored.get("name")
    if not name:
        raise SystemExit("error: the index records no model; pass --model (and --weights) to extract images")
    same_name = name == stored.get("name")
    if args.weights is not None:
        weights = args.weights
    else:
        weights = stored.get("weights", "") if same_name else ""
    size = stored.get("image_size", [256, 128]) if same_name else [256, 128]
    info = model_info(
        name, weights, (args.height or size[0], args.width or size[1]),
        args.mean or (stored.get("pixel_mean") if same_name else None),
        args.std or (stored.get("pixel_std") if same_name else None),
    )  # fmt: skip
    return info


def _clean_errors(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Expected failures (a damaged index, a missing file, bad input) end the command with one clear line."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise SystemExit(f"error: {e}") from e

    return run


def _note(message: str) -> None:
    """CLI messages go to stderr: stdout carries the JSON results."""
    print(message, file=sys.stderr)


def _check_model(index: FeatureIndex, info: dict[str, Any], force: bool, folder: Path) -> None:
    if not index.model_info:
        _note(f"warning: {folder} records no model; extracting with {info['name']} as asked")
        return
    diffs = model_mismatch(index.model_info, info)
    if diffs and not force:
        raise SystemExit(
            f"error: {folder} was built with another model or preprocessing ({'; '.join(diffs)}). Its features "
            f"cannot be compared with these; omit the model options to use the index's own, or pass --force"
        )
    if diffs:
        _note(f"warning: --force: extracting with another model than {folder} records ({'; '.join(diffs)})")


def _cmd_build(args: argparse.Namespace) -> int:
    out = Path(args.index)
    if out.exists() and not args.overwrite:
        raise SystemExit(f"error: {out} exists; use 'torchreid index add' to extend it, or --overwrite")
    items = list_items(args.inputs)
    mean, std = _imagenet()
    info = model_info(args.model, args.weights or "", (args.height or 256, args.width or 128), args.mean or mean,
                      args.std or std)  # fmt: skip
    if partial_dir(out).exists():
        _note(f"found an interrupted build in {partial_dir(out)}: continuing it")
    extractor = make_extractor(info, args.device)
    index, timing = build_from_items(
        items, extractor, out, info, metric=args.metric, dtype=args.dtype, batch_size=args.batch_size,
        checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    print(json.dumps({"index": str(out), "count": len(index), **{k: round(v, 3) for k, v in timing.items()}}))
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    folder = Path(args.index)
    index = FeatureIndex.load(folder, mmap=True)
    info = _requested_model(args, index.model_info)
    _check_model(index, info, args.force, folder)
    have = paths_in(index)
    items = [it for it in list_items(args.inputs) if it.path not in have]
    if not items:
        print(json.dumps({"index": str(folder), "added": 0, "count": len(index)}))
        return 0
    index, _ = build_from_items(
        items, make_extractor(info, args.device), folder, info, base=index, batch_size=args.batch_size,
        checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    print(json.dumps({"index": str(folder), "added": len(items), "count": len(index)}))
    return 0


def query_index(
    index: FeatureIndex, folder: Path, queries: list[str], features: torch.Tensor | np.ndarray, k: int,
    rerank: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The ``torchreid index query`` result for already extracted query features."""
    dist, pos = index.search(features, k, rerank=rerank)
    out = []
    for q, d_row, p_row in zip(queries, dist, pos):
        matches = []
        for r, (d, p) in enumerate(zip(d_row.tolist(), p_row.tolist()), start=1):
            m = index.meta[p] if index.meta is not None else None
            matches.append({
                "rank": r, "id": int(index.ids[p]), "distance": float(d), "pid": int(index.pids[p]),
                "camid": int(index.camids[p]), "path": m.get("path") if isinstance(m, dict) else None,
            })  # fmt: skip
        out.append({"query": q, "matches": matches})
    return {"index": str(folder), "k": int(pos.shape[1]), "metric": index.metric, "queries": out}


def _cmd_query(args: argparse.Namespace) -> int:
    folder = Path(args.index)
    index = FeatureIndex.load(folder, mmap=True, backend=args.backend)
    info = _requested_model(args, index.model_info)
    _check_model(index, info, args.force, folder)
    items = list_items(args.images)
    extractor = make_extractor(info, args.device)
    feats = torch.cat([extractor([it.path for it in items[a : a + args.batch_size]])
                       for a in range(0, len(items), args.batch_size)])  # fmt: skip
    result = query_index(index, folder, [it.path for it in items], feats, args.k, rerank=args.rerank)
    text = json.dumps(result, indent=2)
    if args.json:
        from ..utils.tools import atomic_output

        with atomic_output(args.json) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    if args.html:
        from .html import write_html

        write_html(args.html, result)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    folder = Path(args.index)
    index = FeatureIndex.load(folder, mmap=True, verify=True if args.verify else "auto")
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    info = {
        "index": str(folder), "count": len(index), "dim": index.dim, "metric": index.metric,
        "dtype": index.dtype, "model": index.model_info, "created": man.get("created"),
        "bytes": sum(int(f["bytes"]) for f in man["files"].values()), "verified": bool(args.verify),
    }  # fmt: skip
    print(json.dumps(info, indent=2))
    return 0


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``index`` (with ``build``, ``add``, ``query``, ``info``) on the ``torchreid`` command."""
    p = add_command_parser(subparsers, "index", "build and search a persistent gallery index", __doc__)
    sub = p.add_subparsers(dest="index_command", metavar="{build,add,query,info}")
    sub.required = True

    b = sub.add_parser("build", help="images / folders / CSV files -> a new index (resumable)")
    b.add_argument("index", help="index folder to create")
    b.add_argument("inputs", nargs="+", help="images, folders, or CSV files with columns path[,pid,camid]")
    _add_model_args(b, required=True)
    b.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    b.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    b.add_argument("--checkpoint-every", type=int, default=1000, help="images between checkpoints")
    b.add_argument("--overwrite", action="store_true", help="replace an existing index")
    b.set_defaults(func=_clean_errors(_cmd_build))

    a = sub.add_parser("add", help="extract more images into an index (skips paths it holds)")
    a.add_argument("index")
    a.add_argument("inputs", nargs="+")
    _add_model_args(a, required=False)
    a.add_argument("--checkpoint-every", type=int, default=1000)
    a.add_argument("--force", action="store_true", help="extract with a model other than the index's")
    a.set_defaults(func=_clean_errors(_cmd_add))

    q = sub.add_parser("query", help="images -> top-k matches as JSON (and an HTML page)")
    q.add_argument("index")
    q.add_argument("images", nargs="+", help="query images, folders or CSV files")
    _add_model_args(q, required=False)
    q.add_argument("-k", type=int, default=10, help="matches per query")
    q.add_argument("--json", default=None, help="write the JSON here (default: stdout)")
    q.add_argument("--html", default=None, help="also write an HTML page of the matches")
    q.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking of each query's shortlist")
    q.add_argument("--backend", choices=("exact", "faiss"), default="exact")
    q.add_argument("--force", action="store_true", help="query with a model other than the index's")
    q.set_defaults(func=_clean_errors(_cmd_query))

    i = sub.add_parser("info", help="describe an index (and verify every checksum with --verify)")
    i.add_argument("index")
    i.add_argument("--verify", action="store_true")
    i.set_defaults(func=_clean_errors(_cmd_info))


def main(argv: list[str] | None = None) -> int:
    """``python -m torchreid.search.cli index ...`` (the same as ``torchreid index ...``)."""
    parser = argparse.ArgumentParser(prog="torchreid")
    subs = parser.add_subparsers(dest="command")
    subs.required = True
    add_subparser(subs)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
