"""Appearance matching for a tracker: OpenCV BGR crops in, cosine matches out.

    python tools/track_features.py --tracks tracks/ --detections frame_0042/ \
        -m osnet_x0_25 -w osnet_x0_25_msmt17 --threshold 0.5

``--tracks`` holds one sub-folder (or one image) per known track; ``--detections`` the crops of the current frame.
Each crop is read as OpenCV would (``cv2.imread``: BGR ``uint8``) and passed to
``FeatureExtractor(color_order='bgr', normalize=True)``, so a dot product is the cosine similarity. A track's
appearance is the normalised mean of its crops' features (what trackers keep as an exponential moving average,
see :class:`AppearanceGallery`). Detections are assigned greedily to the most similar free track above
``--threshold``; the others would start new tracks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running from a checkout without installing
    sys.path.insert(0, str(REPO))

from torchreid.inference import FeatureExtractor  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def imread_bgr(path: str | Path) -> np.ndarray:
    """``cv2.imread`` when OpenCV is installed, else the same BGR uint8 array through Pillow."""
    try:
        import cv2
    except ImportError:
        from PIL import Image

        with Image.open(path) as img:
            return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"cannot read image '{path}'")
    return image


class AppearanceGallery:
    """Per-track appearance: an exponential moving average of unit features (``momentum`` of the old value)."""

    def __init__(self, momentum: float = 0.9) -> None:
        self.momentum = momentum
        self.features: dict[str, torch.Tensor] = {}

    def update(self, track: str, feature: torch.Tensor) -> None:
        old = self.features.get(track)
        new = feature if old is None else self.momentum * old + (1 - self.momentum) * feature
        self.features[track] = torch.nn.functional.normalize(new, dim=0)

    def match(self, features: torch.Tensor, threshold: float) -> list[tuple[int, str | None, float]]:
        """Greedy one-to-one assignment by cosine: ``[(detection index, track or None, cosine)]``."""
        names = list(self.features)
        if not names:
            return [(i, None, 0.0) for i in range(len(features))]
        sim = features @ torch.stack([self.features[n] for n in names]).T
        result: dict[int, tuple[str | None, float]] = {}
        used: set[int] = set()
        order = torch.argsort(sim.flatten(), descending=True)
        for flat in order.tolist():
            det, trk = divmod(flat, len(names))
            if det in result or trk in used:
                continue
            score = float(sim[det, trk])
            if score < threshold:
                break
            result[det] = (names[trk], score)
            used.add(trk)
        out = []
        for i in range(len(features)):
            name, score = result.get(i, (None, float(sim[i].max())))
            out.append((i, name, score))
        return out


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=Path, required=True, help="one sub-folder or image per known track")
    parser.add_argument("--detections", type=Path, required=True, help="folder of detection crops")
    parser.add_argument("-m", "--model-name", default="osnet_x0_25")
    parser.add_argument("-w", "--weights", default="osnet_x0_25_msmt17", help="weights file or zoo name")
    parser.add_argument("--threshold", type=float, default=0.5, help="minimum cosine for a match")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        extractor = FeatureExtractor(
            args.model_name,
            args.weights,
            device=args.device,
            verbose=False,
            color_order="bgr",
            normalize=True,
        )
        gallery = AppearanceGallery()
        for entry in sorted(args.tracks.iterdir()):
            crops = _images(entry) if entry.is_dir() else [entry]
            for feature in extractor([imread_bgr(p) for p in crops]):
                gallery.update(entry.stem, feature)
        detections = _images(args.detections)
        if not detections:
            raise FileNotFoundError(f"no images in '{args.detections}'")
        features = extractor([imread_bgr(p) for p in detections])
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for i, track, score in gallery.match(features, args.threshold):
        target = track if track is not None else "new track"
        print(f"{detections[i].name}\t{target}\tcosine {score:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
