"""The ``torchreid`` command: sub-commands, config names, extract, weights, parse-results, train/test forwarding."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DATA, REPO, require
from PIL import Image

from torchreid.cli import SUBCOMMAND_MODULES, main


def test_every_subcommand_module_registers(capsys):
    for name in SUBCOMMAND_MODULES:
        assert callable(importlib.import_module(name).add_subparser)
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for command in ("train", "test", "export", "extract", "weights", "parse-results"):
        assert command in text


def test_python_dash_m_torchreid():
    out = subprocess.run(
        [sys.executable, "-m", "torchreid", "weights", "path", "osnet_x0_25_msmt17"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("checkpoints/osnet_x0_25_msmt17.pth")


def test_weights_list_json_and_bad_name(capsys):
    assert main(["weights", "list", "--json", "--arch", "osnet_ain_x1_0"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in entries} >= {"osnet_ain_x1_0_msmt17", "osnet_ain_x1_0_market1501"}
    assert main(["weights", "path", "osnet_x0_25_msmt"]) == 2
    assert "osnet_x0_25_msmt17" in capsys.readouterr().err


def test_weights_download_offline_says_where(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    assert main(["weights", "download", "osnet_x1_0_market1501"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "checkpoints" / "osnet_x1_0_market1501.pth") in err


@pytest.mark.real_data
def test_weights_verify_hand_placed_file(monkeypatch, tmp_path, capsys):
    src = require(DATA / "weights" / "osnet_x0_25_market1501.pt")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    shutil.copyfile(src, tmp_path / "checkpoints" / "osnet_x0_25_market1501.pth")
    assert main(["weights", "verify"]) == 0
    assert "osnet_x0_25_market1501: ok" in capsys.readouterr().out


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (80, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    from torchreid.models import build_model

    model = build_model("osnet_x0_25", num_classes=3, pretrained=False)
    path = tmp_path / "model.pth.tar-1"
    config = {"model": {"name": "osnet_x0_25"}, "data": {"height": 64, "width": 32}}
    torch.save({"state_dict": model.state_dict(), "config": config}, path)
    return path


def test_extract_folder_to_npz_and_pt(images, ckpt, tmp_path, capsys):
    from torchreid.inference import FeatureExtractor

    out = tmp_path / "f.npz"
    assert main(["extract", str(images), "-w", str(ckpt), "-o", str(out), "--normalize"]) == 0
    assert "Wrote 3 x 512 features" in capsys.readouterr().out
    with np.load(out) as z:
        feats, paths, info = z["features"], list(z["paths"]), json.loads(str(z["model"]))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["0.png", "1.png", "2.png"]
    assert info["model_name"] == "osnet_x0_25" and info["image_size"] == [64, 32]
    ref = FeatureExtractor(model_path=str(ckpt), device="cpu", verbose=False, normalize=True)(paths)
    np.testing.assert_allclose(feats, ref.numpy(), atol=1e-5)
    pt = tmp_path / "f.pt"
    assert main(["extract", str(images / "0.png"), "-w", str(ckpt), "-o", str(pt)]) == 0
    assert torch.load(pt)["features"].shape == (1, 512)


def test_extract_errors_are_one_line(tmp_path, ckpt, capsys):
    assert main(["extract", str(tmp_path / "missing"), "-w", str(ckpt), "-o", str(tmp_path / "f.npz")]) == 2
    assert "neither an image file nor a folder" in capsys.readouterr().err
    assert not (tmp_path / "f.npz").exists()


def test_train_and_test_forward_to_the_runner_with_config_names(monkeypatch, capsys):
    import torchreid.runner

    calls = []
    monkeypatch.setattr(torchreid.runner, "main", lambda argv=None: calls.append(argv))
    assert main(["train", "--config-file", "im_osnet_x1_0_softmax_256x128_amsgrad", "train.lr", "0.1"]) == 0
    assert main(["test", "--config-file=quickstart.yaml", "-s", "synthetic"]) == 0
    train_argv, test_argv = calls
    assert train_argv[1].endswith("configs/im_osnet_x1_0_softmax_256x128_amsgrad.yaml") and train_argv[
        2:
    ] == [
        "train.lr",
        "0.1",
    ]
    assert test_argv[0].endswith("quickstart.yaml") and test_argv[-2:] == ["test.evaluate", "True"]
    assert main(["train", "--config-file", "im_osnet_x1_0_softmax_256x128_amsgrd.yaml"]) == 2
    assert "Did you mean im_osnet_x1_0_softmax_256x128_amsgrad.yaml" in capsys.readouterr().err
    assert main(["train", "--list-configs"]) == 0
    assert "quickstart.yaml" in capsys.readouterr().out


def test_parse_results(tmp_path, capsys):
    for i, (m, r1) in enumerate([(40.0, 60.0), (50.0, 70.0)]):
        d = tmp_path / f"split{i}"
        d.mkdir()
        (d / "test.log").write_text(
            f"mAP: {m}%\nRank-1  : {r1}%\nRank-5  : 80.0%\nRank-10 : 90.0%\nRank-20 : 95.0%\n"
        )
    assert main(["parse-results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mAP: 45.0%" in out and "Rank-1: 65.0%" in out


def test_configs_are_found_in_an_installed_wheel_layout(tmp_path, monkeypatch):
    """In a wheel the configs live in torchreid/_data/configs (no checkout beside the package)."""
    from torchreid.cli import configs

    package = tmp_path / "site-packages" / "torchreid"
    (package / "_data" / "configs").mkdir(parents=True)
    (package / "_data" / "configs" / "im_osnet_x1_0_softmax_256x128_amsgrad.yaml").write_text("model: {}\n")
    monkeypatch.setattr(configs, "PACKAGE", package)
    found = configs.find_config("im_osnet_x1_0_softmax_256x128_amsgrad.yaml")
    assert found == package / "_data" / "configs" / "im_osnet_x1_0_softmax_256x128_amsgrad.yaml"
    assert configs.list_configs() == ["im_osnet_x1_0_softmax_256x128_amsgrad.yaml"]


def test_add_command_parser_keeps_the_docstring_layout():
    import argparse

    from torchreid.cli import add_command_parser

    sub = argparse.ArgumentParser(prog="t").add_subparsers()
    p = add_command_parser(sub, "demo", "a demo", "Usage:\n    demo  A\n    demo  B")
    assert p.prog.endswith("demo") and p.formatter_class is argparse.RawDescriptionHelpFormatter
    assert "    demo  A\n    demo  B" in p.format_help()
