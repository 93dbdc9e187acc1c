"""The error hierarchy: every failure a user can see, with its exit code and a hint.

The CLI maps an ``AirboxError`` to its ``exit_code`` and prints ``message``, the
``details`` lines and the ``hint``; anything else is a bug and exits 1 with a trace
in the run's log file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PREFLIGHT = 3
EXIT_API = 4
EXIT_CLUSTER = 5
EXIT_INTERRUPTED = 130


class AirboxError(Exception):
    """Base of every error airbox reports to a user."""

    exit_code = EXIT_FAILURE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: Sequence[str] = (),
        log_file: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details)
        self.log_file = log_file


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input: where, what, and how to fix it."""

    field: str
    message: str
    fix: str | None = None
    # A value that is absent (not wrong): on a terminal it is asked instead of reported.
    missing: bool = False

    def render(self) -> str:
        text = f"{self.field}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class UsageError(AirboxError):
    """Bad flags, a bad answers file or bad values; nothing was changed."""

    exit_code = EXIT_USAGE


class InvalidSettings(UsageError):
    """Every problem found in the settings, reported at once."""

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        count = len(problems)
        where = f" in {source}" if source else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{count} {noun}{where}; nothing was changed",
            details=[p.render() for p in problems],
            hint="fix the values above and run the command again",
        )
        self.problems = list(problems)


class SavedSettingsUnreadable(UsageError):
    """A data plane's saved settings file is damaged; says which file and where, never
    what it holds (``credentials.yaml`` is secret)."""

    def __init__(self, state: Any, path: Any, reason: str) -> None:
        name = getattr(state, "name", "")
        super().__init__(
            f"the saved settings of data plane {name} cannot be read: {path} {reason}",
            hint=f"restore the file, or rewrite the settings with `airbox install --name "
            f"{name} --answers <your answers file>`; `airbox uninstall --name {name}` "
            "works without them",
        )
        self.path = path


class DamagedState(UsageError):
    """A file or directory in airbox's own state is not what airbox made (a directory, FIFO
    or symlink where its lock file belongs, a symlinked ``logs``/``storage``, a record of the
    wrong types): says which and what to do; nothing was changed, nothing followed."""


class MissingInput(UsageError):
    """A required answer is missing and prompting is not possible (--yes or no terminal)."""


class InterviewInterrupted(KeyboardInterrupt):
    """Ctrl-C during the questions: nothing was changed; ``message`` says what was kept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PreflightFailed(AirboxError):
    exit_code = EXIT_PREFLIGHT


class NotInstalled(AirboxError):
    """No data plane of that name is installed (``status`` and friends)."""

    exit_code = EXIT_PREFLIGHT


class ControlPlaneError(AirboxError):
    """The Airbyte API failed or refused; carries the URL and HTTP status when known."""

    exit_code = EXIT_API

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        details: Sequence[str] = (),
        refused: bool = False,
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.url = url
        self.status = status
        # The control plane said these credentials are wrong (whatever its status code).
        self.refused = refused


class ClusterError(AirboxError):
    """kind, kubectl, helm or the cluster itself failed."""

    exit_code = EXIT_CLUSTER


class ToolError(ClusterError):
    """An external command exited non-zero or timed out."""

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str],
        returncode: int | None,
        output_tail: str = "",
        hint: str | None = None,
    ) -> None:
        details = ["command: " + " ".join(command)]
        if returncode is not None:
            details.append(f"exit status: {returncode}")
        if output_tail:
            details.append("last output:")
            details.extend("  " + line for line in output_tail.splitlines())
        super().__init__(message, hint=hint, details=details)
        self.command = list(command)
        self.returncode = returncode
        self.output_tail = output_tail


class DockerError(AirboxError):
    """Docker is missing, stopped or not accessible; a preflight-class failure."""

    exit_code = EXIT_PREFLIGHT


class Interrupted(AirboxError):
    exit_code = EXIT_INTERRUPTED


class ToolUnavailable(AirboxError):
    """A tool (kind, helm, kubectl) could not be found or downloaded."""

    exit_code = 3
