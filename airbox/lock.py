"""One command at a time changes a data plane: an OS file lock in its state directory.

Every command that changes anything (install with its registration, uninstall, and any
later repair/upgrade/prune/assign/verify) runs inside ``dataplane_lock(state, command)``.
It is ``flock(2)`` on ``<state>/lock``: the kernel releases it when airbox exits however
it exits (a crash, ``kill -9``), so a lock is never left stale. The holder writes its
pid, command and start time into the file, so a second command can say who holds it.
A second command waits ``LOCK_WAIT_SECONDS``, then fails (exit 1) naming the holder;
read-only commands (status, logs, support-bundle, preflight) never take it.

Uninstall deletes the state directory, lock file included, while holding the lock; a
command that was waiting then holds a lock on a file nobody else can find. So after
taking the lock, the file is checked to still be the one at the path, and otherwise
opened afresh (a new state directory, a new lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from airbox.errors import AirboxError
from airbox.fsutil import SECRET_FILE, make_private_dirs
from airbox.paths import StateDir

LOCK_FILE = "lock"
LOCK_WAIT_SECONDS = 5.0
_POLL = 0.1


class DataPlaneBusy(AirboxError):
    """Another airbox command is changing this data plane (exit 1)."""

    def __init__(self, name: str, holder: str) -> None:
        pid = holder.split()[0] if holder and holder.split()[0].isdigit() else ""
        super().__init__(
            f"data plane {name} is busy: {holder or 'another airbox command'} is changing it",
            hint=("wait for it to finish and run the command again"
                  + (f" (or stop it: kill {pid}; a stopped command resumes when run again)"
                     if pid else "")),
        )
        self.holder = holder


def _holder(path: Path) -> str:
    """``"<pid> (airbox <command>, since <time>)"`` from the lock file, or ""."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
    pid, command, since = fields.get("pid"), fields.get("command"), fields.get("since")
    if not pid:
        return ""
    return f"{pid} (airbox {command or '?'}" + (f", since {since}" if since else "") + ")"


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def dataplane_lock(state: StateDir, command: str, *, wait: float = LOCK_WAIT_SECONDS,
                   create: bool = True) -> Iterator[None]:
    """Hold data plane ``state``'s lock for ``command`` (e.g. "install"), or raise
    ``DataPlaneBusy`` after ``wait`` seconds naming the pid and command holding it.

    ``create``: make the state directory (0700) when missing; with ``create=False`` a
    missing state directory (none yet, or removed by the command waited for) is nothing
    to protect, and the body runs without a lock — it finds nothing to change. Not
    re-entrant: take it once, at the command's top.
    """
    path = state.root / LOCK_FILE
    deadline = time.monotonic() + wait
    while True:
        if not create and not state.root.is_dir():
            yield
            return
        make_private_dirs(state.root)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, SECRET_FILE)
        except FileNotFoundError:
            continue  # the directory went away just now (an uninstall): look again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise DataPlaneBusy(state.name, _holder(path)) from None
            time.sleep(_POLL)
            continue
        if not _same_file(fd, path):
            os.close(fd)  # removed (an uninstall) while we waited: start afresh
            continue
        break
    try:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} command={command} since={since}\n".encode(), 0)
        yield
    finally:
        # Closing releases the lock; the file stays (removing it would race a waiter).
        os.close(fd)
