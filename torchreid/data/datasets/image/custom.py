"""Your own data as a dataset: a CSV file or a folder per subset (train / query / gallery).

Three ways to use it:

1. **Config / command line** (the ``custom`` dataset key)::

       data:
         sources: ['custom']
         targets: ['custom']
       custom:
         train: /data/mine/train.csv
         query: /data/mine/query        # a folder
         gallery: /data/mine/gallery.csv

   or ``python scripts/main.py ... -s custom -t custom custom.train train.csv custom.query q.csv
   custom.gallery g.csv``.

2. **Python, one-off**::

       from torchreid.data.datasets import init_image_dataset
       ds = init_image_dataset("custom", custom_train="train.csv", custom_query="q.csv", custom_gallery="g.csv")

3. **Python, under your own name** (usable in ``sources``/``targets`` of an ``ImageDataManager``)::

       from torchreid.data.datasets.image.custom import register_custom_dataset
       register_custom_dataset("shop", train="shop/train.csv", query="shop/query", gallery="shop/gallery")
       datamanager = torchreid.data.ImageDataManager(sources="shop", targets="shop", ...)

Each subset is one of:

- **a CSV file** (``.csv``) whose first line is the header ``path,pid,camid`` (any column order, no other
  columns); ``path`` is absolute or relative to the CSV file's folder, ``pid`` an integer identity, ``camid`` a
  non-negative integer camera;
- **a folder** arranged ``<pid>/<camid>/<image>`` — e.g. ``query/17/0/a.jpg`` is identity 17 seen by camera 0
  (both folder names integers; images .jpg .jpeg .png .bmp .ppm .pgm .tif .tiff .webp; any file names);
- **a list** of ``(path, pid, camid)`` tuples (Python only).

A path given relative is looked up from the current directory first, then under ``root``.

Training identities are relabelled 0..N-1; query and gallery keep their pids, which must share one identity
space. The data is validated with errors you can act on: unknown or missing CSV columns, malformed values (file
and line named), missing images (the first few named), query identities that never appear in the gallery from
another camera (named; an error when no query can be evaluated, a warning otherwise), and single-camera test data
(explained: evaluation drops same-camera matches). Without ``train`` the dataset can only be a target; without
``query``/``gallery`` only a source.
"""

from __future__ import annotations

import csv
import os
import os.path as osp
import warnings
from collections.abc import Sequence
from typing import Any, SupportsIndex, Union

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import IMG_EXTS

__all__ = ["CustomDataError", "CustomImageDataset", "load_subset", "register_custom_dataset"]

Records = list[tuple[str, int, int]]
Source = Union[str, os.PathLike, Sequence[Sequence[Any]], None]

COLUMNS = ("path", "pid", "camid")
_SHOW = 5  # how many offending items an error names


class CustomDataError(ValueError):
    """Custom data that cannot be used as given; the message says what to fix."""


_WARNED: set[str] = set()  # coverage warnings already given in this process


def _names(values: Sequence[Any], limit: int = _SHOW) -> str:
    shown = ", ".join(str(v) for v in list(values)[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def _resolve(spec: str | os.PathLike, root: str, what: str) -> str:
    path = osp.expanduser(os.fspath(spec))
    if osp.isabs(path) or osp.exists(path):
        if not osp.exists(path):
            raise FileNotFoundError(f"{what}: {path} does not exist")
        return osp.abspath(path)
    candidate = osp.join(root, path) if root else path
    if osp.exists(candidate):
        return osp.abspath(candidate)
    where = f"in the current directory ({os.getcwd()})" + (f" or under root ({root})" if root else "")
    raise FileNotFoundError(f"{what}: {path!r} was not found {where}")


def _to_int(value: str, column: str, where: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise CustomDataError(f"{where}: {column} must be an integer, got {value!r}") from None


def _read_csv(path: str, what: str) -> Records:
    base = osp.dirname(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise CustomDataError(
                f"{what}: {path} is empty; expected the header line 'path,pid,camid' and rows"
            )
        header = [h.strip().lower() for h in header]
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in COLUMNS if c not in header]
        if unknown or missing:
            looks_like_data = any(h.lower().endswith(IMG_EXTS) for h in header) or any(
                h.isdigit() for h in header
            )
            if looks_like_data:
                raise CustomDataError(
                    f"{what}: {path} has no header line; its first line must be 'path,pid,camid' (got {header})"
                )
            found = {"unknown": unknown, "missing": missing}
            parts = [f"{kind} column(s) {', '.join(map(repr, cols))}" for kind, cols in found.items() if cols]
            raise CustomDataError(
                f"{what}: {path}: {'; '.join(parts)}. The header must name exactly the columns path,pid,camid "
                "(in any order)"
            )
        if len(set(header)) != len(header):
            raise CustomDataError(f"{what}: {path}: duplicate columns in the header {header}")
        col = {c: header.index(c) for c in COLUMNS}
        records = []
        for lineno, row in enumerate(reader, 2):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}:{lineno}"
            if len(row) != len(header):
                raise CustomDataError(
                    f"{where}: expected {len(header)} values ({','.join(header)}), got {row}"
                )
            img = osp.expanduser(row[col["path"]].strip())
            if not img:
                raise CustomDataError(f"{where}: empty path")
            pid = _to_int(row[col["pid"]], "pid", where)
            camid = _to_int(row[col["camid"]], "camid", where)
            if camid < 0:
                raise CustomDataError(f"{where}: camid must be >= 0, got {camid}")
            records.append((img if osp.isabs(img) else osp.normpath(osp.join(base, img)), pid, camid))
    return records


def _read_folder(folder: str, what: str) -> Records:
    records = []
    stray = []
    for pid_name in sorted(os.listdir(folder)):
        pid_dir = osp.join(folder, pid_name)
        if pid_name.startswith("."):
            continue
        if not osp.isdir(pid_dir):
            if pid_name.lower().endswith(IMG_EXTS):
                stray.append(pid_dir)
            continue
        pid = _to_int_folder(pid_name, pid_dir, what, "identity")
        for cam_name in sorted(os.listdir(pid_dir)):
            cam_dir = osp.join(pid_dir, cam_name)
            if cam_name.startswith("."):
                continue
            if not osp.isdir(cam_dir):
                if cam_name.lower().endswith(IMG_EXTS):
                    stray.append(cam_dir)
                continue
            camid = _to_int_folder(cam_name, cam_dir, what, "camera")
            if camid < 0:
                raise CustomDataError(f"{what}: {cam_dir}: camera folder names must be integers >= 0")
            for name in sorted(os.listdir(cam_dir)):
                if name.lower().endswith(IMG_EXTS) and not name.startswith("."):
                    records.append((osp.join(cam_dir, name), pid, camid))
    if stray:
        raise CustomDataError(
            f"{what}: {folder} must be arranged <pid>/<camid>/<image>, but these images are not two folder levels "
            f"deep: {_names(stray)}. Move them (e.g. 17/0/img.jpg = identity 17, camera 0) or describe the data "
            "in a CSV with the header path,pid,camid"
        )
    return records


def _to_int_folder(name: str, path: str, what: str, kind: str) -> int:
    try:
        return int(name)
    except ValueError:
        raise CustomDataError(
            f"{what}: {path}: {kind} folder names must be integers (layout <pid>/<camid>/<image>)"
        ) from None


def load_subset(spec: Source, what: str = "custom data", root: str = "") -> Records:
    """Read one subset given as a CSV path, a ``<pid>/<camid>/<image>`` folder or a list of records.

    Raises :class:`CustomDataError` / ``FileNotFoundError`` with a message naming what to fix; checks that every
    image exists and that the subset is not empty.
    """
    if isinstance(spec, (str, os.PathLike)):
        path = _resolve(spec, root, what)
        if osp.isdir(path):
            records = _read_folder(path, what)
        elif path.lower().endswith(".csv"):
            records = _read_csv(path, what)
        else:
            raise CustomDataError(
                f"{what}: {path} is neither a folder nor a .csv file (give a CSV with the header path,pid,camid "
                "or a folder arranged <pid>/<camid>/<image>)"
            )
        source = path
    else:
        records = []
        for i, item in enumerate(spec):
            try:
                img, pid, camid = item[0], int(item[1]), int(item[2])
            except (TypeError, ValueError, IndexError) as e:
                raise CustomDataError(f"{what}: item {i} must be (path, pid, camid), got {item!r}") from e
            if camid < 0:
                raise CustomDataError(f"{what}: item {i}: camid must be >= 0, got {camid}")
            records.append((osp.abspath(osp.expanduser(os.fspath(img))), pid, camid))
        source = "the given list"
    if not records:
        raise CustomDataError(f"{what}: no images found in {source}")
    missing = [p for p, _, _ in records if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"{what}: {len(missing)} of {len(records)} images listed in {source} do not exist: {_names(missing)}"
        )
    return records


def check_evaluable(query: Records, gallery: Records, name: str = "custom") -> list[int]:
    """Return the query identities that cannot be evaluated; raise when none can.

    Evaluation drops gallery images of the query's identity taken by the query's camera, so a query identity
    needs a gallery image from *another* camera.
    """
    cams = {c for _, _, c in query} | {c for _, _, c in gallery}
    if len(cams) == 1:
        raise CustomDataError(
            f"{name}: every query and gallery image has camera id {cams.pop()}. Evaluation ignores gallery images "
            "of the query's identity taken by the same camera (they would be trivial matches), so with a single "
            "camera nothing can be matched. Give the images their real camera ids; if query and gallery come from "
            "distinct shots of one camera, give the query camid 0 and the gallery camid 1"
        )
    gallery_cams: dict[int, set[int]] = {}
    for _, pid, camid in gallery:
        gallery_cams.setdefault(pid, set()).add(camid)
    bad = set()
    for _, pid, camid in query:
        if not gallery_cams.get(pid, set()) - {camid}:
            bad.add(pid)
    bad_sorted = sorted(bad)
    if bad_sorted:
        msg = (
            f"{name}: query identities {_names(bad_sorted, 10)} never appear in the gallery from another camera, "
            "so they cannot be evaluated"
        )
        if len(bad) == len({pid for _, pid, _ in query}):
            raise CustomDataError(
                msg
                + " - and that is every query identity. Query and gallery must share identity numbers, and "
                "each query identity needs a gallery image from a different camera"
            )
        if msg not in _WARNED:  # the data manager builds a dataset per subset: say it once per process
            _WARNED.add(msg)
            warnings.warn(msg + "; these queries are skipped", stacklevel=2)
    return bad_sorted


@register_image_dataset("custom")
class CustomImageDataset(ImageDataset):
    """Your own data given as CSV files or ``<pid>/<camid>/<image>`` folders (see the module documentation).

    Args:
        root: where relative subset paths are looked up after the current directory.
        custom_train, custom_query, custom_gallery: the subsets (CSV path, folder or list of records); the config
            keys ``custom.train/query/gallery`` arrive here. ``train=``, ``query=``, ``gallery=`` are accepted as
            shorter aliases in Python.
    """

    dataset_dir = ""
    dataset_url = None
    layout = (
        "custom data: one CSV (header path,pid,camid; relative paths from the CSV's folder) or one folder arranged\n"
        "<pid>/<camid>/<image> per subset, given as custom.train / custom.query / custom.gallery"
    )
    #: defaults bound by :func:`register_custom_dataset`
    _subsets: dict[str, Source] = {}
    _name = "custom"

    def __init__(
        self,
        root: str = "",
        custom_train: Source = None,
        custom_query: Source = None,
        custom_gallery: Source = None,
        train: Source = None,
        query: Source = None,
        gallery: Source = None,
        **kwargs,
    ):
        self.root = osp.abspath(osp.expanduser(root)) if root else ""
        given = {
            "train": _pick(custom_train, train, self._subsets.get("train")),
            "query": _pick(custom_query, query, self._subsets.get("query")),
            "gallery": _pick(custom_gallery, gallery, self._subsets.get("gallery")),
        }
        name = self._name
        if all(v is None for v in given.values()):
            raise CustomDataError(
                f"{name}: no data given. Set custom.train, custom.query and custom.gallery in the config (or pass "
                "custom_train=, custom_query=, custom_gallery=) to CSV files with the header path,pid,camid or to "
                "folders arranged <pid>/<camid>/<image>"
            )
        if (given["query"] is None) != (given["gallery"] is None):
            have, lack = ("query", "gallery") if given["query"] is not None else ("gallery", "query")
            raise CustomDataError(f"{name}: {have} is given but {lack} is not; evaluation needs both")

        subsets = {k: load_subset(v, f"{name} {k}", self.root) for k, v in given.items() if v is not None}
        self.has_train = "train" in subsets
        if "query" in subsets:
            query_r, gallery_r = subsets["query"], subsets["gallery"]
            check_evaluable(query_r, gallery_r, name)
        else:
            self._train_only = True  # source-only: placeholder query/gallery, it cannot be a target
            query_r = gallery_r = [subsets["train"][0]]
        if self.has_train:
            train_r = _relabel(subsets["train"])
        else:
            # target-only: a placeholder train set (the relabelled test images) keeps the object complete
            train_r = _relabel(query_r + gallery_r)
            if kwargs.get("mode", "train") == "train":
                warnings.warn(
                    f"{name}: no training data was given (custom.train / custom_train), so its train set is a "
                    "placeholder made of the query and gallery images; use it as a target only",
                    stacklevel=2,
                )
        super().__init__(train_r, query_r, gallery_r, **kwargs)

    def __reduce_ex__(self, protocol: SupportsIndex):
        # a class made by register_custom_dataset is not a module attribute, so pickle (DataLoader workers under
        # the spawn/forkserver start methods) could not find it by name: rebuild it from its name and subsets
        cls = type(self)
        if not cls.__dict__.get("_generated", False):
            return super().__reduce_ex__(protocol)
        return (_unpickle_generated, (cls._name, cls._subsets), self.__dict__)


def _relabel(records: Records) -> Records:
    labels = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _ in records}))}
    return [(p, labels[pid], c) for p, pid, c in records]


def _pick(*options: Source) -> Source:
    for opt in options:
        if opt is not None and not (isinstance(opt, str) and opt == ""):
            return opt
    return None


def register_custom_dataset(
    name: str, train: Source = None, query: Source = None, gallery: Source = None
) -> type[CustomImageDataset]:
    """Register custom data under ``name`` so it can be used in ``sources``/``targets`` like a built-in dataset.

    ``train``/``query``/``gallery`` are CSV paths, ``<pid>/<camid>/<image>`` folders or lists of
    ``(path, pid, camid)``; they are read (and validated) when the dataset is instantiated. Returns the new class.
    A name already registered is an error.
    """
    if train is None and query is None and gallery is None:
        raise CustomDataError(f"register_custom_dataset({name!r}): give at least train, or query and gallery")
    cls = _make_class(name, {"train": train, "query": query, "gallery": gallery})
    register_image_dataset(name, cls)
    return cls


def _make_class(name: str, subsets: dict[str, Source]) -> type[CustomImageDataset]:
    return type(
        f"Custom_{name}",
        (CustomImageDataset,),
        {
            "_subsets": subsets,
            "_name": name,
            "_generated": True,
            "__doc__": "Custom dataset {!r} (train={!r}, query={!r}, gallery={!r}).".format(
                name, subsets["train"], subsets["query"], subsets["gallery"]
            ),
            "__module__": __name__,
        },
    )


_UNPICKLED: dict[tuple[str, str], type[CustomImageDataset]] = {}


def _unpickle_generated(name: str, subsets: dict[str, Source]) -> CustomImageDataset:
    """Recreate an instance of a ``register_custom_dataset`` class (in a process where it may not exist)."""
    from .. import IMAGE_DATASETS

    cls = IMAGE_DATASETS.get(name) if name in IMAGE_DATASETS else None
    if not (isinstance(cls, type) and cls.__dict__.get("_generated", False)):
        key = (name, repr(subsets))
        cls = _UNPICKLED.get(key)
        if cls is None:
            cls = _UNPICKLED[key] = _make_class(name, subsets)
    return cls.__new__(cls)
