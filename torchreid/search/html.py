"""An HTML page of query results: each query image followed by its top-k matches (distance, id, pid, camera)."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

__all__ = ["write_html"]

_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td{padding:4px;text-align:center;vertical-align:top;font-size:12px}img{height:128px}"
    ".q{background:#eef}.same{outline:3px solid #2a2}"
)


def _src(path: str | None, base: Path) -> str:
    if not path:
        return ""
    try:
        return html.escape(Path(os.path.relpath(path, base)).as_posix(), quote=True)
    except ValueError:  # another drive on Windows
        return html.escape(Path(path).resolve().as_uri(), quote=True)


def write_html(path: str | os.PathLike, results: dict[str, Any]) -> Path:
    """Write ``results`` (the ``torchreid index query`` JSON) as a page; image links are relative to it."""
    from ..utils.tools import atomic_output

    path = Path(path)
    base = path.parent.resolve()
    rows = []
    for q in results["queries"]:
        cells = [
            f'<td class="q"><img src="{_src(q["query"], base)}"><br>query<br>{html.escape(Path(q["query"]).name)}</td>'
        ]
        for m in q["matches"]:
            label = f"#{m['rank']} d={m['distance']:.4f}<br>id {m['id']}"
            if m.get("pid", -1) != -1:
                label += f" pid {m['pid']} cam {m['camid']}"
            cells.append(f'<td><img src="{_src(m.get("path"), base)}" alt="id {m["id"]}"><br>{label}</td>')
        rows.append(f"<table><tr>{''.join(cells)}</tr></table>")
    title = html.escape(f"top-{results['k']} matches in {results['index']}")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head>"
        f"<body><h2>{title}</h2>{''.join(rows)}</body></html>\n"
    )
    with atomic_output(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
