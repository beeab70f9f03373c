"""The HTML evaluation report: content, self-containment and a headless-browser render."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from torchreid.utils.report import write_html_report


@pytest.fixture
def problem(tmp_path):
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 255, (6, 3))

    def make(name, pid):
        p = tmp_path / "imgs" / name
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((32, 16, 3), colours[pid], dtype=np.uint8)).save(p)
        return str(p)

    query = [(make(f"q{i}.png", i), i, 0) for i in range(6)]
    gallery = [(make(f"g{i}_{k}.png", i), i, 1) for i in range(6) for k in range(2)]
    q_pids = np.array([q[1] for q in query])
    g_pids = np.array([g[1] for g in gallery])
    distmat = (q_pids[:, None] != g_pids[None]).astype(np.float32) + rng.random((6, 12)).astype(
        np.float32
    ) * 0.1
    distmat[5] = rng.random(12)  # one bad query
    cmc = np.linspace(0.8, 1.0, 10)
    return tmp_path, query, gallery, distmat, cmc


def test_report_content_and_self_contained(problem):
    tmp_path, query, gallery, distmat, cmc = problem
    out = write_html_report(
        tmp_path / "report.html", "toy", cmc, 0.75, distmat, query, gallery, mINP=0.5, topk=3
    )
    text = out.read_text()
    assert "mAP</th><td>75.0%" in text
    assert "mINP</th><td>50.0%" in text
    assert "Rank-1</th><td>80.0%" in text
    assert "<svg" in text and "<polyline" in text
    assert text.count("data:image/jpeg;base64,") == 2 * 6 * (1 + 3)  # best + worst grids, query + top-3
    assert not re.search(r'src="(?!data:)', text), "the page must not reference external files"
    worst = text.split("Worst queries")[1]
    assert 'alt="query 5"' in worst.split("</tr>")[0]  # the random query is the worst


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(problem):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    tmp_path, query, gallery, distmat, cmc = problem
    page = write_html_report(tmp_path / "report.html", "toy", cmc, 0.75, distmat, query, gallery, topk=3)
    shot = tmp_path / "shot.png"
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
        "--window-size=900,900", f"--screenshot={shot}", page.as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.is_file(), "Chromium wrote no screenshot"
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.std() > 10  # not blank
    # the thumbnails' borders are drawn: pure-ish green and red pixels are present
    green = ((img[..., 1] > 140) & (img[..., 0] < 60) & (img[..., 2] < 60)).sum()
    red = ((img[..., 0] > 180) & (img[..., 1] < 60) & (img[..., 2] < 60)).sum()
    assert green > 100 and red > 100


def test_report_shows_provenance_and_real_query_names(problem):
    tmp_path, query, gallery, distmat, cmc = problem
    prov = {"model": "osnet_x1_0", "checkpoint": "log/model/model.pth.tar-9", "config sha256": "c0ffee",
            "date": "2026-12-03T18:00:00+00:00", "epoch": None}  # fmt: skip
    text = write_html_report(
        tmp_path / "r.html", "toy", cmc, 0.75, distmat, query, gallery, topk=3, provenance=prov
    ).read_text()
    for value in ("osnet_x1_0", "log/model/model.pth.tar-9", "c0ffee", "2026-12-03T18:00:00+00:00"):
        assert f"<td>{value}</td>" in text
    assert "<th>epoch</th>" not in text  # empty entries are left out
    assert "id 5 cam 0<br>q5.png" in text  # identity, camera and file name instead of "q5"
    assert not re.search(r"<br>q\d+</td>", text)
