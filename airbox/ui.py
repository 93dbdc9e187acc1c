"""What the user sees: messages, step progress and errors, on a terminal or not.

On a terminal (rich) each step is one live line with a spinner, what is happening
now and the elapsed time, which ends as ✓ or ✗; elsewhere (CI, pipes, log
collectors) each event is a plain timestamped line. Colour follows the terminal and
``NO_COLOR``. Everything printed passes through the redactor first. rich is imported
only when a terminal needs it, so ``--help`` and pipes stay fast.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from airbox.redact import REDACTOR
from airbox.shown import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

_STYLES = {"green": "green", "red": "red", "yellow": "yellow", "bold": "bold", "dim": "dim"}


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Terminal:
    """Output for one command run. ``verbose`` also shows tool output as it comes."""

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        verbose: bool = False,
        interactive: bool | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.verbose = verbose
        tty = bool(getattr(self.err, "isatty", lambda: False)())
        self.interactive = tty if interactive is None else interactive
        self.color = use_color(self.err) and self.interactive
        self._lock = threading.RLock()
        self._console: Console | None = None

    def console(self) -> Console:
        """The rich console on stderr (terminals only); no markup: text is never code."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.err, no_color=not self.color, markup=False, highlight=False, emoji=False
            )
        return self._console

    # ------------------------------------------------------------------ basics

    def _emit(self, stream: IO[str], parts: list[tuple[str, str | None]]) -> None:
        """One line made of (text, style) parts, masked, to ``stream``."""
        with self._lock:
            if self.interactive and stream is self.err:
                from rich.text import Text

                line = Text()
                for text, style in parts:
                    line.append(printable(REDACTOR.mask(text)), style=_STYLES.get(style or ""))
                self.console().print(line, soft_wrap=True)
                return
            stream.write(printable(REDACTOR.mask("".join(text for text, _ in parts))) + "\n")
            stream.flush()

    def print(self, text: str = "") -> None:
        """Data and results: standard output."""
        self._emit(self.out, [(text, None)])

    def info(self, text: str) -> None:
        self._emit(self.err, [(self._stamp() + text, None)])

    def success(self, text: str) -> None:
        self._emit(self.err, [(self._stamp(), None), ("✓ ", "green"), (text, None)])

    def warn(self, text: str) -> None:
        self._emit(self.err, [(self._stamp(), None), ("! ", "yellow"), (text, None)])

    def error(self, text: str) -> None:
        self._emit(self.err, [("✗ ", "red"), (text, "bold")])

    def detail(self, text: str) -> None:
        self._emit(self.err, [("  " + text, None)])

    def debug(self, text: str) -> None:
        if self.verbose:
            self._emit(self.err, [("  │ " + text, "dim")])

    def _stamp(self) -> str:
        return "" if self.interactive else time.strftime("%Y-%m-%dT%H:%M:%S ")

    @contextmanager
    def step(self, title: str) -> Iterator[StepLine]:
        """A step's line: spinner while it runs, then ✓/✗ with elapsed seconds."""
        line = StepLine(self, title)
        line.start()
        try:
            yield line
        except BaseException:
            line.finish(ok=False)
            raise
        else:
            line.finish(ok=True)


class _Now:
    """The live line's text, rendered afresh at each refresh (so the seconds tick)."""

    def __init__(self, line: StepLine) -> None:
        self.line = line

    def __rich__(self) -> Any:
        from rich.text import Text

        elapsed = time.monotonic() - self.line.started
        text = Text(self.line.title)
        if self.line.status:
            text.append(f" — {self.line.status}", style="dim")
        text.append(f" ({elapsed:.0f}s)", style="dim")
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


class StepLine:
    def __init__(self, term: Terminal, title: str) -> None:
        self.term = term
        self.title = title
        self.status = ""
        self.started = time.monotonic()
        self.skipped = False
        # Done, but with something the user must not miss: finished with "!", not "✓".
        self.warning: str | None = None
        # Time spent waiting for the user's answer: not the step's own time.
        self.waited = 0.0
        self._live: Live | None = None

    def start(self) -> None:
        if self.term.interactive:
            self._start_live()
        else:
            self.term.info(f"{self.title} ...")

    def _start_live(self) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        # transient: the spinner line disappears, replaced by the ✓/✗ line.
        self._live = Live(
            Spinner("dots", text=_Now(self)),
            console=self.term.console(),
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def update(self, status: str) -> None:
        """What is happening right now (pulling image X, pod pending because Y)."""
        status = printable(REDACTOR.mask(status))
        if status == self.status:
            return
        self.status = status
        if not self.term.interactive:
            self.term.info(f"  {status}")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the spinner while a question is on screen, then resume it."""
        was_live = self._live is not None
        self._stop_live()
        began = time.monotonic()
        try:
            yield
        finally:
            self.waited += time.monotonic() - began
            if was_live:
                self._start_live()

    def warn(self, text: str) -> None:
        """The step is done, but not cleanly: it ends with "!" and ``text``."""
        self.warning = REDACTOR.mask(text)

    def skip(self, reason: str) -> None:
        self.skipped = True
        self.status = reason

    def finish(self, *, ok: bool) -> None:
        self._stop_live()
        stamp = self.term._stamp()
        if self.skipped:
            self.term._emit(
                self.term.err,
                [(stamp, None), ("✓ ", "green"), (self.title, None), (f" ({self.status})", "dim")],
            )
            return
        elapsed = time.monotonic() - self.started - self.waited
        if ok and self.warning is not None:
            self.term._emit(
                self.term.err,
                [
                    (stamp, None),
                    ("! ", "yellow"),
                    (self.title, None),
                    (f" ({elapsed:.1f}s): ", "dim"),
                    (self.warning, "yellow"),
                ],
            )
            return
        mark = ("✓ ", "green") if ok else ("✗ ", "red")
        self.term._emit(
            self.term.err, [(stamp, None), mark, (self.title, None), (f" ({elapsed:.1f}s)", "dim")]
        )


def render_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned table: listings are data, for terminals and scripts alike."""
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.upper().ljust(widths[i]) for i, col in enumerate(columns)).rstrip()]
    for r in cells:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(len(columns))).rstrip())
    return "\n".join(lines)
