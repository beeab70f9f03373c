"""The shipped configs that carry an original Torchreid v1.4.0 config's name are that config, key for key, and each
runs one (tiny) epoch on the synthetic data through the in-process ``scripts/main.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from _shared import TINY_SYNTHETIC

REPO = Path(__file__).resolve().parents[2]

_COMMON = {
    "model": {"pretrained": True},
    "data": {"type": "image", "sources": ["market1501"], "height": 256, "width": 128, "combineall": False},
    "loss": {"name": "softmax", "softmax": {"label_smooth": True}},
    "train": {"optim": "amsgrad"},
    "test": {
        "normalize_feature": False,
        "evaluate": False,
        "eval_freq": -1,
        "rerank": False,
        "visactmap": False,
    },
}


def _cfg(
    model,
    targets,
    transforms,
    save_dir,
    lr,
    max_epoch,
    bs,
    fixbase,
    open_layers,
    sched,
    stepsize,
    tbs,
    metric,
):
    cfg = {k: dict(v) for k, v in _COMMON.items()}
    cfg["model"]["name"] = model
    cfg["data"].update(targets=targets, transforms=transforms, save_dir=save_dir)
    cfg["train"].update(
        lr=lr,
        max_epoch=max_epoch,
        batch_size=bs,
        fixbase_epoch=fixbase,
        open_layers=open_layers,
        lr_scheduler=sched,
    )
    if stepsize is not None:
        cfg["train"]["stepsize"] = stepsize
    cfg["test"].update(batch_size=tbs, dist_metric=metric)
    return cfg


M, F, FJ, C = ["market1501"], ["random_flip"], ["random_flip", "color_jitter"], ["classifier"]
# The original v1.4.0 configs (configs/*.yaml of deep-person-reid), value for value.
ORIGINAL = {
    "im_osnet_ain_x1_0_softmax_256x128_amsgrad_cosine": _cfg(
        "osnet_ain_x1_0", ["market1501", "dukemtmcreid"], FJ, "log/osnet_ain_x1_0_market1501_softmax_cosinelr",
        0.0015, 100, 64, 10, C, "cosine", None, 300, "cosine",
    ),
    "im_osnet_ibn_x1_0_softmax_256x128_amsgrad": _cfg(
        "osnet_ibn_x1_0", ["dukemtmcreid"], FJ, "log/osnet_ibn_x1_0_market2duke_softmax",
        0.0015, 150, 64, 10, C, "single_step", [60], 300, "euclidean",
    ),
    "im_osnet_x0_25_softmax_256x128_amsgrad": _cfg(
        "osnet_x0_25", M, F, "log/osnet_x0_25_market1501_softmax", 0.003, 180, 128, 10, C, "single_step", [80],
        300, "euclidean",
    ),
    "im_osnet_x0_5_softmax_256x128_amsgrad": _cfg(
        "osnet_x0_5", M, F, "log/osnet_x0_5_market1501_softmax", 0.003, 180, 128, 10, C, "single_step", [80],
        300, "euclidean",
    ),
    "im_osnet_x0_75_softmax_256x128_amsgrad": _cfg(
        "osnet_x0_75", M, F, "log/osnet_x0_75_market1501_softmax", 0.0015, 150, 64, 10, C, "single_step", [60],
        300, "euclidean",
    ),
    "im_osnet_x1_0_softmax_256x128_amsgrad": _cfg(
        "osnet_x1_0", M, F, "log/osnet_x1_0_market1501_softmax", 0.0015, 150, 64, 10, C, "single_step", [60],
        300, "euclidean",
    ),
    "im_osnet_x1_0_softmax_256x128_amsgrad_cosine": _cfg(
        "osnet_x1_0", M, F, "log/osnet_x1_0_market1501_softmax_cosinelr", 0.0015, 250, 64, 10, C, "cosine", None,
        300, "euclidean",
    ),
    # the original's r50 config names resnet50_fc512 (kept: same name, same config)
    "im_r50_softmax_256x128_amsgrad": _cfg(
        "resnet50_fc512", M, F, "log/resnet50_market1501_softmax", 0.0003, 60, 32, 5, C, "single_step", [20],
        100, "euclidean",
    ),
    "im_r50fc512_softmax_256x128_amsgrad": _cfg(
        "resnet50_fc512", M, F, "log/resnet50_fc512_market1501_softmax", 0.0003, 60, 32, 5, ["fc", "classifier"],
        "single_step", [20], 100, "euclidean",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_config_is_the_original_key_for_key(name):
    shipped = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    assert shipped == ORIGINAL[name]


def _main():
    spec = importlib.util.spec_from_file_location("torchreid_main_configs", REPO / "scripts" / "main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_original_config_runs_one_epoch_on_synthetic_data(name, tmp_path):
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY_SYNTHETIC, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    save = tmp_path / "log"
    argv = [
        "--config-file", str(REPO / "configs" / f"{name}.yaml"), "--root", str(tmp_path / "data"),
        "-s", "synthetic_tiny", "-t", "synthetic_tiny",
        "model.pretrained", "False", "data.height", "64", "data.width", "32", "data.workers", "0",
        "data.save_dir", str(save), "train.batch_size", "16", "train.max_epoch", "1", "train.print_freq", "100",
        "test.batch_size", "32", "use_gpu", "False",
    ]  # fmt: skip
    engine = _main().main(argv)
    cfg = engine.config
    assert cfg["model"]["name"] == ORIGINAL[name]["model"]["name"]
    assert cfg["train"]["lr"] == ORIGINAL[name]["train"]["lr"]
    assert (save / "model" / "model.pth.tar-1").is_file()
