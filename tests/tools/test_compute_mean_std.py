"""tools/compute_mean_std.py: exact values and its command line."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ compute_mean_std


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"cov_tool_{name}", REPO / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _register_tiny_synthetic() -> str:
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    name = "cov_synthetic_meanstd"
    if name not in IMAGE_DATASETS:

        class Tiny(Synthetic):
            def __init__(self, root="", **kwargs):
                spec = {"num_train_ids": 3, "num_test_ids": 2, "num_cams": 2, "train_imgs_per_cam": 1}
                super().__init__(
                    root=root, height=32, width=16, test_imgs_per_cam=2, num_distractors=0, **spec, **kwargs
                )

        register_image_dataset(name, Tiny)
    return name


def test_compute_mean_std_cli(tmp_path, capsys):
    from torchreid.data.datasets import init_image_dataset

    tool = _tool("compute_mean_std")
    name = _register_tiny_synthetic()
    assert tool.main([str(tmp_path), name, "--height", "16", "--width", "8"]) == 0
    out = capsys.readouterr().out
    ds = init_image_dataset(name, root=str(tmp_path), verbose=False)
    mean, std = tool.mean_std([r[0] for r in ds.train], 16, 8)
    assert f"Computed over {len(ds.train)} training images of {name}" in out
    assert f"mean: [{', '.join(f'{v:.4f}' for v in mean)}]" in out
    assert f"std:  [{', '.join(f'{v:.4f}' for v in std)}]" in out
    line = next(x for x in out.splitlines() if x.startswith("Use in a config: "))
    assert "np.float" not in line  # NumPy 2 scalar reprs are not config values
    from torchreid.config import get_default_config, merge_from_list

    cfg = get_default_config()
    merge_from_list(cfg, shlex.split(line[len("Use in a config: ") :]))  # pastes into a shell command line
    assert cfg.data.norm_mean == [round(float(v), 4) for v in mean]
    assert cfg.data.norm_std == [round(float(v), 4) for v in std]


def test_compute_mean_std_cli_errors(tmp_path, capsys):
    tool = _tool("compute_mean_std")
    assert tool.main([str(tmp_path), "no_such_dataset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no_such_dataset" in err and "market1501" in err
    with pytest.raises(ValueError, match="no images"):
        tool.mean_std([])


def test_mean_std_exact(tmp_path):
    from PIL import Image

    a = np.zeros((4, 2, 3), dtype=np.uint8)
    b = np.full((4, 2, 3), 255, dtype=np.uint8)
    b[..., 2] = 51
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(a).save(pa)
    Image.fromarray(b).save(pb)
    mean, std = _tool("compute_mean_std").mean_std([pa, pb], height=4, width=2)
    np.testing.assert_allclose(mean, [0.5, 0.5, 0.1], atol=1e-9)
    np.testing.assert_allclose(std, [0.5, 0.5, 0.1], atol=1e-9)
