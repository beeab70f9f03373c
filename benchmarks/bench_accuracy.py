#!/usr/bin/env python
"""Training fidelity on real data: the original's recipe, this project vs. the original Torchreid, N seeds.

Protocol (issue 17)
-------------------
- **Split**: Market-1501's real training split (``../shared/data/market1501/bounding_box_train``, 751 ids) is
  divided by identity: the first half of the sorted ids (375) trains, the other 376 test. For each test identity
  and camera, the first image in sorted file-name order is the query, the others of that identity and camera go
  to the gallery. The split is written once as a Market-1501 layout of symbolic links
  (``<work>/split/market1501/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}``).
- **Model**: ``osnet_x0_25`` initialised from ``../shared/data/weights/osnet_x0_25_msmt17.pth`` (its 1,041-way
  classifier is skipped, the new 375-way one is initialised by the model), ``model.pretrained False``.
- **Recipe**: the original's ``configs/im_osnet_x0_25_softmax_256x128_amsgrad.yaml`` (softmax + label smoothing,
  AMSGrad, single_step, random_flip) with the issue's changes: 5 epochs, fixbase 1 (classifier only), lr 0.0015,
  step at epoch 4, batch 64, 256x128; CPU, one thread, ``data.workers 0``. ``--quick``: 128x64, 2 epochs,
  fixbase 1, step at 2 (about 5-10 minutes per seed on one core).
- **Runs**: each side trains through its own ``scripts/main.py`` (the command users run) in a subprocess, one
  per seed (``train.seed``). This project's figures come from the engine's full-precision results; the
  original's from its printed ``mAP``/``Rank-1`` lines and, to full precision, from evaluating its final
  checkpoint with this project's evaluation (which reproduces the original's to the second decimal).
- **Zero-shot**: the weights evaluated on the split before any training (the issue: mAP 30.09 / Rank-1 52.91
  in both libraries); reproducing it validates the split.

Prints mean ± sample std of mAP and Rank-1 per side, the difference of the means with its standard error, and
writes a block to ``benchmarks/RESULTS.md``. Each run's result is kept as JSON under ``<work>/results`` and
reused with ``--reuse`` (so a series can be resumed or extended).

Examples::

    python benchmarks/bench_accuracy.py --quick --seeds 1 2 3
    python benchmarks/bench_accuracy.py --seeds 1 2 3 --original ~/src/deep-person-reid
    python benchmarks/bench_accuracy.py --quick --seeds 1 --reuse --no-zero-shot   # aggregate finished runs

``--original PATH``: a deep-person-reid checkout (its ``scripts/main.py`` and ``configs/`` are used, and PATH is
put first on ``PYTHONPATH``); ``--original-python`` selects the interpreter of the environment it is installed in.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import cpu_model, write_block  # noqa: E402

SHARED = Path(os.environ.get("TORCHREID_SHARED", REPO.parent / "shared"))
DEFAULT_DATA = SHARED / "data/market1501/bounding_box_train"
DEFAULT_WEIGHTS = SHARED / "data/weights/osnet_x0_25_msmt17.pth"
CONFIG = "configs/im_osnet_x0_25_softmax_256x128_amsgrad.yaml"
VERSIONED = "Market-1501-v15.09.15"
NAME_RE = re.compile(r"^(-?\d+)_c(\d+)")

# the original's figures from issue 17 (seed 1, one run each)
ISSUE_ORIGINAL = {"full": {"mAP": 64.4, "rank1": 80.1}, "quick": {"mAP": 44.4, "rank1": None}}
ISSUE_ZERO_SHOT = {"mAP": 30.09, "rank1": 52.91}


# ------------------------------------------------------------------------------------------------------- split
def build_split(src: Path, dest: Path) -> dict[str, int]:
    """Write the half split of ``src`` (a Market-1501 ``bounding_box_train`` folder) under ``dest`` as
    ``dest/market1501/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}`` of symbolic links.

    Train: the first ``n // 2`` identities in sorted order. Test: the rest; per identity and camera the first
    image (sorted by file name) is the query and the others are the gallery. Returns the counts. The folder is
    rebuilt atomically (a temporary sibling renamed into place), so an interrupted build leaves nothing half done.
    """
    by_pid: dict[int, list[str]] = defaultdict(list)
    for name in sorted(os.listdir(src)):
        m = NAME_RE.match(name)
        if m is None or not name.lower().endswith(".jpg"):
            continue
        pid = int(m.group(1))
        if pid <= 0:  # junk (-1) and distractors (0) do not belong to a training split
            continue
        by_pid[pid].append(name)
    pids = sorted(by_pid)
    if len(pids) < 4:
        raise ValueError(f"{src}: found {len(pids)} identities; the half split needs at least 4")
    train_pids, test_pids = pids[: len(pids) // 2], pids[len(pids) // 2 :]

    root = dest / "market1501"
    tmp = dest / f".market1501.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    base = tmp / VERSIONED
    dirs = {k: base / k for k in ("bounding_box_train", "query", "bounding_box_test")}
    for d in dirs.values():
        d.mkdir(parents=True)
    counts = {"train_ids": len(train_pids), "test_ids": len(test_pids), "train": 0, "query": 0, "gallery": 0}
    src = src.resolve()
    for pid in train_pids:
        for name in by_pid[pid]:
            (dirs["bounding_box_train"] / name).symlink_to(src / name)
            counts["train"] += 1
    for pid in test_pids:
        seen_cams: set[int] = set()
        for name in by_pid[pid]:  # sorted by name: the first image of each camera is the query
            cam = int(NAME_RE.match(name).group(2))
            subset = "bounding_box_test" if cam in seen_cams else "query"
            seen_cams.add(cam)
            (dirs[subset] / name).symlink_to(src / name)
            counts["gallery" if subset == "bounding_box_test" else "query"] += 1
    (tmp / "SPLIT.json").write_text(json.dumps({"source": str(src), **counts}, indent=1))
    old = dest / f".market1501.old-{os.getpid()}"
    if root.exists():
        root.rename(old)
    tmp.rename(root)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def ensure_split(src: Path, work: Path) -> tuple[Path, dict[str, int]]:
    """The split root (``--root`` for ``scripts/main.py``), built when missing or made from another source."""
    dest = work / "split"
    info = dest / "market1501" / "SPLIT.json"
    if info.exists():
        meta = json.loads(info.read_text())
        if meta.get("source") == str(src.resolve()):
            return dest, {k: v for k, v in meta.items() if k != "source"}
    dest.mkdir(parents=True, exist_ok=True)
    return dest, build_split(src, dest)


# ------------------------------------------------------------------------------------------------------- recipe
def recipe(quick: bool, args: argparse.Namespace) -> dict[str, Any]:
    r = (
        {"height": 128, "width": 64, "max_epoch": 2, "fixbase": 1, "stepsize": 2}
        if quick
        else {"height": 256, "width": 128, "max_epoch": 5, "fixbase": 1, "stepsize": 4}
    )
    r.update(lr=0.0015, batch_size=64)
    for key in ("height", "width", "max_epoch", "fixbase", "stepsize", "batch_size", "lr"):
        v = getattr(args, key, None)
        if v is not None:
            r[key] = v
    return r


def main_argv(
    config: Path, root: Path, weights: Path, save_dir: Path, r: dict, seed: int, test: bool
) -> list[str]:
    """The ``scripts/main.py`` command line of one run (the same for both libraries: only keys the original has)."""
    argv = [
        "--config-file", str(config), "--root", str(root), "-s", "market1501", "-t", "market1501",
        "model.pretrained", "False", "model.load_weights", str(weights),
        "data.height", str(r["height"]), "data.width", str(r["width"]), "data.workers", "0",
        "data.save_dir", str(save_dir),
        "train.max_epoch", str(r["max_epoch"]), "train.fixbase_epoch", str(r["fixbase"]),
        "train.lr", str(r["lr"]), "train.stepsize", f"[{r['stepsize']}]", "train.batch_size", str(r["batch_size"]),
        "train.seed", str(seed), "train.print_freq", "20",
    ]  # fmt: skip
    if test:
        argv += ["test.evaluate", "True"]
    return argv


# ------------------------------------------------------------------------------------------------------- runs
_CHILD = r"""
import json, sys, importlib.util
import torch
torch.set_num_threads(1)
out, repo, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, repo)
try:
    from torchreid.runner import main
except ImportError:
    spec = importlib.util.spec_from_file_location("torchreid_scripts_main", repo + "/scripts/main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    main = mod.main
engine = main(argv)
res = getattr(engine, "last_results", None) or {}
res = {k: {"mAP": float(v["mAP"]), "rank1": float(v["rank1"])} for k, v in res.items()}
with open(out, "w") as f:
    json.dump(res, f)
"""

_MAP_RE = re.compile(r"^mAP: ([\d.]+)%", re.M)
_R1_RE = re.compile(r"^Rank-1\s*: ([\d.]+)%", re.M)


def parse_log(text: str) -> dict[str, float] | None:
    """The last printed ``mAP: x%`` / ``Rank-1  : x%`` (percent, one decimal), or ``None``."""
    maps, r1s = _MAP_RE.findall(text), _R1_RE.findall(text)
    if not maps or not r1s:
        return None
    return {"mAP": float(maps[-1]), "rank1": float(r1s[-1])}


def _env(pythonpath: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TORCHREID_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
    )  # fmt: skip
    return env


def run_ours(argv: list[str], log: Path) -> dict[str, float]:
    """Run this project's ``scripts/main.py`` ``main(argv)`` in a fresh process; full-precision results (%)."""
    out = log.with_suffix(".result.json")
    out.unlink(missing_ok=True)
    with log.open("w") as f:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(out), str(REPO), *argv],
            cwd=REPO, env=_env(str(REPO)), stdout=f, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"run failed (exit {proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    res = json.loads(out.read_text()) if out.exists() else {}
    if "market1501" in res:
        return {k: 100.0 * v for k, v in res["market1501"].items()}
    parsed = parse_log(log.read_text())
    if parsed is None:
        raise RuntimeError(f"no results in {log}")
    return parsed


def run_original(orig: Path, python: str, argv: list[str], log: Path) -> dict[str, float]:
    """Run the original's ``scripts/main.py`` with ``orig`` first on ``PYTHONPATH``; its printed results (%)."""
    with log.open("w") as f:
        proc = subprocess.run(
            [python, str(orig / "scripts/main.py"), *argv],
            cwd=orig, env=_env(str(orig)), stdout=f, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"original run failed (exit {proc.returncode}); see {log}:\n{text[-3000:]}")
    parsed = parse_log(text)
    if parsed is None:
        raise RuntimeError(f"no mAP / Rank-1 lines in the original's output {log}")
    return parsed


def one_run(side: str, seed: int, protocol: str, r: dict, ctx: dict) -> dict[str, Any]:
    """Train + evaluate one seed of one side (or reuse its stored result)."""
    results_dir: Path = ctx["work"] / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{side}-{protocol}-seed{seed}"
    store = results_dir / f"{tag}.json"
    if ctx["reuse"] and store.exists():
        rec = json.loads(store.read_text())
        if rec.get("recipe") == r:
            print(f"[{tag}] reused {store}")
            return rec
    save_dir = ctx["work"] / "runs" / tag
    shutil.rmtree(save_dir, ignore_errors=True)
    save_dir.mkdir(parents=True)
    log = results_dir / f"{tag}.log"
    print(f"[{tag}] training ... (log: {log})", flush=True)
    t0 = time.time()
    if side == "ours":
        argv = main_argv(REPO / CONFIG, ctx["root"], ctx["weights"], save_dir, r, seed, test=False)
        res = run_ours(argv, log)
        printed = parse_log(log.read_text())
    else:
        orig: Path = ctx["original"]
        argv = main_argv(orig / CONFIG, ctx["root"], ctx["weights"], save_dir, r, seed, test=False)
        printed = run_original(orig, ctx["original_python"], argv, log)
        # full precision: the original's final checkpoint through this project's evaluation
        ckpt = save_dir / "model" / f"model.pth.tar-{r['max_epoch']}"
        res = dict(printed)
        if ckpt.exists():
            ev_argv = main_argv(REPO / CONFIG, ctx["root"], ckpt, save_dir / "eval", r, seed, test=True)
            res = run_ours(ev_argv, results_dir / f"{tag}.eval.log")
    wall = time.time() - t0
    rec = {"side": side, "seed": seed, "protocol": protocol, "recipe": r, "mAP": res["mAP"],
           "rank1": res["rank1"], "printed": printed, "wall_s": round(wall, 1)}  # fmt: skip
    store.write_text(json.dumps(rec, indent=1))
    print(f"[{tag}] mAP {rec['mAP']:.2f}  Rank-1 {rec['rank1']:.2f}  ({wall / 60:.1f} min)", flush=True)
    return rec


def zero_shot(r: dict, ctx: dict) -> dict[str, Any]:
    """The weights evaluated on the split without training (this project's pipeline), at the protocol's size."""
    results_dir: Path = ctx["work"] / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    tag = f"ours-zeroshot-{r['height']}x{r['width']}"
    store = results_dir / f"{tag}.json"
    if ctx["reuse"] and store.exists():
        return json.loads(store.read_text())
    save_dir = ctx["work"] / "runs" / tag
    argv = main_argv(REPO / CONFIG, ctx["root"], ctx["weights"], save_dir, r, 1, test=True)
    print(f"[{tag}] evaluating ...", flush=True)
    res = run_ours(argv, results_dir / f"{tag}.log")
    rec = {"height": r["height"], "width": r["width"], **res}
    store.write_text(json.dumps(rec, indent=1))
    print(f"[{tag}] mAP {rec['mAP']:.2f}  Rank-1 {rec['rank1']:.2f}", flush=True)
    return rec


# ------------------------------------------------------------------------------------------------------- stats
def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def diff_se(a: list[float], b: list[float]) -> tuple[float, float]:
    """Difference of the means (a - b) and its standard error sqrt(s_a²/n_a + s_b²/n_b) (NaN below 2 runs)."""
    d = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return d, math.nan
    return d, math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))


def _fmt(xs: list[float]) -> str:
    m, s = mean_std(xs)
    return f"{m:.2f} ± {s:.2f}" if len(xs) > 1 else f"{m:.2f}"


def summarise(records: dict[str, list[dict]], protocol: str) -> list[str]:
    """Table rows (markdown) + the difference line(s)."""
    lines = ["| side | seeds | mAP (mean ± std) | Rank-1 (mean ± std) | per seed mAP / Rank-1 | wall per run |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for side, recs in records.items():
        if not recs:
            continue
        per = ", ".join(f"s{x['seed']}: {x['mAP']:.2f} / {x['rank1']:.2f}" for x in recs)
        wall = statistics.fmean(x["wall_s"] for x in recs) / 60
        name = "this project" if side == "ours" else "original (run here)"
        lines.append(
            f"| {name} | {len(recs)} | {_fmt([x['mAP'] for x in recs])} | {_fmt([x['rank1'] for x in recs])} "
            f"| {per} | {wall:.1f} min |"
        )
    ref = ISSUE_ORIGINAL[protocol]
    r1 = f"{ref['rank1']:.1f}" if ref["rank1"] is not None else "n/a"
    lines.append(f"| original (issue 17, seed 1, not run here) | 1 | {ref['mAP']:.1f} | {r1} | | |")
    ours, orig = records.get("ours") or [], records.get("original") or []
    lines.append("")
    if ours and orig:
        for key, label in (("mAP", "mAP"), ("rank1", "Rank-1")):
            d, se = diff_se([x[key] for x in ours], [x[key] for x in orig])
            lines.append(f"- {label}: this project - original = {d:+.2f} (standard error {se:.2f})")
    elif ours:
        m, s = mean_std([x["mAP"] for x in ours])
        se = s / math.sqrt(len(ours)) if len(ours) > 1 else math.nan
        lines.append(
            f"- mAP: this project's mean - the issue's original seed-1 figure = {m - ref['mAP']:+.2f} "
            f"(standard error of our mean {se:.2f}; the original's seed-to-seed spread was not measured here)"
        )
    return lines


# ------------------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3], help="none: only the zero-shot figure")
    p.add_argument("--quick", action="store_true", help="128x64, 2 epochs, fixbase 1, step at 2")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a Market-1501 bounding_box_train folder")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument(
        "--original", type=Path, default=None, help="a deep-person-reid checkout to run side by side"
    )
    p.add_argument("--original-python", default=sys.executable, help="the interpreter of the original's env")
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "torchreid_bench_accuracy")
    p.add_argument("--reuse", action="store_true", help="reuse stored results of the same recipe and seed")
    p.add_argument("--no-zero-shot", action="store_true")
    p.add_argument(
        "--out", default=str(REPO / "benchmarks/RESULTS.md"), help="RESULTS.md to update ('' = none)"
    )
    # recipe overrides (tests and experiments)
    p.add_argument("--height", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--max-epoch", dest="max_epoch", type=int)
    p.add_argument("--fixbase", type=int)
    p.add_argument("--stepsize", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.data.is_dir():
        print(f"SKIP: the Market-1501 training split is not at {args.data} (see ../shared/data/README.md)")
        return 0
    if not args.weights.is_file():
        print(f"SKIP: the initial weights are not at {args.weights}")
        return 0
    if args.original is not None and not (args.original / "scripts/main.py").is_file():
        print(f"error: --original {args.original} has no scripts/main.py", file=sys.stderr)
        return 2
    protocol = "quick" if args.quick else "full"
    r = recipe(args.quick, args)
    work = args.work_dir
    root, counts = ensure_split(args.data, work)
    if args.original is not None and re.search(r"[-\d]+_c\d", str(root)):
        # the original's Market1501 reads pid and camera with re.search over the whole image path
        print(f"error: the split path {root} contains '<digits>_c<digit>', which the original would read as the "
              "identity and camera of every image; choose another --work-dir", file=sys.stderr)  # fmt: skip
        return 2
    print(
        f"split: {counts['train_ids']} train ids / {counts['train']} images; {counts['test_ids']} test ids, "
        f"{counts['query']} query + {counts['gallery']} gallery images  ({root})"
    )
    ctx = {"work": work, "root": root, "weights": args.weights.resolve(), "reuse": args.reuse,
           "original": args.original.resolve() if args.original else None,
           "original_python": args.original_python}  # fmt: skip
    # the zero-shot figure is taken at 256x128 (the issue's size) whatever the protocol, unless a size is forced
    zs_recipe = dict(r, height=args.height or 256, width=args.width or 128)
    zs = None if args.no_zero_shot else zero_shot(zs_recipe, ctx)
    records: dict[str, list[dict]] = {"ours": [], "original": []}
    for seed in args.seeds:
        records["ours"].append(one_run("ours", seed, protocol, r, ctx))
        if args.original is not None:
            records["original"].append(one_run("original", seed, protocol, r, ctx))

    lines = summarise(records, protocol)
    print("\n".join(lines))
    if args.out:
        write_results(Path(args.out), protocol, r, counts, zs, lines, args)
    return 0


def write_results(
    out: Path,
    protocol: str,
    r: dict,
    counts: dict,
    zs: dict | None,
    lines: list[str],
    args: argparse.Namespace,
) -> None:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    size = f"{r['height']}x{r['width']}"
    slug = f"{protocol}-{size}-e{r['max_epoch']}"
    cmd = "python benchmarks/bench_accuracy.py" + (" --quick" if args.quick else "")
    cmd += " --seeds " + " ".join(map(str, args.seeds)) + (" --original PATH" if args.original else "")
    body = [
        f"### {protocol} protocol: {size}, {r['max_epoch']} epochs, fixbase {r['fixbase']}, step at "
        f"{r['stepsize']}, lr {r['lr']}, batch {r['batch_size']} — {now}",
        "",
        f"`{cmd}` on {cpu_model()} (CPU, 1 thread per run, data.workers 0; other jobs shared the machine, so wall "
        "times are upper bounds). Split: "
        f"{counts['train_ids']} train ids ({counts['train']} images), {counts['test_ids']} test ids "
        f"({counts['query']} query, {counts['gallery']} gallery). osnet_x0_25 from osnet_x0_25_msmt17.pth.",
        "",
    ]
    if zs is not None:
        body.append(
            f"Zero-shot ({zs['height']}x{zs['width']}, no training): mAP {zs['mAP']:.2f} / Rank-1 "
            f"{zs['rank1']:.2f}"
            + (
                " (issue 17: 30.09 / 52.91 in both libraries)."
                if (zs["height"], zs["width"]) == (256, 128)
                else "."
            )
        )
        body.append("")
    body += lines
    block = "\n".join([f"<!-- bench_accuracy:{slug}:begin -->", *body, f"<!-- bench_accuracy:{slug}:end -->"])
    write_block(
        out,
        "bench_accuracy",
        slug,
        block,
        "Accuracy vs the original on real data (`benchmarks/bench_accuracy.py`)",
    )


if __name__ == "__main__":
    sys.exit(main())
