"""Dataset base classes: :class:`Dataset`, :class:`ImageDataset`, :class:`VideoDataset`.

A record is ``(img_path, pid, camid, dsetid)`` (a video record holds a tuple of frame paths instead of
``img_path``); loaders may give 3-tuples, which get ``dsetid=0``. Train pids are 0..N-1; query and gallery keep the
raw pids (they share one pid space).

A concrete dataset builds its ``train``/``query``/``gallery`` lists in ``__init__`` and then calls
``super().__init__(train, query, gallery, **kwargs)``::

    @register_image_dataset("mydata")
    class MyData(ImageDataset):
        dataset_dir = "mydata"
        layout = "<root>/mydata/{train,query,gallery}/*.jpg"

        def __init__(self, root="", **kwargs):
            self.dataset_dir = osp.join(osp.abspath(osp.expanduser(root)), self.dataset_dir)
            self.download_dataset(self.dataset_dir, self.dataset_url)
            self.check_before_run([self.dataset_dir])
            train, query, gallery = ...
            super().__init__(train, query, gallery, **kwargs)
"""

from __future__ import annotations

import abc
import contextlib
import inspect
import logging
import os
import os.path as osp
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from ...utils.tools import read_image

__all__ = ["Dataset", "ImageDataset", "VideoDataset"]

logger = logging.getLogger(__name__)

Record = tuple[Any, int, int, int]
_MODES = ("train", "query", "gallery")
_SAMPLE_METHODS = ("random", "evenly", "all")


def _as_records(data: Iterable[Sequence[Any]] | None, what: str) -> list[Record]:
    """Normalise records to 4-tuples ``(path(s), pid, camid, dsetid)``; 3-tuples get ``dsetid=0``."""
    out: list[Record] = []
    for i, item in enumerate(data or []):
        if len(item) == 3:
            path, pid, camid = item
            dsetid = 0
        elif len(item) == 4:
            path, pid, camid, dsetid = item
        else:
            raise ValueError(
                f"{what} record {i} has {len(item)} fields; expected (img_path, pid, camid[, dsetid]): {item!r}"
            )
        if isinstance(path, list):
            path = tuple(path)
        out.append((path, int(pid), int(camid), int(dsetid)))
    return out


class Dataset(abc.ABC):
    """Base class of image and video re-ID datasets.

    Args:
        train, query, gallery: lists of records ``(img_path(s), pid, camid[, dsetid])``.
        transform: applied to each image (each frame for videos).
        k_tfm: number of independent augmentations of each training image (``img`` becomes a list when > 1).
        mode: which subset ``__getitem__``/``__len__`` serve: ``'train'``, ``'query'`` or ``'gallery'``.
        combineall: add query + gallery identities (minus ``_junk_pids``) to the training set.
        verbose: print the summary table.

    Class attributes a subclass may set: ``dataset_dir`` (folder under ``root``), ``dataset_url`` (``None`` when
    the data must be obtained by hand), ``layout`` (the expected folder layout, shown when files are missing;
    the class docstring is used otherwise), ``obtain`` (how to get the data), ``_junk_pids`` (identities left out
    by ``combine_all``) and ``_train_only`` (``combine_all`` is a no-op).
    """

    _junk_pids: list[int] = []
    _train_only: bool = False
    dataset_dir: str = ""
    dataset_url: str | None = None
    layout: str = ""
    obtain: str = ""

    def __init__(
        self,
        train: Sequence[Sequence[Any]],
        query: Sequence[Sequence[Any]],
        gallery: Sequence[Sequence[Any]],
        transform: Any = None,
        k_tfm: int = 1,
        mode: str = "train",
        combineall: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> None:
        self.train = _as_records(train, "train")
        self.query = _as_records(query, "query")
        self.gallery = _as_records(gallery, "gallery")
        self.transform = transform
        k_tfm = int(k_tfm)
        if k_tfm < 1:
            raise ValueError(f"k_tfm must be >= 1, got {k_tfm}")
        self.k_tfm = k_tfm
        self.mode = mode
        self.combineall = combineall
        self.verbose = verbose

        self.num_train_pids = self.get_num_pids(self.train)
        self.num_train_cams = self.get_num_cams(self.train)
        self.num_datasets = self.get_num_datasets(self.train)

        if self.combineall:
            self.combine_all()

        if mode not in _MODES:
            raise ValueError(
                f"Invalid mode. Got {mode!r}, but expected to be one of [train | query | gallery]"
            )
        self.data = getattr(self, mode)

        if self.verbose:
            self.show_summary()

    # ------------------------------------------------------------------------------------------------ protocol

    @abc.abstractmethod
    def __getitem__(self, index: int) -> dict[str, Any]:
        """One sample of the current ``mode`` (ImageDataset / VideoDataset define what it holds)."""

    def __len__(self) -> int:
        return len(self.data)

    def __add__(self, other: Dataset) -> Dataset:
        """Merge the training sets: ``other``'s pids, camids and dsetids are offset past ``self``'s.

        The result serves ``self``'s query/gallery, transform, mode and ``k_tfm`` (the original dropped k_tfm).
        """
        if not isinstance(other, Dataset):
            return NotImplemented
        train = list(self.train)
        # offset past the largest label, which is the count for the usual 0..n-1 labels (the original's offset)
        # and never merges two identities or cameras when a set's labels have gaps
        pid_off, cam_off, dset_off = (max((r[i] for r in self.train), default=-1) + 1 for i in (1, 2, 3))
        for path, pid, camid, dsetid in other.train:
            train.append((path, pid + pid_off, camid + cam_off, dsetid + dset_off))
        common = {
            "transform": self.transform,
            "k_tfm": self.k_tfm,
            "mode": self.mode,
            "combineall": False,
            "verbose": False,
        }
        is_image = not train or isinstance(train[0][0], str)
        if is_image:
            return ImageDataset(train, self.query, self.gallery, **common)
        return VideoDataset(
            train,
            self.query,
            self.gallery,
            seq_len=getattr(self, "seq_len", 15),
            sample_method=getattr(self, "sample_method", "evenly"),
            **common,
        )

    def __radd__(self, other: Any) -> Dataset:
        """Support ``sum([...])``, which starts from ``0``."""
        if isinstance(other, int) and other == 0:
            return self
        return self.__add__(other)

    # ------------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def get_num_pids(data: Sequence[Record]) -> int:
        """Number of distinct identities in ``data``."""
        return len({items[1] for items in data})

    @staticmethod
    def get_num_cams(data: Sequence[Record]) -> int:
        """Number of distinct cameras in ``data``."""
        return len({items[2] for items in data})

    @staticmethod
    def get_num_datasets(data: Sequence[Record]) -> int:
        """Number of distinct source datasets in ``data``."""
        return len({items[3] for items in data})

    def combine_all(self) -> None:
        """Append query + gallery (minus ``_junk_pids``) to train, with their pids placed after the train pids.

        Query and gallery share one pid space, so the same raw pid maps to the same new label in both.
        No-op for ``_train_only`` datasets.
        """
        if self._train_only:
            return
        junk = set(self._junk_pids)
        test_pids = sorted({r[1] for r in self.query + self.gallery if r[1] not in junk})
        pid2label = {pid: i + self.num_train_pids for i, pid in enumerate(test_pids)}
        combined = list(self.train)
        seen = set()  # an image in both query and gallery (CUHK03 classic: query = gallery) is added once
        for data in (self.query, self.gallery):
            for path, pid, camid, dsetid in data:
                if pid in junk or (path, pid, camid) in seen:
                    continue
                seen.add((path, pid, camid))
                combined.append((path, pid2label[pid], camid, dsetid))
        self.train = combined
        self.num_train_pids = self.get_num_pids(self.train)
        self.num_train_cams = self.get_num_cams(self.train)

    def _transform_image(self, tfm: Any, k_tfm: int, img0: Any) -> Any:
        """``tfm(img0)``, or a list of ``k_tfm`` independent draws of it."""
        if k_tfm == 1:
            return tfm(img0)
        return [tfm(img0) for _ in range(k_tfm)]

    # ------------------------------------------------------------------------------------- files and downloads

    def _layout_text(self) -> str:
        layout = getattr(self, "layout", "") or ""
        if not layout:
            layout = inspect.getdoc(type(self)) or ""
            if inspect.getdoc(Dataset) == layout or layout in (
                inspect.getdoc(ImageDataset),
                inspect.getdoc(VideoDataset),
            ):
                layout = ""
        return layout.strip()

    def _obtain_text(self) -> str:
        obtain = getattr(self, "obtain", "") or ""
        if obtain:
            return obtain.strip()
        url = getattr(self, "dataset_url", None)
        if url:
            return (
                f"It is downloaded automatically from {url} when its folder does not exist; delete an incomplete "
                "folder to download it again, or download and extract the archive yourself."
            )
        return (
            "This dataset cannot be downloaded automatically: obtain it from its authors (see the torchreid "
            "dataset documentation) and arrange the files as shown."
        )

    def missing_data_message(self, path: str) -> str:
        """The text of the error raised when ``path`` is missing: what, where, the expected layout, how to get it."""
        name = type(self).__name__
        lines = [f'"{path}" is not found (needed by dataset {name}).']
        layout = self._layout_text()
        if layout:
            lines.append("Expected layout:\n" + "\n".join("  " + line for line in layout.splitlines()))
        lines.append(self._obtain_text())
        lines.append("Point `root` (data.root / --root) at the folder that contains the dataset folder.")
        return "\n".join(lines)

    def check_before_run(self, required_files: str | Iterable[str]) -> None:
        """Raise ``FileNotFoundError`` for the first missing path of ``required_files``.

        The message names the path, the expected layout (``layout`` attribute or the class docstring) and how to
        obtain the data.
        """
        if isinstance(required_files, (str, os.PathLike)):
            required_files = [required_files]
        for fpath in required_files:
            if not osp.exists(fpath):
                raise FileNotFoundError(self.missing_data_message(str(fpath)))

    def download_dataset(self, dataset_dir: str, dataset_url: str | None) -> None:
        """Download and extract the dataset into ``dataset_dir`` — only when that folder does not exist.

        Without a URL this raises the same ``FileNotFoundError`` as :meth:`check_before_run` (expected layout and
        how to obtain the data). The archive is fetched and safely extracted (no absolute or ``..`` members) into
        a staging folder ``<dataset_dir>.download`` that is renamed to ``dataset_dir`` only on success, so an
        interrupted download is retried on the next run (a complete archive left there is re-used).
        """
        if osp.exists(dataset_dir):
            return
        if not dataset_url:
            raise FileNotFoundError(self.missing_data_message(dataset_dir))
        from .download import DownloadError, download_and_extract  # lazy: networking code only when needed

        staging = osp.normpath(dataset_dir) + ".download"
        logger.info(f'Downloading {type(self).__name__} dataset to "{dataset_dir}"')
        try:
            download_and_extract(dataset_url, staging)
        except DownloadError as e:
            with contextlib.suppress(OSError):
                os.rmdir(staging)  # only when empty: a complete archive in it is re-used by the next run
            raise FileNotFoundError(
                f"{self.missing_data_message(dataset_dir)}\nThe automatic download failed: {e}"
            ) from e
        if osp.exists(dataset_dir):  # pragma: no cover - a concurrent process finished first
            shutil.rmtree(staging, ignore_errors=True)
            return
        os.replace(staging, dataset_dir)
        logger.info(f'{type(self).__name__} dataset is ready in "{dataset_dir}"')

    # ------------------------------------------------------------------------------------------------- summary

    def _summary_rows(self) -> list[tuple[str, int, int, int]]:
        return [
            (name, self.get_num_pids(data), len(data), self.get_num_cams(data))
            for name, data in (("train", self.train), ("query", self.query), ("gallery", self.gallery))
        ]

    _count_label = "# images"

    def summary_table(self) -> str:
        head = f"  subset   | # ids | {self._count_label} | # cameras"
        rule = "  " + "-" * (len(head) - 2)
        w = len(self._count_label)
        rows = [f"  {n:<8} | {p:5d} | {c:{w}d} | {k:9d}" for n, p, c, k in self._summary_rows()]
        return "\n".join([f"=> Loaded {type(self).__name__}", rule, head, rule, *rows, rule])

    def show_summary(self) -> None:
        """Print a ``subset | # ids | # images | # cameras`` table."""
        logger.info(self.summary_table())

    def __repr__(self) -> str:
        return self.summary_table()


class ImageDataset(Dataset):
    """A dataset of single images; items are dicts ``img, pid, camid, impath, dsetid``."""

    def __init__(
        self,
        train: Sequence[Sequence[Any]],
        query: Sequence[Sequence[Any]],
        gallery: Sequence[Sequence[Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(train, query, gallery, **kwargs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        img_path, pid, camid, dsetid = self.data[index]
        img = read_image(img_path)
        if self.transform is not None:
            img = self._transform_image(self.transform, self.k_tfm, img)
        return {"img": img, "pid": pid, "camid": camid, "impath": img_path, "dsetid": dsetid}


class VideoDataset(Dataset):
    """A dataset of tracklets; items are dicts ``img`` ``(seq_len, C, H, W)``, ``pid``, ``camid``, ``dsetid``.

    ``sample_method`` picks the frames of a tracklet:

    - ``'random'``: ``seq_len`` random frames in temporal order (with replacement when the tracklet is shorter);
    - ``'evenly'``: ``n -= n % seq_len`` then every ``n / seq_len``-th frame; a short tracklet is padded by
      repeating its last frame;
    - ``'all'``: every frame (use a test batch size of 1).
    """

    _count_label = "# tracklets"

    def __init__(
        self,
        train: Sequence[Sequence[Any]],
        query: Sequence[Sequence[Any]],
        gallery: Sequence[Sequence[Any]],
        seq_len: int = 15,
        sample_method: str = "evenly",
        **kwargs: Any,
    ):
        seq_len = int(seq_len)
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        if sample_method not in _SAMPLE_METHODS:
            raise ValueError(
                f"Unknown sample_method {sample_method!r}; expected one of {', '.join(_SAMPLE_METHODS)}"
            )
        self.seq_len = seq_len
        self.sample_method = sample_method
        super().__init__(train, query, gallery, **kwargs)

    def sample_indices(self, num_imgs: int) -> list[int]:
        """Frame indices (into a tracklet of ``num_imgs`` frames) that ``__getitem__`` reads.

        ``'random'`` draws from torch's RNG, which the DataLoader seeds differently in every worker.
        """
        if num_imgs < 1:
            raise ValueError("cannot sample frames from an empty tracklet")
        seq_len = self.seq_len
        if self.sample_method == "random":
            if num_imgs >= seq_len:
                idx = torch.randperm(num_imgs)[:seq_len]
            else:
                idx = torch.randint(0, num_imgs, (seq_len,))
            return sorted(int(i) for i in idx)
        if self.sample_method == "evenly":
            if num_imgs >= seq_len:
                n = num_imgs - num_imgs % seq_len
                stride = n // seq_len
                return list(range(0, n, stride))
            return list(range(num_imgs)) + [num_imgs - 1] * (seq_len - num_imgs)
        if self.sample_method == "all":
            return list(range(num_imgs))
        raise ValueError(
            f"Unknown sample_method {self.sample_method!r}; expected one of {', '.join(_SAMPLE_METHODS)}"
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        img_paths, pid, camid, dsetid = self.data[index]
        frames = []
        for i in self.sample_indices(len(img_paths)):
            img = read_image(img_paths[i])
            if self.transform is not None:
                img = self.transform(img)
            else:
                from torchvision.transforms.functional import to_tensor

                img = to_tensor(img)
            frames.append(img)
        return {"img": torch.stack(frames, dim=0), "pid": pid, "camid": camid, "dsetid": dsetid}


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ...utils.tools import download_url, mkdir_if_missing  # noqa: E402, F401
