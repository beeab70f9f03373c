#!/usr/bin/env python
"""Feature extraction throughput on the CPU (images/s): what a tracker or a search tool gets per core budget.

For each model (``--models``, default osnet_x0_25 and osnet_x1_0) at ``--height`` x ``--width`` (256x128) with
``--batch`` 32 and ``--threads`` 2, the script times :class:`torchreid.inference.FeatureExtractor` on two kinds of
input -- real JPEG paths (Market-1501's training split from ``../shared/data`` when present, else generated JPEGs)
and the same images as OpenCV-style BGR ``uint8`` crops (``color_order='bgr'``) -- along these back-ends
(``--backends``):

- ``default``: fp32, as the original (PIL bilinear resize -> ToTensor -> Normalize);
- ``channels_last``: fp32 with ``channels_last=True``;
- ``fast``: ``precision='bf16', channels_last=True`` (autocast);
- ``onnx``: the model exported by ``torchreid export`` run with ONNX Runtime (``--threads`` intra-op threads);
- ``openvino``: the same through OpenVINO (when installed).

Every figure is the median of ``--runs`` timed calls over ``--images`` images after one warm-up call; the cosine
column compares each back-end's features with the default path's (osnet_x0_25 uses the real Market-1501 weights
from ``../shared/data/weights`` when present; other models random weights). Timings on a shared machine are
noisy: read them as ranges. Results go to ``benchmarks/RESULTS.md``.

    python benchmarks/bench_extract.py                          # make bench-extract
    python benchmarks/bench_extract.py --images 256 --runs 3 --backends default,fast,onnx
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _results import cpu_model, write_block  # noqa: E402

SHARED = Path(os.environ.get("TORCHREID_SHARED", REPO.parent / "shared"))
MARKET = SHARED / "data" / "market1501" / "bounding_box_train"
REAL_WEIGHTS = {"osnet_x0_25": SHARED / "data" / "weights" / "osnet_x0_25_market1501.pt"}
BACKENDS = ("default", "channels_last", "fast", "onnx", "openvino")
HEADING = "Feature extraction (`benchmarks/bench_extract.py`)"


def _images(n: int, tmp: Path) -> tuple[list[Path], str]:
    from PIL import Image

    if MARKET.is_dir():
        files = sorted(MARKET.glob("*.jpg"))[:n]
        if len(files) == n:
            return files, f"Market-1501 JPEGs ({MARKET.name})"
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        small = rng.integers(0, 256, (16, 8, 3), dtype=np.uint8)
        path = tmp / f"{i:05d}.jpg"
        Image.fromarray(np.kron(small, np.ones((8, 8, 1), np.uint8))).save(path, quality=90)
        files.append(path)
    return files, "generated 128x64 JPEGs"


def _bgr_crops(files: list[Path]) -> list[np.ndarray]:
    """What ``cv2.imread`` returns: BGR uint8 HWC arrays."""
    from PIL import Image

    crops = []
    for f in files:
        with Image.open(f) as img:
            crops.append(np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1]))
    return crops


def _weights(model: str, tmp: Path) -> tuple[Path, str]:
    real = REAL_WEIGHTS.get(model)
    if real is not None and real.is_file():
        return real, "Market-1501 zoo weights"
    from torchreid.models import build_model

    torch.manual_seed(0)
    net = build_model(model, num_classes=1, pretrained=False, use_gpu=False)
    path = tmp / f"{model}_random.pth"
    torch.save({"state_dict": net.state_dict()}, path)
    return path, "random weights"


def _time(fn: Any, inputs: Any, runs: int) -> tuple[float, torch.Tensor]:
    out = fn(inputs[: min(len(inputs), 8)])  # warm-up (allocations, autocast caches, ORT/OV first run)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn(inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _extractors(
    model: str, weights: Path, size: tuple[int, int], batch: int, threads: int, backends: list[str], tmp: Path
) -> dict[str, Any]:
    """``{backend: callable(inputs, color_order) -> features}`` for the back-ends that are available here."""
    from torchreid.inference import FeatureExtractor

    def torch_ext(**kw: Any) -> Any:
        made = {
            order: FeatureExtractor(
                model, str(weights), image_size=size, device="cpu", verbose=False, batch_size=batch,
                color_order=order, **kw,
            )
            for order in ("rgb", "bgr")
        }  # fmt: skip
        return lambda inputs, order: made[order](inputs)

    out: dict[str, Any] = {}
    if "default" in backends:
        out["default"] = torch_ext()
    if "channels_last" in backends:
        out["channels_last"] = torch_ext(channels_last=True)
    if "fast" in backends:
        out["fast"] = torch_ext(precision="bf16", channels_last=True)
    wants_export = [b for b in ("onnx", "openvino") if b in backends]
    if wants_export:
        try:
            from torchreid.inference.export import export_onnx, export_openvino, load_model_for_export

            net = load_model_for_export(model, weights)
            onnx_path = export_onnx(
                net, tmp / f"{model}.onnx", size[0], size[1], metadata={"image_size": size}
            )
        except Exception as exc:  # noqa: BLE001 - missing onnx, exporter failure: report and go on
            print(f"[{model}] export skipped: {exc}")
            return out
        if "onnx" in backends:
            try:
                from torchreid.inference import OnnxFeatureExtractor

                made = {
                    o: OnnxFeatureExtractor(onnx_path, num_threads=threads, batch_size=batch, color_order=o)
                    for o in ("rgb", "bgr")
                }
                out["onnx"] = lambda inputs, order, made=made: made[order](inputs)
            except ImportError as exc:
                print(f"[{model}] onnxruntime skipped: {exc}")
        if "openvino" in backends:
            try:
                from torchreid.inference import OpenVINOFeatureExtractor

                xml = export_openvino(onnx_path, tmp / f"{model}.xml", {"image_size": size})
                made_ov = {
                    o: OpenVINOFeatureExtractor(xml, num_threads=threads, batch_size=batch, color_order=o)
                    for o in ("rgb", "bgr")
                }
                out["openvino"] = lambda inputs, order, made=made_ov: made[order](inputs)
            except Exception as exc:  # noqa: BLE001 - openvino missing or failing
                print(f"[{model}] OpenVINO skipped: {exc}")
    return out


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.set_num_threads(args.threads)
    size = (args.height, args.width)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown back-end(s) {unknown}; choose from {', '.join(BACKENDS)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmpdir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmpdir)
        files, source = _images(args.images, tmp)
        crops = _bgr_crops(files)
        args.source = source
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            weights, wdesc = _weights(model, tmp)
            exts = _extractors(model, weights, size, args.batch, args.threads, backends, tmp)
            reference = None
            for name, ext in exts.items():
                t_paths, f_paths = _time(lambda x, ext=ext: ext(x, "rgb"), files, args.runs)
                t_crops, f_crops = _time(lambda x, ext=ext: ext(x, "bgr"), crops, args.runs)
                if reference is None:
                    reference = f_paths
                cos = torch.nn.functional.cosine_similarity(f_paths.float(), reference.float())
                crop_cos = torch.nn.functional.cosine_similarity(f_crops.float(), f_paths.float())
                row = {
                    "model": model,
                    "weights": wdesc,
                    "backend": name,
                    "paths_ips": len(files) / t_paths,
                    "crops_ips": len(crops) / t_crops,
                    "cos_min": float(cos.min()),
                    "cos_mean": float(cos.mean()),
                    "crop_cos_min": float(crop_cos.min()),
                }
                rows.append(row)
                print(
                    f"{model:12s} {name:14s} paths {row['paths_ips']:8.1f} img/s  BGR crops {row['crops_ips']:8.1f}"
                    f" img/s  cosine vs default min {row['cos_min']:.6f}",
                    flush=True,
                )
    return rows


def _render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"CPU: {cpu_model()}, {args.threads} threads (torch.set_num_threads / ORT intra-op / OV threads), "
        f"torch {torch.__version__}; {args.images} images ({args.source}), batch {args.batch}, "
        f"{args.height}x{args.width}, median of {args.runs} runs; {_dt.date.today().isoformat()}. Shared machine: "
        f"timings are noisy, read them as ranges.{(' ' + args.note) if args.note else ''}",
        "",
        "| model | weights | back-end | images/s (JPEG paths) | images/s (BGR crops) | cosine vs default (min / mean) "
        "| BGR crop vs path cosine (min) |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['weights']} | {r['backend']} | {r['paths_ips']:.1f} | {r['crops_ips']:.1f} "
            f"| {r['cos_min']:.6f} / {r['cos_mean']:.6f} | {r['crop_cos_min']:.6f} |"
        )
    lines += [
        "",
        "Back-ends: default = fp32 `FeatureExtractor`; channels_last = fp32 with `channels_last=True`; fast = "
        "`precision='bf16', channels_last=True`; onnx / openvino = the exported model through "
        "`OnnxFeatureExtractor` / `OpenVINOFeatureExtractor` (same preprocessing). Speed-up over the default path:",
        "",
    ]
    default = {r["model"]: r for r in rows if r["backend"] == "default"}
    for r in rows:
        base = default.get(r["model"])
        if base is not None and r["backend"] != "default":
            lines.append(
                f"- {r['model']} {r['backend']}: {r['paths_ips'] / base['paths_ips']:.2f}x (paths), "
                f"{r['crops_ips'] / base['crops_ips']:.2f}x (crops)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="osnet_x0_25,osnet_x1_0")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument(
        "--note", default="", help="a sentence added to the results (e.g. the machine's load)"
    )
    args = parser.parse_args(argv)
    rows = run(args)
    slug = f"cpu-{args.threads}t"
    body = _render(rows, args)
    begin, end = f"<!-- bench_extract:{slug}:begin -->", f"<!-- bench_extract:{slug}:end -->"
    write_block(args.out, "bench_extract", slug, f"{begin}\n{body}\n{end}", HEADING)
    print(f"Results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
