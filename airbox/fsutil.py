"""Private directories and atomic writes: how every file airbox owns reaches the disk.

A reader (or a Ctrl-C) never sees half a file: content goes to a temporary file in
the same directory, created with its final mode, fsynced, then renamed over the
target. Directories airbox creates are 0700 because they hold secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

PRIVATE_DIR = 0o700
SECRET_FILE = 0o600
PUBLIC_FILE = 0o644


def make_private_dirs(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 whatever the umask (``mkdir``'s mode
    is filtered by it, and ``parents=True`` ignores it); directories that exist are left
    exactly as they are (an ``--output-dir`` may be ``/tmp``)."""
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists() and not current.is_symlink():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made concurrently by someone else: not ours to chmod
        os.chmod(directory, PRIVATE_DIR)
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700; tighten it if it already exists.

    Only for directories airbox owns (``$AIRBOX_HOME/<name>``): never a user's directory.
    """
    make_private_dirs(path)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def ensure_state_subdir(path: Path) -> Path:
    """``ensure_private_dir`` for a directory inside a data plane's state directory
    (``logs``, ``storage``), which only airbox makes: a symlink or file planted there is
    refused (DamagedState, exit 2), never followed — chmod-ing it, pruning logs in it or
    mounting it into the node would reach a directory airbox does not own."""
    from airbox.errors import DamagedState

    if path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise DamagedState(
            f"{path} is a symbolic link (to {target}), not the directory airbox makes; "
            "nothing was changed",
            hint=f"replace it with a real directory: `rm {path}` removes only the link; "
            f"move back what it points to if you want to keep it (`mv {target} {path}`)"
            "; then run the command again",
        )
    if path.exists() and not path.is_dir():
        raise DamagedState(
            f"{path} is not a directory; nothing was changed",
            hint=f"remove it (`rm {path}`) and run the command again",
        )
    return ensure_private_dir(path)


def usable_dir(path: Path, what: str) -> Path:
    """``path`` as a directory airbox may write into (created 0700 when missing), or a
    UsageError (exit 2) saying why not: a file, a path through a file, no permission."""
    from airbox.errors import UsageError

    try:
        make_private_dirs(path)
    except OSError as exc:
        raise UsageError(
            f"{what} {path}: cannot create it ({exc.strerror or exc})",
            hint="give a directory you can write to",
        ) from None
    if not path.is_dir():
        raise UsageError(
            f"{what} {path}: not a directory", hint="give a directory (it is created when missing)"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(
            f"{what} {path}: not writable by you", hint="give a directory you can write to"
        )
    return path


def atomic_write(path: Path, data: str | bytes, *, mode: int = SECRET_FILE) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The default mode is the private one: a caller must ask for a readable file.
    """
    raw = data.encode() if isinstance(data, str) else data
    return atomic_fill(path, lambda handle: handle.write(raw), mode=mode)


def atomic_fill(path: Path, fill: Callable[[BinaryIO], object], *, mode: int = SECRET_FILE) -> Path:
    """Write ``path`` atomically with ``fill(handle)`` (a stream copy need not fit in
    memory): a temporary name in the same directory, synced, then renamed; an
    interruption leaves no usable-looking file."""
    path = Path(path)
    make_private_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, data: Any, *, mode: int = SECRET_FILE) -> Path:
    return atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n", mode=mode)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
