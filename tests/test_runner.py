"""Config merging error paths and ``scripts/main.py`` run in-process (so coverage sees it): config checks, the
image flow with ``model.load_weights``, ``model.resume`` and ``test.evaluate``."""

from __future__ import annotations

import glob
import importlib.util
import re
from pathlib import Path

import pytest
import torch
from _shared import TINY_SYNTHETIC

from torchreid.config import ConfigKeyError, get_default_config, load_config, merge_from_file, merge_from_list

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------ config files


def test_missing_config_file_names_the_path(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        merge_from_file(get_default_config(), path)


def test_invalid_yaml_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  lr: [0.1\n")
    with pytest.raises(ValueError, match=r"bad\.yaml' is not valid YAML"):
        merge_from_file(get_default_config(), str(path))


def test_empty_config_file_changes_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# only a comment\n")
    cfg = merge_from_file(get_default_config(), str(path))
    assert cfg == get_default_config()


def test_base_inheritance_is_rejected_clearly(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("_BASE_: parent.yaml\ntrain:\n  lr: 0.1\n")
    with pytest.raises(ValueError, match="'_BASE_' inheritance is not supported"):
        merge_from_file(get_default_config(), str(path))


@pytest.mark.parametrize(("text", "section"), [("train: 5\n", "train"), ("- a\n- b\n", "<root>")])
def test_section_that_is_not_a_mapping(tmp_path, text, section):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"Config section '{section}' .*must be a mapping"):
        merge_from_file(get_default_config(), str(path))


def test_unknown_key_suggests_the_same_leaf_in_another_section():
    with pytest.raises(ConfigKeyError) as info:
        merge_from_list(get_default_config(), ["market1501.seq_len", "4"])
    assert str(info.value) == (
        "Non-existent config key: 'market1501.seq_len' (in command-line overrides). Did you mean: video.seq_len?"
    )


def test_coercions_and_type_errors_on_the_command_line():
    cfg = load_config(opts=["data.norm_mean", "(0.5, 0.5, 0.5)", "train.max_epoch", "3.0", "train.seed", "7"])
    assert cfg.data.norm_mean == [0.5, 0.5, 0.5]  # a tuple literal becomes the list the key holds
    assert cfg.train.max_epoch == 3 and isinstance(cfg.train.max_epoch, int)
    with pytest.raises(ValueError, match=r"train\.max_epoch.*expects int like 3, got float 3\.5"):
        merge_from_list(cfg, ["train.max_epoch", "3.5"])
    with pytest.raises(ValueError, match=r"model\.pretrained.*expects bool"):
        merge_from_list(cfg, ["model.pretrained", "1"])  # 1 is not a boolean
    with pytest.raises(ValueError, match=r"train\.lr.*expects float"):
        merge_from_list(cfg, ["train.lr", "True"])
    with pytest.raises(ValueError, match=r"model\.name.*expects str"):
        merge_from_list(cfg, ["model.name", "5"])


def test_malformed_override_lists():
    cfg = get_default_config()
    with pytest.raises(ValueError, match="non-empty string"):
        merge_from_list(cfg, ["", "1"])
    with pytest.raises(ValueError, match="non-empty string"):
        merge_from_list(cfg, [3, "1"])
    with pytest.raises(ValueError, match=r"'train\.lr' conflicts with another override"):
        merge_from_list(cfg, ["train", "1", "train.lr", "0.1"])
    assert cfg == get_default_config()  # nothing was applied


# ------------------------------------------------------------------------------------------------ scripts/main.py


def _main_module():
    spec = importlib.util.spec_from_file_location("torchreid_main_cov", REPO / "scripts" / "main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def main():
    return _main_module()


def test_cli_flags_and_double_dash(main):
    cfg = main.build_config(["--transforms", "random_flip", "color_jitter", "--", "train.lr", "0.5"])
    assert cfg.data.transforms == ["random_flip", "color_jitter"] and cfg.train.lr == 0.5
    assert cfg.use_gpu is (cfg.use_gpu and torch.cuda.is_available())


def test_check_cfg_errors_name_key_and_fix(main, tmp_path):
    cfg = main.build_config(["data.type", "audio"])
    with pytest.raises(ValueError, match=r"data\.type must be 'image' or 'video', got 'audio'"):
        main.check_cfg(cfg)
    for key in ("load_weights", "resume"):
        cfg = main.build_config([f"model.{key}", str(tmp_path / "w.pth")])
        with pytest.raises(FileNotFoundError, match=f"model.{key} = '.*w.pth' is not a file"):
            main.check_cfg(cfg)
    cfg = main.build_config(
        ["loss.name", "triplet", "loss.triplet.weight_x", "0", "train.fixbase_epoch", "3"]
    )
    with pytest.raises(ValueError, match=r"set train\.fixbase_epoch 0"):
        main.check_cfg(cfg)
    main.check_cfg(main.build_config(["loss.name", "triplet", "train.fixbase_epoch", "0"]))  # fine


def test_build_engine_passes_loss_and_video_options(main):
    captured = {}

    class Fake:
        def __init__(self, dm, model, optimizer, **kw):
            captured.update(kw)

    from torchreid.engine import ENGINES

    cfg = main.build_config(
        [
            "data.type", "video", "loss.name", "triplet", "loss.triplet.margin", "0.5",
            "loss.triplet.weight_x", "0.25", "video.pooling_method", "max", "train.sync_bn", "True",
        ]
    )  # fmt: skip
    real = ENGINES.get("video/triplet")
    try:
        ENGINES.register("video/triplet", Fake, overwrite=True)
        main.build_engine(cfg, None, None, None, "SCHED")
    finally:
        ENGINES.register("video/triplet", real, overwrite=True)
    assert captured["margin"] == 0.5 and captured["weight_x"] == 0.25 and captured["weight_t"] == 1.0
    assert captured["pooling_method"] == "max" and captured["sync_bn"] is True
    assert captured["scheduler"] == "SCHED" and captured["label_smooth"] is True


TINY = TINY_SYNTHETIC


def _argv(root: Path, save_dir: Path, *opts: str) -> list[str]:
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    return [
        "--root", str(root), "-s", "synthetic_tiny", "-t", "synthetic_tiny",
        "model.name", "osnet_x0_25", "model.pretrained", "False",
        "data.height", "64", "data.width", "32", "data.workers", "0", "data.save_dir", str(save_dir),
        "train.batch_size", "16", "train.print_freq", "100", "train.optim", "sgd", "train.lr", "0.01",
        "train.stepsize", "[1]", "train.fixbase_epoch", "0", "test.batch_size", "32", "use_gpu", "False",
        *opts,
    ]  # fmt: skip


def _log(save_dir: Path, prefix: str) -> str:
    logs = sorted(glob.glob(str(save_dir / f"{prefix}.log-*")))
    assert logs, f"no {prefix}.log-* in {save_dir}"
    return Path(logs[-1]).read_text()


def _rank1(text: str) -> str:
    return re.findall(r"^Rank-1  : (\d+\.\d)%$", text, flags=re.M)[-1]


@pytest.mark.slow
def test_main_image_flow_train_resume_and_evaluate(main, tmp_path, monkeypatch):
    """One in-process epoch, a resumed second epoch, then a test-only run with the weights of the first."""
    from torchreid.utils.checkpoint import load_checkpoint

    root = tmp_path / "data"
    first = tmp_path / "first"
    engine = main.main(_argv(root, first, "train.max_epoch", "1"))
    ckpt1 = first / "model" / "model.pth.tar-1"
    assert ckpt1.is_file() and engine.config["train"]["max_epoch"] == 1
    text1 = _log(first, "train")
    assert "Model complexity: params=" in text1 and "Building softmax-engine for image-reid" in text1

    resumed = tmp_path / "resumed"
    import torchreid.utils.checkpoint as ckpt_mod

    reads = []
    real_load = ckpt_mod.load_checkpoint
    monkeypatch.setattr(ckpt_mod, "load_checkpoint", lambda *a, **k: reads.append(a[0]) or real_load(*a, **k))
    main.main(_argv(root, resumed, "train.max_epoch", "2", "model.resume", str(ckpt1)))
    monkeypatch.undo()
    assert reads == [str(ckpt1)]  # a resume reads the checkpoint once
    text2 = _log(resumed, "train")
    assert "Last epoch = 1" in text2 and "epoch: [1/2]" not in text2
    ckpt2 = load_checkpoint(resumed / "model" / "model.pth.tar-2")
    assert ckpt2["epoch"] == 2 and ckpt2["config"]["model"]["resume"] == str(ckpt1)

    evaluated = tmp_path / "evaluated"
    main.main(_argv(root, evaluated, "test.evaluate", "True", "model.load_weights", str(ckpt1)))
    text3 = _log(evaluated, "test")
    assert "=> Start training" not in text3 and "Successfully loaded pretrained weights" in text3
    assert _rank1(text3) == _rank1(text1)  # same weights, same evaluation
    assert not (evaluated / "model").exists()

    # results as data: one record per evaluation, with its provenance
    from torchreid.evaluation import config_hash, read_results

    (rec1,) = read_results(first / "results.jsonl")
    assert (
        rec1["model"] == "osnet_x0_25"
        and rec1["epoch"] == 1
        and rec1["checkpoint"].endswith("model.pth.tar-1")
    )
    assert rec1["config_sha256"] == config_hash(load_checkpoint(ckpt1)["config"])
    assert f"{100 * rec1['cmc'][0]:.1f}" == _rank1(text1)
    (rec3,) = read_results(evaluated / "results.jsonl")
    assert rec3["checkpoint"] == str(ckpt1) and rec3["epoch"] is None and rec3["cmc"] == rec1["cmc"]
    page = (evaluated / "report_synthetic_tiny.html").read_text()
    assert "osnet_x0_25" in page and str(ckpt1) in page and rec3["config_sha256"] in page


def test_python_values_tuples_and_dict_export(tmp_path):
    from torchreid.config import cfg_to_dict

    path = tmp_path / "c.yaml"
    path.write_text('data:\n  norm_mean: "(0.5, 0.5, 0.5)"\n')  # a quoted tuple literal, as yacs decoded it
    cfg = merge_from_file(get_default_config(), str(path))
    assert cfg.data.norm_mean == [0.5, 0.5, 0.5]
    merge_from_list(cfg, ["train.lr", 0.25, "train.stepsize", (5, 10)])  # Python values, not strings
    assert cfg.train.lr == 0.25 and cfg.train.stepsize == [5, 10]
    cfg.data.norm_std = (0.2, 0.2, 0.2)  # set directly, bypassing the merge
    plain = cfg_to_dict(cfg)
    assert plain["data"]["norm_std"] == [0.2, 0.2, 0.2] and isinstance(plain["train"], dict)
    assert not any(type(v).__name__ == "ReidCfgNode" for v in plain.values())


@pytest.mark.slow
def test_main_fast_path_flags_train_and_evaluate(main, tmp_path, monkeypatch):
    """Every fast-path switch together through scripts/main.py (the compile step on the eager backend: inductor's
    C++ build takes minutes on a CPU; `train.compile default` once crashed at the first step)."""
    import torch

    real_compile = torch.compile
    compiled = []

    def eager_compile(model, **kwargs):
        compiled.append(kwargs)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    save = tmp_path / "fast"
    opts = ["train.max_epoch", "1", "train.amp", "bf16", "train.channels_last", "True", "train.compile",
            "default", "data.gpu_augment", "True", "train.clip_grad_norm", "5.0"]  # fmt: skip
    engine = main.main(_argv(tmp_path / "data", save, *opts))
    assert compiled and compiled[0].get("mode") == "default"
    assert engine.accel.describe().startswith("amp=bf16, channels_last=True, compile=default")
    text = _log(save, "train")
    assert re.search(r"^mAP: \d+\.\d%$", text, flags=re.M) and _rank1(
        text
    )  # evaluated (1 epoch: no accuracy claim)
    from torchreid.models import build_model
    from torchreid.utils.checkpoint import load_checkpoint

    state = load_checkpoint(save / "model" / "model.pth.tar-1")["state_dict"]
    plain = build_model("osnet_x0_25", num_classes=TINY["num_train_ids"], pretrained=False)
    plain.load_state_dict(state)  # the compiled, channels_last model saved plain weights (no _orig_mod. keys)


# ------------------------------------------------------------------------------------------------ runs never lost


def test_nothing_to_do_is_an_error(main):
    with pytest.raises(ValueError, match=r"train\.max_epoch is 0.*test\.evaluate True"):
        main.check_cfg(main.build_config(["train.max_epoch", "0"]))
    main.check_cfg(
        main.build_config(["train.max_epoch", "0", "test.evaluate", "True"])
    )  # evaluate only: fine


def test_unwritable_save_dir_fails_before_anything_runs(main, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match=r"a_file/run'.*a_file' is not a folder.*data\.save_dir"):
        main.check_writable(blocker / "run", ("model",))
    run = tmp_path / "run"
    run.mkdir()
    (run / "model").write_text("a file where the checkpoints go")
    with pytest.raises(PermissionError, match=r"run/model'.*is not a folder"):
        main.check_writable(run, ("model",))
    main.check_writable(run)  # test-only runs need no model folder
    main.check_writable(tmp_path / "new" / "run", ("model",))  # missing folders below a writable one: fine
    assert not (tmp_path / "new").exists()  # the check creates nothing
    root = tmp_path / "data"
    with pytest.raises(PermissionError, match="a_file"):
        main.main(_argv(root, blocker / "run", "train.max_epoch", "1"))
    assert not root.exists()  # failed before the data was even built


def test_unknown_weights_name_is_a_clear_error(main, tmp_path):
    cfg = main.build_config(["model.load_weights", "osnet_x0_25_nosuchdata"])
    with pytest.raises(
        FileNotFoundError, match=r"model\.load_weights = 'osnet_x0_25_nosuchdata' is not a file"
    ):
        main.check_cfg(cfg)


def test_zoo_name_is_accepted_as_load_weights(main):
    zoo = pytest.importorskip("torchreid.models.zoo")
    name = "osnet_x0_25_msmt17" if zoo.is_zoo_name("osnet_x0_25_msmt17") else zoo.list_zoo()[0]
    main.check_cfg(main.build_config(["model.load_weights", name]))  # resolved (and verified) when loaded
