"""Console logging: ``Logger`` tees stdout to a file; ``RankLogger`` collects rank-1 over epochs."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, TextIO

from .tools import mkdir_if_missing

__all__ = ["Logger", "RankLogger", "mkdir_if_missing"]

logger = logging.getLogger(__name__)


class Logger:
    """Write everything printed to the console to a file as well.

    Examples::
        >>> sys.stdout = Logger(osp.join(save_dir, 'log.txt'))
    """

    def __init__(self, fpath: str | None = None, console: TextIO | None = None) -> None:
        self.console = console if console is not None else sys.stdout
        self.file: TextIO | None = None
        if fpath is not None:
            d = os.path.dirname(os.path.abspath(fpath))
            os.makedirs(d, exist_ok=True)
            self.file = open(fpath, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def write(self, msg: str) -> None:
        self.console.write(msg)
        if self.file is not None and not self.file.closed:
            self.file.write(msg)

    def flush(self) -> None:
        self.console.flush()
        if self.file is not None and not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.console.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.console, "encoding", None) or "utf-8"  # io.StringIO has encoding None


class RankLogger:
    """Records rank-1 per evaluated epoch for each target dataset and prints a summary.

    Examples::
        >>> ranklogger = RankLogger(['market1501'], ['market1501', 'dukemtmcreid'])
        >>> ranklogger.write('market1501', 10, 0.5)
        >>> ranklogger.show_summary()
    """

    def __init__(self, sources: str | list[str], targets: str | list[str]) -> None:
        self.sources = [sources] if isinstance(sources, str) else list(sources)
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        self.logger: dict[str, dict[str, list]] = {name: {"epoch": [], "rank1": []} for name in self.targets}

    def write(self, name: str, epoch: int, rank1: float) -> None:
        if name not in self.logger:
            raise KeyError(f"{name!r} is not a target dataset of this RankLogger ({self.targets})")
        self.logger[name]["epoch"].append(epoch)
        self.logger[name]["rank1"].append(rank1)

    def show_summary(self) -> None:
        logger.info("=> Show performance summary")
        for name in self.targets:
            from_where = "source" if name in self.sources else "target"
            logger.info(f"{name} ({from_where})")
            for epoch, rank1 in zip(self.logger[name]["epoch"], self.logger[name]["rank1"]):
                logger.info(f"- epoch {epoch}\t rank1 {rank1:.1%}")
