"""One log file per run (``<state>/logs/<time>-<pid>-<command>.log``, 0600), always redacted.

Everything the runner executes and everything the tools print goes here in full,
so a failure message can point at it; the terminal shows only a summary.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from airbox.fsutil import SECRET_FILE, ensure_state_subdir
from airbox.redact import REDACTOR

LOGGER_NAME = "airbox"
_KEEP = 20


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return REDACTOR.mask_all(super().format(record))


def logger() -> logging.Logger:
    log = logging.getLogger(LOGGER_NAME)
    if not log.handlers:
        # No run log yet (dry run, --help): say nothing rather than fall back to stderr.
        log.addHandler(logging.NullHandler())
        log.propagate = False
    return log


def start(directory: Path, command: str) -> Path:
    """Open this run's log file in ``directory`` and route the airbox logger to it.

    ``directory`` is a state directory's ``logs``: never a symlink (the oldest logs are
    pruned in it)."""
    ensure_state_subdir(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}-{os.getpid()}-{command}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, SECRET_FILE)
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
    log = logger()
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    _prune(directory)
    return path


def current_file() -> str | None:
    for handler in logger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def stop() -> None:
    log = logger()
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def _prune(directory: Path) -> None:
    logs = sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[:-_KEEP]:
        old.unlink(missing_ok=True)
