"""Helpers shared by the image dataset loaders (not a dataset module: the leading underscore keeps the registry's
auto-import from loading it on its own).

Split caches are JSON files next to the data. Paths inside them are stored *relative to the dataset folder*, so
moving the data root keeps them valid; caches written by the original Torchreid (absolute paths) are still read,
and rebased onto the current dataset folder when their absolute paths no longer exist.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import os
import os.path as osp
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Any, ClassVar

__all__ = [
    "IMG_EXTS",
    "SPLIT_SEED",
    "GeneratedSpec",
    "cached_splits",
    "ensure_generated",
    "from_json_records",
    "list_images",
    "load_cached_split",
    "loadmat_checked",
    "market_style_dir",
    "pick_split",
    "read_json",
    "require_files",
    "split_entry",
    "to_json_records",
    "write_json",
]

logger = logging.getLogger(__name__)

#: Seed of the random train/test splits (VIPeR, CUHK01, iLIDS, PRID). Fixed, so a lost cache regenerates identically.
SPLIT_SEED = 0
IMG_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); delete it and it will be regenerated") from e


def write_json(obj: Any, path: str) -> bool:
    """Write ``obj`` atomically (temporary file + rename). Return False, with a warning, if the folder is read-only.

    Split files are deterministic (fixed seed), so failing to cache one only costs regenerating it next time.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
        return True
    except OSError as e:
        if osp.exists(tmp):
            os.remove(tmp)
        warnings.warn(
            f"could not cache {path} ({e}); it will be regenerated (identically) on the next run",
            stacklevel=3,
        )
        return False


class GeneratedSpec:
    """Base of the frozen dataclasses that fully describe a generated dataset (the synthetic ones): a digest of
    every field and a readable folder name (``tag``) that changes whenever any field does."""

    format_version: ClassVar[int] = 1  # bump when the generator's output changes
    num_train_ids: int
    num_test_ids: int
    num_cams: int
    height: int
    width: int
    seed: int

    def digest(self) -> str:
        payload = json.dumps({"version": self.format_version, **asdict(self)}, sort_keys=True)  # type: ignore[call-overload]
        return hashlib.sha1(payload.encode()).hexdigest()[:10]

    def tag(self) -> str:
        """Folder name: the main parameters (readable) and a digest of all of them."""
        return (
            f"{self.num_train_ids}+{self.num_test_ids}ids_{self.num_cams}cams_{self.height}x{self.width}"
            f"_seed{self.seed}_{self.digest()}"
        )


def ensure_generated(
    base_dir: str,
    tag: str,
    generate: Callable[[str], Any],
    is_current: Callable[[dict], bool],
    what: str,
    verbose: bool = True,
) -> tuple[str, dict]:
    """``(data_dir, manifest)`` of the generated dataset ``<base_dir>/<tag>/``, generating it first if needed.

    ``generate(folder)`` writes the files and, last, ``folder/manifest.json``: a folder whose manifest is missing
    (an interrupted run) or fails ``is_current`` is generated again. Generation happens in a temporary sibling
    folder renamed into place, so concurrent processes (DDP ranks) never see a half-written dataset.
    """
    data_dir = osp.join(base_dir, tag)
    manifest_path = osp.join(data_dir, "manifest.json")

    def complete() -> dict | None:
        try:
            manifest = read_json(manifest_path)
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) and is_current(manifest) else None

    manifest = complete()
    if manifest is not None:
        return data_dir, manifest
    if verbose:
        logger.info(f"=> Generating {what} in {data_dir} (one-off)")
    os.makedirs(base_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{tag}.", dir=base_dir)
    try:
        generate(tmp)
        if osp.isdir(data_dir):
            manifest = complete()
            if manifest is not None:  # a concurrent process finished first
                return data_dir, manifest
            shutil.rmtree(data_dir)  # an interrupted earlier attempt
        try:
            os.replace(tmp, data_dir)
        except OSError:
            if complete() is None:  # pragma: no cover - lost a race and the winner failed
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return data_dir, read_json(manifest_path)


def _rebase(path: str, base: str) -> str:
    """Map an absolute path written under another root onto ``base`` (matched by the dataset folder's name)."""
    marker = os.sep + osp.basename(osp.normpath(base)) + os.sep
    i = path.rfind(marker)
    if i < 0:
        return path
    candidate = osp.join(base, path[i + len(marker) :])
    return candidate if osp.exists(candidate) else path


def to_json_records(records: Iterable[Sequence[Any]], base: str) -> list[list[Any]]:
    """``(path, pid, camid[, dsetid])`` records → JSON rows ``[relpath, pid, camid]`` relative to ``base``."""
    return [[osp.relpath(r[0], base), int(r[1]), int(r[2])] for r in records]


def from_json_records(items: Iterable[Sequence[Any]], base: str) -> list[tuple[str, int, int]]:
    """Inverse of :func:`to_json_records`; absolute paths (original Torchreid caches) are kept or rebased."""
    out = []
    for item in items:
        p = item[0]
        if osp.isabs(p):
            if not osp.exists(p):
                p = _rebase(p, base)
        else:
            p = osp.join(base, p)
        out.append((p, int(item[1]), int(item[2])))
    return out


def cached_splits(path: str, make: Callable[[], list[dict]], verbose: bool = True) -> list[dict]:
    """Read the split cache at ``path``; create it with ``make()`` (and write it) when absent."""
    if osp.exists(path):
        splits = read_json(path)
        if not isinstance(splits, list) or not splits:
            raise ValueError(f"split file {path} holds no splits; delete it and it will be regenerated")
        return splits
    splits = make()
    if write_json(splits, path) and verbose:
        logger.info(f"Created {len(splits)} split(s); saved to {path}")
    return splits


def pick_split(splits: Sequence[Any], split_id: int, name: str) -> Any:
    """``splits[split_id]`` with a clear error stating the valid range."""
    n = len(splits)
    try:
        index = operator.index(split_id)  # ints and NumPy integers; not floats, strings or bools
    except TypeError:
        index = None
    if index is None or isinstance(split_id, bool) or not 0 <= index < n:
        raise ValueError(
            f"split_id={split_id!r} is out of range for {name}: valid split ids are 0..{n - 1} ({n} splits)"
        )
    return splits[index]


def split_entry(
    base: str, train: list, query: list, gallery: list, num_train_pids: int, num_test_pids: int | None = None
) -> dict:
    """One split as stored in ``splits.json`` (paths relative to ``base``); the query / gallery identity counts
    are ``num_test_pids`` when given, else counted from the records."""
    return {
        "train": to_json_records(train, base),
        "query": to_json_records(query, base),
        "gallery": to_json_records(gallery, base),
        "num_train_pids": num_train_pids,
        "num_query_pids": num_test_pids if num_test_pids is not None else len({r[1] for r in query}),
        "num_gallery_pids": num_test_pids if num_test_pids is not None else len({r[1] for r in gallery}),
    }


def load_cached_split(
    dataset: Any, name: str, split_id: int, verbose: bool = True
) -> tuple[list, list, list]:
    """``(train, query, gallery)`` of split ``split_id`` of a random-split dataset: read from the cache at
    ``dataset.split_path`` (created with ``dataset._make_splits()`` when absent), records rebased on
    ``dataset.dataset_dir``; every image must exist."""
    split_path = dataset.split_path
    split = pick_split(cached_splits(split_path, dataset._make_splits, verbose=verbose), split_id, name)
    train, query, gallery = (
        from_json_records(split[k], dataset.dataset_dir) for k in ("train", "query", "gallery")
    )
    require_files((r[0] for r in train + query + gallery), f"{name} split {split_id} ({split_path})")
    return train, query, gallery


def require_files(paths: Iterable[str], what: str, hint: str = "", limit: int = 5) -> None:
    """Raise FileNotFoundError naming the first ``limit`` of ``paths`` that do not exist."""
    missing = [p for p in paths if not osp.exists(p)]
    if missing:
        shown = "\n  ".join(missing[:limit])
        more = f"\n  ... and {len(missing) - limit} more" if len(missing) > limit else ""
        raise FileNotFoundError(
            f"{len(missing)} file(s) of {what} are missing:\n  {shown}{more}" + (f"\n{hint}" if hint else "")
        )


def list_images(folder: str, exts: tuple[str, ...] = IMG_EXTS) -> list[str]:
    """Sorted image files directly inside ``folder`` (hidden files skipped)."""
    return sorted(
        osp.join(folder, n) for n in os.listdir(folder) if n.lower().endswith(exts) and not n.startswith(".")
    )


def loadmat_checked(path: str, **kwargs: Any) -> dict:
    """``scipy.io.loadmat`` with an error that names the file when it cannot be read."""
    from ....utils.optional import require

    loadmat = require("scipy.io", f"Reading {path}").loadmat

    try:
        return loadmat(path, **kwargs)
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise ValueError(f"{path} is a MATLAB v7.3 (HDF5) file, expected an older .mat format ({e})") from e
    except Exception as e:  # scipy raises many types (ValueError, TypeError, MatReadError, OSError ...)
        raise ValueError(
            f"could not read the MATLAB file {path} ({type(e).__name__}: {e}); it is probably truncated or "
            "corrupt: download it again"
        ) from e


_MARKET_RE = re.compile(r"^([-\d]+)_c(\d+)")


def market_style_dir(
    folder: str,
    relabel: bool,
    max_cam: int,
    skip_pids: tuple[int, ...] = (-1,),
    max_pid: int | None = None,
    exts: tuple[str, ...] = (".jpg", ".jpeg", ".png"),
) -> list[tuple[str, int, int]]:
    """Records of a Market-1501-style folder (``0002_c1s1_000451_03.jpg``: pid 2, camera 1 → camid 0), sorted by
    file name.

    ``skip_pids`` are dropped (junk); other pids must lie in ``0..max_pid`` when it is given; train pids are
    relabelled to 0..N-1 (increasing raw pid) when ``relabel``.
    """
    items = []
    for path in list_images(folder, exts):
        m = _MARKET_RE.match(osp.basename(path))
        if m is None:
            raise ValueError(
                f"{path}: file name does not follow the '<pid>_c<camera>...' convention (e.g. 0002_c1s1_000451_03.jpg)"
            )
        pid, cam = int(m.group(1)), int(m.group(2))
        if pid in skip_pids:
            continue
        if max_pid is not None and not 0 <= pid <= max_pid:
            raise ValueError(f"{path}: pid {pid} is outside 0..{max_pid} (or {skip_pids[0]} for junk)")
        if not 1 <= cam <= max_cam:
            raise ValueError(f"{path}: camera {cam} is outside 1..{max_cam}")
        items.append((path, pid, cam - 1))
    if relabel:
        pid2label = {pid: i for i, pid in enumerate(sorted({p for _, p, _ in items}))}
        items = [(path, pid2label[pid], camid) for path, pid, camid in items]
    return items
