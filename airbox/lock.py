"""One command at a time changes a data plane: an OS file lock in its state directory.

Every command that changes anything (install with its registration, uninstall, and any
later repair/upgrade/prune/assign/verify) runs inside ``dataplane_lock(state, command)``.
It is ``flock(2)`` on ``<state>/lock``: the kernel releases it when airbox exits however
it exits (a crash, ``kill -9``), so a lock is never left stale. The holder writes its
pid, command and start time into the file, so a second command can say who holds it.
A second command waits ``LOCK_WAIT_SECONDS``, then fails (exit 1) naming the holder;
read-only commands (status, logs, support-bundle, preflight) never take it.

Uninstall deletes the state directory while holding the lock: the settings, then the lock
file, then the directory, last (``uninstall.remove_state_dir``). A command that was waiting
then holds a lock on a file nobody else can find. So after taking the lock, the file is
checked to still be the one at the path, and otherwise opened afresh; a day-2 command
(``create=False``) never makes a lock file where no data plane is installed, so it finds
the state gone and says so (``ops.session.Session.acting_on``) instead of re-creating it.

The lock file is only ever a regular file opened without following a symlink: a directory,
FIFO or symlink planted at its path is a clear error, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from airbox.errors import AirboxError, DamagedState
from airbox.fsutil import SECRET_FILE, make_private_dirs
from airbox.paths import StateDir
from airbox.timestamps import utc_stamp

LOCK_FILE = "lock"
LOCK_WAIT_SECONDS = 5.0
_POLL = 0.1


class DataPlaneBusy(AirboxError):
    """Another airbox command is changing this data plane (exit 1)."""

    def __init__(self, name: str, holder: str) -> None:
        pid = holder.split()[0] if holder and holder.split()[0].isdigit() else ""
        super().__init__(
            f"data plane {name} is busy: {holder or 'another airbox command'} is changing it",
            hint=(
                "wait for it to finish and run the command again"
                + (
                    f" (or stop it: kill {pid}; a stopped command resumes when run again)"
                    if pid
                    else ""
                )
            ),
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
    text = f"{pid} (airbox {command or '?'}" + (f", since {since}" if since else "") + ")"
    return "".join(ch for ch in text if ch.isprintable())  # never a terminal escape


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.lstat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _kind_of(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "not a file"
    for test, what in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _unusable(state: StateDir, path: Path, why: str) -> DamagedState:
    return DamagedState(
        f"the lock file of data plane {state.name} ({path}) is {why}, not the file airbox "
        "makes; nothing was changed",
        hint=f"remove it (`rm -r {path}`: no airbox command can hold such a lock) and run "
        "the command again; airbox makes a new one",
    )


def _open_lock(state: StateDir, path: Path, create: bool) -> int:
    """The lock file, opened for writing (never through a symlink); FileNotFoundError when
    it is missing and may not be made here."""
    # O_NONBLOCK: a FIFO planted there must not hang the open (a no-op for a file).
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    if create or state.exists():
        flags |= os.O_CREAT
    try:
        fd = os.open(path, flags, SECRET_FILE)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP):
            raise _unusable(state, path, _kind_of(path)) from None
        raise _unusable(state, path, f"not usable ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _unusable(state, path, _kind_of(path))
    return fd


@contextlib.contextmanager
def dataplane_lock(
    state: StateDir, command: str, *, wait: float = LOCK_WAIT_SECONDS, create: bool = True
) -> Iterator[bool]:
    """Hold data plane ``state``'s lock for ``command`` (e.g. "install"), or raise
    ``DataPlaneBusy`` after ``wait`` seconds naming the pid and command holding it.

    Yields whether the lock is held. ``create``: make the state directory (0700) and the
    lock file when missing. With ``create=False`` nothing is made: where no data plane is
    installed (no state directory, or one without settings and lock file: none yet, or
    removed by the uninstall waited for) there is nothing to protect, and the body runs
    without the lock (False) — it must read the state again and find it gone
    (``ops.session.Session.acting_on``). Not re-entrant: take it once, at the command's top.
    """
    path = state.root / LOCK_FILE
    deadline = time.monotonic() + wait
    told = False
    while True:
        if create:
            make_private_dirs(state.root)
        elif not state.root.is_dir():
            yield False
            return
        try:
            fd = _open_lock(state, path, create)
        except FileNotFoundError:
            if not create and state.root.is_dir() and not state.exists():
                yield False  # no lock file and nothing installed: nothing to protect
                return
            continue  # the directory went away just now (an uninstall): look again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise DataPlaneBusy(state.name, _holder(path)) from None
            if not told:
                told = True
                holder = _holder(path)
                with contextlib.suppress(OSError):
                    sys.stderr.write(
                        f"data plane {state.name} is busy: "
                        f"{holder or 'another airbox command'} is changing it; "
                        f"waiting up to {wait:.0f} s\n"
                    )
                    sys.stderr.flush()
            time.sleep(_POLL)
            continue
        if not _same_file(fd, path):
            os.close(fd)  # removed (an uninstall) while we waited: start afresh
            continue
        break
    try:
        since = utc_stamp()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} command={command} since={since}\n".encode(), 0)
        yield True
    finally:
        # Closing releases the lock; the file stays (removing it would race a waiter).
        os.close(fd)
