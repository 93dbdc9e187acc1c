"""scripts/mutate.py takes a test run down whole: also what it started in a session of its
own (as the tests start airbox), which would otherwise run on after a timed-out mutant."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A run that starts a grandchild in a session of its own, prints its pid, then waits.
RUN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def mutate() -> Iterator[object]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutate

        yield mutate
    finally:
        sys.path.remove(str(ROOT / "scripts"))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_timed_out_run_is_killed_with_what_it_started_in_its_own_session(mutate: object) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", RUN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert run.stdout is not None
    grandchild = int(run.stdout.readline())
    try:
        assert _alive(grandchild)
        mutate.kill_tree(run.pid)  # type: ignore[attr-defined]
        run.wait(timeout=30)
        assert run.returncode == -signal.SIGKILL
        # The grandchild, re-parented to init once the run died, is gone too (a killed
        # process leaves the run queue at once; poll with backoff, up to about 10 s).
        delay = 0.005
        while _alive(grandchild) and delay < 5:
            time.sleep(delay)
            delay *= 2
        assert not _alive(grandchild)
    finally:
        for pid in (run.pid, grandchild):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
