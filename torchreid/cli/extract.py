"""``torchreid extract``: features of images (files or folders) into a ``.npz`` or ``.pt`` file.

    torchreid extract crops/ -m osnet_x0_25 -w osnet_x0_25_msmt17 -o features.npz --normalize
    torchreid extract a.jpg b.jpg --onnx osnet.onnx -o features.pt

The file holds ``features`` (N x D float32), ``paths`` (the images, in order) and ``model`` (what produced them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import add_command_parser

__all__ = ["IMAGE_SUFFIXES", "add_subparser", "collect_images", "save_features"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def collect_images(inputs: list[str], recursive: bool = False) -> list[Path]:
    """Image files named or contained in ``inputs`` (folders sorted; recursively when asked)."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            files += sorted(f for f in p.glob(pattern) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"'{item}' is neither an image file nor a folder")
    if not files:
        raise FileNotFoundError(f"no images found in {inputs}")
    return files


def save_features(path: Path, features: Any, paths: list[Path], info: dict[str, Any]) -> Path:
    """Write ``.npz`` (NumPy) or ``.pt`` (torch) atomically; the format follows the suffix."""
    import numpy as np
    import torch

    from ..utils.tools import atomic_output

    path = Path(path)
    if path.suffix not in (".npz", ".pt", ".pth"):
        raise ValueError(f"output must end in .npz or .pt, got '{path}'")
    with atomic_output(path, suffix=".part") as tmp:
        if path.suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    features=features.numpy().astype(np.float32),
                    paths=np.array([str(p) for p in paths]),
                    model=np.array(json.dumps(info)),
                )
        else:
            torch.save({"features": features, "paths": [str(p) for p in paths], "model": info}, tmp)
    return path


def _run(args: argparse.Namespace) -> int:
    try:
        files = collect_images(args.inputs, args.recursive)
        size = (args.height, args.width) if args.height and args.width else None
        common: dict[str, Any] = {"batch_size": args.batch_size, "normalize": args.normalize}
        if args.color_order:
            common["color_order"] = args.color_order
        if args.onnx or args.openvino:
            from ..inference.onnx_extractor import OnnxFeatureExtractor
            from ..inference.openvino_extractor import OpenVINOFeatureExtractor

            cls = OnnxFeatureExtractor if args.onnx else OpenVINOFeatureExtractor
            extractor: Any = cls(
                args.onnx or args.openvino, **({"image_size": size} if size else {}), **common
            )
            source = args.onnx or args.openvino
        else:
            from ..inference.feature_extractor import FeatureExtractor

            extractor = FeatureExtractor(
                model_name=args.model_name or "",
                model_path=args.weights or "",
                device=args.device,
                verbose=False,
                precision=args.precision,
                channels_last=args.channels_last,
                **({"image_size": size} if size else {}),
                **common,
            )
            source = args.weights or "imagenet"
        features = extractor(files)
    except (FileNotFoundError, ValueError, TypeError, ImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = {
        "model_name": getattr(extractor, "model_name", ""),
        "weights": str(source),
        "image_size": list(extractor.image_size),
        "color_order": extractor.color_order,
        "normalized": bool(args.normalize),
    }
    out = save_features(Path(args.output), features.cpu(), files, info)
    print(f"Wrote {features.shape[0]} x {features.shape[1]} features to {out}")
    return 0


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command_parser(subparsers, "extract", "extract features of images into a .npz/.pt file", __doc__)
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("-o", "--output", required=True, help="features file (.npz or .pt)")
    p.add_argument("-m", "--model-name", default=None, help="architecture (default: from the checkpoint)")
    p.add_argument("-w", "--weights", default=None, help="checkpoint, state dict or zoo name")
    p.add_argument("--onnx", default=None, help="use an exported ONNX file instead of PyTorch")
    p.add_argument("--openvino", default=None, help="use an exported OpenVINO IR (.xml) instead of PyTorch")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--color-order", choices=("rgb", "bgr"), default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--normalize", action="store_true", help="L2-normalise the features")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("-r", "--recursive", action="store_true", help="search folders recursively")
    p.set_defaults(func=_run)
