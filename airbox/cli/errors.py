"""Running the click group: typed errors become messages and exit codes."""

from __future__ import annotations

import contextlib
import sys
from typing import NoReturn

import click

from airbox.errors import EXIT_INTERRUPTED, EXIT_USAGE, AirboxError


def report(error: AirboxError) -> None:
    from airbox import runlog
    from airbox.redact import REDACTOR
    from airbox.ui import Terminal

    # An error's text may quote another program (a tool's, an API's words): the shapes
    # only a credential has are masked too, not only the secrets airbox knows. Not
    # ``key: value``: airbox's own messages name fields (``values.db.password: ...``).
    term = Terminal()
    term.error(REDACTOR.mask_shapes(error.message))
    for line in error.details:
        term.detail(REDACTOR.mask_shapes(line))
    if error.hint:
        term.detail("next: " + REDACTOR.mask_shapes(error.hint))
    log_file = error.log_file or runlog.current_file()
    if log_file:
        term.detail(f"log: {log_file}")
    runlog.logger().error("%s | %s", REDACTOR.mask(error.message), "; ".join(error.details))


def _interrupted_message(exc: BaseException | None) -> str:
    # An interruption that knows what it left behind says so (the questions: nothing
    # changed); any other: the steps done are kept and a re-run resumes.
    # click turns a KeyboardInterrupt into Abort, keeping it as the cause.
    for candidate in (exc, getattr(exc, "__cause__", None), getattr(exc, "__context__", None)):
        told = getattr(candidate, "message", None)
        if isinstance(told, str) and told:
            return told
    return "Interrupted. What was done is kept: run the same command again to finish."


def _interrupted(exc: BaseException) -> int:
    """Ctrl-C, SIGTERM or SIGHUP: end any tool still running, say how to resume."""
    from airbox import runlog
    from airbox.signals import signal_of

    terminated = signal_of(exc)
    try:
        from airbox.cluster.runner import end_all

        end_all()
    except KeyboardInterrupt:  # a second Ctrl-C: leave now
        pass
    runlog.logger().warning("interrupted by %s", terminated.name if terminated else "the user")
    message = (
        f"Stopped by {terminated.name}. What was done is kept: run the same command "
        "again to finish."
        if terminated
        else _interrupted_message(exc)
    )
    # After a SIGHUP the terminal may be gone: writing to it must not turn a clean stop
    # into a crash.
    with contextlib.suppress(OSError):
        sys.stderr.write("\n" + message + "\n")
        log_file = runlog.current_file()
        if log_file:
            sys.stderr.write(f"  log: {log_file}\n")
    return terminated.exit_code if terminated else EXIT_INTERRUPTED


def run(group: click.Group, argv: list[str]) -> NoReturn:
    from airbox import signals

    signals.install()
    try:
        code = _dispatch(group, argv)
        signals.settle()
    except KeyboardInterrupt as exc:
        # The signal came while the outcome was being reported: a stop like any other.
        signals.settle()
        code = _interrupted(exc)
    sys.exit(code)


def _dispatch(group: click.Group, argv: list[str]) -> int:
    """Run the command; its exit code, with every error turned into its message."""
    code = 0
    try:
        # Without standalone mode click returns the command's value (our exit code)
        # or, for --help/--version, the code it would have exited with.
        result = group.main(args=argv, prog_name="airbox", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as done:
        code = done.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns Ctrl-C (and EOF at a prompt) into Abort; SIGTERM/SIGHUP arrive as
        # airbox.signals.Terminated, a KeyboardInterrupt (maybe inside that Abort).
        code = _interrupted(exc)
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except AirboxError as exc:
        report(exc)
        code = exc.exit_code
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # a bug: say so plainly, keep the traceback in the log
        import traceback

        from airbox import runlog
        from airbox.redact import REDACTOR
        from airbox.shown import printable

        runlog.logger().error("unexpected error\n%s", traceback.format_exc())
        # Masked before anything else touches it (a multi-line secret must still match),
        # then made safe for a terminal with its lines kept, then capped (all in the log).
        message = printable(REDACTOR.mask_all(str(exc)))
        if len(message) > 2000:
            message = f"{message[:2000]}… ({len(message) - 2000} more characters in the log)"
        sys.stderr.write(
            f"✗ unexpected error: {type(exc).__name__}: {message}\n"
            "  this is a bug in airbox; run the command again with -v, and report it with "
            "`airbox support-bundle`\n"
        )
        log_file = runlog.current_file()
        if log_file:
            sys.stderr.write(f"  log: {log_file}\n")
        code = 1
    return code
