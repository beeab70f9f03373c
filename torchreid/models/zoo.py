"""The re-ID model zoo: every weight file the original Torchreid published, loadable by name.

Names are ``<architecture>_<training data>`` — ``osnet_x0_25_market1501``, ``osnet_x1_0_msmt17_combineall``,
``osnet_ain_x1_0_msmt17``, ``osnet_x1_0_ms_d_c`` (multi-source: trained on MSMT17+Duke+CUHK03) ... — see
:func:`list_zoo` or ``torchreid weights list``. Each entry records the architecture, the training data, the input
size, the metrics the original reported, the sources (the original's Google Drive file, its older MEGA mirror,
the Hugging Face copy where one is known) and the sha256 where it is known.

Files live in ``$TORCH_HOME/checkpoints/<zoo name>.pth`` (``~/.cache/torch/checkpoints`` by default, the folder
the original used). A file placed there by hand is used offline after its checksum is checked; a file whose
checksum disagrees is moved aside (never used) and the error names both hashes.

    from torchreid.models.zoo import resolve_weights
    path = resolve_weights("osnet_x0_25_msmt17")          # verified local file, downloaded when missing
    FeatureExtractor(model_name="osnet_x0_25", model_path="osnet_x0_25_msmt17")
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

from .pretrained import OFFLINE_ENV, WeightsIntegrityError, WeightsNotFoundError, cache_dir, sha256sum
from .zoo_table import HF_REPO, NUM_CLASSES, ZOO, ZOO_PAGE, ZooEntry  # noqa: F401 - re-exported

__all__ = [
    "ZOO",
    "WeightsIntegrityError",
    "WeightsNotFoundError",
    "ZooEntry",
    "get_zoo_entry",
    "is_zoo_name",
    "list_zoo",
    "resolve_weights",
    "verify_zoo_file",
    "zoo_path",
]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------------- API


def list_zoo(arch: str | None = None) -> list[str]:
    """Sorted zoo names (only those of architecture ``arch`` when given)."""
    return sorted(n for n, e in ZOO.items() if arch is None or e.arch == arch)


def is_zoo_name(name: object) -> bool:
    """True when ``name`` is a zoo name (a string key of :data:`ZOO`)."""
    return isinstance(name, str) and name in ZOO


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, list(ZOO), n=3, cutoff=0.6)
    if not close:
        close = [n for n in list_zoo() if n.startswith(name.split("_")[0])][:3]
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def get_zoo_entry(name: str) -> ZooEntry:
    """The :class:`ZooEntry` of ``name``; ``KeyError`` suggesting close names otherwise."""
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a zoo name.{_suggest(name)} See `torchreid weights list`.") from None


def zoo_path(name: str) -> Path:
    """Where the zoo file ``name`` is cached: ``$TORCH_HOME/checkpoints/<name>.pth``."""
    return cache_dir() / f"{get_zoo_entry(name).name}.pth"


def verify_zoo_file(name: str, path: str | os.PathLike | None = None) -> str:
    """Check the sha256 of the cached (or given) file of ``name``; return its digest.

    A mismatch moves the file aside (``<file>.sha256-mismatch``, so it is never used again silently) and raises
    :class:`WeightsIntegrityError` naming both hashes.
    """
    entry = get_zoo_entry(name)
    path = Path(path) if path is not None else zoo_path(name)
    digest = sha256sum(path)
    if entry.sha256 is None:
        logger.info(
            f"{path}: sha256 {digest} (no published digest to compare with; pin it if you rely on it)"
        )
        return digest
    if digest != entry.sha256:
        aside = path.with_name(path.name + ".sha256-mismatch")
        os.replace(path, aside)
        raise WeightsIntegrityError(
            f"sha256 mismatch for zoo weights {name!r} at '{path}': expected {entry.sha256}, got {digest}. "
            f"The file was moved aside to '{aside}' and not used; download it again or place a verified copy "
            f"at '{path}' (sources: {', '.join(entry.sources)})."
        )
    return digest


def _where_message(entry: ZooEntry, target: Path, reason: str) -> str:
    return (
        f"Zoo weights {entry.name!r} are not available ({reason}). Download the file from one of "
        f"{', '.join(entry.sources)} and place it at '{target}' (folder: $TORCH_HOME/checkpoints; it is checked "
        "before use), or run `torchreid weights download "
        + entry.name
        + "` on a machine with internet access."
    )


def _download_hf(entry: ZooEntry, tmp: Path) -> None:
    """The Hugging Face copy, through ``huggingface_hub`` when installed, plain HTTPS otherwise."""
    from ..utils.tools import fetch_url

    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        fetch_url(entry.hf_url or "", tmp, quiet=True)
        return
    import shutil

    cached = hf_hub_download(repo_id=HF_REPO, filename=entry.hf_filename or "")
    shutil.copyfile(cached, tmp)


def _download_gdrive(entry: ZooEntry, tmp: Path) -> None:
    from ..utils.optional import require

    gdown = require("gdown", "Downloading zoo weights from Google Drive")
    with open(tmp, "wb") as out:
        result = gdown.download(id=entry.gdrive_id, output=out, quiet=True)
    if result is None or tmp.stat().st_size == 0:
        raise OSError("gdown could not fetch the file (quota exceeded, removed or no network)")


def _download(entry: ZooEntry, target: Path) -> None:
    from ..utils.tools import atomic_output

    errors = []
    fetchers = ([_download_hf] if entry.hf_filename else []) + [_download_gdrive]
    for fetch in fetchers:
        try:
            with atomic_output(target, suffix=".part") as tmp:
                logger.info(f"Downloading zoo weights {entry.name!r} to {target}")
                fetch(entry, tmp)
                if entry.sha256 is not None and (got := sha256sum(tmp)) != entry.sha256:
                    raise WeightsIntegrityError(
                        f"downloaded file has sha256 {got}, expected {entry.sha256}; it was not kept"
                    )
            return
        except Exception as exc:  # noqa: BLE001 - try the next source, report all
            errors.append(f"{fetch.__name__.removeprefix('_download_')}: {exc}")
    raise WeightsNotFoundError(_where_message(entry, target, "download failed: " + "; ".join(errors)))


def resolve_weights(name_or_path: str | os.PathLike, download: bool = True) -> Path:
    """A local weights file for a path or a zoo name.

    - an existing file → returned unchanged (as a ``Path``);
    - a zoo name → ``$TORCH_HOME/checkpoints/<name>.pth`` after its checksum (downloaded first when missing and
      ``download`` is true and ``TORCHREID_OFFLINE`` is not set);
    - anything else → ``FileNotFoundError`` suggesting close zoo names.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return Path(text)
    if not is_zoo_name(text):
        raise FileNotFoundError(
            f"'{text}' is neither a file nor a zoo name.{_suggest(text)} Pass the path of a weights file or a "
            "name from `torchreid weights list`."
        )
    entry = ZOO[text]
    target = zoo_path(text)
    if target.is_file():
        verify_zoo_file(text, target)
        return target
    if os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes", "on"):
        raise WeightsNotFoundError(_where_message(entry, target, f"offline mode, {OFFLINE_ENV} is set"))
    if not download:
        raise WeightsNotFoundError(_where_message(entry, target, "download=False"))
    _download(entry, target)
    if entry.sha256 is None:
        verify_zoo_file(text, target)  # logs the digest so it can be pinned
    return target
