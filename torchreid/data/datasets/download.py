"""Safe download and extraction of dataset archives.

Used by ``Dataset.download_dataset``. Everything here is defensive:

- :func:`download_file` writes to a temporary file in the destination folder and renames it into place only once
  the transfer and the sha256 check (when a checksum is known, from the caller or :data:`KNOWN_SHA256`) succeeded.
  A file that does not match its checksum is kept aside (``<name>.rejected-<sha256 prefix>``) and never used; a
  file without a known checksum gets its sha256 logged so that it can be pinned.
- :func:`extract_archive` is safe by construction, the same on every Python version (it never uses
  ``tarfile.extractall`` or its ``filter``): the archive type comes from the file name and must agree with the
  content; every member is checked *before* anything is written (regular files and folders only: links of any
  kind, devices and FIFOs are refused, as are absolute paths, ``..``, over-long paths and conflicting members;
  limits on total size, member count and compression ratio); then each member's data is streamed into a fresh
  staging folder through file descriptors opened with ``O_NOFOLLOW | O_EXCL`` relative to their (also
  ``O_NOFOLLOW``) parent folder, with the limits enforced again on the bytes actually written; the staging folder
  is moved into place only when everything succeeded. On any failure nothing of the archive is left behind.
- Failures raise :class:`DownloadError` (offline, HTTP error, checksum mismatch), :class:`UnsafeArchiveError`
  (a hostile or unexpected archive; :class:`ArchiveLimitError` for the limits) or :class:`ManualDownloadRequired`.

Limits (defaults let every public re-ID dataset through and stop decompression bombs); override them with keyword
arguments of :func:`extract_archive` / :func:`download_and_extract` or the environment variables
``TORCHREID_MAX_EXTRACT_BYTES`` (total uncompressed bytes, default 64 GiB), ``TORCHREID_MAX_EXTRACT_MEMBERS``
(default 5,000,000) and ``TORCHREID_MAX_COMPRESSION_RATIO`` (uncompressed / archive size, default 100; checked
once the output exceeds 64 MiB). ``0`` disables a limit.

Google Drive files (``https://drive.google.com/...`` URLs, ``gdrive://<id>`` or a bare file id) go through
``gdown``; everything else through :mod:`urllib`.
"""

from __future__ import annotations

import http.client
import logging
import os.path as osp
import re
import urllib.error
import urllib.parse
import urllib.request

from ...utils.tools import ChecksumMismatchError, atomic_output, fetch_url, sha256sum, verify_sha256
from .archive import _copy_stream, _Member, _sniff, archive_type, extract_archive  # noqa: F401 - re-exported
from .archive_limits import (  # noqa: F401 - re-exported from their former home
    ENV_MAX_BYTES,
    ENV_MAX_MEMBERS,
    ENV_MAX_RATIO,
    ArchiveLimitError,
    ExtractLimits,
    UnsafeArchiveError,
)

logger = logging.getLogger(__name__)

__all__ = [
    "KNOWN_SHA256",
    "ArchiveLimitError",
    "DownloadError",
    "ExtractLimits",
    "ManualDownloadRequired",
    "UnsafeArchiveError",
    "archive_type",
    "download_and_extract",
    "download_file",
    "extract_archive",
    "is_google_drive",
    "manual_download_message",
    "sha256sum",
]

_CHUNK = 1 << 20
_GDRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")

#: sha256 of dataset archives whose digest is known, by URL (used when the caller passes none). None of the
#: automatically downloaded datasets has a published digest; a download logs the digest it got so a user can pin
#: it here or pass ``sha256=`` to :func:`download_and_extract`.
KNOWN_SHA256: dict[str, str] = {}


class DownloadError(RuntimeError):
    """A download failed (no network, HTTP error, checksum mismatch); no partial file is left behind."""


class ManualDownloadRequired(FileNotFoundError):
    """The data cannot be downloaded automatically; the message says what to obtain and where to put it."""


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
    the checksum check succeed (``sha256`` or, when None, :data:`KNOWN_SHA256`). A mismatch raises
    :class:`DownloadError` naming both digests; the file is kept aside as ``<dest>.rejected-<sha256 prefix>``
    and not used. Without a known checksum the digest of the downloaded file is logged so it can be pinned. Any
    other failure removes the temporary file and the error says what to do when offline. An existing ``dest``
    whose checksum matches (or any existing ``dest`` when no checksum is known) is reused without the network.
    """
    dest = osp.abspath(osp.expanduser(dest))
    sha256 = sha256 or KNOWN_SHA256.get(url)
    if osp.isfile(dest):
        if sha256 is None or sha256sum(dest) == sha256.lower():
            return dest
        logger.warning(f"{dest} does not match its sha256 {sha256.lower()}; downloading it again")
    try:
        with atomic_output(dest, suffix=".part") as tmp:
            if not quiet:
                logger.info(f"Downloading {url} to {dest}")
            if is_google_drive(url):
                _fetch_gdrive(url, str(tmp), quiet)
            else:
                scheme = urllib.parse.urlparse(url).scheme.lower()
                if scheme not in ("http", "https", "ftp", "file"):
                    raise DownloadError(
                        f"Unsupported URL scheme {scheme!r} in {url!r} (expected http(s), ftp or file)"
                    )
                if scheme in ("http", "ftp") and not quiet:
                    logger.info("  (the host offers no https: the file is checked by its sha256 when known)")
                fetch_url(url, tmp, quiet, timeout)
            verify_sha256(tmp, sha256, source=url, dest=dest)
        return dest
    except ChecksumMismatchError as e:
        raise DownloadError(str(e)) from e
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(_offline_hint(url, dest, reason)) from e


# ----------------------------------------------------------------------------------------------------- limits


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
    url: str,
    dataset_dir: str,
    sha256: str | None = None,
    filename: str | None = None,
    quiet: bool = False,
    *,
    max_bytes: float | None = None,
    max_members: float | None = None,
    max_ratio: float | None = None,
) -> str:
    """Download ``url`` into ``dataset_dir`` and extract it there when its name says it is an archive; return the
    file path.

    The archive is kept (delete it by hand to save space). Extraction goes through :func:`extract_archive` (same
    limits); a file whose name is not an archive's is left as downloaded.
    """
    dataset_dir = osp.abspath(osp.expanduser(dataset_dir))
    if filename is None:
        if is_google_drive(url):
            filename = "data.zip"
        else:
            filename = osp.basename(urllib.parse.urlparse(url).path) or "download"
    fpath = download_file(url, osp.join(dataset_dir, filename), sha256=sha256, quiet=quiet)
    if archive_type(fpath) is None:
        if _sniff(fpath) != "unknown":
            logger.warning(
                f"{fpath} looks like an archive but its name does not say so; it was not extracted"
            )
        return fpath
    if not quiet:
        logger.info(f"Extracting {fpath}")
    try:
        extract_archive(fpath, dataset_dir, max_bytes=max_bytes, max_members=max_members, max_ratio=max_ratio)
    except UnsafeArchiveError as e:
        raise type(e)(f"{e}\nThe archive was not extracted; it is kept at {fpath} (delete it).") from e
    except OSError as e:
        raise DownloadError(
            f"Could not extract {fpath} ({e}); delete it and run again, or extract it by hand into {dataset_dir}"
        ) from e
    return fpath
