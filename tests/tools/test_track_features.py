"""tools/track_features.py: BGR crops in, cosine matches out (real weights and Market-1501 crops)."""

from __future__ import annotations

import os
import sys
from collections import defaultdict

import pytest
import torch
from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))

import track_features


def test_gallery_matching_is_one_to_one_with_threshold():
    g = track_features.AppearanceGallery(momentum=0.5)
    g.update("a", torch.tensor([1.0, 0.0]))
    g.update("b", torch.tensor([0.0, 1.0]))
    feats = torch.nn.functional.normalize(
        torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.95], [-1.0, 0.0]]), dim=1
    )
    result = g.match(feats, threshold=0.5)
    # det 1 also resembles "a", but "a" is taken by the closer det 0: one to one, below threshold -> new track
    assert [r[1] for r in result] == ["a", None, "b", None]
    g.update("a", torch.tensor([0.0, 1.0]))  # EMA moves towards the new appearance, stays unit length
    torch.testing.assert_close(g.features["a"].norm(), torch.tensor(1.0))


@pytest.mark.real_data
def test_matches_identities_on_real_crops(tmp_path, capsys):
    weights = require(DATA / "weights" / "osnet_x0_25_market1501.pt")
    folder = require(DATA / "market1501" / "bounding_box_train")
    by_pid = defaultdict(list)
    for p in sorted(folder.glob("*.jpg"))[:400]:
        by_pid[p.name[:4]].append(p)
    pids = [pid for pid, files in by_pid.items() if len(files) >= 3][:5]
    tracks, dets = tmp_path / "tracks", tmp_path / "dets"
    dets.mkdir()
    for pid in pids:
        (tracks / pid).mkdir(parents=True)
        for f in by_pid[pid][:2]:
            os.symlink(f, tracks / pid / f.name)
        os.symlink(by_pid[pid][-1], dets / f"det_{pid}.jpg")
    rc = track_features.main(
        ["--tracks", str(tracks), "--detections", str(dets), "-w", str(weights), "--threshold", "0.3"]
    )
    assert rc == 0
    lines = [ln.split("\t") for ln in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == len(pids)
    correct = sum(name == f"det_{track}.jpg" for name, track, _ in lines)
    assert correct >= len(pids) - 1, lines
