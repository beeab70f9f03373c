"""Shared test fixtures: paths to the workspace's real data and reference outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Two pytest-xdist workers share two cores: one thread each (also inherited by subprocesses) avoids
# oversubscription, which slows CPU tests down by an order of magnitude.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared sits beside the checkout (CI clones into a fresh folder with shared/ beside it).
SHARED = Path(os.environ.get("TORCHREID_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"
DATA = SHARED / "data"


def require(path: Path) -> Path:
    """Skip the calling test (with a reason) when ``path`` is absent."""
    if not path.exists():
        pytest.skip(f"{path} is not available (research data / reference outputs live in ../shared)")
    return path


@pytest.fixture
def reference_dir() -> Path:
    return require(REFERENCE)


@pytest.fixture
def data_dir() -> Path:
    return require(DATA)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests must never download: make any socket connection fail loudly."""
    import socket

    real_connect = socket.socket.connect

    def guard(sock, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else None
        if host is None or host in ("127.0.0.1", "localhost", "::1"):  # unix sockets and loopback are fine
            return real_connect(sock, address, *args, **kwargs)
        raise RuntimeError(f"network access attempted during tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", guard)
    yield


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    yield


@pytest.fixture(autouse=True)
def _fresh_once_per_process_warnings():
    """Custom data says each coverage warning once per process; every test starts as a new process would."""
    custom = sys.modules.get("torchreid.data.datasets.image.custom")
    getattr(custom, "_WARNED", set()).clear()
    yield
