"""A pipeline of named steps, each idempotent, with progress saved between steps.

Modelled on kind's actions and k0sctl's phases: a step says whether it applies to
this install, what commands it would run (for the dry-run plan), whether its work
is already done (by looking at the real state), and how to do it. Progress is
written to ``progress.json`` after every step, so a Ctrl-C anywhere leaves a
record the next run reads — but the next run still trusts the real state first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from airbox.errors import AirboxError
from airbox.fsutil import write_json
from airbox.installed import read_progress
from airbox.redact import REDACTOR
from airbox.timestamps import utc_stamp
from airbox.ui import StepLine, Terminal

C = TypeVar("C")


class Step(Generic[C]):
    """One named action. Subclasses override what they need."""

    name: str = ""
    title: str = ""

    def applies(self, ctx: C) -> bool:
        return True

    def describe(self, ctx: C) -> str:
        return self.title

    def commands(self, ctx: C) -> list[list[str]]:
        """The command lines this step runs, for the plan (secrets never included)."""
        return []

    def done(self, ctx: C) -> str | None:
        """A reason to skip (the work is already done), or None to run."""
        return None

    def run(self, ctx: C, line: StepLine) -> None:
        raise NotImplementedError


@dataclass
class Progress:
    """``progress.json``: what the last runs did, step by step."""

    path: Path

    def load(self) -> dict[str, Any]:
        return read_progress(self.path)

    def mark(self, step: str, status: str, **extra: Any) -> None:
        data = self.load()
        data.setdefault("steps", {})[step] = {"status": status, "at": utc_stamp(), **extra}
        write_json(self.path, data)

    def set(self, key: str, value: Any) -> None:
        data = self.load()
        data[key] = value
        write_json(self.path, data)

    def status(self, step: str) -> str | None:
        entry = self.load().get("steps", {}).get(step)
        return entry.get("status") if isinstance(entry, dict) else None


def plan(steps: Sequence[Step[C]], ctx: C) -> list[dict[str, Any]]:
    return [
        {"step": step.name, "title": step.describe(ctx), "commands": step.commands(ctx)}
        for step in steps
        if step.applies(ctx)
    ]


def execute(steps: Sequence[Step[C]], ctx: C, term: Terminal, progress: Progress | None) -> None:
    """Run every applicable step in order; stop at the first failure."""
    for step in steps:
        if not step.applies(ctx):
            continue
        title = step.describe(ctx)
        with term.step(title) as line:
            if progress:
                # The title goes with each mark: status and the day-2 commands say where
                # an install stopped in the user's words ("Create the kind cluster …").
                progress.mark(step.name, "running", title=title)
            try:
                reason = step.done(ctx)
                if reason:
                    line.skip(reason)
                else:
                    step.run(ctx, line)
            except KeyboardInterrupt:
                if progress:
                    progress.mark(step.name, "interrupted", title=title)
                raise
            except AirboxError as exc:
                if progress:
                    # progress.json is read back and bundled: never a secret in it.
                    progress.mark(
                        step.name, "failed", title=title, error=REDACTOR.mask_shapes(exc.message)
                    )
                raise
            except Exception as exc:
                # A bug: the step still failed, and status/bundle should say so, not
                # "running" for ever.
                if progress:
                    progress.mark(
                        step.name,
                        "failed",
                        title=title,
                        error=REDACTOR.mask_shapes(
                            f"unexpected error: {type(exc).__name__}: {exc}"
                        ),
                    )
                raise
            if progress:
                progress.mark(step.name, "skipped" if reason else "done", title=title)
