"""Small general-purpose helpers: files, JSON, seeding, downloads, image reading, environment info."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import os.path as osp
import random
import re
import stat as _stat
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

__all__ = [
    "ChecksumMismatchError",
    "atomic_output",
    "check_isfile",
    "collect_env_info",
    "download_url",
    "listdir_nohidden",
    "mkdir_if_missing",
    "read_image",
    "read_json",
    "remove_stale_temp_files",
    "set_random_seed",
    "sha256sum",
    "verify_sha256",
    "write_json",
]


def mkdir_if_missing(dirname: str) -> None:
    """Create ``dirname`` (and its parents) if it does not exist."""
    if not dirname:
        return
    try:
        os.makedirs(dirname, exist_ok=True)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


def check_isfile(fpath: str) -> bool:
    """True if ``fpath`` is an existing file; warns (like the original) otherwise."""
    isfile = osp.isfile(fpath)
    if not isfile:
        warnings.warn(f'No file found at "{fpath}"', stacklevel=2)
    return isfile


def read_json(fpath: str) -> Any:
    """Read a JSON file (an invalid file is a ValueError naming it)."""
    with open(fpath, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{fpath} is not valid JSON ({e})") from e


@contextlib.contextmanager
def atomic_output(dest: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``dest`` to write; when the block succeeds it replaces ``dest`` (with the
    usual umask permissions, not ``mkstemp``'s 0600), when it raises it is removed. So ``dest`` is always either
    absent, the previous file or the complete new one, never a partial file.

    The temporary file is named ``.<dest name>.<8 random characters><suffix>`` (see :func:`temp_file_pattern`); one
    left behind by a killed process is removed by :func:`remove_stale_temp_files`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # best effort: some mounts (FUSE, SMB, vboxsf) refuse chmod but take the file itself
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def temp_file_pattern(dest_name_regex: str, suffix: str = ".tmp") -> re.Pattern[str]:
    """The names :func:`atomic_output` gives its temporary files for destinations matching ``dest_name_regex``
    (``tempfile.mkstemp``: 8 characters of ``[a-z0-9_]`` between the prefix and the suffix)."""
    return re.compile(rf"^\.(?:{dest_name_regex})\.[a-z0-9_]{{8}}{re.escape(suffix)}$")


def remove_stale_temp_files(
    folder: str | os.PathLike, pattern: re.Pattern[str], older_than: float
) -> list[Path]:
    """Remove the leftover temporary files of :func:`atomic_output` (a process killed while writing) in
    ``folder``: only regular files whose name matches ``pattern`` and that were last modified before
    ``older_than`` (a ``time.time()``). Returns the removed paths; errors are ignored (best effort)."""
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not pattern.match(entry.name):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if not _stat.S_ISREG(st.st_mode) or st.st_mtime >= older_than:
                    continue
                os.unlink(entry.path)
                removed.append(Path(entry.path))
                logger.info(f"Removed the leftover temporary file {entry.path} of an interrupted save")
    return removed


def _umask() -> int:
    """The process umask. Read from ``/proc`` where there is one: ``os.umask`` can only be read by setting it,
    and while it is 0 another thread would create world-writable files."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(obj: Any, fpath: str) -> None:
    """Write ``obj`` as JSON atomically (temporary file in the same folder, then rename)."""
    with atomic_output(osp.abspath(fpath)) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=4, separators=(",", ": "))


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and all CUDA devices)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def fetch_url(url: str, path: str | os.PathLike, quiet: bool = False, timeout: float = 60.0) -> None:
    """Write what ``url`` (http(s), ftp, file) serves to ``path`` with urllib, logging progress unless ``quiet``.

    Raises ``OSError`` when the transfer is cut short. Callers write to a temporary path (:func:`atomic_output`).
    """
    request = urllib.request.Request(url, headers={"User-Agent": "torchreid"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(path, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
        done = 0
        next_report = 0.1
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if not quiet and total and done / total >= next_report:
                logger.info(f"  {done / total:6.1%} of {total / 1e6:.1f} MB")
                next_report = (int(done / total * 10) + 1) / 10
    if total and done != total:
        raise OSError(f"download of {url} was cut short: received {done} of {total} bytes")


class ChecksumMismatchError(RuntimeError):
    """A downloaded file does not have its known sha256; it was kept aside and not used."""


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(
    path: str | os.PathLike, expected: str | None, *, source: str, dest: str | os.PathLike
) -> str:
    """Check the freshly downloaded ``path`` (destined for ``dest``, fetched from ``source``); return its sha256.

    With ``expected`` a mismatch moves ``path`` aside to ``<dest>.rejected-<first 12 hex digits>`` (kept for
    inspection, never used) and raises :class:`ChecksumMismatchError` naming both digests. Without it the digest
    is logged so that a user can pin it.
    """
    got = sha256sum(path)
    if expected is None:
        logger.info(f"sha256 of {Path(dest).name}: {got} (no known checksum; pass sha256='{got}' to pin it)")
        return got
    if got != expected.lower():
        aside = Path(f"{dest}.rejected-{got[:12]}")
        os.replace(path, aside)
        raise ChecksumMismatchError(
            f"Checksum mismatch for {source}: expected sha256 {expected.lower()}, got {got}. The download is "
            f"corrupt or the file changed upstream; it was kept aside as {aside} and not used. Place a verified "
            f"copy at {dest}."
        )
    return got


def download_url(url: str, dst: str, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dst`` with urllib and return ``dst``.

    The data goes to a temporary file next to ``dst`` that is renamed into place only when the transfer is
    complete and (with ``sha256``) its checksum matches; see :func:`verify_sha256` for a mismatch (an error
    naming both digests, the file kept aside) and for files without a known checksum (the digest is logged). A
    failed download leaves nothing behind and raises a ``RuntimeError`` saying where to place the file by hand.
    """
    dst = osp.abspath(osp.expanduser(dst))
    logger.info(f'* url="{url}"')
    logger.info(f'* destination="{dst}"')
    try:
        with atomic_output(dst, suffix=".part") as tmp:
            fetch_url(url, tmp, timeout=timeout)
            verify_sha256(tmp, sha256, source=url, dest=dst)
    except ChecksumMismatchError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise RuntimeError(
            f"could not download {url} ({getattr(e, 'reason', e)}); download it by hand and place it at {dst}"
        ) from e
    return dst


def read_image(path: str) -> Image.Image:
    """Read an image with PIL and return it in RGB mode.

    **Improve** over the original (which retried an unreadable file forever): a missing file raises
    ``FileNotFoundError``, a corrupt/unreadable file ``OSError`` and an image over PIL's pixel limit
    (``PIL.Image.MAX_IMAGE_PIXELS``) ``PIL.Image.DecompressionBombError``, all naming the path.
    """
    from PIL import Image

    if not osp.exists(path):
        raise FileNotFoundError(f'image file not found: "{path}"')
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except Image.DecompressionBombError as e:
        raise Image.DecompressionBombError(
            f'image "{path}" is too large to decode safely ({e}); raise PIL.Image.MAX_IMAGE_PIXELS if you trust it'
        ) from e
    except (
        Exception
    ) as e:  # PIL raises many types on bad data (OSError, SyntaxError, ValueError, struct.error...)
        raise OSError(
            f'cannot read image "{path}" ({type(e).__name__}: {e}); the file is corrupt or not an image'
        ) from e


def listdir_nohidden(path: str, sort: bool = False) -> list[str]:
    """Entries of ``path`` that do not start with a dot."""
    items = [f for f in os.listdir(path) if not f.startswith(".")]
    if sort:
        items.sort()
    return items


def collect_env_info() -> str:
    """A printable summary of the environment (Python, PyTorch, CUDA, GPUs, key packages)."""
    import platform

    import torch

    lines = [
        f"sys.platform: {sys.platform}",
        f"Python: {sys.version.replace(os.linesep, ' ')}",
        f"platform: {platform.platform()}",
        f"numpy: {np.__version__}",
        f"PyTorch: {torch.__version__}",
        f"PyTorch debug build: {torch.version.debug}",
        f"CUDA available: {torch.cuda.is_available()}",
    ]
    if torch.cuda.is_available():
        lines.append(f"CUDA (torch built with): {torch.version.cuda}")
        lines.append(f"cuDNN: {torch.backends.cudnn.version()}")
        for i in range(torch.cuda.device_count()):
            lines.append(f"GPU {i}: {torch.cuda.get_device_name(i)}")
    for mod in ("torchvision", "PIL"):
        try:
            m = __import__(mod)
            lines.append(f"{mod}: {getattr(m, '__version__', 'unknown')}")
        except ImportError:
            lines.append(f"{mod}: not installed")
    import torchreid

    lines.append(f"torchreid: {torchreid.__version__}")
    return "\n".join(lines)
