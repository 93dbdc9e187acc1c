"""The one way airbox runs kind, helm and kubectl.

Every command: its argv checked for secrets (they must travel on stdin), logged
masked, run with a timeout, its output streamed line by line to the run's log (and
to the terminal with ``-v``), and a non-zero exit turned into a ``ToolError`` that
carries the masked command and the tail of its output.

Each tool runs in a process group of its own, with an environment without airbox's
credentials (``child_environment``). On Ctrl-C, SIGTERM or SIGHUP (``airbox.signals``)
the runner passes the signal on to that group, gives it a moment to clean up, then
ends the group — nothing the tool started outlives airbox — and re-raises.
"""

from __future__ import annotations

import contextlib
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
from airbox.errors import ToolError, ToolUnavailable
from airbox.redact import REDACTOR

LineHandler = Callable[[str], None]
DEFAULT_TIMEOUT = 120.0
_TAIL_LINES = 15
# After passing an interruption on: how long a tool may take to clean up (kind deletes
# a half-made node, helm marks the release), then SIGTERM, then SIGKILL.
_GRACE_SECONDS = 5.0

# Variables holding the credentials airbox reads: no tool needs them, and whatever a
# tool starts would inherit them.
SECRET_ENV = (
    "AIRBYTE_CLIENT_ID",
    "AIRBYTE_CLIENT_SECRET",
    "DATAPLANE_CLIENT_ID",
    "DATAPLANE_CLIENT_SECRET",
    "AIRBYTE_LICENSE_KEY",
)

# The proxy: kept even when its value is a known secret (a URL holding a password), since
# the tools need it: kind hands it to the node's containerd, helm fetches the chart with it.
PROXY_ENV = frozenset(
    {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"}
)

_live_lock = threading.Lock()
_live: set[subprocess.Popen[str]] = set()


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without airbox's credentials: the
    variables above, and any whose value is a secret airbox knows (an answers file's
    ``${VAULT_TOKEN}``)."""
    from airbox.config.answers import ENV_ANSWERS  # every variable that is an answer

    env = dict(os.environ if base is None else base)
    known = REDACTOR.known()
    drop = set(SECRET_ENV) | set(ENV_ANSWERS)
    return {
        key: value
        for key, value in env.items()
        if key not in drop and (key in PROXY_ENV or not (value and value in known))
    }


def end_all(sig: int = signal.SIGTERM) -> None:
    """End every tool still running (those run from worker threads too): on the way out
    of an interrupted command."""
    with _live_lock:
        running = list(_live)
    for proc in running:
        _end_group(proc, sig)


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

    def _child_env(self) -> dict[str, str]:
        return child_environment(self._env)

    def available(self, tool: str) -> bool:
        """Whether ``tool`` can be run without downloading it (day-2 runners never do)."""
        try:
            self._resolve(tool)
        except ToolUnavailable:
            return False
        return True

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
        secret_output: bool = False,
        error: str | None = None,
        hint: str | None = None,
    ) -> Result:
        """Run ``argv``; ``on_line`` sees each output line masked (``on_stderr``, if given,
        the error stream's). ``keep_output=False`` (a ``logs -f`` that runs for days)
        keeps no output in memory: the Result's stdout/stderr stay empty.
        ``secret_output``: the output holds secrets airbox does not know yet (a Secret's
        data read back): it goes to the Result only, never to the log or the terminal."""
        argv = list(argv)
        for arg in argv:
            if REDACTOR.mask(arg) != arg:
                raise SecretInArgv(f"refusing to pass a secret in the argv of {argv[0]}")
        executable = self._resolve(argv[0])
        shown = self.display(argv)
        log = runlog.logger()
        log.info("$ %s%s", shown, f"  (stdin: {len(stdin)} bytes)" if stdin else "")
        started = time.monotonic()
        proc = self._spawn([executable, *argv[1:]], stdin)
        with _live_lock:
            _live.add(proc)
        try:
            return self._finish(
                proc,
                argv,
                shown,
                stdin=stdin,
                timeout=timeout,
                check=check,
                on_line=on_line,
                on_stderr=on_stderr,
                keep_output=keep_output,
                secret_output=secret_output,
                error=error,
                hint=hint,
                started=started,
            )
        finally:
            with _live_lock:
                _live.discard(proc)

    def _spawn(self, argv: list[str], stdin: str | None) -> subprocess.Popen[str]:
        """Start the tool (the one place a process starts: tests replace it to record
        the commands a step runs, tests/recording_runner.py)."""
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._child_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
            # A group of its own: a signal to airbox is passed on by airbox (below), and
            # ending the group ends whatever the tool started too.
            start_new_session=True,
        )

    def _finish(
        self,
        proc: subprocess.Popen[str],
        argv: list[str],
        shown: str,
        *,
        stdin: str | None,
        timeout: float,
        check: bool,
        on_line: LineHandler | None,
        on_stderr: LineHandler | None,
        keep_output: bool,
        error: str | None,
        hint: str | None,
        started: float,
        secret_output: bool = False,
    ) -> Result:
        log = runlog.logger()
        out_lines: list[str] = []
        err_lines: list[str] = []
        # One tail per stream: tools put their errors on stderr, and the two streams are
        # read concurrently, so a shared tail could lose the error behind late stdout.
        tails: dict[str, deque[str]] = {
            "|": deque(maxlen=_TAIL_LINES),
            "!": deque(maxlen=_TAIL_LINES),
        }

        def tail_text() -> str:
            with lock:
                chosen = tails["!"] or tails["|"]
                return "\n".join(chosen)

        lock = threading.Lock()

        def pump(stream: IO[str], sink: list[str], label: str, handler: LineHandler | None) -> None:
            for raw in stream:
                line = raw.rstrip("\n")
                if keep_output:
                    sink.append(line)
                if secret_output and label == "|":
                    continue
                masked = REDACTOR.mask_all(line)
                with lock:
                    tails[label].append(masked)
                log.debug("%s %s", label, masked)
                if self._echo is not None:
                    self._echo(masked)
                if handler is not None:
                    handler(masked)

        readers = [
            threading.Thread(target=pump, args=(proc.stdout, out_lines, "|", on_line), daemon=True),
            threading.Thread(
                target=pump, args=(proc.stderr, err_lines, "!", on_stderr or on_line), daemon=True
            ),
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
            _end_group(proc, signal.SIGTERM, grace=3)
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
        except KeyboardInterrupt as exc:
            # Ctrl-C reached airbox only (the tool has a group of its own): pass it on,
            # or the SIGTERM/SIGHUP airbox got, and give the tool a moment to clean up.
            _end_group(proc, int(getattr(exc, "signum", signal.SIGINT)))
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


def _end_group(proc: subprocess.Popen[str], first: int, grace: float = _GRACE_SECONDS) -> None:
    """Send ``first`` to the tool's process group, wait ``grace`` seconds for the tool,
    then SIGTERM and SIGKILL; whatever is left in the group is killed at the end."""
    for sig, wait in ((first, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue  # a second Ctrl-C: go straight on to the harder signals
    # Grandchildren outlive their parent: nothing of the group may be left running.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
