#!/usr/bin/env python
"""Training throughput (images/s): the original engine's fp32 step vs. torchreid's fast path.

For each model (default: osnet_x1_0 bs 64, resnet50_fc512 bs 64, osnet_x0_25 bs 128, at 256x128, 751 classes)
it measures

- **model-only**: the training step on a batch already on the device (forward, label-smoothed cross-entropy,
  backward, AMSGrad step, loss/accuracy read back like the engine's log line);
- **end-to-end**: the same step fed by a real data pipeline reading JPEGs (Market-1501's training split from
  ``../shared/data/market1501/bounding_box_train`` when present, else synthetic 64x128 JPEGs written to a
  temporary folder), with random-flip augmentation.

and for each of two modes

- ``original``: an emulation of the original Torchreid engine's step (the original is not importable here):
  fp32, no channels_last, eager, the original label-smoothing loss (one-hot built on the CPU and copied),
  DataParallel-free single device; its loader is the original's (4 workers, PIL resize + flip + ToTensor +
  Normalize in the workers, pinned memory, blocking ``.cuda()`` copies);
- ``fast``: torchreid's ``ImageSoftmaxEngine.forward_backward`` with the fast path (``--amp``, channels_last,
  ``--compile`` mode, fused optimiser); its loader decodes and resizes to uint8 in persistent workers, pins,
  prefetches on a side CUDA stream and augments on the device (``GPUAugment``);
- ``engine`` (optional): torchreid's engine with its defaults (fp32, the original numerics) and the same
  loader as ``fast`` but with the augmentation on the CPU.

Every figure is the median of ``--runs`` timed runs of ``--iters`` steps after ``--warmup`` steps. Results go
to ``benchmarks/RESULTS.md`` (a section per device, replaced on re-runs) and optionally to ``--json``.

Examples::

    python benchmarks/bench_train.py                                  # full run (GPU) / small run (CPU)
    python benchmarks/bench_train.py --models osnet_x1_0:64 --modes original,fast --amp bf16 \
        --compile max-autotune-no-cudagraphs
    python benchmarks/bench_train.py --no-e2e --iters 5 --runs 1       # quick model-only check
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import find_block, write_block  # noqa: E402

from torchreid.data.gpu_transforms import GPUAugment  # noqa: E402
from torchreid.data.prefetch import DevicePrefetcher  # noqa: E402
from torchreid.engine.accel import StepAccelerator  # noqa: E402

DEFAULT_MODELS = "osnet_x1_0:64,resnet50_fc512:64,osnet_x0_25:128"
NUM_CLASSES = 751
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MARKET = (
    Path(os.environ.get("TORCHREID_SHARED", REPO.parent / "shared")) / "data/market1501/bounding_box_train"
)


# ------------------------------------------------------------------------------------------------- losses
class OriginalCrossEntropyLoss(nn.Module):
    """The original Torchreid's label-smoothing loss, as it ran: one-hot built on the CPU, then copied."""

    def __init__(self, num_classes: int, eps: float = 0.1, use_gpu: bool = True) -> None:
        super().__init__()
        self.num_classes, self.eps, self.use_gpu = num_classes, eps, use_gpu
        self.logsoftmax = nn.LogSoftmax(dim=1)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_probs = self.logsoftmax(inputs)
        zeros = torch.zeros(log_probs.size())
        targets = zeros.scatter_(1, targets.unsqueeze(1).data.cpu(), 1)
        if self.use_gpu:
            targets = targets.cuda()
        targets = (1 - self.eps) * targets + self.eps / self.num_classes
        return (-targets * log_probs).mean(0).sum()


class DeviceCrossEntropyLoss(nn.Module):
    """Same maths, computed on the inputs' device (what torchreid's loss does)."""

    def __init__(self, num_classes: int, eps: float = 0.1) -> None:
        super().__init__()
        self.num_classes, self.eps = num_classes, eps

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_probs = torch.log_softmax(inputs.float(), dim=1)
        onehot = torch.zeros_like(log_probs).scatter_(1, targets.unsqueeze(1), 1)
        onehot = (1 - self.eps) * onehot + self.eps / self.num_classes
        return (-onehot * log_probs).mean(0).sum()


def project_loss(num_classes: int, use_gpu: bool) -> nn.Module:
    try:
        from torchreid.losses import CrossEntropyLoss

        return CrossEntropyLoss(num_classes=num_classes, use_gpu=use_gpu, label_smooth=True)
    except Exception:  # noqa: BLE001 - losses not importable: an equivalent device-side loss
        return DeviceCrossEntropyLoss(num_classes)


# ------------------------------------------------------------------------------------------------- steps
def build_model(name: str, device: torch.device) -> nn.Module:
    from torchreid.models import build_model as _build

    model = _build(
        name, num_classes=NUM_CLASSES, loss="softmax", pretrained=False, use_gpu=device.type == "cuda"
    )
    return model.to(device)


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        model.parameters(), lr=0.0015, weight_decay=5e-4, betas=(0.9, 0.999), amsgrad=True
    )


class OriginalStep:
    """fp32 eager step as in the original ``ImageSoftmaxEngine.forward_backward`` (+ the accuracy read-back)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.model, self.device = model, device
        self.opt = make_optimizer(model)
        self.crit = OriginalCrossEntropyLoss(NUM_CLASSES, use_gpu=device.type == "cuda")

    def __call__(self, imgs: torch.Tensor, pids: torch.Tensor) -> dict[str, float]:
        self.model.train()
        if self.device.type == "cuda":
            imgs, pids = imgs.cuda(), pids.cuda()
        outputs = self.model(imgs)
        loss = self.crit(outputs, pids)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        acc = (outputs.argmax(1) == pids).float().mean() * 100
        return {"loss": loss.item(), "acc": acc.item()}


class FastStep:
    """torchreid's accelerated step: ``StepAccelerator`` + device loss + fused optimiser."""

    def __init__(self, model: nn.Module, device: torch.device, args: argparse.Namespace) -> None:
        self.device = device
        self.accel = StepAccelerator(
            amp=args.amp,
            channels_last=not args.no_channels_last,
            compile=args.compile,
            device=device,
        )
        self.raw = model
        self.model = self.accel.prepare_model(model)
        self.opt = self.accel.prepare_optimizer(make_optimizer(model))
        self.crit = project_loss(NUM_CLASSES, use_gpu=device.type == "cuda")

    def __call__(self, imgs: torch.Tensor, pids: torch.Tensor) -> dict[str, float]:
        self.raw.train()
        self.accel.mark_step_begin()
        imgs = self.accel.prepare_inputs(imgs)
        pids = pids.to(self.device, non_blocking=True)
        with self.accel.autocast():
            outputs = self.model(imgs)
            loss = self.crit(outputs, pids)
        self.accel.backward_and_step(loss, self.opt, self.raw.parameters())
        acc = (outputs.argmax(1) == pids).float().mean() * 100
        return {"loss": loss.item(), "acc": acc.item()}


class EngineStep:
    """The project's own ``ImageSoftmaxEngine.forward_backward`` (``fast=False``: its fp32 defaults)."""

    def __init__(self, model: nn.Module, device: torch.device, args: argparse.Namespace, fast: bool) -> None:
        import types

        from torchreid.engine import ImageSoftmaxEngine

        dm = types.SimpleNamespace(train_loader=None, test_loader={}, num_train_pids=NUM_CLASSES, sources=[])
        kwargs: dict[str, Any] = {}
        if fast:
            kwargs = {"amp": args.amp, "channels_last": not args.no_channels_last, "compile": args.compile}
        self.engine = ImageSoftmaxEngine(
            dm, model, make_optimizer(model), use_gpu=device.type == "cuda", label_smooth=True, **kwargs
        )
        self.engine.set_model_mode("train")
        self.accel = self.engine.accel

    def __call__(self, imgs: torch.Tensor, pids: torch.Tensor) -> dict[str, float]:
        self.accel.mark_step_begin()
        return self.engine.forward_backward({"img": imgs, "pid": pids})


def make_step(mode: str, name: str, device: torch.device, args: argparse.Namespace):
    """``original``: emulated original step; ``engine``: torchreid's engine with its (fp32) defaults;
    ``fast``: torchreid's engine with the fast path (a standalone equivalent when the engine is unavailable)."""
    torch.manual_seed(0)
    model = build_model(name, device)
    if mode == "original":
        return OriginalStep(model, device)
    if mode not in ("engine", "fast"):
        raise ValueError(f"unknown mode {mode!r}; use original, engine or fast")
    try:
        return EngineStep(model, device, args, fast=mode == "fast")
    except ImportError as exc:
        if mode == "engine":
            raise
        print(f"[note] torchreid.engine unavailable ({exc}); timing a standalone fast step", flush=True)
        return FastStep(model, device, args)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------------------------- data
class JpegDataset(torch.utils.data.Dataset):
    """``(path, pid)`` list read with PIL. ``mode='original'``: Resize + flip + ToTensor + Normalize (float32);
    ``mode='fast'``: Resize only, returned as uint8 CHW (flip/normalise happen on the device)."""

    def __init__(self, files: list[str], pids: list[int], height: int, width: int, mode: str) -> None:
        import torchvision.transforms as T

        self.files, self.pids, self.mode = files, pids, mode
        if mode == "original":
            self.tf = T.Compose(
                [T.Resize((height, width)), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)]
            )
        else:
            self.tf = T.Compose([T.Resize((height, width)), T.PILToTensor()])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.files[i]) as im:
            img = self.tf(im.convert("RGB"))
        return img, self.pids[i]


def find_images(tmp: Path, n_synth: int = 2048) -> tuple[list[str], list[int], str]:
    if MARKET.is_dir():
        files = sorted(str(p) for p in MARKET.glob("*.jpg"))
        if files:
            raw = [int(Path(f).name.split("_")[0]) for f in files]
            relabel = {p: i for i, p in enumerate(sorted(set(raw)))}
            return files, [relabel[p] % NUM_CLASSES for p in raw], f"Market-1501 train JPEGs ({len(files)})"
    from PIL import Image

    rng = np.random.default_rng(0)
    files, pids = [], []
    for i in range(n_synth):
        p = tmp / f"{i:05d}.jpg"
        Image.fromarray(rng.integers(0, 255, (128, 64, 3), dtype=np.uint8)).save(p, quality=90)
        files.append(str(p))
        pids.append(i % NUM_CLASSES)
    return files, pids, f"synthetic 64x128 JPEGs ({n_synth}; Market-1501 not found)"


def make_loader(mode: str, files, pids, bs: int, args, device: torch.device):
    ds = JpegDataset(files, pids, args.height, args.width, "original" if mode == "engine" else mode)
    pin = device.type == "cuda"
    if mode == "original":
        return torch.utils.data.DataLoader(
            ds, batch_size=bs, shuffle=True, num_workers=args.orig_workers, pin_memory=pin, drop_last=True
        )
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=bs,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=pin,
        drop_last=True,
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers > 0 else None,
    )
    if mode == "engine":  # the project's pipeline with the default (CPU) augmentation
        return DevicePrefetcher(loader, device=device)
    aug = GPUAugment(["random_flip"], norm_mean=MEAN, norm_std=STD)
    return DevicePrefetcher(loader, device=device, transform=aug, channels_last=not args.no_channels_last)


# ------------------------------------------------------------------------------------------------- timing
def time_model_only(step, bs: int, device: torch.device, args) -> list[float]:
    g = torch.Generator().manual_seed(0)
    imgs = torch.randn(bs, 3, args.height, args.width, generator=g).to(device)
    pids = torch.randint(0, NUM_CLASSES, (bs,), generator=g).to(device)
    for _ in range(args.warmup):
        step(imgs, pids)
    sync(device)
    rates = []
    for _ in range(args.runs):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.iters):
            step(imgs, pids)
        sync(device)
        rates.append(args.iters * bs / (time.perf_counter() - t0))
    return rates


def time_e2e(step, loader, bs: int, device: torch.device, args) -> tuple[list[float], int]:
    """Steady-state end-to-end rate: each run starts a new epoch, skips ``e2e_warmup`` steps, times the next
    ones (at most what is left of the epoch). Returns the rates and the number of timed steps per run."""
    warm = min(args.e2e_warmup, max(1, len(loader) // 5))
    n = min(args.e2e_iters, len(loader) - warm)
    if n < 1:
        raise SystemExit(f"the dataset gives only {len(loader)} batches of {bs}; too few to time")
    rates = []
    for _ in range(args.runs):
        it = iter(loader)
        for _ in range(warm):
            imgs, pids = next(it)
            step(imgs, pids)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(n):
            imgs, pids = next(it)
            step(imgs, pids)
        sync(device)
        rates.append(n * bs / (time.perf_counter() - t0))
        del it
    return rates, n


# ------------------------------------------------------------------------------------------------- report
def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _fmt_rate(v: float | None) -> str:
    if not v:
        return "—"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _render(slug: str, name: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"<!-- bench_train:{slug}:begin -->",
        f"### Training throughput on {name}",
        "",
        "256x128 unless stated, 751 classes, AMSGrad. `original` = emulated original engine step (fp32, eager, "
        "CPU-built one-hot label smoothing, blocking copies, 4 loader workers with CPU transforms); `engine` = "
        "torchreid's engine with its defaults (fp32); `fast` = torchreid's engine with the settings in "
        "brackets, fused optimiser, persistent workers, uint8 decode, side-stream prefetch and on-device "
        "flip/normalise. Median of several timed runs after warm-up; speed-up relative to `original`.",
        "",
        "| model | batch | mode | model-only img/s | end-to-end img/s | speed-up (model / e2e) | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {(r["model"], r["batch"]): r for r in rows if r["mode"] == "original"}
    for r in rows:
        b = base.get((r["model"], r["batch"]))
        sp = ""
        if r["mode"] != "original" and b:
            s1 = (
                f"{r['model_only'] / b['model_only']:.2f}x"
                if r.get("model_only") and b.get("model_only")
                else "—"
            )
            s2 = f"{r['e2e'] / b['e2e']:.2f}x" if r.get("e2e") and b.get("e2e") else "—"
            sp = f"{s1} / {s2}"
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['mode']}{note} | {_fmt_rate(r.get('model_only'))} | "
            f"{_fmt_rate(r.get('e2e'))} | {sp} | {r.get('date', '')} |"
        )
    cmds = sorted({r["cmd"] for r in rows if r.get("cmd")})
    descs = sorted({r["desc"] for r in rows if r.get("desc")})
    lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in cmds)] if cmds else []
    lines += ["", *[f"- {d}" for d in descs]] if descs else []
    payload = json.dumps(rows, separators=(",", ":"))
    lines += ["", f"<!-- bench_train:{slug}:data {payload} -->", f"<!-- bench_train:{slug}:end -->"]
    return "\n".join(lines)


def write_results(path: Path, device: torch.device, rows: list[dict[str, Any]], args, data_desc: str) -> str:
    """Merge ``rows`` into the device's section of ``path`` (rows of other models/modes measured earlier on
    the same device are kept; a re-measured row replaces its predecessor)."""
    name = device_name(device)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = " ".join(["python benchmarks/bench_train.py", *sys.argv[1:]]).strip()
    desc = (
        f"{date}: torch {torch.__version__}, {args.height}x{args.width}, median of {args.runs} runs x "
        f"{args.iters} steps (model-only) / up to {args.e2e_iters} steps (end-to-end); fast loader "
        f"{args.workers} workers; end-to-end data: {data_desc}"
    )
    for r in rows:
        r.update(date=date, cmd=cmd, desc=desc)
        r.pop("model_only_runs", None)
        r.pop("e2e_runs", None)

    old: list[dict[str, Any]] = []
    current = find_block(path, "bench_train", slug)
    if current:
        d = re.search(rf"<!-- bench_train:{re.escape(slug)}:data (.*?) -->", current)
        if d:
            with contextlib.suppress(ValueError):
                old = json.loads(d.group(1))

    def key(r: dict[str, Any]) -> tuple:
        return (r["model"], r["batch"], r["mode"], r.get("note", ""))

    new_keys = {key(r) for r in rows}
    merged = [r for r in old if key(r) not in new_keys] + rows
    merged.sort(key=lambda r: (r["model"], r["batch"], {"original": 0, "engine": 1}.get(r["mode"], 2)))
    block = _render(slug, name, merged)
    write_block(path, "bench_train", slug, block, "Training throughput (`benchmarks/bench_train.py`)")
    return block


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--models", default=DEFAULT_MODELS, help="name:batch,... (default: %(default)s)")
    p.add_argument("--modes", default="original,fast", help="comma list of original, engine, fast")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--iters", type=int, default=None, help="timed steps per run (GPU 50, CPU 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (GPU 15, CPU 1)")
    p.add_argument("--runs", type=int, default=None, help="timed runs; the median is reported (GPU 5, CPU 1)")
    p.add_argument("--e2e-iters", type=int, default=None, help="timed end-to-end steps (GPU 100, CPU 2)")
    p.add_argument("--e2e-warmup", type=int, default=None, help="GPU 20, CPU 1")
    p.add_argument("--no-e2e", action="store_true", help="model-only figures")
    p.add_argument("--amp", default="bf16", help="fast path precision: off | bf16 | fp16")
    p.add_argument(
        "--compile",
        default="max-autotune-no-cudagraphs",
        help="fast path torch.compile mode ('' = off; reduce-overhead = CUDA graphs). CPU default: ''",
    )
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument(
        "--workers", type=int, default=None, help="fast-path loader workers (default: CPU count, max 16)"
    )
    p.add_argument("--orig-workers", type=int, default=4, help="original loader workers (its default: 4)")
    p.add_argument("--batch-scale", type=float, default=None, help="multiply batch sizes (CPU default 0.125)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"), help="'' to skip writing")
    p.add_argument("--json", default="", help="also write the raw figures here")
    args = p.parse_args(argv)
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    args.device = torch.device(dev)
    gpu = args.device.type == "cuda"
    for key, g, c in (
        ("iters", 50, 2),
        ("warmup", 15, 1),
        ("runs", 5, 1),
        ("e2e_iters", 100, 2),
        ("e2e_warmup", 20, 1),
        ("batch_scale", 1.0, 0.125),
    ):
        if getattr(args, key) is None:
            setattr(args, key, g if gpu else c)
    if not gpu and "--compile" not in " ".join(sys.argv if argv is None else argv):
        args.compile = ""  # inductor on a small CPU box costs minutes of compilation
    if args.workers is None:
        args.workers = min(16, os.cpu_count() or 1)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = args.device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    models = []
    for item in args.models.split(","):
        name, _, bs = item.partition(":")
        models.append((name.strip(), max(2, round(int(bs or 64) * args.batch_scale))))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(
        f"device: {device_name(device)}; torch {torch.__version__}; models {models}; modes {modes}",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files, pids, data_desc = ([], [], "") if args.no_e2e else find_images(Path(tmp))
        for name, bs in models:
            for mode in modes:
                row: dict[str, Any] = {"model": name, "batch": bs, "mode": mode}
                try:
                    step = make_step(mode, name, device, args)
                except Exception as exc:  # noqa: BLE001 - report and go on with the other models
                    print(f"[skip] {name} ({mode}): {type(exc).__name__}: {exc}", flush=True)
                    continue
                if mode != "original":
                    row["note"] = step.accel.describe()
                rates = time_model_only(step, bs, device, args)
                row["model_only"] = statistics.median(rates)
                row["model_only_runs"] = rates
                print(
                    f"{name:>16s} bs{bs:<4d} {mode:>8s} model-only {row['model_only']:8.1f} img/s "
                    f"(runs {[round(r) for r in rates]})",
                    flush=True,
                )
                if not args.no_e2e:
                    loader = make_loader(mode, files, pids, bs, args, device)
                    rates, row["e2e_steps"] = time_e2e(step, loader, bs, device, args)
                    row["e2e"] = statistics.median(rates)
                    row["e2e_runs"] = rates
                    print(
                        f"{name:>16s} bs{bs:<4d} {mode:>8s} end-to-end {row['e2e']:8.1f} img/s "
                        f"(runs {[round(r) for r in rates]})",
                        flush=True,
                    )
                    del loader
                rows.append(row)
                del step
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    if args.out:
        block = write_results(Path(args.out), device, rows, args, data_desc or "not measured (--no-e2e)")
        print("\n" + block)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device_name(device), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("default")
        sys.exit(main())
