"""Safe extraction of dataset archives, by construction and the same on every Python version.

It never uses ``tarfile.extractall`` or its ``filter``: the archive type comes from the file name and must agree
with the content; every member is checked *before* anything is written (regular files and folders only: links of
any kind, devices and FIFOs are refused, as are absolute paths, ``..``, over-long paths and conflicting members;
limits on total size, member count and compression ratio); then each member's data is streamed into a fresh
staging folder through file descriptors opened with ``O_NOFOLLOW | O_EXCL`` relative to their (also
``O_NOFOLLOW``) parent folder, with the limits enforced again on the bytes actually written; the staging folder is
moved into place only when everything succeeded. On any failure nothing of the archive is left behind.

Limits: keyword arguments of :func:`extract_archive` or the environment variables ``TORCHREID_MAX_EXTRACT_BYTES``
(default 64 GiB), ``TORCHREID_MAX_EXTRACT_MEMBERS`` (default 5,000,000) and ``TORCHREID_MAX_COMPRESSION_RATIO``
(default 100, checked once the output exceeds 64 MiB); ``0`` disables a limit.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import lzma
import os
import os.path as osp
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from .archive_limits import (
    ArchiveLimitError,
    ExtractLimits,
    UnsafeArchiveError,
)

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20

_STAGING_PREFIX = ".torchreid-extract-"
_PATH_MAX = 4096
_NAME_MAX = 255
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_USE_DIR_FD = os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd and bool(_O_DIRECTORY)


class _CorruptArchiveError(OSError):
    """The archive's data is damaged (CRC error, truncated stream)."""


# ------------------------------------------------------------------------------------------------ archive type

# (suffix, kind, compression) — longest suffixes first
_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    (".tar.gz", "tar", "gz"),
    (".tar.bz2", "tar", "bz2"),
    (".tar.xz", "tar", "xz"),
    (".tgz", "tar", "gz"),
    (".tbz2", "tar", "bz2"),
    (".tbz", "tar", "bz2"),
    (".txz", "tar", "xz"),
    (".tar", "tar", ""),
    (".zip", "zip", ""),
)
# what the first bytes of each (kind, compression) must say
_EXPECTED_CONTENT = {
    ("zip", ""): "zip",
    ("tar", ""): "tar",
    ("tar", "gz"): "gzip",
    ("tar", "bz2"): "bzip2",
    ("tar", "xz"): "xz",
}


def archive_type(path: str) -> tuple[str, str] | None:
    """``(kind, compression)`` from the file name (``('tar', 'gz')`` for ``x.tar.gz``), None if not an archive."""
    name = osp.basename(path).lower()
    for suffix, kind, comp in _SUFFIXES:
        if name.endswith(suffix):
            return kind, comp
    return None


def _sniff(path: str) -> str:
    """What the first bytes say the file is: zip, gzip, bzip2, xz, tar or unknown."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    return "unknown"


def _check_type(path: str) -> tuple[str, str]:
    kind = archive_type(path)
    if kind is None:
        raise UnsafeArchiveError(
            f"{path}: cannot tell the archive type from the file name (expected .zip, .tar, .tar.gz/.tgz, "
            ".tar.bz2 or .tar.xz); extract it by hand"
        )
    expected, got = _EXPECTED_CONTENT[kind], _sniff(path)
    if got != expected:
        named = osp.basename(path)
        raise UnsafeArchiveError(
            f"{path} is named like a {expected} archive ({named!r}) but its content is "
            f"{'not a known archive format' if got == 'unknown' else f'{got} data'}; refusing to extract it "
            "(a corrupt or disguised file: delete it and download it again)"
        )
    return kind


# ------------------------------------------------------------------------------------------------- members


@dataclass
class _Member:
    name: str  # as in the archive
    parts: tuple[str, ...]  # normalised path components
    is_dir: bool
    size: int  # declared uncompressed size
    ref: object  # ZipInfo / TarInfo


def _member_parts(name: str) -> tuple[str, ...]:
    """The path components of archive member ``name`` or UnsafeArchiveError; ``()`` for the archive root."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"archive member with an invalid name: {name!r}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} escapes the destination with '..'")
    for p in parts:
        if len(p.encode("utf-8", "surrogateescape")) > _NAME_MAX:
            raise UnsafeArchiveError(
                f"archive member {name[:80]!r}... has a path component over {_NAME_MAX} bytes"
            )
    if len("/".join(parts).encode("utf-8", "surrogateescape")) >= _PATH_MAX - 256:
        raise UnsafeArchiveError(f"archive member {name[:80]!r}... has a path too long for this system")
    return parts


def _zip_members(zf: zipfile.ZipFile, path: str, limits: ExtractLimits) -> Iterator[_Member]:
    infos = zf.infolist()  # the central directory: names and sizes only, no member data is read
    limits.check_members(len(infos), path)
    for info in infos:
        mode = (info.external_attr >> 16) & 0o170000
        if mode == stat.S_IFLNK:
            raise UnsafeArchiveError(
                f"archive member {info.filename!r} is a symbolic link; dataset archives hold files and folders only"
            )
        if mode not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(
                f"archive member {info.filename!r} is a device, FIFO, socket or other special file"
            )
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"archive member {info.filename!r} is encrypted; extract it by hand")
        is_dir = info.filename.endswith(("/", "\\")) or mode == stat.S_IFDIR
        yield _Member(
            info.filename, _member_parts(info.filename), is_dir, 0 if is_dir else info.file_size, info
        )


def _tar_members(tf: tarfile.TarFile, path: str, limits: ExtractLimits) -> Iterator[_Member]:
    count = 0
    while True:
        info = tf.next()  # reads headers, skips (never keeps) member data
        if info is None:
            return
        count += 1
        limits.check_members(count, path)
        if info.issym() or info.islnk():
            kind = "symbolic" if info.issym() else "hard"
            raise UnsafeArchiveError(
                f"archive member {info.name!r} is a {kind} link (to {info.linkname!r}); dataset archives hold "
                "files and folders only"
            )
        if not (info.isfile() or info.isdir()):
            raise UnsafeArchiveError(f"archive member {info.name!r} is a device, FIFO or other special file")
        yield _Member(
            info.name, _member_parts(info.name), info.isdir(), 0 if info.isdir() else info.size, info
        )


def _precheck(
    members: Iterator[_Member], dest: str, archive_size: int, path: str, limits: ExtractLimits
) -> list:
    """Validate every member before anything is written; return them."""
    root = osp.realpath(dest)
    files: set[tuple[str, ...]] = set()
    dirs: set[tuple[str, ...]] = set()
    out: list[_Member] = []
    total = 0
    for m in members:
        if not m.parts:
            if not m.is_dir:
                raise UnsafeArchiveError(f"archive member {m.name!r} has no name")
            continue  # './' — the root itself
        target = osp.realpath(osp.join(dest, *m.parts))
        if target != root and not target.startswith(root + os.sep):
            raise UnsafeArchiveError(f"archive member {m.name!r} would be written outside {dest}")
        for i in range(1, len(m.parts)):
            if m.parts[:i] in files:
                raise UnsafeArchiveError(
                    f"archive member {m.name!r} is inside {'/'.join(m.parts[:i])!r}, a file"
                )
            dirs.add(m.parts[:i])
        if m.parts in files or (not m.is_dir and m.parts in dirs):
            raise UnsafeArchiveError(
                f"archive member {m.name!r} appears twice or is both a file and a folder"
            )
        (dirs if m.is_dir else files).add(m.parts)
        total += m.size
        limits.check_bytes(total, archive_size, path, "declares")
        out.append(m)
    for top in sorted({m.parts[0] for m in out}):
        if osp.lexists(osp.join(dest, top)):
            raise UnsafeArchiveError(
                f"extracting {path} would replace the existing {osp.join(dest, top)!r}; remove it first"
            )
    return out


# ----------------------------------------------------------------------------------------------------- writing


class _Writer:
    """Creates folders and files strictly inside ``root`` (a fresh staging folder), never following links."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._cached: tuple[tuple[str, ...], int] | None = None
        self.root_fd = (
            os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC) if _USE_DIR_FD else -1
        )

    def close(self) -> None:
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    def _dir_fd(self, parts: tuple[str, ...]) -> int:
        if self._cached is not None and self._cached[0] == parts:
            return self._cached[1]
        fd = os.dup(self.root_fd)
        try:
            for p in parts:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(p, 0o777, dir_fd=fd)
                nxt = os.open(p, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        if self._cached is not None:
            os.close(self._cached[1])
        self._cached = (parts, fd)
        return fd

    def mkdir(self, parts: tuple[str, ...]) -> None:
        if _USE_DIR_FD:
            self._dir_fd(parts)
        else:  # pragma: no cover - platforms without dir_fd (Windows)
            os.makedirs(osp.join(self.root, *parts), exist_ok=True)

    def open_file(self, parts: tuple[str, ...]) -> IO[bytes]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_BINARY", 0)
        if _USE_DIR_FD:
            fd = os.open(parts[-1], flags, 0o666, dir_fd=self._dir_fd(parts[:-1]))
        else:  # pragma: no cover
            os.makedirs(osp.join(self.root, *parts[:-1]), exist_ok=True)
            fd = os.open(osp.join(self.root, *parts), flags, 0o666)
        return os.fdopen(fd, "wb")

    def check_inside(self, parts: tuple[str, ...], name: str) -> None:
        real = osp.realpath(osp.join(self.root, *parts))
        if not real.startswith(
            osp.realpath(self.root) + os.sep
        ):  # pragma: no cover - impossible by construction
            raise UnsafeArchiveError(f"archive member {name!r} resolved outside the staging folder ({real})")


def _copy_stream(
    src: IO[bytes],
    dst: IO[bytes],
    m: _Member,
    written: list[int],
    archive_size: int,
    path: str,
    lim: ExtractLimits,
) -> None:
    n = 0
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            break
        n += len(chunk)
        written[0] += len(chunk)
        if n > m.size:
            raise ArchiveLimitError(
                f"archive member {m.name!r} holds more data than its header declares ({m.size})"
            )
        lim.check_bytes(written[0], archive_size, path, "expands to")
        dst.write(chunk)


def _extract_into(
    kind: str, comp: str, path: str, staging: str, dest: str, limits: ExtractLimits
) -> list[_Member]:
    archive_size = osp.getsize(path)
    writer = _Writer(staging)
    written = [0]
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                members = _precheck(_zip_members(zf, path, limits), dest, archive_size, path, limits)
                for m in members:
                    if m.is_dir:
                        writer.mkdir(m.parts)
                        continue
                    with writer.open_file(m.parts) as out, zf.open(m.ref) as src:  # type: ignore[arg-type]
                        _copy_stream(src, out, m, written, archive_size, path, limits)
                    writer.check_inside(m.parts, m.name)
        else:
            with tarfile.open(path, mode=f"r:{comp}") as tf:
                members = _precheck(_tar_members(tf, path, limits), dest, archive_size, path, limits)
                for m in members:
                    if m.is_dir:
                        writer.mkdir(m.parts)
                        continue
                    src = tf.extractfile(m.ref)  # type: ignore[arg-type]
                    if src is None:  # pragma: no cover - only for links/specials, refused above
                        raise UnsafeArchiveError(f"archive member {m.name!r} has no data")
                    with writer.open_file(m.parts) as out, src:
                        _copy_stream(src, out, m, written, archive_size, path, limits)
                    writer.check_inside(m.parts, m.name)
    finally:
        writer.close()
    return members


def extract_archive(
    path: str,
    dest: str,
    *,
    max_bytes: float | None = None,
    max_members: float | None = None,
    max_ratio: float | None = None,
) -> list[str]:
    """Extract a zip or tar (plain, .gz, .bz2, .xz) archive into ``dest`` and return the member names.

    The type comes from the file name and must agree with the content. Only regular files and folders are
    accepted; links of any kind, devices, FIFOs, absolute paths, ``..``, members that would replace something
    already in ``dest`` and archives over the limits (see the module docstring; ``max_*`` override the
    environment, 0 = no limit) raise :class:`UnsafeArchiveError` before anything is written. Members are written
    into a fresh staging folder that is moved into ``dest`` only when the whole archive was extracted; on any
    error it is removed, so nothing half-extracted is ever left behind. Damaged data raises ``OSError``.
    """
    path = osp.abspath(osp.expanduser(path))
    dest = osp.abspath(osp.expanduser(dest))
    if not osp.isfile(path):
        raise FileNotFoundError(f"archive not found: {path}")
    limits = ExtractLimits.resolve(max_bytes, max_members, max_ratio)
    kind, comp = _check_type(path)
    dest_exists = osp.isdir(dest)
    if not dest_exists:
        os.makedirs(osp.dirname(dest), exist_ok=True)
    started = time.time()
    parent = dest if dest_exists else osp.dirname(dest)
    staging = tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=parent)
    try:
        try:
            members = _extract_into(kind, comp, path, staging, dest, limits)
        except (
            zipfile.BadZipFile,
            tarfile.TarError,
            zlib.error,
            lzma.LZMAError,
            EOFError,
            NotImplementedError,
        ) as e:
            raise _CorruptArchiveError(f"{path} is damaged or unsupported ({type(e).__name__}: {e})") from e
        except OSError as e:
            if isinstance(e, _CorruptArchiveError) or e.errno not in (
                errno.ELOOP,
                errno.ENOTDIR,
                errno.EEXIST,
            ):
                raise
            raise UnsafeArchiveError(f"{path}: a member could not be created safely ({e})") from e
        from ...utils.tools import _umask

        mode = 0o777 & ~_umask()
        if dest_exists:
            tops = sorted(os.listdir(staging))
            taken = [t for t in tops if osp.lexists(osp.join(dest, t))]
            if taken:  # appeared while extracting: never replace anything
                raise UnsafeArchiveError(f"extracting {path} would replace {osp.join(dest, taken[0])!r}")
            for top in tops:
                os.rename(osp.join(staging, top), osp.join(dest, top))
            os.rmdir(staging)
        else:
            with contextlib.suppress(OSError):
                os.chmod(staging, mode)  # mkdtemp made it 0700
            os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_stale_staging(parent, started)
    return [m.name for m in members]


def _remove_stale_staging(parent: str, older_than: float) -> None:
    """Remove staging folders that an extraction killed (SIGKILL, power loss) left in ``parent``: only this
    module's ``.torchreid-extract-*`` folders, only those older than the extraction that just succeeded."""
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if not entry.name.startswith(_STAGING_PREFIX):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode) and st.st_mtime < older_than:
                    shutil.rmtree(entry.path)
                    logger.info(f"Removed {entry.path}, left by an interrupted extraction")
