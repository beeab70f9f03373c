"""``torchreid index`` build / add / query / info, with a stand-in extractor (no model weights needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from torchreid.search import FeatureIndex, cli
from torchreid.search.build import partial_dir


class FakeExtractor:
    """Mean and spread of each colour channel: a deterministic 6-D feature per image; can fail on a given call."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on_call = fail_on_call

    def __call__(self, paths: list[str]) -> torch.Tensor:
        if self.fail_on_call is not None and len(self.calls) + 1 == self.fail_on_call:
            raise KeyboardInterrupt
        self.calls.append(list(paths))
        out = []
        for p in paths:
            a = np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0
            out.append(np.concatenate([a.mean(axis=(0, 1)), a.std(axis=(0, 1))]))
        return torch.from_numpy(np.stack(out))


@pytest.fixture
def images(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    for i in range(10):
        colour = rng.integers(0, 255, 3)
        a = np.clip(colour + rng.integers(-20, 20, (16, 8, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / ("sub" if i % 2 else ".") / f"p{i:02d}_c{i % 3}.png")
    return folder


@pytest.fixture
def weights(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "w1.pth").write_bytes(b"weights one")
    (tmp_path / "w2.pth").write_bytes(b"weights two")
    return tmp_path / "w1.pth", tmp_path / "w2.pth"


def _use(monkeypatch: pytest.MonkeyPatch, extractor: FakeExtractor) -> FakeExtractor:
    monkeypatch.setattr(cli, "make_extractor", lambda info, device="cpu": extractor)
    return extractor


def _build(tmp_path: Path, images: Path, w: Path, *extra: str) -> list[str]:
    return ["index", "build", str(tmp_path / "idx"), str(images), "--model", "osnet_x0_25", "--weights", str(w),
            "--height", "64", "--width", "32", *extra]  # fmt: skip


def test_build_query_info(tmp_path, images, weights, monkeypatch, capsys):
    _use(monkeypatch, FakeExtractor())
    assert cli.main(_build(tmp_path, images, weights[0], "--batch-size", "3")) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["count"] == 10
    index = FeatureIndex.load(tmp_path / "idx")
    assert index.model_info["name"] == "osnet_x0_25" and index.model_info["image_size"] == [64, 32]
    assert index.model_info["weights_sha256"] == cli._sha256(weights[0])
    assert len(index) == 10 and not partial_dir(tmp_path / "idx").exists()

    q = sorted(images.rglob("*.png"))[3]
    html = tmp_path / "out" / "hits.html"
    out_json = tmp_path / "hits.json"
    rc = cli.main(["index", "query", str(tmp_path / "idx"), str(q), "-k", "3", "--json", str(out_json),
                   "--html", str(html)])  # fmt: skip
    assert rc == 0
    res = json.loads(out_json.read_text())
    top = res["queries"][0]["matches"]
    assert len(top) == 3 and top[0]["path"] == str(q.resolve()) and top[0]["rank"] == 1
    assert top[0]["distance"] <= top[1]["distance"] <= top[2]["distance"]
    page = html.read_text()
    assert page.count("<img") == 4 and f'src="../imgs/{q.relative_to(images).as_posix()}"' in page

    capsys.readouterr()
    assert cli.main(["index", "info", str(tmp_path / "idx"), "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 10 and info["dim"] == 6 and info["verified"] is True


def test_build_from_csv_records_pids_and_camids(tmp_path, images, weights, monkeypatch):
    _use(monkeypatch, FakeExtractor())
    files = sorted(images.rglob("*.png"))
    csv = tmp_path / "list.csv"
    csv.write_text("path,pid,camid\n" + "".join(f"{p.relative_to(tmp_path)},{i // 2},{i % 3}\n"
                                                for i, p in enumerate(files)))  # fmt: skip
    cli.main(_build(tmp_path, csv, weights[0]))
    index = FeatureIndex.load(tmp_path / "idx")
    assert index.pids.tolist() == [i // 2 for i in range(10)] and index.camids.tolist() == [
        i % 3 for i in range(10)
    ]
    assert index.meta[0]["path"] == str(files[0])


def test_query_with_another_model_is_refused_unless_forced(tmp_path, images, weights, monkeypatch, capsys):
    _use(monkeypatch, FakeExtractor())
    cli.main(_build(tmp_path, images, weights[0]))
    q = str(sorted(images.rglob("*.png"))[0])
    for other in (["--weights", str(weights[1])], ["--model", "resnet50"], ["--height", "256"]):
        with pytest.raises(SystemExit, match="was built with another model or preprocessing"):
            cli.main(["index", "query", str(tmp_path / "idx"), q, *other])
    capsys.readouterr()
    assert (
        cli.main(["index", "query", str(tmp_path / "idx"), q, "--weights", str(weights[1]), "--force"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["queries"][0]["matches"][0]["path"] == q


def test_interrupted_build_resumes_and_loses_nothing(tmp_path, images, weights, monkeypatch):
    args = _build(tmp_path, images, weights[0], "--batch-size", "2", "--checkpoint-every", "4")
    first = _use(monkeypatch, FakeExtractor(fail_on_call=5))  # interrupted after 8 of 10 images
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    assert not (tmp_path / "idx").exists() and partial_dir(tmp_path / "idx").is_dir()
    done = [p for call in first.calls for p in call]
    assert len(done) == 8
    second = _use(monkeypatch, FakeExtractor())
    assert cli.main(args) == 0
    redone = [p for call in second.calls for p in call]
    assert len(redone) == 2 and not set(redone) & set(done)  # only the images after the last checkpoint
    resumed = FeatureIndex.load(tmp_path / "idx")

    _use(monkeypatch, FakeExtractor())
    cli.main([*args[:2], str(tmp_path / "fresh"), *args[3:]])
    fresh = FeatureIndex.load(tmp_path / "fresh")
    np.testing.assert_array_equal(resumed.features, fresh.features)
    assert resumed.meta == fresh.meta and not partial_dir(tmp_path / "idx").exists()


def test_a_partial_build_of_another_model_is_not_mixed_in(tmp_path, images, weights, monkeypatch):
    args = _build(tmp_path, images, weights[0], "--batch-size", "2", "--checkpoint-every", "2")
    _use(monkeypatch, FakeExtractor(fail_on_call=3))
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    _use(monkeypatch, FakeExtractor())
    other = [a if a != str(weights[0]) else str(weights[1]) for a in args]
    with pytest.raises(SystemExit, match="partial build from another model"):
        cli.main(other)


def test_add_extends_with_the_index_model_and_skips_known_images(
    tmp_path, images, weights, monkeypatch, capsys
):
    _use(monkeypatch, FakeExtractor())
    files = sorted(images.rglob("*.png"))
    cli.main(["index", "build", str(tmp_path / "idx"), *map(str, files[:6]), "--model", "osnet_x0_25",
              "--weights", str(weights[0])])  # fmt: skip
    capsys.readouterr()
    ex = _use(monkeypatch, FakeExtractor())
    assert cli.main(["index", "add", str(tmp_path / "idx"), str(images)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "index": str(tmp_path / "idx"),
        "added": 4,
        "count": 10,
    }
    assert sorted(p for c in ex.calls for p in c) == sorted(str(f) for f in files[6:])
    with pytest.raises(SystemExit, match="another model"):
        cli.main(["index", "add", str(tmp_path / "idx"), str(images), "--model", "resnet50"])
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["index", "build", str(tmp_path / "idx"), str(images), "--model", "osnet_x0_25"])
    (tmp_path / "idx" / "ids.npy").write_bytes(b"")  # damaged: one clear line, no traceback
    with pytest.raises(SystemExit, match=r"^error: .*ids\.npy is truncated"):
        cli.main(["index", "info", str(tmp_path / "idx")])


def test_add_subparser_registers_the_index_command():
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["index", "info", "somewhere"])
    assert args.func.__wrapped__ is cli._cmd_info and args.index == "somewhere"


def test_the_torchreid_command_has_the_index_subcommand():
    top = pytest.importorskip(
        "torchreid.cli", reason="the torchreid command (torchreid/cli) is not there yet"
    )
    assert "torchreid.search.cli" in top.SUBCOMMAND_MODULES
    args = top.build_parser().parse_args(["index", "query", "idx", "a.jpg", "-k", "3"])
    assert args.func.__wrapped__ is cli._cmd_query and args.k == 3


def test_an_image_changed_since_its_checkpoint_is_extracted_again(tmp_path, images, weights, monkeypatch):
    args = _build(tmp_path, images, weights[0], "--batch-size", "2", "--checkpoint-every", "2")
    first = _use(monkeypatch, FakeExtractor(fail_on_call=3))
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    changed = first.calls[0][0]
    Image.fromarray(np.zeros((16, 8, 3), np.uint8)).save(changed)  # new content (size / mtime differ)
    os.utime(changed, ns=(1, 1))
    second = _use(monkeypatch, FakeExtractor())
    cli.main(args)
    redone = [p for call in second.calls for p in call]
    assert changed in redone and len(redone) == 10 - 4 + 1
    index = FeatureIndex.load(tmp_path / "idx")
    row = [m["path"] for m in index.meta].index(changed)
    np.testing.assert_allclose(index.features[row], np.zeros(6), atol=1e-6)  # the new content's features
