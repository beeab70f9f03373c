"""Overlap host→device copies (and on-device augmentation) with the training step.

:class:`DevicePrefetcher` wraps a ``DataLoader``: while the model works on batch *i* on the default CUDA
stream, batch *i+1* is copied (``non_blocking``, from pinned memory) and optionally augmented
(:class:`~torchreid.data.gpu_transforms.GPUAugment`) on a side stream. Each yielded batch is safe to use on
the current stream (the current stream waits for the side stream and the tensors are recorded on it, so the
caching allocator never reuses their memory too early).

On CPU (or with ``device=None``) it is a pass-through that still applies the batch transform, so engines can
use the same loop everywhere. Batches may be dicts (``{'img', 'pid', ...}``), tuples/lists or tensors;
non-tensor entries (paths) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["DevicePrefetcher", "move_to_device"]


def move_to_device(batch: Any, device: torch.device, non_blocking: bool = True) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(move_to_device(v, device, non_blocking) for v in batch)
    return batch


def _record(batch: Any, stream: torch.cuda.Stream) -> None:
    if isinstance(batch, torch.Tensor):
        if batch.is_cuda:
            batch.record_stream(stream)
    elif isinstance(batch, dict):
        for v in batch.values():
            _record(v, stream)
    elif isinstance(batch, list | tuple):
        for v in batch:
            _record(v, stream)


class DevicePrefetcher:
    """Iterate over ``loader`` with the next batch already on ``device``.

    - ``transform``: applied to the image entry (``img_key`` of a dict batch, or element 0 of a tuple) after
      the copy — e.g. a :class:`GPUAugment`; a list of k augmented views (``k_tfm > 1``) is transformed
      view by view.
    - ``channels_last``: convert 4-D image batches to NHWC on the side stream.
    - Attributes not defined here (``sampler``, ``dataset``, ``batch_size``, ...) are the loader's, so the
      prefetcher can stand in for it (``len()`` too).
    """

    def __init__(
        self,
        loader: Any,
        device: torch.device | str | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        channels_last: bool = False,
        img_key: str = "img",
    ) -> None:
        self.loader = loader
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        if self.device.type == "cuda" and self.device.index is None and torch.cuda.is_available():
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.transform = transform
        self.channels_last = channels_last
        self.img_key = img_key

    @property
    def uses_side_stream(self) -> bool:
        return self.device.type == "cuda" and torch.cuda.is_available()

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.loader, name)

    # ------------------------------------------------------------------ per-batch work
    def _process_img(self, img: Any) -> Any:
        if isinstance(img, list | tuple):
            return type(img)(self._process_img(v) for v in img)
        if not isinstance(img, torch.Tensor):
            return img
        if self.transform is not None:
            img = self.transform(img)
        if self.channels_last and img.dim() == 4:
            img = img.contiguous(memory_format=torch.channels_last)
        return img

    def _process(self, batch: Any) -> Any:
        if self.device.type != "cpu" or any(
            isinstance(t, torch.Tensor) and t.device != self.device for t in _tensors(batch)
        ):
            batch = move_to_device(batch, self.device, non_blocking=True)
        if self.transform is None and not self.channels_last:
            return batch
        if isinstance(batch, dict):
            if self.img_key in batch:
                batch = dict(batch)
                batch[self.img_key] = self._process_img(batch[self.img_key])
            return batch
        if isinstance(batch, list | tuple) and batch:
            return type(batch)([self._process_img(batch[0]), *batch[1:]])
        return self._process_img(batch)

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[Any]:
        if not self.uses_side_stream:
            for batch in self.loader:
                yield self._process(batch)
            return

        stream = torch.cuda.Stream(device=self.device)
        it = iter(self.loader)

        def preload() -> Any:
            try:
                batch = next(it)
            except StopIteration:
                return None
            with torch.cuda.stream(stream):
                return self._process(batch)

        nxt = preload()
        while nxt is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_stream(stream)
            batch = nxt
            _record(batch, current)
            nxt = preload()
            yield batch


def _tensors(batch: Any) -> Iterator[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        yield batch
    elif isinstance(batch, dict):
        for v in batch.values():
            yield from _tensors(v)
    elif isinstance(batch, list | tuple):
        for v in batch:
            yield from _tensors(v)
