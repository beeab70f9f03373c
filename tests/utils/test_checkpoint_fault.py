"""Fault injection: a process saving checkpoints in a loop is killed with SIGKILL; every visible checkpoint still
loads and resumes, and the temporary file the killed save left is removed by the next save in that folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from torchreid.utils.checkpoint import (
    CHECKPOINT_TEMP_PATTERN,
    load_checkpoint,
    resume_from_checkpoint,
    save_checkpoint,
    validate_checkpoint,
)

REPO = Path(__file__).resolve().parents[2]

SAVER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    import torch
    from torch import nn
    from torchreid.utils import checkpoint as ck

    out, stall = sys.argv[1], sys.argv[2] == "stall"
    net = nn.Linear(512, 1024)  # ~2 MB of weights
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    real_save = torch.save

    def slow_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        if stall:  # the data is in the temporary file, the rename has not happened yet
            f.flush()
            print("IN-SAVE", flush=True)
            time.sleep(60)

    epoch = 1
    while True:
        net.weight.data.add_(1.0)
        state = dict(state_dict=net.state_dict(), epoch=epoch, rank1=0.1, optimizer=opt.state_dict())
        if epoch == 3 and stall:
            torch.save = slow_save
        ck.save_checkpoint(state, out, is_best=epoch % 2 == 0)
        print("SAVED", epoch, flush=True)
        epoch += 1
    """
)


def _start(tmp_path: Path, out: Path, mode: str) -> subprocess.Popen:
    script = tmp_path / "saver.py"
    script.write_text(SAVER.format(repo=str(REPO)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, str(script), str(out), mode], stdout=subprocess.PIPE, text=True, env=env
    )


def _wait_for(proc: subprocess.Popen, token: str, count: int = 1, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    seen = 0
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"saver exited early ({proc.poll()})")
        if line.startswith(token):
            seen += 1
            if seen >= count:
                return
    raise AssertionError(f"no {token!r} within {timeout}s")


def _check_all_visible(out: Path) -> list[int]:
    epochs = []
    for path in sorted(out.glob("model.pth.tar-*")) + sorted(out.glob("model-best.pth.tar")):
        ckpt = load_checkpoint(path)
        validate_checkpoint(ckpt, path)
        net = nn.Linear(512, 1024)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        assert resume_from_checkpoint(path, net, opt) == ckpt["epoch"]
        # every weight of one checkpoint comes from one save (the loop adds 1 to all weights per epoch)
        assert torch.equal(net.weight, ckpt["state_dict"]["weight"])
        epochs.append(int(ckpt["epoch"]))
    return epochs


@pytest.mark.slow
def test_sigkill_during_saves_at_random_moments(tmp_path):
    out = tmp_path / "model"
    for round_, delay in enumerate((0.05, 0.3)):
        proc = _start(tmp_path, out, "loop")
        _wait_for(proc, "SAVED", 2)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert len(_check_all_visible(out)) >= 2, round_


@pytest.mark.slow
def test_sigkill_inside_a_save_leaves_a_temp_that_the_next_save_removes(tmp_path):
    out = tmp_path / "model"
    proc = _start(tmp_path, out, "stall")
    _wait_for(proc, "IN-SAVE")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    leftovers = [p for p in out.iterdir() if CHECKPOINT_TEMP_PATTERN.match(p.name)]
    assert [p.name.split(".tmp")[0][: len(".model.pth.tar-3")] for p in leftovers] == [".model.pth.tar-3"]
    assert sorted(_check_all_visible(out)) == [1, 2, 2]  # model.pth.tar-1, -2 and model-best (epoch 2)
    assert not (out / "model.pth.tar-3").exists()
    time.sleep(0.05)
    ckpt = load_checkpoint(out / "model.pth.tar-2")
    save_checkpoint(ckpt, out)  # the next save (e.g. a resumed run) in that folder
    assert not any(CHECKPOINT_TEMP_PATTERN.match(p.name) for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == [
        "model-best.pth.tar",
        "model.pth.tar-1",
        "model.pth.tar-2",
    ]
