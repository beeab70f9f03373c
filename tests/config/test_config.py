"""The YACS schema (every key and default of the original), merging errors, kwargs helpers, shipped configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from torchreid.config import (
    ConfigKeyError,
    cfg_to_dict,
    engine_run_kwargs,
    get_default_config,
    imagedata_kwargs,
    load_config,
    lr_scheduler_kwargs,
    merge_from_file,
    merge_from_list,
    optimizer_kwargs,
    videodata_kwargs,
)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))

# SPEC §5, verbatim.
EXPECTED = {
    "model": {"name": "resnet50", "pretrained": True, "load_weights": "", "resume": ""},
    "data": {
        "type": "image",
        "root": "reid-data",
        "sources": ["market1501"],
        "targets": ["market1501"],
        "workers": 4,
        "split_id": 0,
        "height": 256,
        "width": 128,
        "combineall": False,
        "transforms": ["random_flip"],
        "k_tfm": 1,
        "norm_mean": [0.485, 0.456, 0.406],
        "norm_std": [0.229, 0.224, 0.225],
        "save_dir": "log",
        "load_train_targets": False,
    },
    "market1501": {"use_500k_distractors": False},
    "cuhk03": {"labeled_images": False, "classic_split": False, "use_metric_cuhk03": False},
    "sampler": {
        "train_sampler": "RandomSampler",
        "train_sampler_t": "RandomSampler",
        "num_instances": 4,
        "num_cams": 1,
        "num_datasets": 1,
    },
    "video": {"seq_len": 15, "sample_method": "evenly", "pooling_method": "avg"},
    "train": {
        "optim": "adam",
        "lr": 0.0003,
        "weight_decay": 5e-4,
        "max_epoch": 60,
        "start_epoch": 0,
        "batch_size": 32,
        "fixbase_epoch": 0,
        "open_layers": ["classifier"],
        "staged_lr": False,
        "new_layers": ["classifier"],
        "base_lr_mult": 0.1,
        "lr_scheduler": "single_step",
        "stepsize": [20],
        "gamma": 0.1,
        "print_freq": 20,
        "seed": 1,
    },
    "sgd": {"momentum": 0.9, "dampening": 0.0, "nesterov": False},
    "rmsprop": {"alpha": 0.99},
    "adam": {"beta1": 0.9, "beta2": 0.999},
    "test": {
        "batch_size": 100,
        "dist_metric": "euclidean",
        "normalize_feature": False,
        "ranks": [1, 5, 10, 20],
        "evaluate": False,
        "eval_freq": -1,
        "start_eval": 0,
        "rerank": False,
        "visrank": False,
        "visrank_topk": 10,
    },
}

NEW_TRAIN_KEYS = {
    "warmup_epochs": 0,
    "warmup_factor": 0.1,
    "amp": "off",
    "channels_last": False,
    "compile": "",
    "clip_grad_norm": 0.0,
}


@pytest.mark.parametrize("section", sorted(EXPECTED))
def test_every_key_and_default(section):
    cfg = get_default_config()
    for key, value in EXPECTED[section].items():
        got = cfg[section][key]
        assert got == value, f"{section}.{key}: {got!r} != {value!r}"
        assert type(got) is type(value), f"{section}.{key}: type {type(got)} != {type(value)}"


def test_loss_keys_and_new_keys():
    cfg = get_default_config()
    assert cfg.loss.name == "softmax"
    assert cfg.loss.softmax.label_smooth is True
    assert cfg.loss.triplet.margin == 0.3
    assert cfg.loss.triplet.weight_t == 1.0
    assert cfg.loss.triplet.weight_x == 0.0
    for key, value in NEW_TRAIN_KEYS.items():
        assert cfg.train[key] == value
    assert cfg.use_gpu is True


def test_round_trip_dump_load(tmp_path):
    cfg = get_default_config()
    merge_from_list(cfg, ["train.lr", "0.01", "data.sources", "['a', 'b']", "test.ranks", "[1, 3]"])
    path = tmp_path / "cfg.yaml"
    path.write_text(cfg.dump())
    again = load_config(str(path))
    assert cfg_to_dict(again) == cfg_to_dict(cfg)
    assert again.train.lr == 0.01
    assert again.data.sources == ["a", "b"]


def test_unknown_key_in_yaml_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  lrr: 0.1\n")
    with pytest.raises(ConfigKeyError) as info:
        merge_from_file(get_default_config(), str(path))
    msg = str(info.value)
    assert "train.lrr" in msg and str(path) in msg and "train.lr" in msg
    assert isinstance(info.value, KeyError)


def test_unknown_section_in_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trian:\n  lr: 0.1\n")
    with pytest.raises(KeyError, match="trian"):
        merge_from_file(get_default_config(), str(path))
    # a whole unknown section: suggest where its keys live, else list the valid sections
    path.write_text("somethingelse:\n  seq_len: 4\n")
    with pytest.raises(ConfigKeyError, match=r"'somethingelse'.*Did you mean: video\.seq_len\?"):
        merge_from_file(get_default_config(), str(path))
    with pytest.raises(
        ConfigKeyError, match=r"'zzz'.*Valid keys here: adam, cuhk03, .*train, use_gpu, video\."
    ):
        merge_from_list(get_default_config(), ["zzz", "1"])


def test_unknown_key_on_command_line():
    with pytest.raises(ConfigKeyError) as info:
        merge_from_list(get_default_config(), ["test.visrnk", "True"])
    msg = str(info.value)
    assert "test.visrnk" in msg and "command-line" in msg and "test.visrank" in msg


def test_cfg_methods_also_give_clear_errors(tmp_path):
    cfg = get_default_config()
    with pytest.raises(ConfigKeyError, match=r"model\.nmae"):
        cfg.merge_from_list(["model.nmae", "osnet_x1_0"])
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  sorces: ['x']\n")
    with pytest.raises(ConfigKeyError, match=r"data\.sorces"):
        cfg.merge_from_file(str(path))


def test_merge_is_all_or_nothing(tmp_path):
    cfg = get_default_config()
    with pytest.raises(ConfigKeyError):
        merge_from_list(cfg, ["train.lr", "0.5", "train.nope", "1"])
    assert cfg.train.lr == 0.0003


def test_type_errors_and_coercion():
    cfg = get_default_config()
    merge_from_list(cfg, ["train.lr", "1", "train.max_epoch", "3", "data.sources", "market1501"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.data.sources == ["market1501"]
    with pytest.raises(ValueError, match=r"train\.max_epoch"):
        merge_from_list(cfg, ["train.max_epoch", "abc"])
    with pytest.raises(ValueError, match="odd"):
        merge_from_list(cfg, ["train.lr"])


def test_yaml_exponent_floats_decoded_like_yacs(tmp_path):
    # PyYAML reads `3e-4` (no dot) as a string; yacs (the original) decoded it as a float
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 3e-4\n  weight_decay: 5e-4\n  stepsize: 20\nmodel:\n  name: osnet_x1_0\n")
    cfg = get_default_config()
    merge_from_file(cfg, str(path))
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    assert cfg.train.weight_decay == pytest.approx(5e-4)
    assert cfg.train.stepsize == [20]
    assert cfg.model.name == "osnet_x1_0"


def test_yaml_off_and_true_for_amp_and_compile(tmp_path):
    # YAML 1.1 reads `off`/`true` as booleans; these string keys must still accept them
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  amp: off\n  compile: true\n")
    cfg = get_default_config()
    merge_from_file(cfg, str(path))
    assert cfg.train.amp == "off" and cfg.train.compile == "default"
    merge_from_list(cfg, ["train.compile", "False"])
    assert cfg.train.compile == ""
    with pytest.raises(ValueError, match=r"train\.amp"):
        merge_from_list(cfg, ["train.amp", "True"])  # ambiguous: bf16 or fp16?


def test_deprecated_visactmap_is_ignored(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("test:\n  visactmap: False\n  eval_freq: 10\n")
    cfg = get_default_config()
    with pytest.warns(UserWarning, match="visactmap"):
        merge_from_file(cfg, str(path))
    assert cfg.test.eval_freq == 10


def test_data_kwargs_pass_every_config_key_to_its_data_manager_argument():
    import inspect

    from torchreid.data import ImageDataManager, VideoDataManager

    cfg = get_default_config()
    data = {"root": "r", "sources": ["s"], "targets": ["t"], "height": 11, "width": 7, "transforms": ["random_erase"],
            "k_tfm": 3, "norm_mean": [0.1, 0.2, 0.3], "norm_std": [0.4, 0.5, 0.6], "split_id": 2, "combineall": True,
            "load_train_targets": True, "workers": 5}  # fmt: skip
    sampler = {"num_instances": 6, "num_cams": 2, "num_datasets": 3, "train_sampler": "RandomIdentitySampler",
               "train_sampler_t": "RandomDomainSampler"}  # fmt: skip
    for key, value in data.items():
        cfg.data[key] = value
    for key, value in sampler.items():
        cfg.sampler[key] = value
    cfg.train.batch_size, cfg.test.batch_size = 9, 13
    cfg.cuhk03.labeled_images = cfg.cuhk03.classic_split = cfg.market1501.use_500k_distractors = True
    cfg.video.seq_len, cfg.video.sample_method = 4, "random"
    expected = {**data, **sampler, "batch_size_train": 9, "batch_size_test": 13, "cuhk03_labeled": True,
                "cuhk03_classic_split": True, "market1501_500k": True}  # fmt: skip
    d = imagedata_kwargs(cfg)
    assert {k: v for k, v in d.items() if k != "use_gpu"} == expected
    assert set(d) <= set(inspect.signature(ImageDataManager.__init__).parameters)
    video = videodata_kwargs(cfg)
    video_only = {"seq_len": 4, "sample_method": "random"}
    image_only = {"k_tfm", "load_train_targets", "train_sampler_t", "cuhk03_labeled", "cuhk03_classic_split",
                  "market1501_500k"}  # fmt: skip
    assert {k: x for k, x in video.items() if k != "use_gpu"} == {
        **{k: x for k, x in expected.items() if k not in image_only},
        **video_only,
    }
    assert set(video) <= set(inspect.signature(VideoDataManager.__init__).parameters)


def test_kwargs_helpers():
    cfg = get_default_config()
    d = imagedata_kwargs(cfg)
    assert d["root"] == "reid-data" and d["batch_size_train"] == 32 and d["batch_size_test"] == 100
    assert d["market1501_500k"] is False and d["cuhk03_labeled"] is False and d["k_tfm"] == 1
    v = videodata_kwargs(cfg)
    assert v["seq_len"] == 15 and v["sample_method"] == "evenly" and "k_tfm" not in v
    o = optimizer_kwargs(cfg)
    assert o == {
        "optim": "adam",
        "lr": 0.0003,
        "weight_decay": 5e-4,
        "momentum": 0.9,
        "sgd_dampening": 0.0,
        "sgd_nesterov": False,
        "rmsprop_alpha": 0.99,
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "staged_lr": False,
        "new_layers": ["classifier"],
        "base_lr_mult": 0.1,
    }
    s = lr_scheduler_kwargs(cfg)
    assert s["lr_scheduler"] == "single_step" and s["stepsize"] == [20] and s["max_epoch"] == 60
    assert s["warmup_epochs"] == 0
    r = engine_run_kwargs(cfg)
    assert r == {
        "save_dir": "log",
        "max_epoch": 60,
        "start_epoch": 0,
        "fixbase_epoch": 0,
        "open_layers": ["classifier"],
        "start_eval": 0,
        "eval_freq": -1,
        "test_only": False,
        "print_freq": 20,
        "dist_metric": "euclidean",
        "normalize_feature": False,
        "visrank": False,
        "visrank_topk": 10,
        "use_metric_cuhk03": False,
        "ranks": [1, 5, 10, 20],
        "rerank": False,
        "report": True,
    }
    import inspect

    from torchreid.engine import Engine

    assert set(r) <= set(inspect.signature(Engine.run).parameters)


def test_shipped_config_names():
    names = {p.name for p in CONFIGS}
    for n in [
        "quickstart.yaml",
        "im_osnet_x1_0_softmax_256x128_amsgrad.yaml",
        "im_osnet_x1_0_softmax_256x128_amsgrad_cosine.yaml",
        "im_osnet_x0_75_softmax_256x128_amsgrad.yaml",
        "im_osnet_x0_5_softmax_256x128_amsgrad.yaml",
        "im_osnet_x0_25_softmax_256x128_amsgrad.yaml",
        "im_osnet_ibn_x1_0_softmax_256x128_amsgrad.yaml",
        "im_osnet_ain_x1_0_softmax_256x128_amsgrad_cosine.yaml",
        "im_resnet50_fc512_softmax_256x128_amsgrad.yaml",
    ]:
        assert n in names


def test_spec_values_of_shipped_configs():
    c = load_config(str(REPO / "configs/im_osnet_x1_0_softmax_256x128_amsgrad.yaml"))
    assert (c.model.name, c.train.optim, c.train.lr, c.train.max_epoch, c.train.batch_size) == (
        "osnet_x1_0",
        "amsgrad",
        0.0015,
        150,
        64,
    )
    assert (c.train.fixbase_epoch, c.train.stepsize, c.test.batch_size) == (10, [60], 300)
    c = load_config(str(REPO / "configs/im_osnet_x0_25_softmax_256x128_amsgrad.yaml"))
    assert (c.train.lr, c.train.max_epoch, c.train.batch_size, c.train.stepsize) == (0.003, 180, 128, [80])
    c = load_config(str(REPO / "configs/im_osnet_ain_x1_0_softmax_256x128_amsgrad_cosine.yaml"))
    assert c.data.targets == ["market1501", "dukemtmcreid"] and c.test.dist_metric == "cosine"
    assert c.train.lr_scheduler == "cosine" and c.train.max_epoch == 100
    c = load_config(str(REPO / "configs/im_osnet_ibn_x1_0_softmax_256x128_amsgrad.yaml"))
    assert c.data.targets == ["dukemtmcreid"] and "color_jitter" in c.data.transforms
    c = load_config(str(REPO / "configs/im_resnet50_fc512_softmax_256x128_amsgrad.yaml"))
    assert (c.train.lr, c.train.max_epoch, c.train.batch_size, c.train.fixbase_epoch, c.train.stepsize) == (
        0.0003,
        60,
        32,
        5,
        [20],
    )
    assert c.test.batch_size == 100


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_parses_and_builds(path):
    from torchreid.models import build_model, is_model
    from torchreid.optim import build_lr_scheduler, build_optimizer

    raw = yaml.safe_load(path.read_text())
    assert isinstance(raw, dict)
    cfg = load_config(str(path))
    if not is_model(cfg.model.name):
        pytest.skip(f"model {cfg.model.name} is not implemented in this tree yet")
    model = build_model(cfg.model.name, num_classes=10, loss=cfg.loss.name, pretrained=False, use_gpu=False)
    optimizer = build_optimizer(model, **optimizer_kwargs(cfg))
    scheduler = build_lr_scheduler(optimizer, **lr_scheduler_kwargs(cfg))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(
        cfg.train.lr * (cfg.train.warmup_factor if cfg.train.warmup_epochs else 1)
    )
    optimizer.step()  # (no gradients: a no-op) in the engine's order, before the scheduler's step
    scheduler.step()
    children = {n for n, _ in model.named_children()}
    if cfg.train.fixbase_epoch > 0:
        assert set(cfg.train.open_layers) <= children, (
            f"open_layers {cfg.train.open_layers} not in {children}"
        )


def _main_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("torchreid_main_script", REPO / "scripts" / "main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_flow_defaults_file_flags_overrides():
    main = _main_module()
    qs = str(REPO / "configs" / "quickstart.yaml")
    cfg = main.build_config(["--config-file", qs, "--root", "R", "-s", "market1501", "train.lr", "0.1"])
    assert cfg.data.root == "R" and cfg.data.sources == ["market1501"] and cfg.train.lr == 0.1
    assert cfg.model.name == load_config(qs).model.name  # from the file
    # -t is greedy in argparse: overrides after it are handed back to the override list
    with pytest.warns(UserWarning, match=r"'test\.visactmap' .* is deprecated and ignored"):
        cfg = main.build_config(
            ["-t", "market1501", "dukemtmcreid", "train.max_epoch", "3", "test.visactmap", "False"]
        )
    assert cfg.data.targets == ["market1501", "dukemtmcreid"] and cfg.train.max_epoch == 3
    # ... also a top-level key (not a dataset name)
    cfg = main.build_config(["-t", "market1501", "use_gpu", "False"])
    assert cfg.data.targets == ["market1501"] and cfg.use_gpu is False
    # overrides come last
    cfg = main.build_config(["-s", "a", "--root", "R", "data.sources", "['b']"])
    assert cfg.data.sources == ["b"]
    with pytest.raises(KeyError, match="train"):
        main.build_config(["train.lrr", "1"])


def test_resume_allow_config_change_key():
    """New key read by the resume check (default: a different recipe is an error)."""
    cfg = get_default_config()
    assert cfg.model.resume_allow_config_change is False
    merge_from_list(cfg, ["model.resume_allow_config_change", "True"])
    assert cfg.model.resume_allow_config_change is True
    with pytest.raises(ValueError, match="resume_allow_config_change"):
        merge_from_list(cfg, ["model.resume_allow_config_change", "'yes'"])


def test_split_modules_and_original_path_export_the_same_objects():
    """schema / merge / adapters hold the code; ``torchreid.config`` and ``torchreid.config.defaults`` re-export."""
    import torchreid.config as pkg
    from torchreid.config import adapters, defaults, merge, schema

    owners = {"get_default_config": schema, "load_config": schema, "merge_from_file": merge,
              "merge_from_list": merge, "ConfigKeyError": merge, "cfg_to_dict": adapters,
              "imagedata_kwargs": adapters, "videodata_kwargs": adapters, "optimizer_kwargs": adapters,
              "lr_scheduler_kwargs": adapters, "engine_run_kwargs": adapters}  # fmt: skip
    for name, owner in owners.items():
        assert getattr(defaults, name) is getattr(owner, name) is getattr(pkg, name), name
    assert set(defaults.__all__) == set(owners)
    assert defaults.DEPRECATED_KEYS is merge.DEPRECATED_KEYS and "test.visactmap" in defaults.DEPRECATED_KEYS


def test_norm_defaults_come_from_the_one_imagenet_definition():
    from torchreid.data.constants import IMAGENET_MEAN, IMAGENET_STD

    cfg = get_default_config()
    assert cfg.data.norm_mean == list(IMAGENET_MEAN) == [0.485, 0.456, 0.406]
    assert cfg.data.norm_std == list(IMAGENET_STD) == [0.229, 0.224, 0.225]
