"""The library's voice: every module logs through ``logging.getLogger(__name__)`` under the ``torchreid`` logger.

Messages reach the console through one handler on the ``torchreid`` logger that writes the bare message to the
*current* ``sys.stdout`` (so the original's ``Logger`` tee still copies them into ``train.log``), at INFO, exactly
as the original's ``print`` calls did. Applications take control with the standard API:

    logging.getLogger("torchreid").setLevel(logging.WARNING)     # quieter
    torchreid.utils.log.remove_console_handler()                 # route through your own handlers instead
"""

from __future__ import annotations

import logging
import sys

ROOT_LOGGER = "torchreid"


class _CurrentStdoutHandler(logging.StreamHandler):
    """A stream handler bound to whatever ``sys.stdout`` is at emit time (tees and pytest's capture swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001 - ignored: always the current stdout
        pass


_HANDLER: logging.Handler | None = None


def install_console_handler(level: int = logging.INFO) -> logging.Handler:
    """Print the library's messages (bare text, INFO and up) to stdout; idempotent."""
    global _HANDLER
    root = logging.getLogger(ROOT_LOGGER)
    if _HANDLER is None:
        _HANDLER = _CurrentStdoutHandler()
        _HANDLER.setFormatter(logging.Formatter("%(message)s"))
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    if root.level == logging.NOTSET:
        root.setLevel(level)
    return _HANDLER


def remove_console_handler() -> None:
    """Stop printing; messages then go only to the handlers the application configured (propagation)."""
    if _HANDLER is not None:
        logging.getLogger(ROOT_LOGGER).removeHandler(_HANDLER)
