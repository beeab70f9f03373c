"""``FeatureExtractor``: re-ID features from image paths, arrays, PIL images or tensors with one call.

Built for trackers as much as for offline search:

- ``color_order='bgr'`` for OpenCV crops (arrays and uint8 tensors are read in that order; files are always RGB);
- input size, mean, std (and colour order, when recorded) come from the checkpoint when it has them — an explicit
  argument that disagrees wins, with a warning;
- ``batch_size`` chunks large inputs, ``normalize=True`` returns unit-length features;
- ``precision='bf16'|'fp16'`` (autocast) and ``channels_last=True`` for speed; ``verbose=False`` is silent.

Preprocessing is exactly the original Torchreid's: PIL bilinear resize → ``ToTensor`` → ``Normalize`` (other
resize back-ends move OSNet features by up to 0.04 in cosine).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from ..data.constants import IMAGENET_MEAN as _MEAN
from ..data.constants import IMAGENET_STD as _STD

__all__ = ["COLOR_ORDERS", "PRECISIONS", "FeatureExtractor", "ImageBatcher"]

logger = logging.getLogger(__name__)

COLOR_ORDERS = ("rgb", "bgr")
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_BATCH_SIZE = 64


class _Default(tuple):
    """A default argument value that remembers it was not passed (so checkpoint metadata may replace it)."""


IMAGENET_MEAN = _Default(_MEAN)
IMAGENET_STD = _Default(_STD)
DEFAULT_IMAGE_SIZE = _Default((256, 128))


def _is_default(value: Any) -> bool:
    return isinstance(value, _Default)


def check_color_order(color_order: str | None) -> str:
    """``'rgb'`` or ``'bgr'`` (case-insensitive); anything else is a ``ValueError``."""
    if color_order is None:
        return "rgb"
    order = str(color_order).lower() if isinstance(color_order, str) else color_order
    if order not in COLOR_ORDERS:
        raise ValueError(
            f"color_order must be 'rgb' or 'bgr', got {color_order!r} (OpenCV images are 'bgr', PIL/files 'rgb')"
        )
    return order


class InferenceSettings(NamedTuple):
    """How an extractor preprocesses its inputs (each extractor exposes the fields as attributes)."""

    image_size: tuple[int, int]
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]
    color_order: str


def resolve_inference_settings(
    meta: dict[str, Any],
    image_size: Sequence[int],
    pixel_mean: Sequence[float],
    pixel_std: Sequence[float],
    color_order: str | None,
    source: str,
) -> InferenceSettings:
    """Merge explicit arguments with stored metadata: stored values replace defaults; explicit ones win (warned)."""
    chosen: dict[str, Any] = {}
    for key, value, default in (
        ("image_size", image_size, _is_default(image_size)),
        ("pixel_mean", pixel_mean, _is_default(pixel_mean)),
        ("pixel_std", pixel_std, _is_default(pixel_std)),
        ("color_order", color_order, color_order is None),
    ):
        stored = meta.get(key)
        if stored is None:
            chosen[key] = value
            continue
        if default:
            chosen[key] = stored
            continue
        given = tuple(value) if isinstance(value, (list, tuple)) else value
        if key == "color_order":
            given = check_color_order(value)
        if key == "image_size":
            given = tuple(int(v) for v in given)
        equal = (
            np.allclose(np.asarray(given, dtype=float), np.asarray(stored, dtype=float))
            if key != "color_order"
            else given == stored
        )
        if not equal:
            warnings.warn(
                f"{key}={given!r} differs from the {stored!r} stored in {source}; using {given!r} as passed "
                "(features may not match the ones the model was trained for)",
                UserWarning,
                stacklevel=3,
            )
        chosen[key] = given
    size = tuple(int(s) for s in chosen["image_size"])
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(
            f"image_size must be (height, width) with positive values, got {chosen['image_size']!r}"
        )
    return InferenceSettings(
        (size[0], size[1]),
        tuple(float(v) for v in chosen["pixel_mean"]),
        tuple(float(v) for v in chosen["pixel_std"]),
        check_color_order(chosen["color_order"]),
    )


def apply_inference_settings(
    extractor: Any,
    model_name: str,
    settings: InferenceSettings,
    pixel_norm: bool,
    batch_size: int,
    normalize: bool,
) -> None:
    """Set the preprocessing and output attributes every extractor back-end exposes under the same names.

    ``settings`` (what :func:`resolve_inference_settings` returns) become the attributes ``image_size``,
    ``pixel_mean``, ``pixel_std`` and ``color_order``.
    """
    size, mean, std, order = settings
    extractor.images = ImageBatcher(size, mean, std, pixel_norm, color_order=order)
    extractor.preprocess = extractor.images.preprocess
    for name, value in settings._asdict().items():
        setattr(extractor, name, value)
    extractor.model_name = model_name
    extractor.batch_size = batch_size
    extractor.normalize = bool(normalize)


@contextlib.contextmanager
def quiet_logs(enabled: bool) -> Iterator[None]:
    """Silence the ``torchreid`` logger's INFO messages and warnings inside the block when ``enabled``."""
    if not enabled:
        yield
        return
    root = logging.getLogger("torchreid")
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*were skipped.*")
            yield
    finally:
        root.setLevel(level)


class FeatureExtractor:
    """A simple API for feature extraction.

    ``__call__`` accepts a path (``str``/``PathLike``), a ``PIL.Image``, an image array ``(H, W, C)`` (``uint8``,
    or float in [0, 1] as torchvision's ``ToPILImage`` reads it), a ``uint8`` image tensor ``(C, H, W)`` /
    ``(B, C, H, W)``, a list of any of these, or a float tensor ``(B, C, H, W)`` / ``(C, H, W)`` that is already
    preprocessed (used as is). Returns a ``(B, D)`` float32 tensor on ``device``.

    Args:
        model_name: model name (see ``torchreid.models.list_models()``); may be empty when the checkpoint
            records it.
        model_path: a weights file or a zoo name (``'osnet_x0_25_msmt17'``, see ``torchreid.models.zoo``);
            empty: ImageNet-pretrained weights.
        image_size: (height, width); default: the checkpoint's, else (256, 128).
        pixel_mean, pixel_std: normalisation statistics; default: the checkpoint's, else ImageNet's.
        pixel_norm: normalise pixels.
        device: 'cpu' or 'cuda' (falls back to the CPU with a warning when CUDA is unavailable).
        verbose: log model details; ``False`` is silent.
        color_order: channel order of array / uint8 tensor inputs, 'rgb' (default, as the original) or 'bgr'
            (OpenCV). Files and PIL images are always read as RGB.
        batch_size: images per forward pass (inputs are preprocessed chunk by chunk).
        normalize: L2-normalise the features (unit length, so a dot product is the cosine similarity).
        precision: 'fp32', 'bf16' or 'fp16' (autocast; features are returned as float32).
        channels_last: run the model in channels-last memory format (faster convolutions on many CPUs).

    Examples::

        from torchreid.utils import FeatureExtractor
        extractor = FeatureExtractor(model_name='osnet_x0_25', model_path='osnet_x0_25_msmt17', device='cpu',
                                     color_order='bgr', normalize=True)
        features = extractor([crop1, crop2])   # OpenCV crops -> (2, 512) unit vectors
    """

    def __init__(
        self,
        model_name: str = "",
        model_path: str | os.PathLike = "",
        image_size: Sequence[int] = DEFAULT_IMAGE_SIZE,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        pixel_norm: bool = True,
        device: str | torch.device = "cuda",
        verbose: bool = True,
        *,
        color_order: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        normalize: bool = False,
        precision: str = "fp32",
        channels_last: bool = False,
    ) -> None:
        from ..models import build_model
        from ..utils.checkpoint import load_checkpoint, load_pretrained_weights

        if color_order is not None:
            check_color_order(color_order)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                "CUDA is not available; FeatureExtractor runs on the CPU", RuntimeWarning, stacklevel=2
            )
            device = torch.device("cpu")

        weights = None
        meta: dict[str, Any] = {}
        if model_path:
            weights = self._resolve_path(model_path)
            from .metadata import checkpoint_metadata

            with contextlib.suppress(Exception):  # unreadable files fail below with a clear message
                meta = checkpoint_metadata(load_checkpoint(weights))
            from ..models.zoo import ZOO

            entry = ZOO.get(os.fspath(model_path))
            if entry is not None:  # zoo files are plain state dicts: the zoo knows their model and size
                meta.setdefault("model_name", entry.arch)
                meta.setdefault("image_size", entry.input_size)
        if not model_name:
            model_name = meta.get("model_name", "")
            if not model_name:
                raise ValueError("model_name is required (the checkpoint does not record its architecture)")
        elif meta.get("model_name") and meta["model_name"] != model_name:
            warnings.warn(
                f"model_name={model_name!r} differs from the {meta['model_name']!r} stored in '{model_path}'",
                UserWarning,
                stacklevel=2,
            )
        if "image_size" not in meta and _is_default(image_size):
            from ..models import get_model_info, is_model

            if is_model(
                model_name
            ):  # the model's own input size (hacnn: 160x64), else the original's 256x128
                image_size = _Default(tuple(get_model_info(model_name).input_size[1:]))
        settings = resolve_inference_settings(
            meta, image_size, pixel_mean, pixel_std, color_order, f"'{model_path}'"
        )

        with quiet_logs(not verbose):
            model = build_model(
                model_name, num_classes=1, pretrained=weights is None, use_gpu=device.type == "cuda"
            )
            model.eval()
            if verbose:
                from ..utils.model_complexity import compute_model_complexity

                num_params, flops = compute_model_complexity(model, (1, 3, *settings.image_size))
                logger.info(f"Model: {model_name}")
                logger.info(f"- params: {num_params:,}")
                logger.info(f"- flops: {flops:,}")
            if weights is not None:
                with warnings.catch_warnings():
                    # the 1-way classifier never matches the file's; that is expected here
                    warnings.filterwarnings("ignore", message=r".*were skipped.*")
                    report = load_pretrained_weights(model, weights)
                other = [k for k in report.get("skipped", []) if not k.startswith("classifier")]
                if other:
                    warnings.warn(
                        f"{len(other)} weights of '{model_path}' did not fit the model: {other}", stacklevel=2
                    )

        apply_inference_settings(self, model_name, settings, pixel_norm, batch_size, normalize)
        self.device = device
        self.precision = precision
        self.channels_last = bool(channels_last)
        self.model = model.to(device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    @staticmethod
    def _resolve_path(model_path: str | os.PathLike) -> str:
        path = os.fspath(model_path)
        if os.path.isfile(path):
            return path
        from ..models.zoo import _suggest, is_zoo_name, resolve_weights

        if is_zoo_name(path):
            return os.fspath(resolve_weights(path))
        # the original silently fell back to ImageNet weights: a typo then gave meaningless features
        raise FileNotFoundError(
            f"model_path '{model_path}' is not a file; pass the path of trained weights (a checkpoint or a "
            f"state dict), a zoo name (`torchreid weights list`), or model_path='' to use the ImageNet-pretrained "
            f"weights.{_suggest(path)}"
        )

    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, dtype=torch.float32)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        dtype = PRECISIONS[self.precision]
        autocast = (
            torch.autocast(self.device.type, dtype=dtype)
            if dtype is not torch.float32
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            features = self.model(images)
        features = features.float()
        if self.normalize:
            features = torch.nn.functional.normalize(features, dim=1)
        return features

    def __call__(self, input: Any) -> torch.Tensor:
        chunks = [self._forward(batch) for batch in self.images.batches(input, self.batch_size)]
        return torch.cat(chunks, dim=0) if len(chunks) > 1 else chunks[0]


class ImageBatcher:
    """Turns what :class:`FeatureExtractor` accepts into preprocessed ``(B, C, H, W)`` float batches.

    Shared by the PyTorch, ONNX and OpenVINO extractors so all see exactly the same pixels.
    """

    def __init__(
        self,
        image_size: Sequence[int] = (256, 128),
        pixel_mean: Sequence[float] = _MEAN,
        pixel_std: Sequence[float] = _STD,
        pixel_norm: bool = True,
        color_order: str = "rgb",
    ) -> None:
        tfms: list[Any] = [T.Resize(tuple(int(s) for s in image_size)), T.ToTensor()]
        if pixel_norm:
            tfms.append(T.Normalize(mean=list(pixel_mean), std=list(pixel_std)))
        self.preprocess = T.Compose(tfms)
        self.to_pil = T.ToPILImage()
        self.color_order = check_color_order(color_order)

    def _array_to_pil(self, array: np.ndarray) -> Image.Image:
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise ValueError(f"Expected an HWC image array, got shape {array.shape}")
        if array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError(f"Empty image: array of shape {array.shape} has no pixels")
        if self.color_order == "bgr" and array.shape[2] >= 3:
            array = np.concatenate([array[..., 2::-1], array[..., 3:]], axis=2)
        if array.dtype != np.uint8:
            try:  # as the original: floats are read in [0, 1] (torchvision's ToPILImage)
                return TF.to_pil_image(array).convert("RGB")
            except TypeError as exc:
                raise TypeError(
                    f"Expected a uint8 image array (0..255) or a float array in [0, 1], got dtype {array.dtype}"
                ) from exc
        return Image.fromarray(
            np.ascontiguousarray(array.squeeze(2) if array.shape[2] == 1 else array)
        ).convert("RGB")

    def _load(self, element: Any) -> torch.Tensor:
        if isinstance(element, (str, os.PathLike)):
            path = os.fspath(element)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Image not found: '{path}'")
            try:
                with Image.open(path) as img:
                    image = img.convert("RGB")
            except (OSError, Image.DecompressionBombError) as exc:
                raise type(exc)(f"cannot read image '{path}': {exc}") from exc
        elif isinstance(element, Image.Image):
            image = element.convert("RGB")
        elif isinstance(element, np.ndarray):
            image = self._array_to_pil(element)
        elif isinstance(element, torch.Tensor) and element.dtype == torch.uint8 and element.dim() == 3:
            image = self._array_to_pil(element.detach().cpu().permute(1, 2, 0).numpy())
        else:
            raise TypeError(
                "Type of each element must belong to [str, os.PathLike, PIL.Image, numpy.ndarray, uint8 CHW "
                f"tensor], got {type(element)}"
            )
        if image.width == 0 or image.height == 0:
            raise ValueError(f"Empty image of size {image.width}x{image.height}")
        return self.preprocess(image)

    @staticmethod
    def _as_items(input: Any) -> list[Any] | torch.Tensor:
        """A list of single images, or a preprocessed float tensor (B, C, H, W)."""
        if isinstance(input, (list, tuple)):
            if len(input) == 0:
                raise ValueError("FeatureExtractor got an empty list")
            return list(input)
        if isinstance(input, (str, os.PathLike, np.ndarray, Image.Image)):
            return [input]
        if isinstance(input, torch.Tensor):
            if input.dtype == torch.uint8:
                if input.dim() == 3:
                    return [input]
                if input.dim() == 4:
                    return list(input)
                raise ValueError(
                    f"Expected a uint8 (C, H, W) or (B, C, H, W) tensor, got shape {tuple(input.shape)}"
                )
            images = input.unsqueeze(0) if input.dim() == 3 else input
            if images.dim() != 4:
                raise ValueError(
                    f"Expected a (B, C, H, W) or (C, H, W) tensor, got shape {tuple(input.shape)}"
                )
            if not images.is_floating_point():
                raise TypeError(
                    "Tensor input must be a preprocessed float tensor or a uint8 image tensor, got "
                    f"dtype {images.dtype}"
                )
            if images.shape[0] == 0 or images.shape[2] == 0 or images.shape[3] == 0:
                raise ValueError(f"Empty tensor input of shape {tuple(images.shape)}")
            return images
        raise TypeError(
            f"Unsupported input type {type(input).__name__}: pass a path, a PIL image, an HWC image array, a uint8 "
            "CHW tensor (or a list of them) or a preprocessed float tensor"
        )

    def batches(self, input: Any, batch_size: int) -> Iterator[torch.Tensor]:
        """Preprocessed batches of at most ``batch_size`` images (lazily: a chunk is loaded when needed)."""
        items = self._as_items(input)
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            if isinstance(chunk, torch.Tensor):
                yield chunk
            else:
                yield torch.stack([self._load(e) for e in chunk], dim=0)

    def __call__(self, input: Any) -> torch.Tensor:
        items = self._as_items(input)
        if isinstance(items, torch.Tensor):
            return items
        return torch.stack([self._load(e) for e in items], dim=0)
