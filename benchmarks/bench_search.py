"""Benchmark ``torchreid.search.FeatureIndex``: build, save, load, query time, memory and recall.

Synthetic clustered galleries (``--sizes`` x ``--dim``, identities = size/20 cluster centres, unit-norm-ish rows) in
float32 and float16, searched exactly and with faiss (IVF; HNSW up to ``--hnsw-max`` rows), on ``--threads`` CPU
threads. Memory "beyond the index" is the peak growth of the process's anonymous memory (``RssAnon``, sampled every
2 ms) while searching a memory-mapped index: mapped index pages are file-backed and not counted. Wall times are
medians of ``--runs``; CPU = process CPU time (less inflated than wall time when other jobs share the machine).

A second part measures how much of a real ``torchreid index build`` is spent in the model: osnet_x0_25 (Market
weights) over ``--extract-images`` Market-1501 JPEGs from ``../shared/data`` (skipped when absent).

Targets (issue 16; 2 CPU threads): 1M x 512 float16 exact top-10 for 100 queries <= 2 s, for 1 query <= 300 ms,
memory beyond the index <= 1 GB, load <= 2 s (memory map); faiss <= 10 ms/query at recall@10 >= 0.95; building
>= 95 % of its time in the model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _results import cpu_model, write_block  # noqa: E402

from torchreid.search import FeatureIndex  # noqa: E402
from torchreid.search.approx import faiss_available  # noqa: E402

HEADING = "Search (`benchmarks/bench_search.py`)"
DATA = REPO.parent / "shared" / "data"


class AnonPeak:
    """Peak growth of ``RssAnon`` (MiB) while the block runs, sampled by a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def anon_kb() -> int:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.anon_kb())
            time.sleep(self.interval)

    def __enter__(self) -> AnonPeak:
        self.base = self.peak = self.anon_kb()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.anon_kb())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 1024.0


class Rows(list):
    """Table rows, each also printed to stderr as it is measured (progress for long runs)."""

    def append(self, row: list[str]) -> None:
        print(" | ".join(row), file=sys.stderr, flush=True)
        super().append(row)


def clustered(n: int, dim: int, seed: int, centres: np.ndarray, block: int = 100_000):
    """Rows ``centre[id] + noise`` in blocks (never the whole gallery in float32 at once)."""
    rng = np.random.default_rng(seed)
    for a in range(0, n, block):
        b = min(n, a + block)
        cid = rng.integers(0, centres.shape[0], b - a)
        yield centres[cid] + 0.5 / np.sqrt(dim) * rng.standard_normal((b - a, dim), dtype=np.float32)


def timed(fn, runs: int) -> tuple[list[float], list[float], object]:
    walls, cpus, out = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus, out


def fmt(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def bench_size(n: int, args: argparse.Namespace, tmp: Path, rows: list[list[str]]) -> None:
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((max(1, n // 20), args.dim), dtype=np.float32) / np.sqrt(args.dim)
    queries = next(clustered(args.queries, args.dim, args.seed + 1, centres))
    for dtype in args.dtypes:
        bench_dtype(n, dtype, centres, queries, args, tmp, rows)


def bench_dtype(n: int, dtype: str, centres: np.ndarray, queries: np.ndarray, args: argparse.Namespace, tmp: Path,
                rows: list[list[str]]) -> None:  # fmt: skip
    index = FeatureIndex(args.dim, "euclidean", dtype, num_threads=args.threads, block_rows=args.block_rows)
    build = 0.0
    for block in clustered(n, args.dim, args.seed, centres):
        t = time.perf_counter()
        index.add(block)
        build += time.perf_counter() - t
    folder = tmp / f"idx_{n}_{dtype}"
    save_w, _, _ = timed(partial(index.save, folder), 1)
    del index
    load_w, _, index = timed(
        partial(FeatureIndex.load, folder, mmap=True, num_threads=args.threads), args.runs
    )
    size = f"{n:,} x {args.dim} {dtype}"
    rows.append([size, "add (build, in memory)", fmt(build), "", "", ""])
    rows.append([size, "save / load (mmap)", f"{fmt(save_w[0])} / {fmt(statistics.median(load_w))}", "", "",
                 f"{sum(p.stat().st_size for p in folder.iterdir()) / 2**20:.0f} MiB on disk"])  # fmt: skip
    index.search(queries[:1], args.k)  # first touch of the mapped pages (page cache) outside the timing
    for nq in (args.queries, 1):
        with AnonPeak() as mem:
            w, c, _ = timed(partial(index.search, queries[:nq], args.k), args.runs)
        rows.append([size, f"exact top-{args.k}, {nq} quer{'ies' if nq > 1 else 'y'}", fmt(statistics.median(w)),
                     fmt(statistics.median(c)), f"{mem.mb:.0f} MiB", ""])  # fmt: skip
    if "faiss" in args.backends and dtype == args.dtypes[0]:
        bench_faiss(index, queries, n, args, rows, size)
    del index
    shutil.rmtree(folder, ignore_errors=True)


def bench_faiss(index: FeatureIndex, queries: np.ndarray, n: int, args: argparse.Namespace, rows: list[list[str]],
                size: str) -> None:  # fmt: skip
    if not faiss_available():
        rows.append([size, "faiss", "not installed", "", "", ""])
        return
    kinds = ["ivf"] + (["hnsw"] if n <= args.hnsw_max else [])
    _, exact = index.search_exact(queries, args.k)
    for kind in kinds:
        approx = FeatureIndex(args.dim, "euclidean", index.dtype, backend="faiss", faiss_index=kind,
                              num_threads=args.threads)  # fmt: skip
        approx._segments, approx._ids = index._segments, index._ids  # share the rows: no second copy
        approx._pids, approx._camids = index._pids, index._camids
        with AnonPeak() as mem:
            bw, bc, _ = timed(lambda a=approx: a.search(queries[:1], args.k), 1)  # builds the faiss structure
        settings = args.nprobe if kind == "ivf" else args.ef_search
        for s in settings:
            if kind == "ivf":
                approx.faiss_params["nprobe"] = s
            else:
                approx.faiss_params["ef_search"] = s
            w, c, (_, pos) = timed(lambda a=approx: a.search(queries, args.k), args.runs)
            w1, _, _ = timed(lambda a=approx: a.search(queries[:1], args.k), args.runs)
            recall = np.mean([len(np.intersect1d(p, e)) / args.k for p, e in zip(pos, exact)])
            label = f"faiss {kind.upper()} ({'nprobe' if kind == 'ivf' else 'efSearch'} {s})"
            per_q = statistics.median(w) / len(queries)
            rows.append([size, f"{label}: {len(queries)} queries / 1 query", f"{fmt(statistics.median(w))} / "
                         f"{fmt(statistics.median(w1))}", fmt(statistics.median(c)), "",
                         f"{per_q * 1000:.2f} ms/query (batched), recall@{args.k} {recall:.3f}"])  # fmt: skip
        rows.append([size, f"faiss {kind.upper()} build", fmt(bw[0]), fmt(bc[0]), f"{mem.mb:.0f} MiB", ""])
        del approx


def bench_extraction(args: argparse.Namespace, tmp: Path) -> list[str]:
    from torchreid.search.build import Item, build_from_items
    from torchreid.search.cli import make_extractor, model_info

    images = DATA / "market1501" / "bounding_box_train"
    weights = DATA / "weights" / "osnet_x0_25_market1501.pt"
    if args.extract_images <= 0:
        return []
    if not images.is_dir() or not weights.is_file():
        return [f"Build-time split: skipped ({images} or {weights} missing)."]
    files = sorted(images.glob("*.jpg"))[: args.extract_images]
    info = model_info("osnet_x0_25", str(weights), (256, 128))
    torch.set_num_threads(args.threads)
    extractor = make_extractor(info, "cpu")
    _, timing = build_from_items([Item(str(p)) for p in files], extractor, tmp / "market_idx", info,
                                 batch_size=32, checkpoint_every=128, progress=False)  # fmt: skip
    share = timing["model_s"] / timing["total_s"]
    return [
        f"Build-time split (`torchreid index build` path: osnet_x0_25 Market weights, {len(files)} Market-1501 "
        f"JPEGs, 256x128, batch 32, {args.threads} threads, checkpoint every 128): total {timing['total_s']:.1f} s, "
        f"in the model (decode + preprocess + forward) {timing['model_s']:.1f} s = **{share * 100:.1f} %**, "
        f"index add + atomic save {timing['index_s'] * 1000:.0f} ms."
    ]


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtypes", default="float16,float32")
    p.add_argument("--backends", default="exact,faiss")
    p.add_argument("--nprobe", default="8,32", help="IVF nprobe values")
    p.add_argument("--ef-search", default="64,128", help="HNSW efSearch values")
    p.add_argument("--hnsw-max", type=int, default=100_000, help="largest gallery with an HNSW run")
    p.add_argument("--block-rows", type=int, default=None, help="default: the index's (64 MiB blocks)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--extract-images", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tmp", default=None, help="folder for the saved indexes (default: a temporary folder)")
    p.add_argument("--note", default="", help="a line added under the table")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"), help="'' prints only")
    args = p.parse_args(argv)
    args.dtypes = args.dtypes.split(",")
    args.backends = args.backends.split(",")
    args.nprobe = [int(x) for x in args.nprobe.split(",")]
    args.ef_search = [int(x) for x in args.ef_search.split(",")]
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    load = os.getloadavg()[0]
    rows: list[list[str]] = Rows()
    tmp = Path(tempfile.mkdtemp(prefix="bench_search_", dir=args.tmp))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            bench_size(n, args, tmp, rows)
        extraction = bench_extraction(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    slug = f"cpu-{args.threads}threads"
    lines = [
        f"<!-- bench_search:{slug}:begin -->",
        f"### Search on {cpu_model()} (CPU, {args.threads} threads) — {date}",
        "",
        f"`python benchmarks/bench_search.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        f"torch {torch.__version__}, faiss {'yes' if faiss_available() else 'no'}; load average at the start "
        f"{load:.1f} (above {args.threads}: other jobs shared the machine, so wall times are upper bounds). "
        "Synthetic clustered features, squared Euclidean, exact search over the memory-mapped saved index "
        f"(blocks of {args.block_rows or 'default'} rows). Memory = peak growth of anonymous memory during the search (the "
        "mapped index itself is not counted).",
        "",
        "| gallery | what | wall (median) | CPU | memory beyond the index | notes |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        *extraction,
        *([args.note] if args.note else []),
        "",
        f"<!-- bench_search:{slug}:end -->",
    ]
    block = "\n".join(line for line in lines)
    if args.out:
        write_block(Path(args.out), "bench_search", slug, block, HEADING)
    print(block)
    return block


if __name__ == "__main__":
    main()
