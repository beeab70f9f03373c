"""tools/compute_mean_std.py: exact values and its command line."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A randomly initialised osnet_x0_25 with a 7-way classifier saved like a training checkpoint."""
    from torchreid.models import build_model
    from torchreid.utils import save_checkpoint

    torch.manual_seed(3)
    model = build_model("osnet_x0_25", 7, pretrained=False, use_gpu=False).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a failed load would be visible
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    d = tmp_path_factory.mktemp("ckpt")
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}  # as saved from DataParallel
    path = save_checkpoint({"state_dict": sd, "epoch": 1, "rank1": 0.1}, d)
    return model, path


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
