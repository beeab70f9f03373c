"""``FeatureExtractor``: re-ID features from image paths, arrays or tensors with one call."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

__all__ = ["FeatureExtractor"]

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class FeatureExtractor:
    """A simple API for feature extraction.

    ``__call__`` accepts a path (``str``/``PathLike``), a list of paths, an RGB ``uint8`` array of shape
    ``(H, W, C)`` (or a list of them), or a float tensor ``(B, C, H, W)`` / ``(C, H, W)`` that is already
    preprocessed. Images are preprocessed exactly like the original Torchreid: PIL bilinear resize to
    ``image_size`` → ``ToTensor`` → ``Normalize`` (other resize back-ends move OSNet features by up to 0.04).
    Returns a ``(B, D)`` tensor on ``device``.

    Args:
        model_name: model name (see ``torchreid.models.list_models()``).
        model_path: path to model weights; when empty, ImageNet-pretrained weights are used (a path that
            is not a file raises ``FileNotFoundError``).
        image_size: (height, width).
        pixel_mean, pixel_std: normalisation statistics.
        pixel_norm: normalise pixels.
        device: 'cpu' or 'cuda' (falls back to the CPU with a warning when CUDA is unavailable).
        verbose: print model details.

    Examples::

        from torchreid.utils import FeatureExtractor
        extractor = FeatureExtractor(model_name='osnet_x1_0', model_path='a/b/c/model.pth.tar', device='cuda')
        features = extractor(['a/b/c/image001.jpg', 'a/b/c/image002.jpg'])
        print(features.shape)  # output (2, 512)
    """

    def __init__(
        self,
        model_name: str = "",
        model_path: str = "",
        image_size: Sequence[int] = (256, 128),
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        pixel_norm: bool = True,
        device: str | torch.device = "cuda",
        verbose: bool = True,
    ) -> None:
        from ..models import build_model
        from .checkpoint import load_pretrained_weights

        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                "CUDA is not available; FeatureExtractor runs on the CPU", RuntimeWarning, stacklevel=2
            )
            device = torch.device("cpu")

        has_weights = bool(model_path) and os.path.isfile(os.fspath(model_path))
        if model_path and not has_weights:
            # the original silently fell back to ImageNet weights: a typo then gave meaningless features
            raise FileNotFoundError(
                f"model_path '{model_path}' is not a file; pass the path of trained weights (a checkpoint or a "
                f"state dict), or model_path='' to use the ImageNet-pretrained weights"
            )
        model = build_model(
            model_name, num_classes=1, pretrained=not has_weights, use_gpu=device.type == "cuda"
        )
        model.eval()

        if verbose:
            from .model_complexity import compute_model_complexity

            num_params, flops = compute_model_complexity(
                model, (1, 3, int(image_size[0]), int(image_size[1]))
            )
            print(f"Model: {model_name}")
            print(f"- params: {num_params:,}")
            print(f"- flops: {flops:,}")

        if has_weights:
            with warnings.catch_warnings():
                # the 1-way classifier never matches the file's; that is expected here
                warnings.filterwarnings("ignore", message=r".*were skipped.*")
                report = load_pretrained_weights(model, model_path)
            other = [k for k in report.get("skipped", []) if not k.startswith("classifier")]
            if other:
                warnings.warn(
                    f"{len(other)} weights of '{model_path}' did not fit the model: {other}", stacklevel=2
                )

        self.images = ImageBatcher(image_size, pixel_mean, pixel_std, pixel_norm)
        self.preprocess = self.images.preprocess
        self.image_size = tuple(int(s) for s in image_size)
        self.device = device
        self.model = model.to(device)

    def __call__(self, input: Any) -> torch.Tensor:
        # a float64 tensor (e.g. from torch.from_numpy) would fail in the float32 model
        images = self.images(input).to(self.device, dtype=torch.float32)
        with torch.no_grad():
            features = self.model(images)
        return features


class ImageBatcher:
    """Turns what :class:`FeatureExtractor` accepts into one preprocessed ``(B, C, H, W)`` float batch.

    Shared by the PyTorch and the ONNX extractors so both see exactly the same pixels.
    """

    def __init__(
        self,
        image_size: Sequence[int] = (256, 128),
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        pixel_norm: bool = True,
    ) -> None:
        tfms: list[Any] = [T.Resize(tuple(int(s) for s in image_size)), T.ToTensor()]
        if pixel_norm:
            tfms.append(T.Normalize(mean=list(pixel_mean), std=list(pixel_std)))
        self.preprocess = T.Compose(tfms)
        self.to_pil = T.ToPILImage()

    def _load(self, element: Any) -> torch.Tensor:
        if isinstance(element, (str, os.PathLike)):
            path = os.fspath(element)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Image not found: '{path}'")
            with Image.open(path) as img:
                image = img.convert("RGB")
        elif isinstance(element, np.ndarray):
            if element.ndim != 3 or element.shape[2] not in (1, 3, 4):
                raise ValueError(f"Expected an HWC image array, got shape {element.shape}")
            if element.dtype != np.uint8:
                raise TypeError(f"Expected a uint8 image array (0..255), got dtype {element.dtype}")
            image = self.to_pil(element).convert("RGB")
        else:
            raise TypeError(
                f"Type of each element must belong to [str, os.PathLike, numpy.ndarray], got {type(element)}"
            )
        return self.preprocess(image)

    def __call__(self, input: Any) -> torch.Tensor:
        if isinstance(input, (list, tuple)):
            if len(input) == 0:
                raise ValueError("FeatureExtractor got an empty list")
            images = torch.stack([self._load(e) for e in input], dim=0)
        elif isinstance(input, (str, os.PathLike, np.ndarray)):
            images = self._load(input).unsqueeze(0)
        elif isinstance(input, torch.Tensor):
            images = input
            if images.dim() == 3:
                images = images.unsqueeze(0)
            if images.dim() != 4:
                raise ValueError(
                    f"Expected a (B, C, H, W) or (C, H, W) tensor, got shape {tuple(input.shape)}"
                )
            if not images.is_floating_point():
                raise TypeError(
                    "Tensor input must be a preprocessed float tensor (use an ndarray for uint8 images)"
                )
        else:
            raise TypeError(
                f"Unsupported input type {type(input).__name__}: pass a path, a list of paths, an HWC uint8 array "
                "(or a list of them) or a float tensor"
            )

        return images
