"""``scripts/default_config.py``: the original's helper module, importable the way its clients import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torchreid.config as config

REPO = Path(__file__).resolve().parents[2]
NAMES = ("get_default_config", "imagedata_kwargs", "videodata_kwargs", "optimizer_kwargs", "lr_scheduler_kwargs",
         "engine_run_kwargs")  # fmt: skip


def test_sys_path_import_like_the_original_clients(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    monkeypatch.delitem(sys.modules, "default_config", raising=False)
    import default_config

    for name in NAMES:
        assert getattr(default_config, name) is getattr(config, name), name
    cfg = default_config.get_default_config()
    cfg.merge_from_list(["train.lr", "0.01"])
    assert default_config.optimizer_kwargs(cfg)["lr"] == 0.01
    assert default_config.imagedata_kwargs(cfg)["sources"] == ["market1501"]
    assert default_config.videodata_kwargs(cfg)["seq_len"] == 15
    assert default_config.engine_run_kwargs(cfg)["max_epoch"] == 60
    assert default_config.lr_scheduler_kwargs(cfg)["lr_scheduler"] == "single_step"


def test_import_in_a_fresh_process():
    code = (
        f"import sys; sys.path.append({str(REPO / 'scripts')!r})\n"
        "from default_config import get_default_config, imagedata_kwargs\n"
        "print(get_default_config().model.name, imagedata_kwargs(get_default_config())['height'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["resnet50", "256"]
