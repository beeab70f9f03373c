"""Compute the per-channel mean and std of a dataset's training images (for ``data.norm_mean/norm_std``).

Usage::

    python tools/compute_mean_std.py reid-data market1501
    python tools/compute_mean_std.py reid-data synthetic --height 128 --width 64

Pixels are scaled to [0, 1] after resizing to ``--height`` x ``--width`` (PIL bilinear, as the transforms do);
the statistics are exact over all pixels (accumulated in float64).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def mean_std(
    paths: Iterable[str | Path], height: int = 256, width: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (RGB order) of the images, in [0, 1] units."""
    from torchreid.utils.tools import read_image

    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    for p in paths:
        img = read_image(p).resize((width, height), resample=2)  # 2 = PIL bilinear
        arr = np.asarray(img, dtype=np.float64).reshape(-1, 3) / 255.0
        total += arr.sum(0)
        total_sq += (arr**2).sum(0)
        count += arr.shape[0]
    if count == 0:
        raise ValueError("no images to compute statistics on")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean, std


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", help="dataset root folder, e.g. reid-data")
    parser.add_argument("dataset", help="registered image dataset name, e.g. market1501")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args(argv)

    from torchreid.data.datasets import init_image_dataset

    try:
        ds = init_image_dataset(args.dataset, root=args.root, verbose=False)
        mean, std = mean_std((rec[0] for rec in ds.train), args.height, args.width)
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Computed over {len(ds.train)} training images of {args.dataset}")
    print(f"mean: [{', '.join(f'{v:.4f}' for v in mean)}]")
    print(f"std:  [{', '.join(f'{v:.4f}' for v in std)}]")
    # plain floats (not NumPy 2's np.float64(...) reprs), quoted so the line pastes into a shell command line
    mean_s, std_s = ", ".join(f"{v:.4f}" for v in mean), ", ".join(f"{v:.4f}" for v in std)
    print(f'Use in a config: data.norm_mean "[{mean_s}]" data.norm_std "[{std_s}]"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
