"""The library's voice: the ``torchreid`` logger prints bare messages to the current stdout, and applications can
quieten or take over its output with the standard logging API."""

from __future__ import annotations

import logging

import torchreid  # noqa: F401 - installs the console handler
from torchreid.utils import log


def test_messages_print_bare_on_the_current_stdout_and_can_be_silenced(capsys, caplog):
    logger = logging.getLogger("torchreid.some.module")
    logger.info("hello from the library")
    assert (
        capsys.readouterr().out == "hello from the library\n"
    )  # no level/name prefix, like the original's print

    root = logging.getLogger(log.ROOT_LOGGER)
    level = root.level
    try:
        root.setLevel(logging.WARNING)
        logger.info("quiet")
        assert capsys.readouterr().out == ""
    finally:
        root.setLevel(level)

    log.remove_console_handler()
    try:
        with caplog.at_level(logging.INFO, logger=log.ROOT_LOGGER):
            logger.info("to the application's handlers only")
        assert capsys.readouterr().out == ""
        assert "to the application's handlers only" in caplog.text  # still propagates
    finally:
        log.install_console_handler()
    logger.info("back")
    assert capsys.readouterr().out == "back\n"
    assert root.handlers.count(log.install_console_handler()) == 1  # idempotent
