"""A test's leftover processes are found by its directory in their environment and killed at
its end (conftest.isolated), and nothing else is."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leftovers import kill_started_under

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _sleeper(home: Path) -> subprocess.Popen[bytes]:
    # In a session of its own, as the tests start airbox.
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        start_new_session=True,
    )


def test_a_process_started_under_the_tests_directory_is_killed_and_a_neighbours_is_not(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    mine = _sleeper(tmp_path / "test_x1" / "home")
    # A name that starts like this test's directory but is another one.
    neighbour = _sleeper(tmp_path / "test_x10" / "home")
    sleepers += [mine, neighbour]

    killed = kill_started_under(tmp_path / "test_x1")

    assert killed == [mine.pid]
    assert mine.wait(timeout=30) == -signal.SIGKILL
    assert neighbour.poll() is None
