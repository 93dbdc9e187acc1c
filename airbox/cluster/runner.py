"""The one way airbox runs kind, helm and kubectl.

Every command: its argv checked for secrets (they must travel on stdin), logged
masked, run with a timeout, its output streamed line by line to the run's log (and
to the terminal with ``-v``), and a non-zero exit turned into a ``ToolError`` that
carries the masked command and the tail of its output. Ctrl-C reaches the child
too (same process group); the runner waits for it to stop, then re-raises.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from airbox import runlog
from airbox.errors import ToolError
from airbox.redact import REDACTOR

LineHandler = Callable[[str], None]
DEFAULT_TIMEOUT = 120.0
_TAIL_LINES = 15


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class SecretInArgv(RuntimeError):
    """A bug: something tried to pass a secret on a command line."""


class Runner:
    """Runs tools by bare name (``kind``, ``helm``, ``kubectl``), resolved by ``resolve``."""

    def __init__(
        self,
        resolve: Callable[[str], str] | None = None,
        *,
        echo: LineHandler | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._resolve = resolve or (lambda name: name)
        self._echo = echo
        self._env = dict(env) if env is not None else None

    def display(self, argv: Sequence[str]) -> str:
        return shlex.join(REDACTOR.mask_argv(argv))

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        on_line: LineHandler | None = None,
        on_stderr: LineHandler | None = None,
        keep_output: bool = True,
        error: str | None = None,
        hint: str | None = None,
    ) -> Result:
        """Run ``argv``; ``on_line`` sees each output line masked (``on_stderr``, if given,
        the error stream's). ``keep_output=False`` (a ``logs -f`` that runs for days)
        keeps no output in memory: the Result's stdout/stderr stay empty."""
        argv = list(argv)
        for arg in argv:
            if REDACTOR.mask(arg) != arg:
                raise SecretInArgv(f"refusing to pass a secret in the argv of {argv[0]}")
        executable = self._resolve(argv[0])
        shown = self.display(argv)
        log = runlog.logger()
        log.info("$ %s%s", shown, f"  (stdin: {len(stdin)} bytes)" if stdin else "")
        started = time.monotonic()
        proc = subprocess.Popen(
            [executable, *argv[1:]],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        out_lines: list[str] = []
        err_lines: list[str] = []
        # One tail per stream: tools put their errors on stderr, and the two streams are
        # read concurrently, so a shared tail could lose the error behind late stdout.
        tails: dict[str, deque[str]] = {"|": deque(maxlen=_TAIL_LINES),
                                         "!": deque(maxlen=_TAIL_LINES)}

        def tail_text() -> str:
            with lock:
                chosen = tails["!"] or tails["|"]
                return "\n".join(chosen)

        lock = threading.Lock()

        def pump(stream: IO[str], sink: list[str], label: str,
                 handler: LineHandler | None) -> None:
            for raw in stream:
                line = raw.rstrip("\n")
                if keep_output:
                    sink.append(line)
                masked = REDACTOR.mask_all(line)
                with lock:
                    tails[label].append(masked)
                log.debug("%s %s", label, masked)
                if self._echo is not None:
                    self._echo(masked)
                if handler is not None:
                    handler(masked)

        readers = [
            threading.Thread(target=pump, args=(proc.stdout, out_lines, "|", on_line),
                             daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, err_lines, "!",
                                                on_stderr or on_line), daemon=True),
        ]
        for reader in readers:
            reader.start()
        if stdin is not None and proc.stdin is not None:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            for reader in readers:
                reader.join(timeout=2)
            log.error("timed out after %.0fs: %s", timeout, shown)
            raise ToolError(
                error or f"{argv[0]} did not finish within {timeout:.0f}s",
                command=REDACTOR.mask_argv(argv),
                returncode=None,
                output_tail=tail_text(),
                hint=hint,
            ) from None
        except KeyboardInterrupt:
            # The child got the same SIGINT; give it a moment to clean up, then stop it.
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _stop(proc)
            log.warning("interrupted: %s", shown)
            raise
        for reader in readers:
            reader.join(timeout=5)
        seconds = time.monotonic() - started
        log.info("exit %d after %.1fs", returncode, seconds)
        result = Result(argv, returncode, "\n".join(out_lines), "\n".join(err_lines), seconds)
        if check and returncode != 0:
            raise ToolError(
                error or f"{argv[0]} failed",
                command=REDACTOR.mask_argv(argv),
                returncode=returncode,
                output_tail=tail_text(),
                hint=hint,
            )
        return result


def _stop(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            continue
