"""The on-disk form of a :class:`~torchreid.search.FeatureIndex`: a self-describing folder.

::

    index/
      manifest.json   format, version, dim, metric, dtype, count, the model that produced the features, and for
                      every file below its size, shape, dtype and SHA-256; plus a checksum of the manifest itself
      features.npy    (count, dim) float32 or float16 (cosine indexes hold L2-normalised rows)
      sqnorms.npy     (count,) float32 squared norms of the stored rows (saves a pass over the rows per search)
      ids.npy, pids.npy, camids.npy   (count,) int64
      meta.json       optional: one JSON value per item (e.g. the image path)

Everything is plain ``.npy`` / JSON: loading never unpickles (``np.load(allow_pickle=False)``). A folder is written
in a temporary sibling and renamed into place, so a crash leaves the previous index or the new one, never a mix.
Loading checks everything before building anything (truncated files, edited manifests, swapped arrays).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "VERSION", "IndexFormatError", "read_folder", "sha256_file", "write_folder"]

FORMAT = "torchreid-feature-index"
VERSION = 1
MANIFEST = "manifest.json"
# content checksums of files up to this size are always verified on load; larger ones (the features of a
# million-image gallery) only with verify=True, so a memory-mapped load stays fast (sizes and headers always are)
AUTO_VERIFY_BYTES = 256 << 20


class IndexFormatError(ValueError):
    """An index folder is missing, truncated, edited by hand, or not an index at all."""


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _manifest_checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _HashingWriter:
    def __init__(self, f: Any) -> None:
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, data: bytes | memoryview) -> int:
        self.h.update(data)
        self.n += len(data)
        return self.f.write(data)


def _write_npy(
    path: Path, parts: Iterable[np.ndarray], shape: tuple[int, ...], dtype: np.dtype
) -> dict[str, Any]:
    """Stream ``parts`` (consecutive rows) into one ``.npy`` file; returns its manifest entry."""
    with open(path, "wb") as raw:
        f = _HashingWriter(raw)
        np.lib.format.write_array_header_1_0(
            f,
            {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape},
        )
        rows = 0
        for p in parts:
            p = np.ascontiguousarray(p, dtype=dtype)
            step = max(1, (64 << 20) // max(p.itemsize * int(np.prod(p.shape[1:], dtype=np.int64)), 1))
            for a in range(0, p.shape[0], step):  # bounded memory for memory-mapped sources
                f.write(memoryview(np.ascontiguousarray(p[a : a + step])).cast("B"))
            rows += p.shape[0]
        if rows != shape[0]:
            raise RuntimeError(f"internal error: wrote {rows} rows to {path.name}, expected {shape[0]}")
        raw.flush()
        os.fsync(raw.fileno())
    return {"bytes": f.n, "sha256": f.h.hexdigest(), "shape": list(shape), "dtype": np.dtype(dtype).name}


def write_folder(
    folder: Path,
    manifest: dict[str, Any],
    arrays: dict[str, tuple[Iterable[np.ndarray], tuple[int, ...], np.dtype]],
    meta: list[Any] | None,
) -> Path:
    """Write an index folder atomically: into a temporary sibling, then renamed over ``folder``.

    An existing ``folder`` is replaced only when it is an index folder itself (never a folder of other files).
    """
    folder = Path(folder)
    if folder.exists() and (
        not folder.is_dir() or (any(folder.iterdir()) and not (folder / MANIFEST).is_file())
    ):
        raise FileExistsError(
            f"{folder} exists and is not an index folder; choose another path (an index is only ever written over "
            f"an older index)"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        files: dict[str, Any] = {}
        for name, (parts, shape, dtype) in arrays.items():
            files[f"{name}.npy"] = _write_npy(tmp / f"{name}.npy", parts, shape, dtype)
        if meta is not None:
            data = json.dumps(meta, ensure_ascii=False).encode("utf-8")
            (tmp / "meta.json").write_bytes(data)
            files["meta.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        manifest = {"format": FORMAT, "version": VERSION, **manifest, "files": files}
        manifest["checksum"] = _manifest_checksum(manifest)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            old.rmdir()
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _umask() -> int:
    from ..utils.tools import _umask as umask

    return umask()


def _fail(folder: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(
        f"{folder} is not a usable index: {problem}. Rebuild it (torchreid index build) or restore it from a backup; "
        f"files of an index must not be edited by hand"
    )


def read_folder(folder: Path, mmap: bool = True, verify: bool | str = "auto") -> dict[str, Any]:
    """Read and check an index folder; returns ``{"manifest", "features", "sqnorms", "ids", "pids", "camids",
    "meta"}``. Raises :class:`IndexFormatError` (naming the file and the problem) before anything is returned."""
    folder = Path(folder)
    mpath = folder / MANIFEST
    if not folder.is_dir():
        raise FileNotFoundError(f"index folder {folder} does not exist")
    if not mpath.is_file():
        raise _fail(folder, f"{MANIFEST} is missing")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise _fail(folder, f"{MANIFEST} is not valid JSON ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(folder, f"{MANIFEST} does not describe a {FORMAT}")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise _fail(
            folder, f"format version {manifest.get('version')!r} is newer than this torchreid ({VERSION})"
        )
    if manifest.get("checksum") != _manifest_checksum(manifest):
        raise _fail(folder, f"{MANIFEST} was modified after it was saved (its checksum does not match)")
    files = manifest["files"]
    count, dim, dtype = int(manifest["count"]), int(manifest["dim"]), np.dtype(manifest["dtype"])
    expected = {"features.npy": ((count, dim), dtype), "ids.npy": ((count,), np.dtype("int64")),
                "pids.npy": ((count,), np.dtype("int64")), "camids.npy": ((count,), np.dtype("int64")), "sqnorms.npy": ((count,), np.dtype("float32"))}  # fmt: skip
    for name in [*expected, *(["meta.json"] if "meta.json" in files else [])]:
        path = folder / name
        if name not in files:
            raise _fail(folder, f"the manifest lists no {name}")
        if not path.is_file():
            raise _fail(folder, f"{name} is missing")
        size, want = path.stat().st_size, int(files[name]["bytes"])
        if size != want:
            what = "truncated" if size < want else "longer than saved"
            raise _fail(folder, f"{name} is {what}: {size} bytes, the manifest says {want}")
        check = verify is True or (verify == "auto" and size <= AUTO_VERIFY_BYTES)
        if check and sha256_file(path) != files[name]["sha256"]:
            raise _fail(folder, f"the content of {name} changed after saving (SHA-256 mismatch)")
    out: dict[str, Any] = {"manifest": manifest, "meta": None}
    for name, (shape, dt) in expected.items():
        try:
            arr = np.load(folder / name, mmap_mode="c" if mmap else None, allow_pickle=False)
        except ValueError as e:
            raise _fail(folder, f"{name} cannot be read without unpickling or is damaged ({e})") from e
        if arr.shape != shape or arr.dtype != dt:
            raise _fail(
                folder, f"{name} holds {arr.dtype}{list(arr.shape)}, the manifest says {dt}{list(shape)}"
            )
        out[name[:-4]] = arr
    if "meta.json" in files:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, list) or len(meta) != count:
            raise _fail(folder, f"meta.json must be a list of {count} entries")
        out["meta"] = meta
    return out
