"""A ``Runner`` that starts no process: each command is recorded and answered from a script.

For step-level tests that check which commands a step runs and what it makes of their
answers (exit status, output): no fake executable is started, so such a test takes
milliseconds. Only the process is replaced (``Runner._spawn``): the secret check, the run
log, the output pumps and the ``ToolError`` (masked command, the output's tail) are
airbox's own. What needs a process or a cluster's state (signals, timeouts, flags the
real tools reject, what a command changed) stays with the fake kind/helm/kubectl.
"""

from __future__ import annotations

import io
import shlex
import subprocess
from dataclasses import dataclass
from typing import cast

from airbox.cluster.runner import Runner


@dataclass(frozen=True)
class Call:
    argv: list[str]
    stdin: str | None


@dataclass
class _Answer:
    words: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    times: int | None


class _Exited:
    """A process that has already ended, as ``Runner._finish`` reads one."""

    def __init__(self, answer: _Answer) -> None:
        self.stdin = None
        self.stdout = io.StringIO(answer.stdout)
        self.stderr = io.StringIO(answer.stderr)
        self.returncode = answer.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def poll(self) -> int:
        return self.returncode


class RecordingRunner(Runner):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self._answers: list[_Answer] = []

    def answer(
        self,
        *words: str,
        returncode: int = 0,
        stdout: str = "",
        stderr: str = "",
        times: int | None = None,
    ) -> None:
        """Answer a command holding every one of ``words`` (the first such rule still
        left wins; ``times``: how many commands it answers, None: all)."""
        self._answers.append(_Answer(words, returncode, stdout, stderr, times))

    def argvs(self) -> list[list[str]]:
        return [call.argv for call in self.calls]

    def _spawn(self, argv: list[str], stdin: str | None) -> subprocess.Popen[str]:
        self.calls.append(Call(list(argv), stdin))
        for answer in self._answers:
            if answer.times != 0 and all(word in argv for word in answer.words):
                if answer.times is not None:
                    answer.times -= 1
                return cast("subprocess.Popen[str]", _Exited(answer))
        raise AssertionError(f"no answer scripted for: {shlex.join(argv)}")
