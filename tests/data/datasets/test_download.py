"""Archive safety with links and download helpers (torchreid.data.datasets.download; left here for the TRUST
helper to fold into its download tests)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

# ------------------------------------------------------------------------------------------------ archives


def _zip_symlink(path: Path, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16) | 0x10  # a symlink entry: its target is the content
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        zf.writestr(info, target)


@pytest.mark.parametrize("target", ["../../outside.txt", "/etc/passwd"])
def test_zip_symlink_pointing_outside_is_rejected_before_extraction(tmp_path, target):
    from torchreid.data.datasets import download as dl

    archive = tmp_path / "evil.zip"
    _zip_symlink(archive, "data/link", target)
    dest = tmp_path / "out"
    with pytest.raises(dl.UnsafeArchiveError, match="data/link"):
        dl.extract_archive(str(archive), str(dest))
    assert not (dest / "ok.txt").exists()  # nothing written


def test_member_through_an_existing_symlink_out_of_dest_is_rejected(tmp_path):
    from torchreid.data.datasets import download as dl

    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "escape")
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("escape/evil.txt", b"pwned")
    with pytest.raises(dl.UnsafeArchiveError, match="outside"):
        dl.extract_archive(str(archive), str(dest))
    assert list(outside.iterdir()) == []


def test_download_reuses_a_verified_file_and_keeps_non_archives(tmp_path, monkeypatch):
    import hashlib

    from torchreid.data.datasets import download as dl

    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    sha = hashlib.sha256(b"payload").hexdigest()
    dest_dir = tmp_path / "ds"
    # a file:// URL needs no network; the file is not an archive, so it is kept as downloaded
    path = dl.download_and_extract(src.as_uri(), str(dest_dir), sha256=sha, quiet=True)
    assert Path(path) == dest_dir / "src.bin" and Path(path).read_bytes() == b"payload"

    def no_fetch(*a, **k):
        raise AssertionError("a verified existing file must not be downloaded again")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_fetch)
    monkeypatch.setattr(dl, "fetch_url", no_fetch, raising=False)
    assert dl.download_file("https://example.org/src.bin", path, sha256=sha.upper(), quiet=True) == path


def test_download_and_extract_corrupt_archive_is_a_download_error(tmp_path, monkeypatch):
    from torchreid.data.datasets import download as dl

    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("a.txt", b"x" * 1000)
    data = bytearray(good.getvalue())
    data[40:60] = b"\0" * 20  # damage the member data; the central directory still says "zip"
    src = tmp_path / "broken.zip"
    src.write_bytes(bytes(data))
    with pytest.raises(dl.DownloadError, match=r"Could not extract .*broken\.zip .*delete it and run again"):
        dl.download_and_extract(src.as_uri(), str(tmp_path / "ds"), quiet=True)


def test_manual_download_message_has_hint_and_layout():
    from torchreid.data.datasets.download import manual_download_message

    msg = manual_download_message(
        "msmt17", "/data/msmt17", layout="msmt17/\n  MSMT17_V1/\n", hint="Ask the authors."
    )
    assert msg.splitlines() == [
        "Dataset 'msmt17' was not found at /data/msmt17 and cannot be downloaded automatically.",
        "Ask the authors.",
        "Expected layout:",
        "msmt17/",
        "  MSMT17_V1/",
    ]
