"""The re-ID model zoo: names, entries, offline use of hand-placed files, checksums, close-name suggestions."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import DATA, require

from torchreid.models import build_model
from torchreid.models.zoo import (
    ZOO,
    WeightsIntegrityError,
    WeightsNotFoundError,
    is_zoo_name,
    list_zoo,
    resolve_weights,
    zoo_path,
)
from torchreid.utils.checkpoint import load_pretrained_weights

SHARED_FILES = {
    "osnet_x0_25_market1501": "osnet_x0_25_market1501.pt",
    "osnet_x0_25_msmt17": "osnet_x0_25_msmt17.pth",
}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("TORCHREID_OFFLINE", raising=False)
    return tmp_path / "torch"


def _place(torch_home, name):
    src = require(DATA / "weights" / SHARED_FILES[name])
    dest = torch_home / "checkpoints" / f"{name}.pth"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def test_zoo_lists_every_published_family():
    names = list_zoo()
    # 10 architectures x 3 datasets same-domain, 4 + 7 cross-domain, 3 x 4 multi-source
    assert len(names) == 30 + 11 + 12
    for name in (
        "osnet_x1_0_market1501",
        "osnet_x0_25_msmt17",
        "osnet_ibn_x1_0_msmt17",
        "osnet_ain_x1_0_msmt17",
        "resnet50_fc512_dukemtmcreid",
        "hacnn_market1501",
        "osnet_x1_0_msmt17_combineall",
        "osnet_ain_x1_0_ms_d_c",
    ):
        assert is_zoo_name(name), name
    assert not is_zoo_name("osnet_x1_0") and not is_zoo_name(3)
    assert list_zoo("osnet_ain_x1_0") == sorted(n for n in names if n.startswith("osnet_ain_x1_0_"))


def test_entries_describe_the_files():
    e = ZOO["osnet_x0_25_market1501"]
    assert e.arch == "osnet_x0_25" and e.trained_on == "market1501" and e.num_classes == 751
    assert e.metrics == {"market1501": {"rank1": 91.2, "mAP": 75.0}}
    assert e.sha256 == "c0ff09177a21417a19bc73bbf5af4eb5d2b097c2074ed35e67819ee6cd93612c"
    assert any("drive.google.com" in s for s in e.sources) and any("mega.nz" in s for s in e.sources)
    assert ZOO["hacnn_market1501"].input_size == (160, 64)
    assert ZOO["osnet_ain_x1_0_msmt17"].distance == "cosine"
    assert ZOO["osnet_ain_x1_0_msmt17"].sources[0].startswith("https://huggingface.co/kaiyangzhou/osnet/")
    # every architecture of the zoo can be built by this package
    from torchreid.models import is_model

    assert all(is_model(e.arch) for e in ZOO.values())


def test_existing_path_is_returned_unchanged(tmp_path):
    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    assert resolve_weights(str(f)) == f


def test_unknown_name_suggests_close_names(torch_home):
    with pytest.raises(FileNotFoundError, match=r"osnet_x0_25_msmt17"):
        resolve_weights("osnet_x0_25_msmt")
    with pytest.raises(FileNotFoundError, match="neither a file nor a zoo name"):
        resolve_weights("no/such/file.pth")


def test_no_network_says_where_to_put_the_file(torch_home, monkeypatch):
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    target = torch_home / "checkpoints" / "osnet_x1_0_market1501.pth"
    with pytest.raises(WeightsNotFoundError, match=str(target).replace(".", r"\.")) as info:
        resolve_weights("osnet_x1_0_market1501")
    assert "drive.google.com" in str(info.value)
    monkeypatch.delenv("TORCHREID_OFFLINE")
    with pytest.raises(WeightsNotFoundError, match="download=False"):
        resolve_weights("osnet_x1_0_market1501", download=False)


def test_failed_download_is_a_clear_error_without_partial_files(torch_home):
    # the test guard refuses network access: both sources fail, nothing is left in the cache
    with pytest.raises(WeightsNotFoundError, match="download failed"):
        resolve_weights("osnet_ain_x1_0_msmt17")
    assert not any((torch_home / "checkpoints").glob("*"))


@pytest.mark.real_data
@pytest.mark.parametrize("name", list(SHARED_FILES))
def test_hand_placed_file_is_used_offline_after_checksum(torch_home, monkeypatch, name):
    dest = _place(torch_home, name)
    monkeypatch.setenv("TORCHREID_OFFLINE", "1")
    assert resolve_weights(name) == dest == zoo_path(name)
    model = build_model("osnet_x0_25", num_classes=1, pretrained=False, use_gpu=False)
    with pytest.warns(UserWarning, match="classifier"):
        report = load_pretrained_weights(model, name)  # by zoo name
    assert report["skipped"] == ["classifier.weight", "classifier.bias"] == report["missing"]


@pytest.mark.real_data
def test_checksum_mismatch_moves_the_file_aside(torch_home):
    dest = _place(torch_home, "osnet_x0_25_msmt17")
    with open(dest, "r+b") as f:
        f.seek(100)
        f.write(b"\x00corrupt")
    with pytest.raises(WeightsIntegrityError) as info:
        resolve_weights("osnet_x0_25_msmt17", download=False)
    msg = str(info.value)
    assert "6f57607fed9f502b9efed546108132ee715df5a5b6e6932c6269bacb47f59f99" in msg and "got " in msg
    assert not dest.exists() and dest.with_name(dest.name + ".sha256-mismatch").exists()


@pytest.mark.real_data
def test_feature_extractor_loads_zoo_name(torch_home):
    _place(torch_home, "osnet_x0_25_msmt17")
    from torchreid.utils import FeatureExtractor

    ext = FeatureExtractor("osnet_x0_25", model_path="osnet_x0_25_msmt17", device="cpu", verbose=False)
    # the zoo knows the architecture and input size: model_name may be left out
    bare = FeatureExtractor(model_path="osnet_x0_25_msmt17", device="cpu", verbose=False)
    assert bare.model_name == "osnet_x0_25" and bare.image_size == (256, 128)
    state = torch.load(zoo_path("osnet_x0_25_msmt17"), map_location="cpu", weights_only=True)
    torch.testing.assert_close(ext.model.conv1.conv.weight, state["conv1.conv.weight"])


def _fake_hub(monkeypatch, tmp_path, payload: bytes):
    """A stand-in ``huggingface_hub`` whose download returns a local file with ``payload``."""
    import sys
    import types

    calls = []

    def hf_hub_download(repo_id, filename):
        calls.append((repo_id, filename))
        path = tmp_path / "hub" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        return str(path)

    monkeypatch.setitem(
        sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download)
    )
    return calls


def test_hugging_face_source_is_used_and_checked(torch_home, monkeypatch, tmp_path):
    import dataclasses
    import hashlib

    import torchreid.models.zoo as zoo

    calls = _fake_hub(monkeypatch, tmp_path, b"not the weights")
    name = "osnet_ain_x1_0_msmt17"
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(name)  # the published sha256 does not match: nothing is kept
    assert calls == [("kaiyangzhou/osnet", ZOO[name].hf_filename)]
    assert ZOO[name].sha256 in str(info.value) and not zoo_path(name).exists()
    digest = hashlib.sha256(b"not the weights").hexdigest()
    monkeypatch.setitem(zoo.ZOO, name, dataclasses.replace(ZOO[name], sha256=digest))
    assert resolve_weights(name).read_bytes() == b"not the weights"
    assert [p.name for p in (torch_home / "checkpoints").iterdir()] == [f"{name}.pth"]
