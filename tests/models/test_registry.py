"""The model registry, its metadata, and loading pretrained weights (cache, sha256, offline, wrong files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import REFERENCE
from torch import nn

from torchreid.models import build_model, get_model_info, is_model, list_models, show_avai_models
from torchreid.models.pretrained import (
    WeightsIntegrityError,
    WeightsNotFoundError,
    WeightSpec,
    cache_dir,
    fetch_weights,
    sha256sum,
)
from torchreid.utils.checkpoint import load_pretrained_weights


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty weights cache: $TORCH_HOME points into tmp_path."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("TORCHREID_OFFLINE", raising=False)
    return tmp_path / "torch_home" / "checkpoints"


# ---------------------------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------------------------
def test_unknown_model_is_a_key_error_suggesting_close_names():
    with pytest.raises(KeyError) as exc:
        build_model("osnet_x1", num_classes=10, pretrained=False)
    msg = str(exc.value)
    assert "Did you mean" in msg and "osnet_x1_0" in msg
    with pytest.raises(KeyError, match="resnet50"):
        build_model("resnet5O", num_classes=10, pretrained=False)


def test_list_models_pattern_and_pretrained():
    all_models = list_models()
    assert len(all_models) == len(set(all_models))
    assert list_models("osnet_ain_*") == [
        "osnet_ain_x1_0",
        "osnet_ain_x0_75",
        "osnet_ain_x0_5",
        "osnet_ain_x0_25",
    ]
    resnets = list_models("resnet*")
    assert "resnet50" in resnets and "resnet50_fc512" in resnets
    assert not any(n.startswith("osnet") for n in resnets)
    assert list_models("no_such_*") == []
    pretrained = list_models(pretrained=True)
    assert set(pretrained) <= set(all_models)
    assert {"osnet_x1_0", "osnet_ain_x1_0", "resnet50"} <= set(pretrained)
    assert all(get_model_info(n).has_pretrained for n in pretrained)
    # the original's order is kept where it applies
    assert all_models.index("resnet18") < all_models.index("resnet50") < all_models.index("osnet_x1_0")


def test_is_model():
    assert is_model("osnet_x1_0")
    assert is_model("resnet50_fc512")
    assert not is_model("osnet_x1")
    assert not is_model("")


def test_show_avai_models_prints_the_names(capsys):
    show_avai_models()
    out = capsys.readouterr().out
    assert "osnet_x1_0" in out and "resnet50" in out


def test_model_factory_compatibility_view():
    import torchreid.models as models

    factory = vars(models)["__model_factory"]
    assert "osnet_x0_25" in factory
    assert list(factory) == list_models() or set(factory) == set(list_models())
    model = factory["osnet_x0_25"](num_classes=5, pretrained=False)
    assert model.classifier.out_features == 5


@pytest.mark.parametrize("name", list_models())
def test_metadata(name):
    info = get_model_info(name)
    assert info.name == name
    assert len(info.input_size) == 3 and info.input_size[0] == 3
    assert len(info.mean) == 3 and len(info.std) == 3
    assert isinstance(info.feature_dim, int) and info.feature_dim > 0
    if info.has_pretrained:
        assert info.weights or info.url, f"{name}: pretrained weights without a file name or URL"
        assert info.source
    ref_path = REFERENCE / "model_params.json"
    if ref_path.exists():
        ref = json.loads(ref_path.read_text())["models"].get(name)
        if ref is not None:
            assert info.feature_dim == ref["feature_dim"]
            assert tuple(info.input_size[1:]) == tuple(ref["input_size_hw"])


def test_nasnetamobile_alias_resolves():
    if not is_model("nasnsetmobile"):
        pytest.skip("nasnsetmobile is not registered yet")
    assert is_model("nasnetamobile")
    assert get_model_info("nasnetamobile").name == "nasnsetmobile"
    assert "nasnsetmobile" in list_models()
    a = build_model("nasnetamobile", num_classes=3, pretrained=False)
    b = build_model("nasnsetmobile", num_classes=3, pretrained=False)
    assert type(a) is type(b)
    assert list(a.state_dict()) == list(b.state_dict())


def test_use_gpu_true_never_touches_cuda(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("CUDA was used")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(nn.Module, "cuda", refuse)
    monkeypatch.setattr(torch.Tensor, "cuda", refuse)
    for name, hw in (("osnet_x0_25", (64, 32)), ("resnet18", (64, 32)), ("hacnn", (160, 64))):
        if not is_model(name):
            continue
        model = build_model(name, num_classes=4, pretrained=False, use_gpu=True)
        assert {p.device.type for p in model.parameters()} == {"cpu"}
        with torch.no_grad():
            out = model.eval()(torch.randn(2, 3, *hw))
        assert out.device.type == "cpu"


# ---------------------------------------------------------------------------------------------------------------
# load_pretrained_weights
# ---------------------------------------------------------------------------------------------------------------
def test_classifier_of_another_size_is_skipped_and_reported(tmp_path):
    torch.manual_seed(0)
    source = build_model("osnet_x0_25", num_classes=751, pretrained=False)
    path = tmp_path / "market.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}, path)
    torch.manual_seed(1)
    model = build_model("osnet_x0_25", num_classes=10, pretrained=False)
    classifier_before = model.classifier.weight.detach().clone()
    with pytest.warns(UserWarning, match=r"classifier\.weight \(shape \(751, 512\) vs \(10, 512\)\)"):
        report = load_pretrained_weights(model, path)
    assert sorted(report["skipped"]) == ["classifier.bias", "classifier.weight"]
    assert sorted(report["missing"]) == ["classifier.bias", "classifier.weight"]
    assert "conv1.conv.weight" in report["loaded"]
    assert len(report["loaded"]) == len(source.state_dict()) - 2
    torch.testing.assert_close(model.conv1.conv.weight, source.conv1.conv.weight)
    torch.testing.assert_close(model.fc[1].running_var, source.fc[1].running_var)
    torch.testing.assert_close(model.classifier.weight, classifier_before)


def test_raw_state_dict_loads_every_key(tmp_path):
    source = build_model("resnet18", num_classes=5, pretrained=False)
    path = tmp_path / "raw.pth"
    torch.save(source.state_dict(), path)
    model = build_model("resnet18", num_classes=5, pretrained=False)
    report = load_pretrained_weights(model, path)
    assert report["skipped"] == [] and report["missing"] == []


@pytest.mark.parametrize(
    ("source_name", "target_name"),
    [("resnet18", "osnet_x0_25"), ("osnet_x1_0", "osnet_x0_25"), ("osnet_x0_25", "resnet18")],
)
def test_weights_of_another_architecture_give_a_clear_error(tmp_path, source_name, target_name):
    path = tmp_path / "other.pth"
    torch.save(build_model(source_name, num_classes=5, pretrained=False).state_dict(), path)
    model = build_model(target_name, num_classes=5, pretrained=False)
    with pytest.raises(RuntimeError, match="another architecture") as exc:
        load_pretrained_weights(model, path)
    assert not isinstance(exc.value, KeyError)
    assert len(str(exc.value)) < 1000  # a sentence, not a dump of every key


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_corrupt_weight_file_gives_a_clear_error(tmp_path, kind):
    path = tmp_path / "bad.pth"
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint")
    else:
        torch.save(build_model("osnet_x0_25", num_classes=5, pretrained=False).state_dict(), path)
        path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(RuntimeError, match="corrupt or not a PyTorch file"):
        load_pretrained_weights(build_model("osnet_x0_25", num_classes=5, pretrained=False), path)


# ---------------------------------------------------------------------------------------------------------------
# the weights cache (pretrained.py)
# ---------------------------------------------------------------------------------------------------------------
def test_cache_dir_follows_torch_home(torch_home):
    assert cache_dir() == torch_home


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == Path("~/.cache/torch/checkpoints").expanduser()


def test_cached_imagenet_weights_are_used_without_download(torch_home):
    torch.manual_seed(0)
    imagenet = build_model("osnet_x0_25", num_classes=1000, pretrained=False)
    torch_home.mkdir(parents=True)
    torch.save(imagenet.state_dict(), torch_home / "osnet_x0_25_imagenet.pth")
    with pytest.warns(UserWarning, match="classifier"):
        model = build_model("osnet_x0_25", num_classes=10, pretrained=True)  # the network is blocked in tests
    torch.testing.assert_close(model.conv1.conv.weight, imagenet.conv1.conv.weight)
    assert model.classifier.out_features == 10


def test_corrupted_weight_file_is_a_sha256_mismatch(torch_home):
    good = b"the real weights"
    spec = WeightSpec(filename="toy.pth", url="https://example.invalid/toy.pth", sha256=_sha256(good))
    torch_home.mkdir(parents=True)
    (torch_home / "toy.pth").write_bytes(good)
    assert fetch_weights(spec) == torch_home / "toy.pth"
    (torch_home / "toy.pth").write_bytes(b"the real weights, truncated or tampered")
    with pytest.raises(WeightsIntegrityError, match="sha256 mismatch") as exc:
        fetch_weights(spec)
    assert str(torch_home / "toy.pth") in str(exc.value)


def test_corrupted_torchvision_weights_are_detected(torch_home):
    torch_home.mkdir(parents=True)
    info = get_model_info("resnet18")
    (torch_home / info.weights).write_bytes(b"not the resnet18 weights")
    with pytest.raises(WeightsIntegrityError, match="sha256 mismatch"):
        build_model("resnet18", num_classes=10, pretrained=True)


def test_offline_missing_weights_say_which_file_to_place_where(torch_home, monkeypatch):
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as exc:
        build_model("osnet_x0_25", num_classes=10, pretrained=True)
    msg = str(exc.value)
    assert str(torch_home / "osnet_x0_25_imagenet.pth") in msg
    assert "drive.google.com" in msg and "TORCHREID_OFFLINE is set" in msg
    assert isinstance(exc.value, FileNotFoundError)
    monkeypatch.delenv("TORCHREID_OFFLINE")
    with pytest.raises(WeightsNotFoundError, match=r"download=False was passed") as exc:
        fetch_weights("osnet_x0_25", download=False)
    assert "TORCHREID_OFFLINE" not in str(exc.value)


@pytest.mark.parametrize(
    "name,filename", [("mobilenetv2_x1_0", "mobilenetv2_1.0.pth"), ("mlfn", "mlfn_imagenet.pth")]
)
def test_missing_manual_weights_say_where_to_get_them(torch_home, monkeypatch, name, filename):
    # files the original asked users to fetch by hand: the warning must name the file, its place and its page
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    with pytest.warns(UserWarning, match="randomly initialised") as rec:
        build_model(name, num_classes=10, pretrained=True)
    msg = " ".join(str(w.message) for w in rec)
    assert str(torch_home / filename) in msg
    assert "https://mega.nz/" in msg


@pytest.mark.parametrize("name", ["osnet_x0_25", "resnet18"])
def test_failed_download_leaves_no_partial_file(torch_home, name):
    # conftest blocks the network, so both gdown (Google Drive) and urllib fail
    with pytest.raises(WeightsNotFoundError, match="download failed"):
        build_model(name, num_classes=10, pretrained=True)
    leftovers = list(torch_home.iterdir()) if torch_home.exists() else []
    assert leftovers == []


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_sha256sum(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256sum(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ------------------------------------------------------------------------------------------ declared weights


def test_every_model_declares_its_imagenet_weights_once():
    from torchreid.models import get_model_info, list_models

    for name in list_models():
        info = get_model_info(name)
        assert info.pretrained_key or info.missing_weights == "warn", name


@pytest.mark.parametrize("direct", [True, False])
def test_pretrained_weights_are_loaded_by_the_registry_from_the_metadata(monkeypatch, direct):
    """``build_model`` and a direct factory call load the declared key, once; ``pretrained=False`` loads none."""
    from torchreid.models import build_model, pretrained
    from torchreid.models.osnet import osnet_x0_25

    loaded = []
    monkeypatch.setattr(pretrained, "load_imagenet_weights", lambda model, key, **kw: loaded.append(key))
    if direct:
        osnet_x0_25(num_classes=3, use_gpu=False)  # pretrained defaults to True, as in the original
    else:
        build_model("osnet_x0_25", num_classes=3, pretrained=True, use_gpu=False)
    assert loaded == ["osnet_x0_25"]
    osnet_x0_25(num_classes=3, pretrained=False)
    assert loaded == ["osnet_x0_25"]


def test_models_without_weights_warn_and_stay_random():
    from torchreid.models import build_model

    with pytest.warns(UserWarning, match="not available for shufflenet"):
        build_model("shufflenet", num_classes=3, pretrained=True)
