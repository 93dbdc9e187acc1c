"""SIGTERM and SIGHUP handled like Ctrl-C.

A closed SSH session (SIGHUP), ``systemctl stop``, ``timeout`` or ``kill`` (SIGTERM)
must not kill airbox mid-step: ``Terminated`` — a ``KeyboardInterrupt``, so every place
that handles Ctrl-C handles it too — is raised in the main thread. The running step is
marked interrupted, the running tool's process group is ended (the runner starts each
tool in a group of its own), and airbox exits 128 + the signal (143, 129); running the
command again resumes. A repeated signal while airbox cleans up is ignored: the clean-up
is bounded and must finish.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """airbox was asked to stop by ``signum`` (not Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _on_signal(signum: int, frame: FrameType | None) -> None:
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def install() -> None:
    """Route SIGTERM/SIGHUP to ``Terminated`` (main thread only, as Python requires)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        # An ignored SIGHUP (nohup) stays ignored: the user asked for that.
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        signal.signal(sig, _on_signal)


def settle() -> None:
    """The command's result is decided: a SIGTERM/SIGHUP from now on is ignored.

    Without this a signal in the last moments (threads joined, modules torn down while the
    interpreter exits, when Python has put the default handlers back) kills a command that
    already finished with -15 instead of its exit code; a re-run would do nothing anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)


def signal_of(exc: BaseException | None) -> Terminated | None:
    """The ``Terminated`` behind ``exc`` (click wraps it in Abort), if any."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, Terminated):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
