"""Logger (tee to console and file) and RankLogger."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ loggers


def test_logger_tees_to_console_and_file(tmp_path):
    from torchreid.utils import Logger

    console = io.StringIO()
    path = tmp_path / "new" / "dir" / "log.txt"  # parent folders are created
    with Logger(str(path), console=console) as log:
        log.write("hello ")
        print("world", file=log)
        log.flush()
        assert path.read_text() == "hello world\n"  # flushed to disk before close
        assert log.isatty() is False
        assert log.encoding == "utf-8"
    assert console.getvalue() == "hello world\n"
    log.write("after close\n")  # the console keeps working; the closed file is left alone
    assert console.getvalue().endswith("after close\n")
    assert path.read_text() == "hello world\n"
    log.close()  # idempotent


def test_logger_without_file_only_writes_the_console():
    from torchreid.utils.loggers import Logger

    console = io.StringIO()
    log = Logger(None, console=console)
    log.write("x")
    log.flush()
    assert console.getvalue() == "x" and log.file is None
    with pytest.raises(io.UnsupportedOperation):
        log.fileno()  # delegated to the console (a StringIO has no descriptor)


def test_rank_logger_summary_and_unknown_target(capsys):
    from torchreid.utils import RankLogger

    rl = RankLogger("market1501", ["market1501", "dukemtmcreid"])
    rl.write("market1501", 10, 0.5)
    rl.write("dukemtmcreid", 10, 0.25)
    rl.write("market1501", 20, 0.625)
    with pytest.raises(KeyError, match="'viper' is not a target"):
        rl.write("viper", 1, 0.1)
    rl.show_summary()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "=> Show performance summary",
        "market1501 (source)",
        "- epoch 10\t rank1 50.0%",
        "- epoch 20\t rank1 62.5%",
        "dukemtmcreid (target)",
        "- epoch 10\t rank1 25.0%",
    ]
