"""Built-in synthetic video re-ID data: tracklets of rendered identities walking past a few cameras.

Nothing is shipped: the frames are generated deterministically (from ``seed``) into
``<root>/synthetic_video/<tag>/`` (``tag`` depends on every generation parameter) the first time the dataset is
used, so the video pipeline runs out of the box without downloading anything. Each identity has a fixed appearance
(clothing colours, stripes, bag, build); each camera has its own background and colour cast; each frame varies
(walking motion, gait phase, brightness, sensor noise), so a model must learn the identity, not the picture.

The image generator (``image/synthetic.py``) draws an independent random pose for every image, which cannot
express motion that is coherent over a tracklet, hence the small renderer here.
"""

from __future__ import annotations

import json
import logging
import os
import os.path as osp
from dataclasses import asdict, dataclass

import numpy as np

from .. import register_video_dataset
from ..dataset import VideoDataset
from ._common import GeneratedSpec, ensure_generated, tracklets_from_json, tracklets_to_json

__all__ = ["SyntheticVideo", "generate_synthetic_video", "render_tracklet"]

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SyntheticVideoSpec(GeneratedSpec):
    """Everything that determines the generated files (its hash names the cache)."""

    format_version = _FORMAT_VERSION

    num_train_ids: int = 24
    num_test_ids: int = 24
    num_cams: int = 3
    tracklets_per_cam: int = 1
    min_len: int = 6
    max_len: int = 20
    height: int = 64
    width: int = 32
    seed: int = 0

    def validate(self) -> None:
        if self.num_train_ids < 1 or self.num_test_ids < 1:
            raise ValueError("synthetic_video needs at least one train and one test identity")
        if self.num_cams < 2:
            raise ValueError("synthetic_video needs num_cams >= 2 (queries are matched across cameras)")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(
                f"synthetic_video needs 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}"
            )
        if self.height < 16 or self.width < 8:
            raise ValueError("synthetic_video frames must be at least 16x8 pixels")


# --------------------------------------------------------------------------------------------------- rendering


def _identity(seed: int, pid: int) -> dict:
    """Appearance attributes of identity ``pid`` (fixed across cameras and frames)."""
    rng = np.random.default_rng([seed, 1, pid])
    return {
        "shirt": rng.uniform(0.05, 0.95, 3),
        "pants": rng.uniform(0.05, 0.8, 3),
        "stripe": rng.uniform(0.05, 0.95, 3),
        "hair": rng.uniform(0.0, 0.5, 3),
        "skin": np.array([0.85, 0.65, 0.5]) * rng.uniform(0.6, 1.1),
        "n_stripes": int(rng.integers(0, 4)),
        "bag": int(rng.integers(-1, 2)),  # -1 left, 0 none, 1 right
        "bag_color": rng.uniform(0.0, 1.0, 3),
        "build": float(rng.uniform(0.55, 0.85)),  # torso width relative to the frame
        "height": float(rng.uniform(0.82, 0.96)),  # body height relative to the frame
    }


def _camera(seed: int, camid: int) -> dict:
    rng = np.random.default_rng([seed, 2, camid])
    return {
        "bg": rng.uniform(0.2, 0.8, 3),
        "bg_slope": rng.uniform(-0.3, 0.3, 3),
        "gain": rng.uniform(0.85, 1.15, 3),
        "texture": rng.uniform(-0.06, 0.06, (8, 4, 3)),
    }


def _box(yy: np.ndarray, xx: np.ndarray, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    return (yy >= top) & (yy < bottom) & (xx >= left) & (xx < right)


def render_tracklet(
    ident: dict, cam: dict, num_frames: int, rng: np.random.Generator, height: int, width: int
) -> np.ndarray:
    """Render ``num_frames`` frames (uint8, ``(T, H, W, 3)``) of one identity walking through one camera view."""
    yy, xx = np.meshgrid(
        np.linspace(0, 1, height, endpoint=False), np.linspace(0, 1, width, endpoint=False), indexing="ij"
    )
    yy, xx = yy[..., None], xx[..., None]  # broadcast against colour channels
    rep = (-(-height // cam["texture"].shape[0]), -(-width // cam["texture"].shape[1]), 1)
    texture = np.kron(cam["texture"], np.ones(rep))[:height, :width]
    background = np.clip(cam["bg"] + cam["bg_slope"] * yy + texture, 0, 1)

    direction = rng.choice([-1.0, 1.0])
    start = rng.uniform(-0.12, 0.12)
    speed = rng.uniform(0.004, 0.012) * direction
    phase0 = rng.uniform(0, 2 * np.pi)
    scale = rng.uniform(0.92, 1.05)  # distance to the camera, fixed within a tracklet

    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        phase = phase0 + 0.9 * t
        cx = 0.5 + np.clip(start + speed * t, -0.2, 0.2)
        body_h = ident["height"] * scale
        top = 1.0 - body_h - 0.02 + 0.01 * abs(np.sin(phase))  # bob while walking
        half_w = 0.5 * ident["build"] * scale
        head_h, torso_h = 0.16 * body_h, 0.38 * body_h
        torso_top, legs_top = top + head_h, top + head_h + torso_h

        img = background.copy()
        # legs: two bars swinging with the gait phase
        swing = 0.08 * np.sin(phase)
        leg_w = 0.42 * half_w
        for side, s in ((-1, swing), (1, -swing)):
            lx = cx + side * 0.45 * half_w + s
            img = np.where(
                _box(yy, xx, legs_top, top + body_h, lx - leg_w / 2, lx + leg_w / 2), ident["pants"], img
            )
        # torso, with horizontal stripes
        torso = _box(yy, xx, torso_top, legs_top, cx - half_w, cx + half_w)
        img = np.where(torso, ident["shirt"], img)
        if ident["n_stripes"]:
            band = torso_h / (2 * ident["n_stripes"] + 1)
            rel = (yy - torso_top) / band
            img = np.where(torso & (np.floor(rel) % 2 == 1), ident["stripe"], img)
        # head (ellipse) with hair on top
        hy, hx, ry, rx = top + head_h / 2, cx, head_h / 2, 0.32 * half_w + 0.08
        head = ((yy - hy) / ry) ** 2 + ((xx - hx) / rx) ** 2 <= 1
        img = np.where(head, ident["skin"], img)
        img = np.where(head & (yy < hy - 0.2 * ry), ident["hair"], img)
        # bag beside the torso
        if ident["bag"]:
            bx = cx + ident["bag"] * (half_w + 0.07)
            img = np.where(
                _box(yy, xx, torso_top + 0.3 * torso_h, legs_top + 0.05, bx - 0.07, bx + 0.07),
                ident["bag_color"],
                img,
            )

        img = img * cam["gain"] * rng.uniform(0.85, 1.15)  # camera colour cast + per-frame brightness
        img = img + rng.normal(0.0, 0.03, img.shape)  # sensor noise
        frames[t] = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return frames


# --------------------------------------------------------------------------------------------------- generation


def generate_synthetic_video(out_dir: str, spec: SyntheticVideoSpec) -> dict:
    """Write the frames of ``spec`` under ``out_dir`` and return the manifest (paths relative to ``out_dir``).

    Identities ``0..num_train_ids-1`` form the train set; the test identities follow. Every identity has
    ``tracklets_per_cam`` tracklets in every camera; for each test identity the first tracklet of camera
    ``pid % num_cams`` is the query and all its other tracklets go to the gallery.
    """
    from PIL import Image

    spec.validate()
    cams = [_camera(spec.seed, c) for c in range(spec.num_cams)]
    splits: dict[str, list] = {"train": [], "query": [], "gallery": []}
    num_ids = spec.num_train_ids + spec.num_test_ids
    for pid in range(num_ids):
        ident = _identity(spec.seed, pid)
        is_train = pid < spec.num_train_ids
        for camid in range(spec.num_cams):
            for k in range(spec.tracklets_per_cam):
                rng = np.random.default_rng([spec.seed, 3, pid, camid, k])
                length = int(rng.integers(spec.min_len, spec.max_len + 1))
                frames = render_tracklet(ident, cams[camid], length, rng, spec.height, spec.width)
                name = f"{pid:04d}_c{camid + 1}_t{k + 1}"
                subset = "train" if is_train else "test"
                rel_dir = osp.join(subset, f"{pid:04d}", name)
                os.makedirs(osp.join(out_dir, rel_dir), exist_ok=True)
                paths = []
                for t, frame in enumerate(frames):
                    rel = osp.join(rel_dir, f"{name}_f{t + 1:03d}.png")
                    Image.fromarray(frame).save(osp.join(out_dir, rel))
                    paths.append(osp.join(out_dir, rel))
                if is_train:
                    key = "train"
                else:
                    key = "query" if (camid == pid % spec.num_cams and k == 0) else "gallery"
                splits[key].append((tuple(paths), pid, camid))
    manifest = {"version": _FORMAT_VERSION, "spec": asdict(spec), "digest": spec.digest()}
    manifest.update({key: tracklets_to_json(items, out_dir) for key, items in splits.items()})
    with open(osp.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    return manifest


def _ensure_generated(base_dir: str, spec: SyntheticVideoSpec, verbose: bool) -> tuple[str, dict]:
    """Return ``(data_dir, manifest)`` for ``spec`` (in ``<base_dir>/<spec tag>/``), generating the data first
    when no complete copy exists (see :func:`~torchreid.data.datasets.image._common.ensure_generated`)."""
    return ensure_generated(
        base_dir,
        spec.tag(),
        lambda out_dir: generate_synthetic_video(out_dir, spec),
        lambda manifest: manifest.get("digest") == spec.digest(),
        "the synthetic video dataset",
        verbose,
    )


@register_video_dataset("synthetic_video")
class SyntheticVideo(VideoDataset):
    """Synthetic video re-ID data generated on first use (no download, no files shipped).

    Default size: 24 train identities and 24 test identities, 3 cameras, one 6-20 frame tracklet per identity and
    camera, 64x32 frames (about 2,000 small PNGs, generated in a few seconds). Query: one tracklet per test
    identity; gallery: the test identities' tracklets from the other cameras.
    """

    dataset_dir = "synthetic_video"
    dataset_url = None
    layout = (
        "<root>/synthetic_video/<tag>/{manifest.json, train/<pid>/<tracklet>/*.png, test/<pid>/<tracklet>/*.png}\n"
        "Generated automatically on first use."
    )

    def __init__(
        self,
        root: str = "",
        split_id: int = 0,
        num_train_ids: int = 24,
        num_test_ids: int = 24,
        num_cams: int = 3,
        tracklets_per_cam: int = 1,
        min_len: int = 6,
        max_len: int = 20,
        frame_size: tuple[int, int] = (64, 32),
        seed: int = 0,
        **kwargs,
    ):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        # plain ints: the spec is hashed as JSON (a NumPy integer is not JSON serializable)
        self.spec = SyntheticVideoSpec(
            num_train_ids=int(num_train_ids),
            num_test_ids=int(num_test_ids),
            num_cams=int(num_cams),
            tracklets_per_cam=int(tracklets_per_cam),
            min_len=int(min_len),
            max_len=int(max_len),
            height=int(frame_size[0]),
            width=int(frame_size[1]),
            seed=int(seed),
        )
        self.spec.validate()
        self.data_dir, manifest = _ensure_generated(self.dataset_dir, self.spec, kwargs.get("verbose", True))
        train = tracklets_from_json(manifest["train"], self.data_dir)
        query = tracklets_from_json(manifest["query"], self.data_dir)
        gallery = tracklets_from_json(manifest["gallery"], self.data_dir)
        super().__init__(train, query, gallery, **kwargs)
