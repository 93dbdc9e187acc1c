"""The process runner: real child processes, logs, masking, timeouts, typed errors."""

from __future__ import annotations

import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airbox import runlog
from airbox.cluster.runner import Runner, SecretInArgv
from airbox.errors import ToolError
from airbox.redact import REDACTOR

PY = sys.executable


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = runlog.start(tmp_path / "logs", "test")
    yield path
    runlog.stop()


def script(tmp_path: Path, body: str) -> str:
    """A program file: tests must not put secrets in argv either (the runner refuses)."""
    path = tmp_path / "prog.py"
    path.write_text(body)
    return str(path)


def test_output_streams_to_the_log_masked(log_file: Path, tmp_path: Path) -> None:
    REDACTOR.add("hunter2-secret-value")
    seen: list[str] = []
    result = Runner(echo=seen.append).run(
        [
            PY,
            script(
                tmp_path,
                "import sys; print('token is hunter2-secret-value'); "
                "print('err line', file=sys.stderr)",
            ),
        ]
    )
    assert result.ok and "hunter2-secret-value" in result.stdout  # callers get the real output
    text = log_file.read_text()
    assert "hunter2-secret-value" not in text
    assert "token is ********" in text and "err line" in text
    assert seen and all("hunter2" not in line for line in seen)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_secret_on_stdin_never_in_log(log_file: Path) -> None:
    REDACTOR.add("stdin-secret-9876")
    result = Runner().run(
        [PY, "-c", "import sys; sys.stdin.read(); print('ok')"],
        stdin="password: stdin-secret-9876\n",
    )
    assert result.stdout == "ok"
    assert "stdin-secret-9876" not in log_file.read_text()
    assert "(stdin: 28 bytes)" in log_file.read_text()


def test_secret_in_argv_is_refused(log_file: Path) -> None:
    REDACTOR.add("argv-secret-5555")
    with pytest.raises(SecretInArgv):
        Runner().run([PY, "-c", "pass", "argv-secret-5555"])


def test_failure_is_a_typed_error_with_the_tail(log_file: Path, tmp_path: Path) -> None:
    REDACTOR.add("tail-secret-4444")
    with pytest.raises(ToolError) as info:
        Runner().run(
            [
                PY,
                script(
                    tmp_path,
                    "import sys\nfor i in range(40): print('line', i)\n"
                    "print('boom tail-secret-4444', file=sys.stderr)\nsys.exit(3)",
                ),
            ],
            error="the tool failed",
            hint="do the thing",
        )
    error = info.value
    assert error.returncode == 3 and error.exit_code == 5
    assert error.message == "the tool failed" and error.hint == "do the thing"
    # The error stream's tail (where tools say what went wrong), masked.
    assert error.output_tail == "boom ********"
    assert "tail-secret-4444" not in "\n".join(error.details)


def test_without_stderr_the_tail_is_the_last_15_output_lines(log_file: Path) -> None:
    with pytest.raises(ToolError) as info:
        Runner().run([PY, "-c", "import sys\nfor i in range(40): print('line', i)\nsys.exit(1)"])
    assert info.value.output_tail.splitlines() == [f"line {i}" for i in range(25, 40)]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is gone
    except OSError:
        return False


def test_timeout_kills_the_child(log_file: Path, tmp_path: Path) -> None:
    # A shell (it starts in milliseconds, so even a busy machine starts it well within the
    # timeout) and a grandchild that would both sleep for an hour: run() returning, with
    # both of them gone, is the proof that the whole process group was killed.
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 3600 & echo $! >> {pids}; echo waiting; wait"
    with pytest.raises(ToolError) as info:
        Runner().run(["/bin/sh", "-c", script], timeout=2)
    for pid in map(int, pids.read_text().split()):
        # SIGKILL is delivered asynchronously: allow it a generous while to land.
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"{pid} outlived the timeout"
    assert info.value.returncode is None
    assert "did not finish within 2s" in info.value.message
    assert "waiting" in info.value.output_tail


def test_bare_names_are_resolved(log_file: Path, tmp_path: Path) -> None:
    script = tmp_path / "mytool"
    script.write_text(f"#!{PY}\nimport sys; print('args', sys.argv[1:])\n")
    script.chmod(0o755)
    result = Runner(lambda name: str(script) if name == "mytool" else name).run(
        ["mytool", "a", "b"]
    )
    assert result.stdout == "args ['a', 'b']"
    assert "$ mytool a b" in log_file.read_text()
