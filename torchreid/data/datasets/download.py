"""Safe download and extraction of dataset archives.

Used by ``Dataset.download_dataset``. Everything here is defensive:

- :func:`download_file` writes to a temporary file in the destination folder and renames it into place only once
  the transfer (and the sha256 check, when a checksum is known) succeeded, so an interrupted or failed download
  never leaves a partial file behind that a later run would mistake for the real thing.
- :func:`extract_archive` checks every member of a zip / tar archive *before* extracting anything and rejects
  absolute paths, ``..`` components and links that point outside the destination folder.
- Failures raise :class:`DownloadError` (offline, HTTP error, checksum mismatch) or
  :class:`ManualDownloadRequired` (no public URL: the message says what to place where).

Google Drive files (``https://drive.google.com/...`` URLs, ``gdrive://<id>`` or a bare file id) go through
``gdown``; everything else through :mod:`urllib`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import os.path as osp
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from ...utils.tools import atomic_output, fetch_url

__all__ = [
    "DownloadError",
    "ManualDownloadRequired",
    "UnsafeArchiveError",
    "download_and_extract",
    "download_file",
    "extract_archive",
    "is_google_drive",
    "manual_download_message",
    "sha256sum",
]

_CHUNK = 1 << 20
_GDRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")


class DownloadError(RuntimeError):
    """A download failed (no network, HTTP error, checksum mismatch); no partial file is left behind."""


class ManualDownloadRequired(FileNotFoundError):
    """The data cannot be downloaded automatically; the message says what to obtain and where to put it."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the destination folder (absolute path, ``..``, bad link)."""


def sha256sum(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def is_google_drive(url: str) -> bool:
    """True for Google Drive URLs, ``gdrive://<id>`` and bare Drive file ids."""
    return (
        url.startswith("gdrive://")
        or "drive.google.com" in url
        or "docs.google.com" in url
        or ("://" not in url and bool(_GDRIVE_ID.match(url)))
    )


def _offline_hint(url: str, dest: str, reason: object) -> str:
    return (
        f"Could not download {url} ({reason}). If this machine has no internet access, download the file on "
        f"another machine and place it at {dest}, then run again."
    )


def _fetch_gdrive(url: str, tmp: str, quiet: bool) -> None:
    try:
        import gdown
    except ImportError as e:  # pragma: no cover - gdown is a declared dependency
        raise DownloadError(
            f"Downloading {url} from Google Drive needs the 'gdown' package (pip install gdown)"
        ) from e
    try:
        if url.startswith("gdrive://"):
            result = gdown.download(id=url[len("gdrive://") :], output=tmp, quiet=quiet)
        elif "://" not in url:
            result = gdown.download(id=url, output=tmp, quiet=quiet)
        else:
            result = gdown.download(url, output=tmp, quiet=quiet, fuzzy=True)
    except Exception as e:  # gdown raises its own types (FileURLRetrievalError, requests errors)
        raise DownloadError(f"gdown could not download {url} ({type(e).__name__}: {e})") from e
    if result is None or not osp.isfile(tmp):
        raise DownloadError(f"gdown could not download {url} (quota exceeded, file removed or no network)")


def download_file(
    url: str, dest: str, sha256: str | None = None, quiet: bool = False, timeout: float = 60.0
) -> str:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The data goes to a temporary file next to ``dest`` that is renamed into place only after the transfer and
    (when ``sha256`` is given) the checksum check succeed; on any failure the temporary file is removed and a
    :class:`DownloadError` says what went wrong and what to do when offline. An existing ``dest`` whose checksum
    matches (or any existing ``dest`` when no checksum is known) is reused without touching the network.
    """
    dest = osp.abspath(osp.expanduser(dest))
    if osp.isfile(dest) and (sha256 is None or sha256sum(dest) == sha256.lower()):
        return dest
    try:
        with atomic_output(dest, suffix=".part") as tmp:
            if not quiet:
                print(f"Downloading {url} to {dest}")
            if is_google_drive(url):
                _fetch_gdrive(url, str(tmp), quiet)
            else:
                scheme = urllib.parse.urlparse(url).scheme.lower()
                if scheme not in ("http", "https", "ftp", "file"):
                    raise DownloadError(
                        f"Unsupported URL scheme {scheme!r} in {url!r} (expected http(s), ftp or file)"
                    )
                fetch_url(url, tmp, quiet, timeout)
            if sha256 is not None:
                got = sha256sum(str(tmp))
                if got != sha256.lower():
                    raise DownloadError(
                        f"Checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {got}. The download "
                        f"is corrupt or the file changed upstream; it was not kept. Place a verified copy at {dest}."
                    )
        return dest
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(_offline_hint(url, dest, reason)) from e


# ----------------------------------------------------------------------------------------------------- extraction


def _check_member_name(name: str, dest: str) -> str:
    """Return the absolute target of archive member ``name`` inside ``dest`` or raise UnsafeArchiveError."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"archive member with an invalid name: {name!r}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise UnsafeArchiveError(f"archive member has an absolute path: {name!r}")
    if ".." in norm.split("/"):
        raise UnsafeArchiveError(f"archive member escapes the destination with '..': {name!r}")
    target = osp.realpath(osp.join(dest, norm))
    root = osp.realpath(dest)
    if target != root and not target.startswith(root + os.sep):
        raise UnsafeArchiveError(f"archive member would be written outside {dest}: {name!r}")
    return target


def _check_link(member_name: str, link: str, dest: str, hard: bool) -> None:
    if not link or osp.isabs(link) or re.match(r"^[A-Za-z]:", link) or link.startswith("\\"):
        raise UnsafeArchiveError(f"archive link {member_name!r} points to an absolute path {link!r}")
    # symlinks resolve relative to the member's folder, hard links relative to the archive root
    base = dest if hard else osp.dirname(osp.join(dest, member_name.replace("\\", "/")))
    target = osp.normpath(osp.join(base, link.replace("\\", "/")))
    root = osp.normpath(osp.abspath(dest))
    if target != root and not target.startswith(root + os.sep):
        raise UnsafeArchiveError(f"archive link {member_name!r} points outside the destination: {link!r}")


def _safe_zip_members(zf: zipfile.ZipFile, dest: str) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for info in members:
        _check_member_name(info.filename, dest)
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:  # a symlink entry: its target is the file's content
            _check_link(info.filename, zf.read(info).decode("utf-8", "replace"), dest, hard=False)
    return members


def _safe_tar_members(tf: tarfile.TarFile, dest: str) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for m in members:
        _check_member_name(m.name, dest)
        if m.issym():
            _check_link(m.name, m.linkname, dest, hard=False)
        elif m.islnk():
            _check_link(m.name, m.linkname, dest, hard=True)
        elif not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"archive member {m.name!r} is a device, FIFO or other special file")
    return members


def extract_archive(path: str, dest: str) -> list[str]:
    """Extract a zip or tar (plain, .gz, .bz2, .xz) archive into ``dest`` and return the member names.

    The archive type is detected from its content. All members are validated before anything is written: an
    absolute path, a ``..`` component or a link pointing outside ``dest`` raises :class:`UnsafeArchiveError`
    and nothing is extracted.
    """
    path = osp.abspath(osp.expanduser(path))
    dest = osp.abspath(osp.expanduser(dest))
    if not osp.isfile(path):
        raise FileNotFoundError(f"archive not found: {path}")
    os.makedirs(dest, exist_ok=True)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = _safe_zip_members(zf, dest)
            for info in members:
                zf.extract(info, dest)
            return [m.filename for m in members]
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            members = _safe_tar_members(tf, dest)
            if hasattr(tarfile, "data_filter"):  # a second line of defence (Python >= 3.11.4)
                tf.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - older Pythons; members were validated above
                tf.extractall(dest, members=members)
            return [m.name for m in members]
    raise ValueError(f"{path} is neither a zip nor a tar archive; extract it by hand into {dest}")


# ---------------------------------------------------------------------------------------------------- datasets


def manual_download_message(
    name: str, dataset_dir: str, layout: str | None = None, hint: str | None = None
) -> str:
    """The error text for a dataset that must be obtained by hand: what to get and where to put it."""
    lines = [f"Dataset {name!r} was not found at {dataset_dir} and cannot be downloaded automatically."]
    if hint:
        lines.append(hint)
    if layout:
        lines.append("Expected layout:\n" + layout.rstrip())
    return "\n".join(lines)


def download_and_extract(
    url: str, dataset_dir: str, sha256: str | None = None, filename: str | None = None, quiet: bool = False
) -> str:
    """Download ``url`` into ``dataset_dir`` and extract it there when it is an archive; return the file path.

    The archive is kept (delete it by hand to save space). Extraction goes through :func:`extract_archive`; a
    file that is not an archive is left as downloaded.
    """
    dataset_dir = osp.abspath(osp.expanduser(dataset_dir))
    if filename is None:
        if is_google_drive(url):
            filename = "data.zip"
        else:
            filename = osp.basename(urllib.parse.urlparse(url).path) or "download"
    fpath = download_file(url, osp.join(dataset_dir, filename), sha256=sha256, quiet=quiet)
    if zipfile.is_zipfile(fpath) or tarfile.is_tarfile(fpath):
        if not quiet:
            print(f"Extracting {fpath}")
        try:
            extract_archive(fpath, dataset_dir)
        except UnsafeArchiveError:
            raise
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise DownloadError(
                f"Could not extract {fpath} ({e}); delete it and run again, or extract it by hand into {dataset_dir}"
            ) from e
    return fpath
