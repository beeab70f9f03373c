"""Limits of an extraction (total size, member count, compression ratio) and the errors of a refused archive.

Defaults let every public re-ID dataset through and stop decompression bombs; override them with keyword
arguments or the environment variables below (``0`` disables a limit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_MAX_BYTES = "TORCHREID_MAX_EXTRACT_BYTES"
ENV_MAX_MEMBERS = "TORCHREID_MAX_EXTRACT_MEMBERS"
ENV_MAX_RATIO = "TORCHREID_MAX_COMPRESSION_RATIO"
DEFAULT_MAX_BYTES = 64 << 30  # MSMT17 is ~2.5 GB, Market-1501 with its 500k distractors a few GB
DEFAULT_MAX_MEMBERS = 5_000_000  # Market-1501 + 500k distractors has ~530k files
DEFAULT_MAX_RATIO = 100.0  # images barely compress (~1:1); a bomb is 1000:1 and more
RATIO_GRACE_BYTES = 64 << 20  # tiny archives of text may compress well: the ratio counts beyond this output


class UnsafeArchiveError(ValueError):
    """An archive is refused: a member that is not a plain file or folder, a path leaving the destination, a type
    that does not match the file name. Nothing was extracted."""


class ArchiveLimitError(UnsafeArchiveError):
    """An archive exceeds a size / member-count / compression-ratio limit (a decompression bomb?)."""


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"{name}={raw!r} is not a number (use e.g. {int(default)}; 0 disables the limit)"
        ) from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must be >= 0 (0 disables the limit)")
    return value


@dataclass(frozen=True)
class ExtractLimits:
    """Limits of one extraction; ``0`` disables a limit. :meth:`resolve` fills ``None`` from the environment."""

    max_bytes: float = DEFAULT_MAX_BYTES
    max_members: float = DEFAULT_MAX_MEMBERS
    max_ratio: float = DEFAULT_MAX_RATIO

    @classmethod
    def resolve(
        cls, max_bytes: float | None = None, max_members: float | None = None, max_ratio: float | None = None
    ) -> ExtractLimits:
        return cls(
            max_bytes=_env_number(ENV_MAX_BYTES, DEFAULT_MAX_BYTES) if max_bytes is None else max_bytes,
            max_members=_env_number(ENV_MAX_MEMBERS, DEFAULT_MAX_MEMBERS)
            if max_members is None
            else max_members,
            max_ratio=_env_number(ENV_MAX_RATIO, DEFAULT_MAX_RATIO) if max_ratio is None else max_ratio,
        )

    def check_members(self, count: int, path: str) -> None:
        if self.max_members and count > self.max_members:
            raise ArchiveLimitError(
                f"{path} has more than {int(self.max_members):,} members; refusing to extract it. If the archive is "
                f"trusted, raise the limit with {ENV_MAX_MEMBERS}=<count> (0 = no limit)."
            )

    def check_bytes(self, total: int, archive_size: int, path: str, what: str) -> None:
        if self.max_bytes and total > self.max_bytes:
            raise ArchiveLimitError(
                f"{path} {what} more than {_human(self.max_bytes)} uncompressed; refusing to extract it (a "
                f"decompression bomb?). If the archive is trusted, raise the limit with {ENV_MAX_BYTES}=<bytes> "
                "(0 = no limit)."
            )
        if self.max_ratio and total > RATIO_GRACE_BYTES and total > self.max_ratio * max(archive_size, 1):
            raise ArchiveLimitError(
                f"{path} {what} {_human(total)} from {_human(archive_size)}, a compression ratio above "
                f"{self.max_ratio:g}:1; refusing to extract it (a decompression bomb?). If the archive is trusted, "
                f"raise the limit with {ENV_MAX_RATIO}=<ratio> (0 = no limit)."
            )


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
