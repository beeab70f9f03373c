"""visualize_ranked_results: order, borders, same-camera skip, video records, errors, file names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ visrank

W, H = 64, 128
SPACING, EXTRA = 10, 90  # GRID_SPACING and QUERY_EXTRA_SPACING of the layout
COLOURS = {  # BGR fills, far apart so JPEG artefacts cannot confuse them
    "q": (200, 200, 200),
    "a": (255, 0, 0),
    "b": (0, 255, 255),
    "c": (255, 0, 255),
    "d": (0, 128, 255),
}


def _img(tmp_path: Path, name: str, colour) -> str:
    import cv2

    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), np.full((40, 20, 3), colour, dtype=np.uint8))
    return str(path)


def _slot(grid: np.ndarray, k: int) -> np.ndarray:
    """The k-th gallery slot (1-based) of a visrank grid."""
    start = k * W + k * SPACING + EXTRA
    return grid[:, start : start + W]


def _close(pixel, colour, tol=40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.asarray(colour)) <= tol))


def test_visrank_order_borders_and_same_camera_skip(tmp_path):
    import cv2

    from torchreid.utils import visualize_ranked_results

    q = _img(tmp_path, "query0", COLOURS["q"])
    query = [(q, 1, 0)]
    gallery = [
        (_img(tmp_path, "a", COLOURS["a"]), 1, 0),  # nearest but same pid AND camera: never shown
        (_img(tmp_path, "b", COLOURS["b"]), 2, 1),  # wrong identity -> red border
        (_img(tmp_path, "c", COLOURS["c"]), 1, 1),  # right identity, other camera -> green border
        (_img(tmp_path, "d", COLOURS["d"]), 3, 1),  # beyond topk
    ]
    distmat = np.array([[0.0, 0.1, 0.2, 0.3]])
    out_dir = tmp_path / "vis"
    visualize_ranked_results(
        distmat, (query, gallery), "image", width=W, height=H, save_dir=str(out_dir), topk=2
    )

    files = sorted(out_dir.glob("*.jpg"))
    assert [f.name for f in files] == ["query0.jpg"]
    grid = cv2.imread(str(files[0]))
    assert grid.shape == (H, 3 * W + 2 * SPACING + EXTRA, 3)
    assert _close(grid[H // 2, W // 2], COLOURS["q"])  # the query comes first
    first, second = _slot(grid, 1), _slot(grid, 2)
    assert _close(first[H // 2, W // 2], COLOURS["b"])  # 'a' was skipped
    assert _close(first[H // 2, 1], (0, 0, 255))  # red border: mismatch
    assert _close(second[H // 2, W // 2], COLOURS["c"])
    assert _close(second[H // 2, 1], (0, 255, 0))  # green border: match
    # the spacing between query and first match stays white
    assert _close(grid[H // 2, W + EXTRA // 2], (255, 255, 255))


def test_visrank_video_records_use_the_first_frame_and_index_prefix(tmp_path):
    from torchreid.utils.reidtools import visualize_ranked_results

    q_frames = (_img(tmp_path, "qf0", COLOURS["q"]), _img(tmp_path, "qf1", COLOURS["a"]))
    g_frames = (_img(tmp_path, "gf0", COLOURS["b"]),)
    out_dir = tmp_path / "vis"
    visualize_ranked_results(
        np.zeros((1, 1)), ([(q_frames, 5, 0)], [(g_frames, 5, 1)]), "video", W, H, str(out_dir), topk=1
    )
    assert [f.name for f in out_dir.glob("*.jpg")] == ["00000_qf0.jpg"]


def test_visrank_errors_name_the_problem(tmp_path):
    from torchreid.utils.reidtools import visualize_ranked_results

    q = _img(tmp_path, "q", COLOURS["q"])
    g = [(q, 2, 1)]
    with pytest.raises(ValueError, match=r"distmat is 1x2 but there are 1 queries and 1 gallery"):
        visualize_ranked_results(np.zeros((1, 2)), ([(q, 1, 0)], g), "image", save_dir=str(tmp_path))
    with pytest.raises(ValueError, match="'image' or 'video'"):
        visualize_ranked_results(np.zeros((1, 1)), ([(q, 1, 0)], g), "images", save_dir=str(tmp_path))
    missing = str(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg"):
        visualize_ranked_results(np.zeros((1, 1)), ([(missing, 1, 0)], g), "image", save_dir=str(tmp_path))
    with pytest.raises(ValueError, match="empty tracklet"):
        visualize_ranked_results(np.zeros((1, 1)), ([((), 1, 0)], g), "video", save_dir=str(tmp_path))


def test_visrank_queries_with_the_same_file_name_do_not_overwrite_each_other(tmp_path):
    """Custom ``<pid>/<camid>/<image>`` folders often reuse file names (17/0/0.jpg, 18/0/0.jpg): every query
    must still get its own picture."""
    from torchreid.utils.reidtools import visualize_ranked_results

    (tmp_path / "17").mkdir()
    (tmp_path / "18").mkdir()
    q1 = _img(tmp_path / "17", "0", COLOURS["a"])
    q2 = _img(tmp_path / "18", "0", COLOURS["b"])
    g = _img(tmp_path, "g", COLOURS["c"])
    out_dir = tmp_path / "vis"
    visualize_ranked_results(
        np.zeros((2, 1)), ([(q1, 17, 0), (q2, 18, 0)], [(g, 17, 1)]), "image", W, H, str(out_dir), topk=1
    )
    assert sorted(f.name for f in out_dir.glob("*.jpg")) == ["0.jpg", "00001_0.jpg"]
