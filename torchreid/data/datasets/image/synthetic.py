"""Built-in synthetic person re-ID images, generated on first use (nothing is shipped or downloaded).

Each identity has a fixed appearance: colours of the upper and lower clothing drawn from a small palette (so many
identities share colours and differ only by where they wear them or by pattern), a pattern on the upper body
(plain, horizontal/vertical stripes, checks, a logo), lower-body shape (trousers, shorts, skirt), hair, skin,
shoes, build, height and an optional bag. Each camera has its own background, colour cast, brightness, contrast,
blur and noise level; each image varies in position, scale, gait phase, lighting and sensor noise. A colour
histogram alone therefore matches only part of the identities across cameras: a model has to learn the layout.

Files go to ``<root>/synthetic/<tag>/`` (``tag`` depends on every generation parameter) in the Market-1501
layout and naming (``bounding_box_train``, ``query``, ``bounding_box_test``; ``0001_c1s1_000003_00.jpg``). A
``manifest.json`` written last marks a complete generation; a folder without it (an interrupted run) is
generated again. The same parameters always produce the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
import os.path as osp
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import GeneratedSpec, ensure_generated

__all__ = ["Synthetic", "SyntheticSpec", "generate_synthetic", "render_person"]

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_MANIFEST = "manifest.json"

# A small palette: identities share colours, so colour alone does not identify them.
_PALETTE = np.array(
    [
        [0.85, 0.12, 0.12],  # red
        [0.12, 0.25, 0.80],  # blue
        [0.12, 0.60, 0.20],  # green
        [0.92, 0.85, 0.15],  # yellow
        [0.95, 0.95, 0.95],  # white
        [0.10, 0.10, 0.12],  # black
        [0.50, 0.50, 0.52],  # grey
        [0.55, 0.30, 0.12],  # brown
        [0.95, 0.55, 0.10],  # orange
        [0.55, 0.20, 0.65],  # purple
        [0.95, 0.60, 0.75],  # pink
        [0.15, 0.65, 0.70],  # teal
    ],
    dtype=np.float32,
)
_PATTERNS = ("plain", "hstripes", "vstripes", "checks", "logo")
_LOWER = ("trousers", "shorts", "skirt")


@dataclass(frozen=True)
class SyntheticSpec(GeneratedSpec):
    """Everything that determines the generated files."""

    format_version = _FORMAT_VERSION

    num_train_ids: int = 100
    num_test_ids: int = 50
    num_cams: int = 4
    train_imgs_per_cam: int = 4
    test_imgs_per_cam: int = 3
    num_distractors: int = 20
    height: int = 128
    width: int = 64
    seed: int = 0

    def validate(self) -> None:
        if self.num_train_ids < 1 or self.num_test_ids < 1:
            raise ValueError("synthetic needs at least one train and one test identity")
        if self.num_cams < 2:
            raise ValueError("synthetic needs num_cams >= 2 (queries are matched across cameras)")
        if self.num_cams > 9:
            raise ValueError("synthetic supports at most 9 cameras (camera digit of the Market-style names)")
        if self.train_imgs_per_cam < 1:
            raise ValueError("synthetic needs train_imgs_per_cam >= 1")
        if self.test_imgs_per_cam < 2:
            raise ValueError(
                "synthetic needs test_imgs_per_cam >= 2 (one query + at least one gallery image)"
            )
        if self.num_distractors < 0:
            raise ValueError("synthetic needs num_distractors >= 0")
        if self.height < 16 or self.width < 8:
            raise ValueError("synthetic images must be at least 16x8 pixels")
        if self.num_train_ids + self.num_test_ids > 9999:
            raise ValueError("synthetic supports at most 9999 identities")


# ------------------------------------------------------------------------------------------------- appearance


def _identity(seed: int, uid: int) -> dict:
    """Appearance of identity ``uid`` (fixed across cameras and images)."""
    rng = np.random.default_rng([seed, 1, uid])
    upper, second = rng.choice(len(_PALETTE), size=2, replace=False)
    return {
        "upper": _PALETTE[upper],
        "second": _PALETTE[second],
        "lower": _PALETTE[rng.integers(len(_PALETTE))],
        "pattern": _PATTERNS[rng.integers(len(_PATTERNS))],
        "n_stripes": int(rng.integers(2, 5)),
        "lower_kind": _LOWER[rng.integers(len(_LOWER))],
        "shoes": _PALETTE[rng.integers(len(_PALETTE))] * 0.6,
        "hair": np.array([0.08, 0.06, 0.04], np.float32)
        + rng.uniform(0, 0.5) * np.array([1, 0.8, 0.5], np.float32),
        "skin": (np.array([0.90, 0.70, 0.55], np.float32) * rng.uniform(0.55, 1.05)).astype(np.float32),
        "bag": int(rng.integers(-1, 2)),  # -1 left, 0 none, 1 right (as seen from the front)
        "bag_color": _PALETTE[rng.integers(len(_PALETTE))],
        "build": float(rng.uniform(0.50, 0.80)),  # torso width relative to the image width
        "stature": float(rng.uniform(0.80, 0.95)),  # body height relative to the image height
        "hat": bool(rng.random() < 0.2),
    }


def _camera(seed: int, camid: int) -> dict:
    """Imaging conditions of camera ``camid`` (background, colour cast, exposure, blur, noise, viewpoint)."""
    rng = np.random.default_rng([seed, 2, camid])
    return {
        "bg": (rng.uniform(0.3, 0.7) + rng.uniform(-0.12, 0.12, 3)).astype(np.float32),
        "bg_slope": rng.uniform(-0.3, 0.3, 3).astype(np.float32),
        "floor": rng.uniform(0.2, 0.6, 3).astype(np.float32),
        "texture": rng.uniform(-0.08, 0.08, (6, 3, 3)).astype(np.float32),
        "cast": (1.0 + rng.uniform(-0.18, 0.18, 3)).astype(np.float32),
        "brightness": float(rng.uniform(-0.08, 0.08)),
        "contrast": float(rng.uniform(0.8, 1.1)),
        "blur": float(rng.uniform(0.0, 1.4)),
        "noise": float(rng.uniform(0.01, 0.05)),
        "back_view": bool(
            camid % 2 == 1
        ),  # odd cameras see people from behind (bag on the other side, no logo)
    }


def _background(cam: dict, h: int, w: int) -> np.ndarray:
    """The camera's empty scene (cached in ``cam``): colour, vertical gradient, blocky texture."""
    key = ("_bg", h, w)
    if key not in cam:
        yy = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None, None]
        rep = (-(-h // cam["texture"].shape[0]), -(-w // cam["texture"].shape[1]), 1)
        texture = np.kron(cam["texture"], np.ones(rep, np.float32))[:h, :w]
        cam[key] = (cam["bg"] + cam["bg_slope"] * yy + texture).astype(np.float32)
    return cam[key]


def render_person(ident: dict, cam: dict, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One ``(height, width, 3)`` uint8 image of identity ``ident`` seen by camera ``cam``."""
    h, w = height, width
    yy = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    xx = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]

    # background: camera colour with a vertical gradient, blocky texture and a floor
    img = _background(cam, h, w).copy()
    floor_y = rng.uniform(0.82, 0.9)
    img[yy[:, 0] > floor_y] = cam["floor"]

    # per-image pose: position, distance (scale), gait phase
    scale = rng.uniform(0.88, 1.06)
    cx = 0.5 + rng.uniform(-0.1, 0.1)
    body_h = ident["stature"] * scale
    top = min(0.98 - body_h, 0.12) + rng.uniform(-0.03, 0.03)
    half_w = 0.5 * ident["build"] * scale
    head_h, torso_h = 0.15 * body_h, 0.37 * body_h
    torso_top = top + head_h
    legs_top = torso_top + torso_h
    feet = top + body_h
    swing = rng.uniform(-0.09, 0.09)

    def box(t: float, b: float, left: float, right: float) -> np.ndarray:
        return ((yy >= t) & (yy < b)) & ((xx >= left) & (xx < right))

    # lower body
    leg_w = 0.42 * half_w
    if ident["lower_kind"] == "skirt":
        for side, s in ((-1, swing), (1, -swing)):
            lx = cx + side * 0.4 * half_w + s * 0.5
            img[box(legs_top, feet, lx - leg_w / 2.6, lx + leg_w / 2.6)] = ident["skin"]
        frac = (yy - legs_top) / max(feet - legs_top, 1e-3)
        skirt = (
            (yy >= legs_top)
            & (yy < legs_top + 0.55 * (feet - legs_top))
            & (np.abs(xx - cx) < half_w * (0.9 + 0.5 * frac))
        )
        img[skirt] = ident["lower"]
    else:
        cloth_end = feet if ident["lower_kind"] == "trousers" else legs_top + 0.45 * (feet - legs_top)
        for side, s in ((-1, swing), (1, -swing)):
            lx = cx + side * 0.45 * half_w + s
            img[box(legs_top, feet, lx - leg_w / 2, lx + leg_w / 2)] = ident["skin"]
            img[box(legs_top, cloth_end, lx - leg_w / 2, lx + leg_w / 2)] = ident["lower"]
    for side, s in ((-1, swing), (1, -swing)):
        lx = cx + side * 0.45 * half_w + s
        img[box(feet - 0.035, feet + 0.01, lx - leg_w / 1.6, lx + leg_w / 1.6)] = ident["shoes"]

    # upper body with its pattern
    torso = box(torso_top, legs_top, cx - half_w, cx + half_w)
    img[torso] = ident["upper"]
    pattern = ident["pattern"]
    ry = (yy - torso_top) / max(torso_h, 1e-3)
    rx = (xx - (cx - half_w)) / max(2 * half_w, 1e-3)
    n = ident["n_stripes"]
    mask = None
    if pattern == "hstripes":
        mask = np.floor(ry * (2 * n + 1)) % 2 == 1
    elif pattern == "vstripes":
        mask = np.floor(rx * (2 * n + 1)) % 2 == 1
    elif pattern == "checks":
        mask = (np.floor(ry * n * 1.5) + np.floor(rx * n)) % 2 == 1
    elif pattern == "logo" and not cam["back_view"]:
        mask = (np.abs(ry - 0.4) < 0.2) & (np.abs(rx - 0.5) < 0.22)
    if mask is not None:
        img[torso & mask] = ident["second"]
    # arms
    arm_w = 0.18 * half_w
    for side in (-1, 1):
        ax = cx + side * (half_w + arm_w / 2)
        img[box(torso_top + 0.01, legs_top - 0.02, ax - arm_w / 2, ax + arm_w / 2)] = ident["upper"]

    # bag (mirrored when the camera sees the back)
    if ident["bag"]:
        side = -ident["bag"] if cam["back_view"] else ident["bag"]
        bx = cx + side * (half_w + arm_w + 0.06)
        img[box(torso_top + 0.35 * torso_h, legs_top + 0.06, bx - 0.07, bx + 0.07)] = ident["bag_color"]

    # head with hair (and maybe a hat)
    hy, hx, ryh, rxh = top + head_h / 2, cx, head_h / 2, 0.3 * half_w + 0.07
    head = ((yy - hy) / ryh) ** 2 + ((xx - hx) / rxh) ** 2 <= 1
    hair_line = hy + (0.3 * ryh if cam["back_view"] else -0.25 * ryh)
    img[head] = ident["skin"]
    img[head & (yy < hair_line)] = ident["hair"]
    if ident["hat"]:
        img[box(top - 0.02, top + 0.3 * head_h, hx - rxh * 1.15, hx + rxh * 1.15)] = ident["second"]

    # camera + per-image photometrics: colour cast, brightness, contrast, lighting jitter, noise
    light = (rng.uniform(0.88, 1.12) * (1.0 + rng.uniform(-0.05, 0.05, 3))).astype(np.float32)
    gain = cam["cast"] * light * np.float32(cam["contrast"])
    offset = np.float32(0.5 + cam["brightness"] - 0.5 * cam["contrast"])
    img *= gain
    img += offset
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(cam["noise"])
    np.clip(img, 0.0, 1.0, out=img)
    out = Image.fromarray((img * 255.0 + 0.5).astype(np.uint8))
    radius = cam["blur"] * (h / 128.0) + rng.uniform(0.0, 0.3)
    if radius > 0.25:
        out = out.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(out)


# ------------------------------------------------------------------------------------------------- generation


def _save(arr: np.ndarray, path: str) -> None:
    Image.fromarray(arr).save(path, format="JPEG", quality=92)


def generate_synthetic(out_dir: str, spec: SyntheticSpec) -> dict:
    """Write all images of ``spec`` under ``out_dir`` and return the manifest (records are relative paths).

    Identities ``1..num_train_ids`` are the training set, the next ``num_test_ids`` the test set; pid 0 marks
    gallery distractors (random people not in the query). Cameras are 1-based in names, 0-based in records.
    """
    spec.validate()
    cams = [_camera(spec.seed, c) for c in range(spec.num_cams)]
    subsets: dict[str, list[list]] = {"train": [], "query": [], "gallery": []}
    folders = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
    for folder in folders.values():
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)

    jobs: list[tuple[str, int, int, int, int]] = []  # (subset, pid, appearance uid, camid, image index)
    for pid in range(1, spec.num_train_ids + 1):
        for camid in range(spec.num_cams):
            for k in range(spec.train_imgs_per_cam):
                jobs.append(("train", pid, pid, camid, k))
    first_test = spec.num_train_ids + 1
    for pid in range(first_test, first_test + spec.num_test_ids):
        for camid in range(spec.num_cams):
            jobs.append(("query", pid, pid, camid, 0))
            for k in range(1, spec.test_imgs_per_cam):
                jobs.append(("gallery", pid, pid, camid, k))
    rng = np.random.default_rng([spec.seed, 4])
    for i in range(spec.num_distractors):
        jobs.append(("gallery", 0, 10000 + i, int(rng.integers(spec.num_cams)), 0))  # unseen appearances
    idents = {uid: _identity(spec.seed, uid) for uid in sorted({j[2] for j in jobs})}
    for cam in cams:  # fill the background caches before the worker threads share them
        _background(cam, spec.height, spec.width)

    def emit(job: tuple[str, int, int, int, int]) -> list:
        subset, pid, uid, camid, k = job
        rng = np.random.default_rng([spec.seed, 3, uid, camid, k])  # every image has its own stream
        arr = render_person(idents[uid], cams[camid], rng, spec.height, spec.width)
        rel = osp.join(folders[subset], f"{pid:04d}_c{camid + 1}s1_{uid:04d}{k:02d}_00.jpg")
        _save(arr, osp.join(out_dir, rel))
        return [rel, pid, camid]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for job, record in zip(jobs, pool.map(emit, jobs, chunksize=32)):
            subsets[job[0]].append(record)
    return {"version": _FORMAT_VERSION, "spec": asdict(spec), **subsets}


def _ensure_generated(base_dir: str, spec: SyntheticSpec, verbose: bool) -> tuple[str, dict]:
    """Return ``(data_dir, manifest)``, generating the data first when no complete copy exists."""

    def generate(out_dir: str) -> None:
        manifest = generate_synthetic(out_dir, spec)
        with open(osp.join(out_dir, _MANIFEST), "w", encoding="utf-8") as f:  # last: marks a complete copy
            json.dump(manifest, f)

    def is_current(manifest: dict) -> bool:
        return manifest.get("spec") == asdict(spec) and manifest.get("version") == _FORMAT_VERSION

    return ensure_generated(
        base_dir, spec.tag(), generate, is_current, "the synthetic re-ID dataset", verbose
    )


@register_image_dataset("synthetic")
class Synthetic(ImageDataset):
    """Synthetic person re-ID images generated into ``<root>/synthetic/`` on first use (no download).

    Defaults (4 cameras, 128x64 images): train 100 ids x 4 cameras x 4 images = 1,600 images; query 50 ids x 4
    cameras (one image per identity per camera); gallery 50 ids x 4 cameras x 2 images + 20 distractors (pid 0).
    Every size can be changed with the keyword arguments (e.g. tiny sets for tests).
    """

    dataset_dir = "synthetic"
    dataset_url = None
    _junk_pids = [0]
    layout = (
        "<root>/synthetic/<tag>/{bounding_box_train,query,bounding_box_test}/*.jpg + manifest.json\n"
        "(generated automatically; delete the folder to regenerate it)"
    )

    def __init__(
        self,
        root: str = "",
        num_train_ids: int = 100,
        num_test_ids: int = 50,
        num_cams: int = 4,
        train_imgs_per_cam: int = 4,
        test_imgs_per_cam: int = 3,
        num_distractors: int = 20,
        height: int = 128,
        width: int = 64,
        seed: int = 0,
        **kwargs,
    ):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.spec = SyntheticSpec(
            num_train_ids=int(num_train_ids),
            num_test_ids=int(num_test_ids),
            num_cams=int(num_cams),
            train_imgs_per_cam=int(train_imgs_per_cam),
            test_imgs_per_cam=int(test_imgs_per_cam),
            num_distractors=int(num_distractors),
            height=int(height),
            width=int(width),
            seed=int(seed),
        )
        self.spec.validate()
        self.data_dir, manifest = _ensure_generated(self.dataset_dir, self.spec, kwargs.get("verbose", True))

        def records(subset: str, relabel: bool) -> list[tuple[str, int, int]]:
            items = [
                (osp.join(self.data_dir, rel), int(pid), int(camid)) for rel, pid, camid in manifest[subset]
            ]
            if relabel:
                pid2label = {p: i for i, p in enumerate(sorted({pid for _, pid, _ in items}))}
                items = [(path, pid2label[pid], camid) for path, pid, camid in items]
            return items

        train = records("train", relabel=True)
        query = records("query", relabel=False)
        gallery = records("gallery", relabel=False)
        super().__init__(train, query, gallery, **kwargs)
