"""torchreid.utils pieces without direct tests: rank visualisation (``visualize_ranked_results``), ``Logger``
and ``RankLogger``, the meters, the ``Registry`` container protocol and the lazy public names."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

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


# ------------------------------------------------------------------------------------------------ loggers


def test_logger_tees_to_console_and_file(tmp_path):
    from torchreid.utils import Logger

    console = io.StringIO()
    path = tmp_path / "new" / "dir" / "log.txt"  # parent folders are created
    with Logger(str(path), console=console) as log:
        log.write("hello ")
        print("world", file=log)
        log.flush()
        assert path.read_text() == "hello world\n"  # flushed to disk before close
        assert log.isatty() is False
        assert log.encoding == "utf-8"
    assert console.getvalue() == "hello world\n"
    log.write("after close\n")  # the console keeps working; the closed file is left alone
    assert console.getvalue().endswith("after close\n")
    assert path.read_text() == "hello world\n"
    log.close()  # idempotent


def test_logger_without_file_only_writes_the_console():
    from torchreid.utils.loggers import Logger

    console = io.StringIO()
    log = Logger(None, console=console)
    log.write("x")
    log.flush()
    assert console.getvalue() == "x" and log.file is None
    with pytest.raises(io.UnsupportedOperation):
        log.fileno()  # delegated to the console (a StringIO has no descriptor)


def test_rank_logger_summary_and_unknown_target(capsys):
    from torchreid.utils import RankLogger

    rl = RankLogger("market1501", ["market1501", "dukemtmcreid"])
    rl.write("market1501", 10, 0.5)
    rl.write("dukemtmcreid", 10, 0.25)
    rl.write("market1501", 20, 0.625)
    with pytest.raises(KeyError, match="'viper' is not a target"):
        rl.write("viper", 1, 0.1)
    rl.show_summary()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "=> Show performance summary",
        "market1501 (source)",
        "- epoch 10\t rank1 50.0%",
        "- epoch 20\t rank1 62.5%",
        "dukemtmcreid (target)",
        "- epoch 10\t rank1 25.0%",
    ]


# ------------------------------------------------------------------------------------------------ meters


def test_average_meter_weights_by_n_and_accepts_tensors():
    from torchreid.utils import AverageMeter

    m = AverageMeter()
    m.update(torch.tensor(2.0), n=3)
    m.update(4.0)
    assert (m.val, m.sum, m.count) == (4.0, 10.0, 4)
    assert m.avg == pytest.approx(2.5)
    m.reset()
    assert (m.val, m.avg, m.sum, m.count) == (0.0, 0.0, 0.0, 0)


def test_metric_meter_format_and_input_checks():
    from torchreid.utils import MetricMeter

    mm = MetricMeter(delimiter=" | ")
    mm.update(None)  # ignored
    assert str(mm) == ""
    mm.update({"loss": torch.tensor(1.0), "acc": 50.0})
    mm.update({"loss": 3.0, "acc": 100.0})
    assert str(mm) == "loss 3.0000 (2.0000) | acc 100.0000 (75.0000)"
    with pytest.raises(TypeError, match="dictionary"):
        mm.update([("loss", 1.0)])


# ------------------------------------------------------------------------------------------------ registry


def test_registry_container_protocol_and_errors():
    from torchreid.utils import Registry, RegistryKeyError

    reg = Registry("widget")

    @reg.register(aliases=("w1",))
    def widget_one():
        return 1

    reg.register("two", lambda: 2)
    assert len(reg) == 2 and list(reg) == ["widget_one", "two"]
    assert reg.aliases() == {"w1": "widget_one"}
    assert reg.items()[0] == ("widget_one", widget_one)
    assert "w1" in reg and reg.get("w1") is widget_one
    assert repr(reg) == "Registry('widget', 2 entries)"
    with pytest.raises(ValueError, match="a name is required to register this widget"):
        reg.register(None, 3)  # an int has no __name__
    with pytest.raises(RegistryKeyError, match="'w1' is already registered"):
        reg.register("w1", 4)
    reg.register("two", 5, overwrite=True)
    assert reg.get("two") == 5
    with pytest.raises(KeyError, match=r"Unknown widget 'widget_on'\. Did you mean: widget_one"):
        reg.get("widget_on")


def test_dataset_registries_load_builtins_for_every_container_method():
    """len/iter/items/aliases of the dataset registries must see the built-in datasets (lazy loading)."""
    from torchreid.data.datasets import IMAGE_DATASETS, VIDEO_DATASETS

    assert len(IMAGE_DATASETS) >= 14 and "market1501" in list(IMAGE_DATASETS)
    assert "mars" in dict(VIDEO_DATASETS.items())
    assert isinstance(IMAGE_DATASETS.aliases(), dict)


def test_every_lazy_public_name_resolves():
    import torchreid
    import torchreid.utils as utils

    for name in utils.__all__:
        assert getattr(utils, name) is not None, name
    assert dir(utils) == utils.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        utils.nope  # noqa: B018
    assert "models" in dir(torchreid) and "__version__" in dir(torchreid)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        torchreid.nope  # noqa: B018


def test_import_torchreid_is_lazy():
    code = (
        "import sys, torchreid\n"
        "assert 'torchreid.models' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n"
        "m = torchreid.metrics\n"
        "assert m is sys.modules['torchreid.metrics'] and torchreid.metrics is m\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


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
