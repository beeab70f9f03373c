"""Visualise activation maps of a re-ID model: where does it look?

For each image the last convolutional feature maps (``model(x, return_featuremaps=True)``) are reduced to one map
(sum of squares over channels), normalised, resized to the image, coloured with the JET colour map and overlaid
on the image. Each output picture shows ``image | activation map | overlay``.

Usage::

    # the test split of a dataset (query and gallery)
    python tools/visualize_actmap.py --root reid-data -d market1501 -m osnet_x1_0 -w model.pth.tar-250
    # a few images
    python tools/visualize_actmap.py -m osnet_x0_25 -w weights.pth --images a.jpg b.jpg --save-dir log/actmap
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from torchreid.data.constants import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from torchreid.models import build_model  # noqa: E402

GRID_SPACING = 10


def feature_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The model's last convolutional feature maps (B, C, h, w); a clear error when it cannot provide them."""
    try:
        out = model(images, return_featuremaps=True)
    except TypeError as exc:
        raise ValueError(
            f"{type(model).__name__} does not provide feature maps (its forward() has no return_featuremaps "
            "argument). Use a model that supports it, e.g. the OSNet family (osnet_x1_0, osnet_ain_x1_0, ...)."
        ) from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{type(model).__name__} returned {shape} for return_featuremaps=True, not (B, C, h, w) maps"
        )
    return out


def activation_maps(fmaps: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Sum of squares over channels, L2-normalised, resized to (height, width), scaled to uint8 [0, 255]."""
    am = (fmaps.float() ** 2).sum(1)
    b, h, w = am.shape
    am = am.view(b, h * w)
    am = torch.nn.functional.normalize(am, p=2, dim=1).view(b, h, w).cpu().numpy()
    out = np.empty((b, height, width), dtype=np.uint8)
    for i in range(b):
        m = cv2.resize(am[i], (width, height))
        m = (m - m.min()) / (m.max() - m.min() + 1e-12)
        out[i] = np.uint8(np.floor(255 * m))
    return out


def render(image_rgb: np.ndarray, amap: np.ndarray) -> np.ndarray:
    """``image | JET map | overlay`` as one BGR picture."""
    heat = cv2.applyColorMap(amap, cv2.COLORMAP_JET)
    bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    overlay = np.uint8(np.clip(bgr * 0.3 + heat * 0.7, 0, 255))
    h, w = bgr.shape[:2]
    canvas = np.full((h, 3 * w + 2 * GRID_SPACING, 3), 255, dtype=np.uint8)
    canvas[:, :w] = bgr
    canvas[:, w + GRID_SPACING : 2 * w + GRID_SPACING] = heat
    canvas[:, 2 * w + 2 * GRID_SPACING :] = overlay
    return canvas


def _load_images(
    paths: Iterable[str | Path], height: int, width: int
) -> tuple[torch.Tensor, list[np.ndarray]]:
    from PIL import Image

    tensors, raws = [], []
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for p in paths:
        try:
            img = Image.open(p).convert("RGB").resize((width, height), Image.BILINEAR)
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot read image '{p}': {exc}") from exc
        arr = np.asarray(img)
        raws.append(arr)
        t = torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0
        tensors.append((t - mean) / std)
    return torch.stack(tensors), raws


def visualize_paths(
    model: nn.Module, paths: list[str | Path], save_dir: str | Path, height: int = 256, width: int = 128
) -> list[Path]:
    """Write one activation-map picture per image path into ``save_dir``; return the written files."""
    save_dir = Path(save_dir)
    try:
        save_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder '{save_dir}': {exc}") from exc
    model.eval()
    device = next(model.parameters()).device
    written = []
    for start in range(0, len(paths), 32):
        chunk = paths[start : start + 32]
        x, raws = _load_images(chunk, height, width)
        with torch.no_grad():
            maps = activation_maps(feature_maps(model, x.to(device)), height, width)
        for p, raw, m in zip(chunk, raws, maps):
            out = save_dir / f"{Path(p).stem}.jpg"
            if not cv2.imwrite(str(out), render(raw, m)):
                raise OSError(f"could not write '{out}' (is the folder writable?)")
            written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-m", "--model", required=True, help="architecture, e.g. osnet_x1_0")
    parser.add_argument("-w", "--weights", default="", help="trained weights (checkpoint or state dict)")
    parser.add_argument("--images", nargs="*", default=None, help="image files (instead of a dataset)")
    parser.add_argument("--root", default="reid-data", help="dataset root (with -d)")
    parser.add_argument(
        "-d", "--dataset", default="market1501", help="dataset whose query/gallery to visualise"
    )
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--max-images", type=int, default=200, help="at most this many images per subset")
    parser.add_argument("--save-dir", default="log/visactmap")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    if args.weights and not Path(args.weights).is_file():
        print(
            f"error: --weights '{args.weights}' is not a file (pass a checkpoint or state dict)",
            file=sys.stderr,
        )
        return 2
    if not args.weights:
        warnings.warn(
            "no --weights (-w) given: the maps show an untrained, randomly initialised model; pass the trained "
            "checkpoint to see what it attends to",
            stacklevel=1,
        )
    model = build_model(args.model, num_classes=1, pretrained=False)
    if args.weights:
        from torchreid.utils.checkpoint import load_pretrained_weights

        load_pretrained_weights(model, args.weights)
    model = model.to(args.device)

    try:
        if args.images:
            jobs = {"images": list(args.images)}
        else:
            from torchreid.data.datasets import init_image_dataset

            ds = init_image_dataset(args.dataset, root=args.root, mode="query", verbose=False)
            jobs = {
                f"{args.dataset}/query": [r[0] for r in ds.query[: args.max_images]],
                f"{args.dataset}/gallery": [r[0] for r in ds.gallery[: args.max_images]],
            }
        for name, paths in jobs.items():
            written = visualize_paths(model, paths, Path(args.save_dir) / name, args.height, args.width)
            print(f"{len(written)} activation maps written to {Path(args.save_dir) / name}")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
