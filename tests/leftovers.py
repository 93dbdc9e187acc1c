"""Processes a test left running: found by the test's own directory in their environment.

Tests start ``airbox`` in a session of its own (so a simulated Ctrl-C reaches only it). When
a test ends early (pytest-timeout's signal, a failed assertion before ``communicate``), such
an airbox is not in pytest's process group and would run on, say spinning in a mutant's slow
code, taking a core from every later test. Every process a test starts carries the test's
``tmp_path`` in its environment (HOME, AIRBOX_HOME, the fakes' state), so that is how its
leftovers are found.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def started_under(directory: Path) -> list[int]:
    """The processes (other than this one) whose environment names a path in ``directory``."""
    inside = os.fsencode(directory) + b"/"
    found = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(var.partition(b"=")[2].startswith(inside) for var in environ.split(b"\0")):
                found.append(int(entry.name))
    return found


def kill_started_under(directory: Path) -> list[int]:
    """Kill every process ``started_under(directory)``; the pids killed."""
    pids = started_under(directory)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids
