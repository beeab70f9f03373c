"""torchreid.utils.tools: the shared download/verify primitive and image reading errors."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest

from torchreid.utils.tools import ChecksumMismatchError, download_url, read_image


def test_download_url_verifies_sha256(tmp_path):
    src = tmp_path / "w.pth"
    src.write_bytes(b"weights" * 100)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "cache" / "w.pth"
    assert download_url(src.as_uri(), str(dst), sha256=good.upper()) == str(dst)
    assert dst.read_bytes() == src.read_bytes()


def test_download_url_mismatch_names_both_hashes_and_keeps_the_file_aside(tmp_path):
    src = tmp_path / "w.pth"
    src.write_bytes(b"tampered")
    got = hashlib.sha256(b"tampered").hexdigest()
    dst = tmp_path / "cache" / "w.pth"
    with pytest.raises(ChecksumMismatchError) as info:
        download_url(src.as_uri(), str(dst), sha256="ab" * 32)
    assert "ab" * 32 in str(info.value) and got in str(info.value)
    assert not dst.exists()  # never used
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"w.pth.rejected-{got[:12]}"]


def test_download_url_without_a_known_hash_logs_it(tmp_path, caplog):
    src = tmp_path / "w.pth"
    src.write_bytes(b"anything")
    with caplog.at_level(logging.INFO, logger="torchreid"):
        download_url(src.as_uri(), str(tmp_path / "out.pth"))
    assert hashlib.sha256(b"anything").hexdigest() in caplog.text


def test_read_image_names_the_path_for_every_pil_error(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64*64 > 2x the limit: DecompressionBombError
    with pytest.raises(Image.DecompressionBombError, match=re.escape(str(path))):
        read_image(str(path))
    monkeypatch.undo()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)  # a JPEG header, then garbage
    with pytest.raises(OSError, match=re.escape(str(bad))):
        read_image(str(bad))
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg"):
        read_image(str(tmp_path / "nope.jpg"))
    assert read_image(str(path)).size == (64, 64)
