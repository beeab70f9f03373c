#!/usr/bin/env python
"""Evaluation speed and memory: rank metrics (every back-end) and k-reciprocal re-ranking.

Problems are generated from a seed with re-ID structure (identity centroid + camera offset + noise, 512-d,
distractor identities only in the gallery, several cameras):

- **Market-size**: 3,368 queries x 15,913 gallery (751 query identities, 6 cameras);
- **MSMT17-size**: 11,659 x 82,161 (3,060 identities, 15 cameras) -- only the feature-chunked paths, since its
  full distance matrix alone would take 3.8 GB;
- **re-ranking** at Market size (19,281 images: q_g, q_q and g_g squared-Euclidean matrices).

Every measurement runs in its own subprocess (so peak RSS is that measurement's, not the benchmark's): it builds
the problem, records its RSS, then times the call (median of ``--runs``; fewer for the MSMT and re-ranking rows).
``peak RSS`` is the subprocess's high-water mark (inputs included); ``+RSS`` is that peak minus the RSS after the
inputs were built. ``np.argsort`` of the distance matrix -- the first step of the original's evaluation, so a
lower bound of its cost -- is timed for comparison (SPEC: the original Cython path took about 3 s on this problem).

Results go to ``benchmarks/RESULTS.md`` (one section per device and size, replaced on re-runs).

Examples::

    python benchmarks/bench_eval.py                 # full sizes, CPU
    python benchmarks/bench_eval.py --quick         # 10x smaller problems (a smoke test)
    python benchmarks/bench_eval.py --device cuda   # feature-chunked paths on the GPU
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import cpu_model, write_block  # noqa: E402

SIZES = {
    # name: (num_q, num_g, query identities, distractor identities, cameras)
    "market": (3368, 15913, 751, 600, 6),
    "msmt": (11659, 82161, 3060, 1000, 15),
}
DIM = 512
NOISE = 1.9  # per-dimension noise (centroids are unit-variance): Market-size mAP about 0.75, R1 about 0.98


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_problem(size: str, seed: int, scale: float = 1.0):
    """Features and ids of a re-ID-like retrieval problem (float32, deterministic in ``seed``)."""
    nq, ng, ids, distract, cams = SIZES[size]
    nq, ng = max(8, int(nq * scale)), max(16, int(ng * scale))
    ids, distract = max(4, int(ids * scale)), max(2, int(distract * scale))
    rng = np.random.default_rng(seed)
    cent = rng.standard_normal((ids + distract, DIM), dtype=np.float32)
    cam_off = 0.35 * rng.standard_normal((cams, DIM), dtype=np.float32)
    q_pids = rng.integers(0, ids, nq)
    g_pids = np.concatenate([rng.integers(0, ids, ng - ng // 6), rng.integers(ids, ids + distract, ng // 6)])
    q_cams, g_cams = rng.integers(0, cams, nq), rng.integers(0, cams, ng)

    def feats(pids, camids):
        out = np.empty((len(pids), DIM), dtype=np.float32)
        for s in range(0, len(pids), 8192):
            e = min(len(pids), s + 8192)
            out[s:e] = cent[pids[s:e]] + cam_off[camids[s:e]]
            out[s:e] += NOISE * rng.standard_normal((e - s, DIM), dtype=np.float32)
        return out

    return feats(q_pids, q_cams), feats(g_pids, g_cams), q_pids, g_pids, q_cams, g_cams


# ---- one measurement (runs in a subprocess) -----------------------------------------------------------------------


def worker(spec: dict) -> dict:
    import torch

    from torchreid.metrics import compute_distance_matrix, evaluate_rank, evaluate_rank_from_features
    from torchreid.utils.rerank import re_ranking

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: spec["threads"]])
    qf, gf, qp, gp, qc, gc = make_problem(spec["size"], spec["seed"], spec["scale"])
    qf_t, gf_t = torch.from_numpy(qf), torch.from_numpy(gf)
    dev = spec["device"]
    what = spec["what"]
    dm = None
    if what in ("matrix", "argsort", "cuhk03"):
        dm = compute_distance_matrix(qf_t, gf_t).numpy()
        if dev != "cpu":
            dm = torch.from_numpy(dm).to(dev)
    elif what == "rerank":
        q_g = compute_distance_matrix(qf_t, gf_t).numpy()
        q_q = compute_distance_matrix(qf_t, qf_t).numpy()
        g_g = compute_distance_matrix(gf_t, gf_t).numpy()
    if what in ("features", "distance") and dev != "cpu":
        qf_t, gf_t = qf_t.to(dev), gf_t.to(dev)
    base = _rss_mb()

    def call():
        if what == "matrix":
            return evaluate_rank(dm, qp, gp, qc, gc, backend=spec["backend"], return_details=True)
        if what == "cuhk03":
            np.random.seed(0)
            return evaluate_rank(dm, qp, gp, qc, gc, use_metric_cuhk03=True, backend=spec["backend"])
        if what == "argsort":
            return np.argsort(dm, axis=1)
        if what == "distance":
            return compute_distance_matrix(qf_t, gf_t)
        if what == "features":
            return evaluate_rank_from_features(
                qf_t, gf_t, qp, gp, qc, gc, backend=spec["backend"], device=dev, return_details=True
            )
        if what == "rerank":
            return re_ranking(q_g, q_q, g_g)
        raise ValueError(what)

    times, cpu, metrics = [], [], {}
    for _ in range(spec["runs"]):
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        res = call()
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if hasattr(res, "mINP"):
            metrics = {"mAP": res.mAP, "rank1": float(res.cmc[0]), "mINP": res.mINP}
        del res
    out = {"times": times, "cpu": cpu, "peak_mb": _peak_mb(), "base_mb": base, **metrics}
    if dev.startswith("cuda"):
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_worker(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- driver -------------------------------------------------------------------------------------------------------


def device_desc(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    return cpu_model()


def plan(args) -> list[dict]:
    dev = args.device
    rows = []

    def add(size, what, backend, runs, label):
        rows.append(
            {"size": size, "what": what, "backend": backend, "runs": runs, "label": label, "device": dev}
        )

    r = args.runs
    if dev == "cpu":
        for be in ("cython", "numpy", "torch"):
            add("market", "matrix", be, r, f"evaluate_rank(distmat), backend={be}")
        add("market", "cuhk03", "cython", min(r, 3), "evaluate_rank(distmat, use_metric_cuhk03=True), cython")
        add("market", "argsort", "-", r, "np.argsort(distmat) only (original's first step)")
    else:
        add("market", "matrix", "torch", r, "evaluate_rank(distmat on GPU), backend=torch")
    add("market", "distance", "-", r, "compute_distance_matrix(qf, gf) only")
    feature_backends = ("cython", "torch") if dev == "cpu" else ("torch",)
    for be in feature_backends:
        add("market", "features", be, r, f"evaluate_rank_from_features, backend={be}")
    if not args.skip_msmt:
        for be in feature_backends:
            add("msmt", "features", be, args.msmt_runs, f"evaluate_rank_from_features, backend={be}")
    if not args.skip_rerank:
        add("market", "rerank", "-", args.rerank_runs, "re_ranking(q_g, q_q, g_g)")
    return rows


def fmt_s(t):
    return "—" if t is None else (f"{t * 1000:.0f} ms" if t < 1 else f"{t:.2f} s")


def write_results(path: Path, args, rows: list[dict]) -> str:
    name = device_desc(args.device)
    tag = ("quick" if args.quick else "full") + (f" only {args.only}" if args.only else "")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{name} {args.device} {tag} {args.threads or 'all'}".lower()).strip(
        "-"
    )
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads = args.threads or len(os.sched_getaffinity(0))
    import numpy
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"<!-- bench_eval:{slug}:begin -->",
        f"### Evaluation on {name} ({args.device}, {threads} threads, {tag} sizes) — {date}",
        "",
        f"`python benchmarks/bench_eval.py {' '.join(a for a in sys.argv[1:])}`".replace(" `", "`"),
        "",
        f"torch {torch.__version__}, NumPy {numpy.__version__}, seed {args.seed}; load average at the start "
        f"{load:.1f} (other jobs shared the machine when this is above the thread count, so times are upper "
        "bounds; CPU = process CPU time summed over its threads, which load does not inflate much). Median of "
        "the listed runs; peak RSS is the measuring subprocess's high-water mark, inputs "
        "included; +RSS is that peak minus the RSS after the inputs were built.",
        "",
        "| problem | what | runs | median wall | min wall | median CPU | peak RSS | +RSS | mAP / R1 / mINP |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        res = row["result"]
        size = row["size_desc"]
        if "error" in res:
            lines.append(f"| {size} | {row['label']} | {row['runs']} | error: {res['error']} | | | | | |")
            continue
        t = res["times"]
        metr = f"{res['mAP']:.4f} / {res['rank1']:.4f} / {res['mINP']:.4f}" if "mAP" in res else ""
        gpu = f" (GPU {res['gpu_peak_mb'] / 1024:.2f} GB)" if "gpu_peak_mb" in res else ""
        lines.append(
            f"| {size} | {row['label']} | {len(t)} | {fmt_s(statistics.median(t))} | {fmt_s(min(t))} | "
            f"{fmt_s(statistics.median(res['cpu']))} | "
            f"{res['peak_mb'] / 1024:.2f} GB{gpu} | {(res['peak_mb'] - res['base_mb']) / 1024:.2f} GB | {metr} |"
        )
    lines += ["", f"<!-- bench_eval:{slug}:end -->"]
    block = "\n".join(lines)
    if path:
        write_block(path, "bench_eval", slug, block, "Evaluation (`benchmarks/bench_eval.py`)")
    return block


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10x smaller problems")
    p.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (feature-chunked paths on the GPU)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per Market measurement (>= 3)")
    p.add_argument("--msmt-runs", type=int, default=3)
    p.add_argument("--rerank-runs", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-msmt", action="store_true")
    p.add_argument("--skip-rerank", action="store_true")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated tokens; keep the measurements whose 'size what backend' contains one "
        "(e.g. 'msmt,matrix cython'); written to its own RESULTS.md section",
    )
    p.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"), help="'' to skip writing")
    p.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._worker:
        print(json.dumps(worker(json.loads(args._worker))))
        return 0
    scale = 0.1 if args.quick else 1.0
    rows = plan(args)
    if args.only:
        tokens = [t.strip() for t in args.only.split(",") if t.strip()]
        rows = [r for r in rows if any(t in f"{r['size']} {r['what']} {r['backend']}" for t in tokens)]
    for row in rows:
        row.update(seed=args.seed, scale=scale, threads=args.threads)
        nq, ng = (
            max(8, int(x * scale)) if i == 0 else max(16, int(x * scale))
            for i, x in enumerate(SIZES[row["size"]][:2])
        )
        row["size_desc"] = f"{row['size']} {nq}x{ng}"
        print(f"[bench_eval] {row['size_desc']}: {row['label']} ...", flush=True)
        row["result"] = run_worker(
            {k: row[k] for k in ("size", "what", "backend", "runs", "device", "seed", "scale", "threads")},
            args.timeout,
        )
        res = row["result"]
        if "error" in res:
            print(f"    error: {res['error']}", flush=True)
        else:
            print(
                f"    median {fmt_s(statistics.median(res['times']))} (CPU {fmt_s(statistics.median(res['cpu']))}), peak RSS {res['peak_mb'] / 1024:.2f} GB "
                f"(+{(res['peak_mb'] - res['base_mb']) / 1024:.2f} GB)",
                flush=True,
            )
    block = write_results(Path(args.out) if args.out else None, args, rows)
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
