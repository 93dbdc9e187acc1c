"""Small helpers shared by test modules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from airbox.config.prompts import Prompter

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets"


def airbox_env(**extra: str) -> dict[str, str]:
    """The environment for running the airbox executable as a subprocess."""
    env = dict(os.environ)
    env.update(extra)
    return env


def airbox_bin() -> str:
    return str(Path(sys.executable).with_name("airbox"))


def default_signals() -> None:
    """A child's signals as a user's shell gives them (a ``preexec_fn``).

    Tests started under ``nohup``, ``setsid`` or with ``&`` inherit SIGHUP and/or SIGINT
    ignored, and so would every airbox they start: a test that sends one of them means
    "the user pressed Ctrl-C / closed the terminal", not "the user ran it under nohup".
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def signal_then_reap(proc: subprocess.Popen[Any], sig: int) -> None:
    """Send ``sig`` to ``proc`` and wait until it has exited.

    As a fake control plane hook it holds a request's answer until the client is gone: the
    event itself, not a guessed wait.
    """
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)


class Keys:
    """The keys for each question, sent as that question opens (as a user types).

    A prompt reads everything waiting in the pipe, so typing ahead would lose keys.
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.answers: list[str] = []

    def type(self, *answers: str) -> None:
        self.answers.extend(answers)

    def feed(self) -> None:
        assert self.answers, "airbox asked a question the test did not expect"
        self.pipe.send_text(self.answers.pop(0))


@pytest.fixture
def keys() -> Iterator[tuple[Keys, Prompter]]:
    with create_pipe_input() as pipe:
        k = Keys(pipe)
        yield k, Prompter(input=pipe, output=DummyOutput(), before_each=k.feed)
        assert k.answers == [], "questions the test expected were not asked"
