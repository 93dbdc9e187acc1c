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
from pathlib import Path
from typing import Any

PRIVATE_DIR = 0o700
SECRET_FILE = 0o600
PUBLIC_FILE = 0o644


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def atomic_write(path: Path, data: str | bytes, *, mode: int = SECRET_FILE) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The default mode is the private one: a caller must ask for a readable file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
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
