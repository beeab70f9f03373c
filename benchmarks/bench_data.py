#!/usr/bin/env python
"""Training data pipeline throughput (images/s): how many loader workers a training run needs.

The GPU targets of the speed issue (osnet_x1_0 at >= 3,000 images/s end to end) only hold if decoding and
augmentation keep up. This measures torchreid's own training pipeline -- ``ImageDataset.__getitem__`` (PIL read)
plus the train transform, batched by a ``DataLoader`` with the settings ``ImageDataManager`` uses (persistent
workers, prefetch) -- on real JPEGs (Market-1501's training split from ``../shared/data`` when present, else
generated 64x128 JPEGs), for each pipeline:

- ``default``: the original's CPU transforms (Resize -> random_flip -> ToTensor -> Normalize, float32 batches);
- ``gpu_augment``: ``data.gpu_augment True`` -- the workers only decode and resize to uint8 (4x smaller batches
  to copy); flip and normalisation run on the GPU, so they are not part of the worker cost here.

and each number of workers in ``--workers``. It also times the per-image cost in one process (decode only,
each pipeline's worker transform), which is what one worker can do at best. Every figure is the median of
``--runs`` runs of ``--batches`` batches after a warm-up. Results go to ``benchmarks/RESULTS.md``.

Examples::

    python benchmarks/bench_data.py                        # workers 0,1,2 (capped at the CPU count)
    python benchmarks/bench_data.py --workers 0,4,8,12 --batches 100
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import cpu_model, write_block  # noqa: E402

from torchreid.data import ImageDataset  # noqa: E402
from torchreid.data.gpu_transforms import build_gpu_augment  # noqa: E402
from torchreid.data.transforms import build_transforms  # noqa: E402
from torchreid.utils.tools import read_image  # noqa: E402

MARKET = (
    Path(os.environ.get("TORCHREID_SHARED", REPO.parent / "shared")) / "data/market1501/bounding_box_train"
)
PIPELINES = ("default", "gpu_augment")


def find_records(tmp: Path, n_synth: int = 1024) -> tuple[list[tuple[str, int, int]], str]:
    """``(path, pid, camid)`` training records of real Market-1501 JPEGs, else of generated ones."""
    files = sorted(MARKET.glob("*.jpg")) if MARKET.is_dir() else []
    if files:
        raw = [int(f.name.split("_")[0]) for f in files]
        label = {p: i for i, p in enumerate(sorted(set(raw)))}
        cams = [int(f.name.split("_")[1][1]) - 1 for f in files]
        recs = [(str(f), label[p], c) for f, p, c in zip(files, raw, cams, strict=True)]
        return recs, f"Market-1501 train JPEGs ({len(recs)})"
    from PIL import Image

    rng = np.random.default_rng(0)
    recs = []
    for i in range(n_synth):
        path = tmp / f"{i:05d}.jpg"
        Image.fromarray(rng.integers(0, 255, (128, 64, 3), dtype=np.uint8)).save(path, quality=90)
        recs.append((str(path), i % 100, i % 6))
    return recs, f"generated 64x128 JPEGs ({n_synth}; Market-1501 not found)"


def worker_transform(pipeline: str, height: int, width: int) -> Any:
    if pipeline == "default":
        return build_transforms(height, width, transforms=["random_flip"], verbose=False)[0]
    return build_gpu_augment(height, width, ["random_flip"])[0]


def per_image_rates(recs, args) -> dict[str, float]:
    """Images/s of one process doing the per-image work (no DataLoader), the ceiling of one worker."""
    paths = [r[0] for r in recs[: args.single_images]]
    jobs = {"decode only (PIL read + RGB)": read_image}
    for pipe in PIPELINES:
        tf = worker_transform(pipe, args.height, args.width)
        jobs[f"{pipe}: decode + worker transform"] = lambda p, tf=tf: tf(read_image(p))
    out = {}
    for label, fn in jobs.items():
        for p in paths[:20]:
            fn(p)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for p in paths:
                fn(p)
            times.append(time.perf_counter() - t0)
        out[label] = len(paths) / statistics.median(times)
    return out


def loader_rate(recs, pipeline: str, workers: int, args) -> float:
    tf = worker_transform(pipeline, args.height, args.width)
    ds = ImageDataset(recs, recs[:1], recs[:1], transform=tf, mode="train", verbose=False)
    kw: dict[str, Any] = {"num_workers": workers}
    if workers:
        kw.update(persistent_workers=True, prefetch_factor=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True, **kw)
    warm = args.warmup_batches
    n = min(args.batches, len(loader) - warm)
    if n < 1:
        raise SystemExit(f"only {len(loader)} batches of {args.batch}: too few to time")
    rates = []
    for _ in range(args.runs):
        it = iter(loader)
        for _ in range(warm):
            next(it)
        t0 = time.perf_counter()
        for _ in range(n):
            batch = next(it)
        rates.append(n * args.batch / (time.perf_counter() - t0))
        assert batch["img"].shape == (args.batch, 3, args.height, args.width)
        del it
    del loader
    return statistics.median(rates)


def render(args, data_desc: str, single: dict[str, float], rows: list[dict[str, Any]]) -> tuple[str, str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    slug = re.sub(
        r"[^a-z0-9]+", "-", f"{cpu_model()} {cores} cores {args.height}x{args.width}".lower()
    ).strip("-")
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cmd = " ".join(["python benchmarks/bench_data.py", *sys.argv[1:]]).strip()
    lines = [
        f"<!-- bench_data:{slug}:begin -->",
        f"### Data pipeline on {cpu_model()} ({cores} cores), {args.height}x{args.width} — {date}",
        "",
        f"`{cmd}` — torch {torch.__version__}; data: {data_desc}; batch {args.batch}, median of {args.runs} runs "
        f"of {args.batches} batches after {args.warmup_batches}; load average at the start {load:.1f}.",
        "",
        "| one process, per image | images/s |",
        "|---|---|",
        *(f"| {k} | {v:,.0f} |" for k, v in single.items()),
        "",
        "| pipeline | workers | DataLoader images/s | per worker |",
        "|---|---|---|---|",
    ]
    for r in rows:
        per = f"{r['rate'] / r['workers']:,.0f}" if r["workers"] else "—"
        lines.append(f"| {r['pipeline']} | {r['workers']} | {r['rate']:,.0f} | {per} |")
    lines += ["", f"<!-- bench_data:{slug}:end -->"]
    return slug, "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    p.add_argument("--workers", default=",".join(str(w) for w in range(min(cores, 2) + 1)))
    p.add_argument("--pipelines", default=",".join(PIPELINES), help="comma list of default, gpu_augment")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=30, help="timed batches per run")
    p.add_argument("--warmup-batches", type=int, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--single-images", type=int, default=1000, help="images for the one-process rates")
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"), help="'' to skip writing")
    args = p.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    args.pipelines = [s.strip() for s in args.pipelines.split(",") if s.strip()]
    bad = sorted(set(args.pipelines) - set(PIPELINES))
    if bad:
        p.error(f"unknown pipeline(s) {bad}; choose from {list(PIPELINES)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # the workers' work is per image; keep the main process from competing
    with tempfile.TemporaryDirectory() as tmp:
        recs, data_desc = find_records(Path(tmp))
        single = per_image_rates(recs, args)
        for k, v in single.items():
            print(f"{k:45s} {v:8.0f} img/s", flush=True)
        rows = []
        for pipe in args.pipelines:
            for w in args.workers:
                rate = loader_rate(recs, pipe, w, args)
                rows.append({"pipeline": pipe, "workers": w, "rate": rate})
                print(f"{pipe:12s} workers={w:<3d} {rate:8.0f} img/s", flush=True)
    slug, block = render(args, data_desc, single, rows)
    if args.out:
        write_block(Path(args.out), "bench_data", slug, block, "Data pipeline (`benchmarks/bench_data.py`)")
    print("\n" + block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
