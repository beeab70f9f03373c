"""Hostile dataset archives, each run through the real download path (``Market1501(root=...)`` with its
``dataset_url`` pointing at a local ``file://`` archive): nothing is ever written outside the dataset folder and
nothing half-extracted is left behind. The tar cases also run with ``tarfile``'s extraction filters removed (the
semantics of Python 3.10.0-3.10.11, where they do not exist): extraction never relies on them."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from torchreid.data.datasets import download as dl
from torchreid.data.datasets.image.market1501 import Market1501

ARCHIVE = "Market-1501-v15.09.15"


# ------------------------------------------------------------------------------------------------ helpers


@pytest.fixture(params=["filters", "no-filters"])
def tar_semantics(request, monkeypatch):
    """Run with and without tarfile's extraction filters (absent before Python 3.10.12 / 3.11.4)."""
    if request.param == "no-filters":
        for name in ("data_filter", "tar_filter", "fully_trusted_filter"):
            monkeypatch.delattr(tarfile, name, raising=False)
        monkeypatch.delattr(tarfile.TarFile, "extraction_filter", raising=False)
    return request.param


@pytest.fixture
def world(tmp_path):
    """tmp/outside (an attacker's target, with a file to overwrite), tmp/root (data root), tmp/src (archives)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"keep me")
    (tmp_path / "root").mkdir()
    (tmp_path / "src").mkdir()
    return tmp_path


def _tree(top: Path) -> dict[str, bytes | str]:
    """Every entry under ``top`` (links not followed): path -> file content, link target or 'dir'."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(top))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = p.read_bytes() if p.stat().st_size < 1 << 20 else f"size:{p.stat().st_size}"
    return out


def _run_market(world: Path, archive: Path, monkeypatch) -> None:
    monkeypatch.setattr(Market1501, "dataset_url", archive.as_uri())
    Market1501(root=str(world / "root"))


def _assert_refused(world: Path, archive: Path, monkeypatch, exc=dl.UnsafeArchiveError, match=None):
    before = {k: v for k, v in _tree(world).items() if not k.startswith("src")}
    with pytest.raises(exc, match=match):
        _run_market(world, archive, monkeypatch)
    after = {k: v for k, v in _tree(world).items() if not k.startswith("src")}
    staging = "root/market1501.download"
    # the only new entries: the staging folder of the download and the downloaded archive itself
    assert {k: v for k, v in after.items() if k not in before} == {
        staging: "dir",
        f"{staging}/{archive.name}": archive.read_bytes()
        if archive.stat().st_size < 1 << 20
        else after.get(f"{staging}/{archive.name}"),
    }
    assert {k: after.get(k) for k in before} == before  # nothing changed or removed (outside/secret intact)
    assert not (world / "root" / "market1501").exists()


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"pwned") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _dir(name: str) -> tuple[tarfile.TarInfo, None]:
    return _special(name, tarfile.DIRTYPE)


GOOD = [_file(f"{ARCHIVE}/bounding_box_train/0001_c1s1_000001_00.jpg", b"ok")]


# ------------------------------------------------------------------------------------------------ tar


@pytest.mark.parametrize(
    "members",
    [
        pytest.param(lambda w: [*GOOD, _file("../../outside/secret")], id="traversal"),
        pytest.param(lambda w: [*GOOD, _file(f"{ARCHIVE}/../../../outside/x")], id="nested-traversal"),
        pytest.param(lambda w: [*GOOD, _file(str(w / "outside" / "secret"))], id="absolute"),
        pytest.param(
            lambda w: [*GOOD, _special("esc", tarfile.SYMTYPE, str(w / "outside")), _file("esc/secret")],
            id="symlink-absolute",
        ),
        pytest.param(
            lambda w: [*GOOD, _special("esc", tarfile.SYMTYPE, "../../outside"), _file("esc/secret")],
            id="symlink-relative",
        ),
        pytest.param(lambda w: [*GOOD, _special("inner", tarfile.SYMTYPE, ARCHIVE)], id="symlink-inside"),
        pytest.param(
            lambda w: [*GOOD, _special("h", tarfile.LNKTYPE, "../../outside/secret"), _file("h", b"x")],
            id="hardlink-escape",
        ),
        pytest.param(
            lambda w: [*GOOD, _special("h", tarfile.LNKTYPE, GOOD[0][0].name)], id="hardlink-inside"
        ),
        pytest.param(
            lambda w: [
                *GOOD,
                _special("a", tarfile.SYMTYPE, "."),
                _special("b", tarfile.SYMTYPE, "a/a/a/a"),
                _special("c", tarfile.SYMTYPE, "b/../.."),
                _file("c/outside/secret"),
            ],
            id="symlink-chain",
        ),
        pytest.param(lambda w: [*GOOD, _special("fifo", tarfile.FIFOTYPE)], id="fifo"),
        pytest.param(lambda w: [*GOOD, _special("null", tarfile.CHRTYPE)], id="char-device"),
        pytest.param(lambda w: [*GOOD, _special("sda", tarfile.BLKTYPE)], id="block-device"),
        pytest.param(lambda w: [*GOOD, _file(f"{ARCHIVE}/x"), _file(f"{ARCHIVE}/x")], id="duplicate"),
        pytest.param(lambda w: [*GOOD, _file("f"), _file("f/g")], id="file-as-folder"),
    ],
)
def test_hostile_tar_is_refused_and_nothing_is_written(world, monkeypatch, tar_semantics, members):
    archive = _tar(world / "src" / f"{ARCHIVE}.tar.gz", members(world))
    _assert_refused(world, archive, monkeypatch)


def _pathmax_chain(world: Path) -> list:
    """The CVE-2025-4517 pattern: symlinks to long folder names whose resolved path exceeds PATH_MAX (so
    ``os.path.realpath`` stops resolving), then a link up and out of the destination and a file through it."""
    comp = "d" * 247
    steps = "abcdefghijklmnop"
    members: list = [*GOOD]
    path = ""
    for step in steps:
        members.append(_dir(os.path.join(path, comp)))
        members.append(_special(os.path.join(path, step), tarfile.SYMTYPE, comp))
        path = os.path.join(path, comp)
    linkpath = os.path.join("/".join(steps), "l" * 254)
    members.append(_special(linkpath, tarfile.SYMTYPE, "../" * len(steps)))
    members.append(_special("escape", tarfile.SYMTYPE, linkpath + "/../../outside"))
    members.append(_file("escape/secret", b"overwritten"))
    return members


def test_pathmax_symlink_chain_cve_2025_4517(world, monkeypatch, tar_semantics):
    archive = _tar(world / "src" / f"{ARCHIVE}.tar", _pathmax_chain(world), mode="w")
    _assert_refused(world, archive, monkeypatch, match="symbolic link")
    assert (world / "outside" / "secret").read_bytes() == b"keep me"


def test_path_longer_than_path_max_without_links(world, monkeypatch, tar_semantics):
    deep = "/".join(["d" * 250] * 17)
    archive = _tar(world / "src" / f"{ARCHIVE}.tar", [*GOOD, _file(f"{deep}/x")], mode="w")
    _assert_refused(world, archive, monkeypatch, match="too long")


def test_tar_bomb_is_stopped_before_writing(world, monkeypatch, tar_semantics):
    """128 MiB of zeros in a ~128 KB tar.gz (1000:1): refused from the headers, nothing written."""
    archive = world / "src" / f"{ARCHIVE}.tar.gz"
    size = 128 << 20

    class Zeros(io.RawIOBase):
        def __init__(self):
            self.left = size

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo(f"{ARCHIVE}/zeros")
        info.size = size
        tf.addfile(info, io.BufferedReader(Zeros()))
    assert archive.stat().st_size < 256 << 10  # > 500:1
    _assert_refused(world, archive, monkeypatch, exc=dl.ArchiveLimitError, match="compression ratio")


# ------------------------------------------------------------------------------------------------ zip


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def _zip_link(name: str, target: bytes, mode: int = stat.S_IFLNK | 0o777) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info, target


ZGOOD = [(f"{ARCHIVE}/bounding_box_train/0001_c1s1_000001_00.jpg", b"ok")]


@pytest.mark.parametrize(
    "members",
    [
        pytest.param(lambda w: [*ZGOOD, ("../../outside/secret", b"pwned")], id="traversal"),
        pytest.param(lambda w: [*ZGOOD, ("..\\..\\outside\\secret", b"pwned")], id="backslash-traversal"),
        pytest.param(lambda w: [*ZGOOD, (str(w / "outside" / "secret"), b"pwned")], id="absolute"),
        pytest.param(lambda w: [*ZGOOD, ("C:/outside/secret", b"pwned")], id="drive"),
        pytest.param(
            lambda w: [*ZGOOD, _zip_link("esc", b"../../outside"), ("esc/secret", b"pwned")], id="symlink"
        ),
        pytest.param(lambda w: [*ZGOOD, _zip_link("fifo", b"", stat.S_IFIFO | 0o644)], id="fifo"),
        pytest.param(lambda w: [*ZGOOD, _zip_link("dev", b"", stat.S_IFCHR | 0o644)], id="device"),
    ],
)
def test_hostile_zip_is_refused_and_nothing_is_written(world, monkeypatch, members):
    archive = _zip(world / "src" / f"{ARCHIVE}.zip", members(world))
    _assert_refused(world, archive, monkeypatch)


def test_zip_member_flagged_as_link_is_refused_without_reading_its_body(world, monkeypatch):
    """A 64 MiB 'link target' (a few KB compressed): refused from the flag alone, no member is ever opened."""
    archive = world / "src" / f"{ARCHIVE}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(*ZGOOD[0])
        info, _ = _zip_link("link", b"")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as f:
            for _ in range(64):
                f.write(bytes(1 << 20))

    def no_read(*a, **k):
        raise AssertionError("a member body was read during the pre-check")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_read)
    monkeypatch.setattr(zipfile.ZipFile, "read", no_read)
    _assert_refused(world, archive, monkeypatch, match="'link' is a symbolic link")


def test_zip_bomb_is_stopped_before_writing(world, monkeypatch):
    archive = world / "src" / f"{ARCHIVE}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(f"{ARCHIVE}/zeros", "w") as f:
        for _ in range(128):
            f.write(bytes(1 << 20))
    assert archive.stat().st_size < 256 << 10  # > 500:1
    _assert_refused(world, archive, monkeypatch, exc=dl.ArchiveLimitError, match="compression ratio")


def test_zip_whose_headers_lie_about_the_size(world, monkeypatch):
    """Sizes patched to 1 byte in both headers: never more than the declared size is written, the damage is
    reported, nothing is left half-extracted."""
    archive = world / "src" / f"{ARCHIVE}.zip"
    _zip(archive, [*ZGOOD, (f"{ARCHIVE}/big", bytes(8 << 20))])
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"{ARCHIVE}/big")
        real = info.file_size
    patched = data.replace(real.to_bytes(4, "little"), (1).to_bytes(4, "little"))
    assert patched != data
    archive.write_bytes(bytes(patched))
    before = _tree(world / "root")
    with pytest.raises(FileNotFoundError, match="automatic download failed"):
        _run_market(world, archive, monkeypatch)
    assert not (world / "root" / "market1501").exists()
    leftovers = [k for k in _tree(world / "root") if k not in before]
    assert leftovers == ["market1501.download", f"market1501.download/{archive.name}"]


def test_streaming_guard_stops_a_member_larger_than_declared():
    m = dl._Member("x", ("x",), False, 10, None)
    out = io.BytesIO()
    with pytest.raises(dl.ArchiveLimitError, match="more data than its header declares"):
        dl._copy_stream(io.BytesIO(bytes(100)), out, m, [0], 1000, "a.zip", dl.ExtractLimits())
    assert out.getvalue() == b""


# ------------------------------------------------------------------------------------------------ type


@pytest.mark.parametrize(
    "make, name",
    [
        pytest.param(lambda p: _tar(p, GOOD, mode="w"), f"{ARCHIVE}.zip", id="tar-named-zip"),
        pytest.param(lambda p: _zip(p, ZGOOD), f"{ARCHIVE}.tar.gz", id="zip-named-tgz"),
        pytest.param(lambda p: _tar(p, GOOD, mode="w:bz2"), f"{ARCHIVE}.tar.gz", id="bz2-named-gz"),
        pytest.param(lambda p: _tar(p, GOOD, mode="w:gz"), f"{ARCHIVE}.tar", id="gz-named-tar"),
    ],
)
def test_type_must_agree_with_the_name(world, monkeypatch, make, name):
    tmp = world / "src" / "tmp.bin"
    make(tmp)
    archive = world / "src" / name
    tmp.rename(archive)
    _assert_refused(world, archive, monkeypatch, match="named like a")


# ------------------------------------------------------------------------------------------------ limits


def test_limits_have_env_and_keyword_overrides(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "a.zip", [(f"d/{i}.txt", b"x" * 100) for i in range(20)])
    monkeypatch.setenv("TORCHREID_MAX_EXTRACT_MEMBERS", "10")
    with pytest.raises(dl.ArchiveLimitError, match="TORCHREID_MAX_EXTRACT_MEMBERS"):
        dl.extract_archive(str(archive), str(tmp_path / "o1"))
    assert not (tmp_path / "o1").exists()
    assert len(dl.extract_archive(str(archive), str(tmp_path / "o2"), max_members=0)) == 20  # 0 = no limit
    monkeypatch.delenv("TORCHREID_MAX_EXTRACT_MEMBERS")
    monkeypatch.setenv("TORCHREID_MAX_EXTRACT_BYTES", "1000")
    with pytest.raises(dl.ArchiveLimitError, match="TORCHREID_MAX_EXTRACT_BYTES"):
        dl.extract_archive(str(archive), str(tmp_path / "o3"))
    assert not (tmp_path / "o3").exists()
    monkeypatch.setenv("TORCHREID_MAX_EXTRACT_BYTES", "lots")
    with pytest.raises(ValueError, match="TORCHREID_MAX_EXTRACT_BYTES='lots' is not a number"):
        dl.extract_archive(str(archive), str(tmp_path / "o4"))


def test_defaults_let_real_dataset_sizes_through():
    lim = dl.ExtractLimits.resolve()
    lim.check_bytes(int(2.5e9), int(2.4e9), "MSMT17_V1.tar.gz", "declares")  # MSMT17 ~2.5 GB of JPEGs
    lim.check_members(530_000, "Market-1501 + 500k distractors")
    with pytest.raises(dl.ArchiveLimitError):
        lim.check_bytes(256 << 20, (256 << 20) // 1000, "bomb.zip", "declares")  # 1000:1 stopped at 256 MB


# ------------------------------------------------------------------------------------------------ good + failure


def test_good_archive_through_the_dataset_path(world, monkeypatch):
    names = [
        "bounding_box_train/0001_c1s1_000001_00.jpg",
        "bounding_box_train/0002_c2s1_000001_00.jpg",
        "query/0003_c1s1_000001_00.jpg",
        "bounding_box_test/0003_c2s1_000001_00.jpg",
    ]
    archive = _zip(world / "src" / f"{ARCHIVE}.zip", [(f"{ARCHIVE}/{n}", b"jpg") for n in names])
    _run_market(world, archive, monkeypatch)
    data = world / "root" / "market1501"
    for n in names:
        assert (data / ARCHIVE / n).read_bytes() == b"jpg"
    mask = os.umask(0)
    os.umask(mask)
    assert (
        data / ARCHIVE / names[0]
    ).stat().st_mode & 0o777 == 0o666 & ~mask  # umask, not the archive's mode
    assert not (world / "root" / "market1501.download").exists()
    assert not [p for p in data.iterdir() if p.name.startswith(".torchreid-extract")]


def test_failure_midway_leaves_nothing_half_extracted(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("d/1.txt", b"one")
        zf.writestr("d/2.txt", b"two")
        zf.writestr("d/3.txt", b"three-three")
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"three-three", b"three-THREE"))  # CRC error in the last member
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_bytes(b"k")
    with pytest.raises(OSError, match="damaged"):
        dl.extract_archive(str(archive), str(dest))
    assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"]  # no staging folder, no d/


def test_dataset_urls_use_https_where_the_host_offers_it():
    import urllib.parse

    from torchreid.data.datasets import IMAGE_DATASETS, VIDEO_DATASETS

    plain = {}
    for name, cls in [*IMAGE_DATASETS.items(), *VIDEO_DATASETS.items()]:
        url = getattr(cls, "dataset_url", None)
        if url and not dl.is_google_drive(url) and urllib.parse.urlparse(url).scheme != "https":
            plain[name] = url
    # Market-1501's only host is a bare IP address on port 81 (no certificate can exist for it)
    assert plain == {"market1501": "http://188.138.127.15:81/Datasets/Market-1501-v15.09.15.zip"}


def test_staging_left_by_a_killed_extraction_is_removed_by_the_next_one(tmp_path):
    dest = tmp_path / "ds"
    stale = dest / ".torchreid-extract-abc123"
    (stale / "half").mkdir(parents=True)
    (stale / "half" / "f.jpg").write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    (dest / ".torchreid-extract-other").mkdir()  # newer than this extraction (a concurrent one?): kept
    future = time.time() + 3600
    os.utime(dest / ".torchreid-extract-other", (future, future))
    archive = _zip(tmp_path / "a.zip", [("d/x.txt", b"x")])
    dl.extract_archive(str(archive), str(dest))
    assert sorted(p.name for p in dest.iterdir()) == [".torchreid-extract-other", "d"]
