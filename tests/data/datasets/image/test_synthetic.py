"""The built-in synthetic dataset: determinism, counts, re-use, regeneration, and that it needs learning."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from torchreid.data import init_image_dataset
from torchreid.data.datasets.image.synthetic import SyntheticSpec

TINY = {"num_train_ids": 6, "num_test_ids": 5, "num_cams": 3, "train_imgs_per_cam": 2, "test_imgs_per_cam": 3,
            "num_distractors": 4, "height": 32, "width": 16}  # fmt: skip


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _load(root: Path, **kw):
    return init_image_dataset("synthetic", root=str(root), verbose=False, **{**TINY, **kw})


def test_counts_and_protocol(tmp_path):
    ds = _load(tmp_path)
    assert len(ds.train) == 6 * 3 * 2 and ds.num_train_pids == 6 and ds.num_train_cams == 3
    assert {r[1] for r in ds.train} == set(range(6))
    assert len(ds.query) == 5 * 3  # one image per test id per camera
    assert len(ds.gallery) == 5 * 3 * 2 + 4
    q_pids = {r[1] for r in ds.query}
    assert {r[1] for r in ds.gallery} == q_pids | {0}  # + distractors
    for pid in q_pids:  # every query has cross-camera positives
        assert len({r[2] for r in ds.gallery if r[1] == pid}) == 3
    img = Image.open(ds.train[0][0])
    assert img.size == (16, 32) and img.mode == "RGB"
    assert Path(ds.train[0][0]).name.endswith(".jpg")


def test_deterministic_bytes(tmp_path):
    a = _load(tmp_path / "a")
    b = _load(tmp_path / "b")
    assert _tree_digest(Path(a.data_dir)) == _tree_digest(Path(b.data_dir))
    c = _load(tmp_path / "c", seed=1)
    assert Path(c.data_dir).name != Path(a.data_dir).name
    assert _tree_digest(Path(c.data_dir)) != _tree_digest(Path(a.data_dir))


def test_reused_not_rewritten(tmp_path):
    ds = _load(tmp_path)
    first = Path(ds.train[0][0])
    mtime = first.stat().st_mtime_ns
    again = _load(tmp_path)
    assert again.train == ds.train and first.stat().st_mtime_ns == mtime


def test_partial_generation_is_redone(tmp_path):
    ds = _load(tmp_path)
    data_dir = Path(ds.data_dir)
    digest = _tree_digest(data_dir)
    # simulate an interrupted run: no manifest, a file missing, a stray file
    (data_dir / "manifest.json").unlink()
    Path(ds.gallery[0][0]).unlink()
    (data_dir / "query" / "junk.jpg").write_bytes(b"partial")
    again = _load(tmp_path)
    assert _tree_digest(Path(again.data_dir)) == digest


def test_different_sizes_live_side_by_side(tmp_path):
    a = _load(tmp_path)
    b = _load(tmp_path, num_train_ids=3)
    assert a.data_dir != b.data_dir and b.num_train_pids == 3
    assert os.path.isdir(a.data_dir) and os.path.isdir(b.data_dir)


def test_invalid_sizes(tmp_path):
    with pytest.raises(ValueError, match="num_cams"):
        _load(tmp_path, num_cams=1)
    with pytest.raises(ValueError, match="test_imgs_per_cam"):
        _load(tmp_path, test_imgs_per_cam=1)


def test_default_spec_is_small():
    spec = SyntheticSpec()
    n = spec.num_train_ids * spec.num_cams * spec.train_imgs_per_cam
    assert 500 <= n <= 3000 and (spec.height, spec.width) == (128, 64)


def _hist(path: str, bins: int = 4) -> np.ndarray:
    a = np.asarray(Image.open(path))
    h, w, _ = a.shape
    a = a[h // 6 : h * 5 // 6, w // 4 : w * 3 // 4].reshape(-1, 3) // (256 // bins)
    idx = (a[:, 0].astype(int) * bins + a[:, 1]) * bins + a[:, 2]
    v = np.sqrt(np.bincount(idx, minlength=bins**3).astype(float))
    return v / np.linalg.norm(v)


def test_colour_histogram_baseline_is_above_chance_but_far_from_perfect(tmp_path):
    """A colour-histogram nearest neighbour matches some identities across cameras, not most: learning is needed."""
    ds = _load(tmp_path, num_train_ids=2, num_test_ids=40, num_cams=4, height=64, width=32, num_distractors=0)
    q = np.stack([_hist(r[0]) for r in ds.query])
    g = np.stack([_hist(r[0]) for r in ds.gallery])
    qp, qc = np.array([r[1] for r in ds.query]), np.array([r[2] for r in ds.query])
    gp, gc = np.array([r[1] for r in ds.gallery]), np.array([r[2] for r in ds.gallery])
    dist = 1 - q @ g.T
    hits = []
    for i in range(len(q)):
        keep = ~((gp == qp[i]) & (gc == qc[i]))  # cross-camera matching only
        order = np.argsort(dist[i][keep], kind="stable")
        hits.append(gp[keep][order[0]] == qp[i])
    rank1 = float(np.mean(hits))
    chance = 1 / 40
    print(f"colour-histogram rank-1 {rank1:.3f} (chance {chance:.3f})")
    assert 3 * chance < rank1 < 0.7, rank1


def test_generation_is_fast(tmp_path):
    import time

    start = time.perf_counter()
    _load(tmp_path, num_train_ids=20, num_test_ids=10, height=128, width=64)
    elapsed = time.perf_counter() - start
    assert elapsed < 20, elapsed  # ~500 images; the default set (~2,200) takes a few seconds
    shutil.rmtree(tmp_path / "synthetic")


# ------------------------------------------------------------------------------------------------ synthetic


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"num_train_ids": 0}, "at least one train and one test identity"),
        ({"num_cams": 10}, "at most 9 cameras"),
        ({"train_imgs_per_cam": 0}, "train_imgs_per_cam >= 1"),
        ({"num_distractors": -1}, "num_distractors >= 0"),
        ({"height": 8}, "at least 16x8 pixels"),
        ({"num_train_ids": 9000, "num_test_ids": 1000}, "at most 9999 identities"),
    ],
)
def test_synthetic_spec_validation(kw, message):
    from torchreid.data.datasets.image.synthetic import SyntheticSpec

    with pytest.raises(ValueError, match=message):
        SyntheticSpec(**kw).validate()
