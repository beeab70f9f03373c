"""ImageNet-pretrained weights: a local cache first, verified, downloaded only when missing.

Where files live: ``$TORCH_HOME/checkpoints`` (``TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, i.e.
``~/.cache/torch``) — the folder the original Torchreid used, so weights it downloaded are found again. For
torchvision-hosted weights the torch-hub cache (``$TORCH_HOME/hub/checkpoints``) is also searched.

Rules:

- a cached file is used as is, after its sha256 is checked when known (a mismatch raises
  :class:`WeightsIntegrityError` naming the file to delete or replace);
- a missing file is downloaded (``gdown`` for Google Drive ids, ``urllib`` otherwise) into a temporary file in the
  cache folder, verified, then renamed into place, so an interrupted or failed download never leaves a partial file;
- with ``TORCHREID_OFFLINE=1`` (or when the download fails) a :class:`WeightsNotFoundError` says which file to put
  where and where to get it.

Weights are identified by a key: a name of :data:`KNOWN_WEIGHTS` (e.g. ``'osnet_x1_0'``) or a torchvision weights
enum, written ``'torchvision:ResNet50_Weights.IMAGENET1K_V1'``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

__all__ = [
    "KNOWN_WEIGHTS",
    "WeightSpec",
    "WeightsIntegrityError",
    "WeightsNotFoundError",
    "cache_dir",
    "fetch_weights",
    "get_weight_spec",
    "load_imagenet_weights",
    "sha256sum",
]

logger = logging.getLogger(__name__)

OFFLINE_ENV = "TORCHREID_OFFLINE"


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are neither cached nor downloadable (offline, or the download failed)."""


class WeightsIntegrityError(RuntimeError):
    """A weights file does not have the expected sha256 (corrupt, truncated or another file)."""


@dataclass(frozen=True)
class WeightSpec:
    """Where one weights file comes from.

    ``filename`` is the name in the cache folder; ``gdrive_id`` or ``url`` tell how to download it; ``sha256`` is
    the full hex digest when known, ``sha256_prefix`` a known prefix (torchvision embeds 8+ hex digits in its file
    names); ``None`` skips the check.
    """

    filename: str
    url: str | None = None
    gdrive_id: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    source: str = ""

    @property
    def download_url(self) -> str | None:
        if self.gdrive_id:
            return f"https://drive.google.com/uc?id={self.gdrive_id}"
        return self.url


def _gdrive(name: str, file_id: str) -> WeightSpec:
    return WeightSpec(
        filename=f"{name}_imagenet.pth",
        gdrive_id=file_id,
        source="Torchreid model zoo (Google Drive), ImageNet-pretrained",
    )


# ImageNet weights of the original Torchreid's model zoo that torchvision does not host. The sha256 digests are
# unknown (the original never checked them), so only the file name and the download location are recorded.
KNOWN_WEIGHTS: dict[str, WeightSpec] = {
    "osnet_x1_0": _gdrive("osnet_x1_0", "1LaG1EJpHrxdAxKnSCJ_i0u-nbxSAeiFY"),
    "osnet_x0_75": _gdrive("osnet_x0_75", "1uwA9fElHOk3ZogwbeY5GkLI6QPTX70Hq"),
    "osnet_x0_5": _gdrive("osnet_x0_5", "16DGLbZukvVYgINws8u8deSaOqjybZ83i"),
    "osnet_x0_25": _gdrive("osnet_x0_25", "1rb8UN5ZzPKRc_xvtHlyDh-cSz88YX9hs"),
    "osnet_ibn_x1_0": _gdrive("osnet_ibn_x1_0", "1sr90V6irlYYDd4_4ISU2iruoRG8J__6l"),
    "osnet_ain_x1_0": _gdrive("osnet_ain_x1_0", "1-CaioD9NaqbHK_kzSMW8VE4_3KcsRjEo"),
    "osnet_ain_x0_75": _gdrive("osnet_ain_x0_75", "1apy0hpsMypqstfencdH-jKIUEFOW4xoM"),
    "osnet_ain_x0_5": _gdrive("osnet_ain_x0_5", "1KusKvEYyKGDTUBVRxRiz55G31wkihB6l"),
    "osnet_ain_x0_25": _gdrive("osnet_ain_x0_25", "1SxQt2AvmEcgWNhaRb2xC4rP6ZwVDP0Wt"),
}


def register_weights(key: str, spec: WeightSpec, overwrite: bool = False) -> WeightSpec:
    """Make ``spec`` known under ``key`` (used by architecture modules for their own weights)."""
    if key in KNOWN_WEIGHTS and not overwrite and KNOWN_WEIGHTS[key] != spec:
        raise KeyError(f"weights {key!r} are already registered")
    KNOWN_WEIGHTS[key] = spec
    return spec


def cache_dir() -> Path:
    """``$TORCH_HOME/checkpoints`` (default ``~/.cache/torch/checkpoints``), as the original Torchreid."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch"
    )
    return Path(torch_home).expanduser() / "checkpoints"


def _hub_dir() -> Path:
    return cache_dir().parent / "hub" / "checkpoints"


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _torchvision_spec(enum_name: str) -> WeightSpec:
    try:
        from torchvision.models import get_weight
    except ImportError as exc:  # pragma: no cover - torchvision is a dependency
        raise ImportError("torchvision is required for torchvision-hosted pretrained weights") from exc
    weights = get_weight(enum_name)
    filename = weights.url.rsplit("/", 1)[-1]
    match = re.search(r"-([a-f0-9]{6,})\.", filename)  # torchvision names embed a sha256 prefix
    return WeightSpec(
        filename=filename,
        url=weights.url,
        sha256_prefix=match.group(1) if match else None,
        source=f"torchvision {enum_name}",
    )


def get_weight_spec(key: str) -> WeightSpec:
    """The :class:`WeightSpec` of a known key or of ``'torchvision:<Enum>.<MEMBER>'``."""
    if key.startswith("torchvision:"):
        return _torchvision_spec(key.split(":", 1)[1])
    try:
        return KNOWN_WEIGHTS[key]
    except KeyError:
        raise KeyError(
            f"No pretrained weights are known for {key!r}; known: {', '.join(sorted(KNOWN_WEIGHTS))}"
        ) from None


def _verify(path: Path, spec: WeightSpec) -> None:
    if spec.sha256 is None and spec.sha256_prefix is None:
        return
    digest = sha256sum(path)
    expected = spec.sha256 or spec.sha256_prefix or ""
    if not digest.startswith(expected.lower()):
        raise WeightsIntegrityError(
            f"sha256 mismatch for '{path}': expected {expected}, got {digest}. The file is corrupt, truncated or "
            f"not the weights it should be; delete it (it will be downloaded again) or replace it with the "
            f"original from {spec.download_url or spec.source}."
        )


def _not_found_message(spec: WeightSpec, target: Path, reason: str) -> str:
    # files to fetch by hand have no download URL: their source names the page to get them from
    where = spec.download_url or spec.source or "its original source"
    return (
        f"Pretrained weights '{spec.filename}' are not available ({reason}). Download them from {where} "
        f"and place the file at '{target}' (folder: $TORCH_HOME/checkpoints), or build the model with "
        "pretrained=False."
    )


def _download(spec: WeightSpec, target: Path, quiet: bool) -> None:
    """Download into a temporary file beside ``target``; verify; rename into place."""
    from ..utils.tools import atomic_output, fetch_url

    try:
        with atomic_output(target, suffix=".part") as tmp:
            if spec.gdrive_id:
                from ..utils.optional import require

                gdown = require("gdown", "Downloading weights from Google Drive")

                # a file object as output: gdown then keeps no ".part" files of its own beside it
                with open(tmp, "wb") as out:
                    result = gdown.download(id=spec.gdrive_id, output=out, quiet=quiet, timeout=60)
                if result is None or tmp.stat().st_size == 0:
                    raise OSError("gdown could not fetch the file")
            elif spec.url:
                if not quiet:
                    logger.info(f'Downloading "{spec.url}" to "{target}"')
                fetch_url(spec.url, tmp, quiet=quiet)
            else:
                raise OSError("no download location is known")
            _verify(tmp, spec)
    except WeightsIntegrityError:
        raise
    except Exception as exc:
        raise WeightsNotFoundError(_not_found_message(spec, target, f"download failed: {exc}")) from exc


def fetch_weights(key_or_spec: str | WeightSpec, download: bool | None = None, quiet: bool = False) -> Path:
    """Path of the verified weights file, downloading it only when it is not cached.

    ``download=None`` downloads unless ``TORCHREID_OFFLINE`` is set to a true value.
    """
    spec = get_weight_spec(key_or_spec) if isinstance(key_or_spec, str) else key_or_spec
    target = cache_dir() / spec.filename
    candidates = [target]
    if spec.url and not spec.gdrive_id:
        candidates.append(_hub_dir() / spec.filename)  # where torch.hub / torchvision put it
    for path in candidates:
        if path.is_file():
            _verify(path, spec)
            return path
    if download is None:
        download = os.environ.get(OFFLINE_ENV, "").lower() not in ("1", "true", "yes", "on")
        reason = f"offline mode, {OFFLINE_ENV} is set"
    else:
        reason = "download=False was passed"
    if not download:
        raise WeightsNotFoundError(_not_found_message(spec, target, reason))
    _download(spec, target, quiet)
    return target


def load_imagenet_weights(
    model: nn.Module, key: str, quiet: bool = False, **kwargs: Any
) -> dict[str, list[str]]:
    """Fetch the weights ``key`` and load every tensor whose name and shape match ``model``.

    The ImageNet classifier (and any layer the re-ID model replaced) is skipped; returns the report of
    :func:`torchreid.utils.checkpoint.load_pretrained_weights`.
    """
    from ..utils.checkpoint import load_pretrained_weights

    path = fetch_weights(key, quiet=quiet, **kwargs)
    return load_pretrained_weights(model, path)
