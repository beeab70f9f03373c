"""Small general-purpose helpers: files, JSON, seeding, downloads, image reading, environment info."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import os.path as osp
import random
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

__all__ = [
    "atomic_output",
    "check_isfile",
    "collect_env_info",
    "download_url",
    "listdir_nohidden",
    "mkdir_if_missing",
    "read_image",
    "read_json",
    "set_random_seed",
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
    absent, the previous file or the complete new one, never a partial file."""
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
    """Write what ``url`` (http(s), ftp, file) serves to ``path`` with urllib, showing progress unless ``quiet``.

    Raises ``OSError`` when the transfer is cut short. Callers write to a temporary path (:func:`atomic_output`).
    """
    request = urllib.request.Request(url, headers={"User-Agent": "torchreid"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(path, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
        done = 0
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if not quiet and total:
                sys.stdout.write(f"\r  {done / total:6.1%} of {total / 1e6:.1f} MB")
                sys.stdout.flush()
        if not quiet and total:
            sys.stdout.write("\n")
    if total and done != total:
        raise OSError(f"download of {url} was cut short: received {done} of {total} bytes")


def download_url(url: str, dst: str, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dst`` with urllib.

    The data goes to a temporary file next to ``dst`` that is renamed into place only when the transfer is
    complete; a failed download leaves nothing behind and raises a ``RuntimeError`` saying where to place the file
    by hand.
    """
    dst = osp.abspath(osp.expanduser(dst))
    print(f'* url="{url}"')
    print(f'* destination="{dst}"')
    try:
        with atomic_output(dst, suffix=".part") as tmp:
            fetch_url(url, tmp, timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise RuntimeError(
            f"could not download {url} ({getattr(e, 'reason', e)}); download it by hand and place it at {dst}"
        ) from e
    return dst


def read_image(path: str) -> Image.Image:
    """Read an image with PIL and return it in RGB mode.

    **Improve** over the original (which retried an unreadable file forever): a missing file raises
    ``FileNotFoundError`` and an unreadable/corrupt file raises ``OSError``, both naming the path.
    """
    from PIL import Image, UnidentifiedImageError

    if not osp.exists(path):
        raise FileNotFoundError(f'image file not found: "{path}"')
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
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
