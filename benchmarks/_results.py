"""Sections of ``benchmarks/RESULTS.md`` that the benchmark scripts own.

Each script writes blocks delimited by ``<!-- <tool>:<slug>:begin -->`` / ``<!-- <tool>:<slug>:end -->`` (one per
device / configuration); a re-run replaces its block in place, a new block goes at the end of the script's
``## <heading>`` section, so results written by hand around the blocks are kept.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

__all__ = ["block_markers", "cpu_model", "find_block", "write_block"]


def block_markers(tool: str, slug: str) -> tuple[str, str]:
    return f"<!-- {tool}:{slug}:begin -->", f"<!-- {tool}:{slug}:end -->"


def _pattern(tool: str, slug: str) -> re.Pattern[str]:
    begin, end = block_markers(tool, slug)
    return re.compile(rf"{re.escape(begin)}.*?{re.escape(end)}", re.S)


def find_block(path: Path, tool: str, slug: str) -> str | None:
    """The current text of the block, markers included, or ``None``."""
    if not path.exists():
        return None
    m = _pattern(tool, slug).search(path.read_text())
    return m.group(0) if m else None


def write_block(path: Path, tool: str, slug: str, block: str, heading: str) -> None:
    """Put ``block`` (markers included) into ``path``: in place of its predecessor, else at the end of the
    ``## {heading}`` section (which is appended to the file when missing)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pat = _pattern(tool, slug)
    if pat.search(text):
        text = pat.sub(lambda _m: block, text, count=1)
    else:
        title = f"## {heading}"
        start = text.find(f"\n{title}\n")
        if start < 0:
            text = text.rstrip() + f"\n\n{title}\n\n{block}\n"
        else:
            nxt = text.find("\n## ", start + len(title) + 2)
            end = len(text) if nxt < 0 else nxt
            text = (
                text[:end].rstrip() + f"\n\n{block}\n" + ("\n" + text[end:].lstrip("\n") if nxt >= 0 else "")
            )
    path.write_text(text)


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name
