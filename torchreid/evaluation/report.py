"""A small self-contained HTML report of one evaluation.

The page holds the metrics, the CMC curve (inline SVG) and a grid of the best and the worst queries with their
top-k gallery matches (thumbnails embedded as base64 JPEG, green border = same identity, red = other identity).
It has no external resources, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_html_report"]

THUMB_HW = (96, 48)


def _thumbnail(path: str | Path, matched: bool | None) -> str:
    from PIL import Image, ImageOps

    try:
        img = Image.open(path).convert("RGB").resize((THUMB_HW[1], THUMB_HW[0]), Image.BILINEAR)
    except (OSError, ValueError):
        img = Image.new("RGB", (THUMB_HW[1], THUMB_HW[0]), (200, 200, 200))
    if matched is not None:
        img = ImageOps.expand(img, border=3, fill=(0, 170, 0) if matched else (220, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _cmc_svg(cmc: Sequence[float], width: int = 420, height: int = 240) -> str:
    n = len(cmc)
    pad = 36
    xs = [pad + (width - 2 * pad) * (i / max(n - 1, 1)) for i in range(n)]
    ys = [height - pad - (height - 2 * pad) * float(v) for v in cmc]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    ticks = "".join(
        f'<text x="{pad - 6}" y="{height - pad - (height - 2 * pad) * t + 4:.1f}" text-anchor="end" '
        f'font-size="10">{int(t * 100)}%</text>'
        for t in (0, 0.25, 0.5, 0.75, 1.0)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="CMC curve">'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="#f7f7f7" '
        f'stroke="#999"/>{ticks}'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{points}"/>'
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" font-size="11">rank (1..{n})</text>'
        f'<text x="{width / 2}" y="{pad - 10}" text-anchor="middle" font-size="12">CMC</text></svg>'
    )


def _query_rows(
    distmat: np.ndarray, query: Sequence, gallery: Sequence, indices: Sequence[int], topk: int
) -> list[str]:
    rows = []
    g_pids = np.asarray([g[1] for g in gallery])
    g_cams = np.asarray([g[2] for g in gallery])
    for qi in indices:
        qpath, qpid, qcam = query[qi][0], query[qi][1], query[qi][2]
        order = np.argsort(distmat[qi], kind="stable")
        keep = order[~((g_pids[order] == qpid) & (g_cams[order] == qcam))][:topk]
        label = f"id {html.escape(str(qpid))} cam {html.escape(str(qcam))}<br>{html.escape(_name(qpath))}"
        cells = [
            f'<td class="q"><img src="{_thumbnail(_first(qpath), None)}" alt="query {qi}"><br>{label}</td>'
        ]
        for rank, gi in enumerate(keep, 1):
            ok = bool(g_pids[gi] == qpid)
            title = html.escape(f"id {g_pids[gi]} cam {g_cams[gi]} {_name(gallery[gi][0])}", quote=True)
            cells.append(
                f'<td title="{title}"><img src="{_thumbnail(_first(gallery[gi][0]), ok)}" alt="rank {rank}">'
                f"<br>{rank}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return rows


def _name(path: str | Sequence[str]) -> str:
    """The file name shown under a thumbnail (of the first frame for a tracklet)."""
    return Path(_first(path)).name


def _provenance_rows(provenance: Mapping[str, Any] | None) -> str:
    """``<tr>`` rows naming what produced the numbers (model, checkpoint, config hash, date, ...)."""
    if not provenance:
        return ""
    rows = [
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in provenance.items()
        if v not in (None, "")
    ]
    return '<table class="metrics provenance">' + "".join(rows) + "</table>"


def _first(path: str | Sequence[str]) -> str:
    """Image records hold a path; video records a tuple of frame paths (show the first frame)."""
    return path[0] if isinstance(path, (tuple, list)) else path


def write_html_report(
    save_path: str | Path,
    dataset_name: str,
    cmc: Sequence[float],
    mAP: float,
    distmat: np.ndarray,
    query: Sequence,
    gallery: Sequence,
    mINP: float | None = None,
    ranks: Sequence[int] = (1, 5, 10, 20),
    topk: int = 5,
    num_queries: int = 6,
    num_valid_q: int | None = None,
    num_q: int | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write the report to ``save_path`` (an ``.html`` file) and return its path.

    ``query``/``gallery`` are dataset records ``(path, pid, camid, ...)``; ``distmat`` is the query x gallery
    distance matrix used for ``cmc``/``mAP`` (or only the rows of the queries to show, then pass the totals
    ``num_q``/``num_valid_q`` for the header). Best/worst queries are chosen by the rank of their first true match.
    ``provenance`` (e.g. ``{"model": ..., "checkpoint": ..., "config sha256": ..., "date": ...}``) is shown under
    the title. Each query is labelled with its identity, camera and file name.
    """
    save_path = Path(save_path)
    save_path.parent.mkdir(parents=True, exist_ok=True)
    distmat = np.asarray(distmat)
    q_pids = np.asarray([q[1] for q in query])
    g_pids = np.asarray([g[1] for g in gallery])
    q_cams = np.asarray([q[2] for q in query])
    g_cams = np.asarray([g[2] for g in gallery])

    # rank of the first correct match per query (among cross-camera candidates); queries without one are skipped
    first_hit = np.full(len(query), np.inf)
    for qi in range(len(query)):
        order = np.argsort(distmat[qi], kind="stable")
        valid = ~((g_pids[order] == q_pids[qi]) & (g_cams[order] == q_cams[qi]))
        hits = np.flatnonzero(g_pids[order][valid] == q_pids[qi])
        if hits.size:
            first_hit[qi] = hits[0]
    evaluable = np.flatnonzero(np.isfinite(first_hit))
    ordered = evaluable[np.argsort(first_hit[evaluable], kind="stable")]
    best = ordered[:num_queries]
    worst = ordered[::-1][:num_queries]

    metric_rows = [f"<tr><th>mAP</th><td>{mAP:.1%}</td></tr>"]
    if mINP is not None:
        metric_rows.append(f"<tr><th>mINP</th><td>{mINP:.1%}</td></tr>")
    metric_rows += [f"<tr><th>Rank-{r}</th><td>{cmc[r - 1]:.1%}</td></tr>" for r in ranks if r <= len(cmc)]
    name = html.escape(dataset_name)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>torchreid evaluation: {name}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
table.metrics td, table.metrics th {{ padding: 2px 12px; text-align: left; }}
table.grid td {{ text-align: center; font-size: 11px; padding: 2px; }}
table.grid td.q {{ border-right: 2px solid #333; padding-right: 8px; }}
.row {{ display: flex; gap: 48px; align-items: flex-start; flex-wrap: wrap; }}
</style></head><body>
<h1>Evaluation on {name}</h1>
{_provenance_rows(provenance)}
<p>{num_q if num_q is not None else len(query)} queries, {len(gallery)} gallery items,
{num_valid_q if num_valid_q is not None else len(evaluable)} queries with a cross-camera match.</p>
<div class="row"><table class="metrics">{"".join(metric_rows)}</table>{_cmc_svg(cmc)}</div>
<h2>Best queries</h2><table class="grid">{"".join(_query_rows(distmat, query, gallery, best, topk))}</table>
<h2>Worst queries</h2><table class="grid">{"".join(_query_rows(distmat, query, gallery, worst, topk))}</table>
<p>Green border: same identity as the query; red: another identity. Same-camera matches of the query's
identity are excluded, as in the evaluation protocol.</p>
</body></html>
"""
    from ..utils.tools import atomic_output

    with atomic_output(save_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return save_path
