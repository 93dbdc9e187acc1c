"""What the user sees: messages, step progress and errors, on a terminal or not.

On a terminal each step is one line with a spinner and elapsed time that ends in
✓ or ✗; elsewhere (CI, pipes, log collectors) each event is a plain timestamped
line. Colour follows the terminal and ``NO_COLOR``. Everything printed passes
through the redactor first. rich is imported only when a terminal needs it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from airbox.redact import REDACTOR

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _use_color(stream: IO[str]) -> bool:
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
        self.color = _use_color(self.err) and self.interactive
        self._lock = threading.Lock()
        self._live_line: str | None = None

    # ------------------------------------------------------------------ basics

    def _paint(self, text: str, style: str) -> str:
        if not self.color:
            return text
        codes = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2",
                 "cyan": "36"}
        return f"\x1b[{codes[style]}m{text}\x1b[0m"

    def _write(self, stream: IO[str], text: str) -> None:
        with self._lock:
            self._clear_live()
            stream.write(REDACTOR.mask(text) + "\n")
            stream.flush()
            self._redraw_live()

    def print(self, text: str = "") -> None:
        """Data and results: standard output."""
        self._write(self.out, text)

    def info(self, text: str) -> None:
        self._write(self.err, self._stamp() + text)

    def success(self, text: str) -> None:
        self._write(self.err, self._stamp() + self._paint("✓ ", "green") + text)

    def warn(self, text: str) -> None:
        self._write(self.err, self._stamp() + self._paint("! ", "yellow") + text)

    def error(self, text: str) -> None:
        self._write(self.err, self._paint("✗ ", "red") + self._paint(text, "bold"))

    def detail(self, text: str) -> None:
        self._write(self.err, "  " + text)

    def debug(self, text: str) -> None:
        if self.verbose:
            self._write(self.err, self._paint("  │ " + text, "dim"))

    def _stamp(self) -> str:
        return "" if self.interactive else time.strftime("%Y-%m-%dT%H:%M:%S ")

    # ------------------------------------------------------------ live step line

    def _clear_live(self) -> None:
        if self._live_line is not None and self.interactive:
            self.err.write("\r\x1b[2K")

    def _redraw_live(self) -> None:
        if self._live_line is not None and self.interactive:
            self.err.write(self._live_line)
            self.err.flush()

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


class StepLine:
    def __init__(self, term: Terminal, title: str) -> None:
        self.term = term
        self.title = title
        self.status = ""
        self.started = time.monotonic()
        self.skipped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.term.interactive:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        else:
            self.term.info(f"{self.title} ...")

    def update(self, status: str) -> None:
        """What is happening right now (pulling image X, pod pending because Y)."""
        status = REDACTOR.mask(status)
        if status == self.status:
            return
        self.status = status
        if not self.term.interactive:
            self.term.info(f"  {status}")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the spinner while a question is on screen, then resume it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self.term._lock:
            if self.term.interactive and self.term._live_line is not None:
                self.term.err.write("\r\x1b[2K")
                self.term.err.flush()
            self.term._live_line = None
        try:
            yield
        finally:
            self._stop = threading.Event()
            if self.term.interactive:
                self._thread = threading.Thread(target=self._spin, daemon=True)
                self._thread.start()

    def skip(self, reason: str) -> None:
        self.skipped = True
        self.status = reason

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(0.1):
            elapsed = time.monotonic() - self.started
            status = f" — {self.status}" if self.status else ""
            text = f"{_SPINNER[frame % len(_SPINNER)]} {self.title}{status} ({elapsed:.0f}s)"
            with self.term._lock:
                self.term._live_line = "\r\x1b[2K" + text[: _width() - 1]
                self.term.err.write(self.term._live_line)
                self.term.err.flush()
            frame += 1

    def finish(self, *, ok: bool) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self.term._lock:
            if self.term.interactive:
                self.term.err.write("\r\x1b[2K")
            self.term._live_line = None
        elapsed = time.monotonic() - self.started
        if self.skipped:
            self.term._write(self.term.err, self.term._stamp()
                             + self.term._paint("✓ ", "green") + self.title
                             + self.term._paint(f" ({self.status})", "dim"))
        elif ok:
            self.term._write(self.term.err, self.term._stamp()
                             + self.term._paint("✓ ", "green") + self.title
                             + self.term._paint(f" ({elapsed:.1f}s)", "dim"))
        else:
            self.term._write(self.term.err, self.term._stamp()
                             + self.term._paint("✗ ", "red") + self.title
                             + self.term._paint(f" ({elapsed:.1f}s)", "dim"))


def _width() -> int:
    try:
        return os.get_terminal_size(2).columns
    except OSError:
        return 100


def render_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned table (no rich needed for simple listings)."""
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.upper().ljust(widths[i]) for i, col in enumerate(columns)).rstrip()]
    for r in cells:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(len(columns))).rstrip())
    return "\n".join(lines)
