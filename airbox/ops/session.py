"""One day-2 command run: the data plane it acts on, its lock, its log, its terminal and runner.

Every command after install opens the same way: pick the data plane (``--name``, else the
only one) and load its saved settings (``installed.require_installed``), check what can be
checked before waiting, take the data plane's lock and read the state again (another
command may have changed or removed it meanwhile), start the run's log, and make a
``Runner`` that echoes the tools' output with ``-v``. ``Session.acting_on`` does that once;
where a command differs it says why with a parameter (``lock=False``: it only reads;
``damaged_ok``: it is run precisely when the state is broken), never with its own copy.

Leaving the ``with`` block releases the lock however the command ends (an error, Ctrl-C,
SIGTERM/SIGHUP as ``signals.Terminated``). The log is closed when the command returns;
when it raises, the log stays open for ``cli.errors``, which writes the failure into it
and names the file under the message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from airbox import runlog
from airbox.errors import NotInstalled
from airbox.installed import (
    Identified,
    Installed,
    check_name,
    load_for_removal,
    load_installed,
    require_installed,
    tool_runner,
)
from airbox.lock import dataplane_lock
from airbox.paths import StateDir

if TYPE_CHECKING:
    from airbox.cluster.runner import Runner
    from airbox.ui import Terminal


# What the command knows of its data plane: ``Installed`` (whole saved settings), or only
# ``Identified`` for a command run over damaged state (``damaged_ok``).
D = TypeVar("D", bound=Identified)


class Session(Generic[D]):
    """One run of ``command`` on the installed data plane ``inst``."""

    def __init__(self, inst: D, command: str, hint: str, term: Terminal, *, locked: bool) -> None:
        self.inst = inst
        self.command = command
        self.hint = hint
        self.term = term
        # Whether this run holds the data plane's lock (False for a command that only reads).
        self.locked = locked
        self.log: Path | None = None

    @property
    def name(self) -> str:
        return self.inst.name

    @cached_property
    def runner(self) -> Runner:
        """Runs the tools (never downloads one: install does that); ``-v`` echoes them."""
        return tool_runner(self.term.debug if self.term.verbose else None)

    def start_log(self) -> Path:
        """Open this run's log in the data plane's state (once; later calls return it)."""
        if self.log is None:
            # A file name has no spaces: `bundle load` logs to ...-bundle-load.log.
            self.log = runlog.start(self.inst.state.logs, self.command.replace(" ", "-"))
        return self.log

    @overload
    @classmethod
    def acting_on(
        cls,
        name: str | None,
        command: str,
        hint: str,
        *,
        needs_cluster: bool = ...,
        damaged_ok: Literal[False] = ...,
        missing_ok: Literal[False] = ...,
        lock: bool = ...,
        log: bool = ...,
        check: Callable[[Installed], None] | None = ...,
        verbose: bool = ...,
        term: Terminal | None = ...,
    ) -> contextlib.AbstractContextManager[Session[Installed]]: ...

    @overload
    @classmethod
    def acting_on(
        cls,
        name: str | None,
        command: str,
        hint: str,
        *,
        needs_cluster: bool = ...,
        damaged_ok: Literal[True],
        missing_ok: Literal[False] = ...,
        lock: bool = ...,
        log: bool = ...,
        check: Callable[[Identified], None] | None = ...,
        verbose: bool = ...,
        term: Terminal | None = ...,
    ) -> contextlib.AbstractContextManager[Session[Identified]]: ...

    @overload
    @classmethod
    def acting_on(
        cls,
        name: str | None,
        command: str,
        hint: str,
        *,
        needs_cluster: bool = ...,
        damaged_ok: Literal[True],
        missing_ok: Literal[True],
        lock: bool = ...,
        log: bool = ...,
        check: None = ...,
        verbose: bool = ...,
        term: Terminal | None = ...,
    ) -> contextlib.AbstractContextManager[Session[Identified] | None]: ...

    @classmethod
    def acting_on(
        cls,
        name: str | None,
        command: str,
        hint: str,
        *,
        needs_cluster: bool = False,
        damaged_ok: bool = False,
        missing_ok: bool = False,
        lock: bool = True,
        log: bool = True,
        check: Callable[[Any], None] | None = None,
        verbose: bool = False,
        term: Terminal | None = None,
    ) -> contextlib.AbstractContextManager[Session[Any] | None]:
        """The run of ``command`` (e.g. "repair") on data plane ``name`` (None: the only one).

        ``hint``: what to do when it is not installed (NotInstalled, exit 3).
        ``needs_cluster``: an install that stopped before the cluster is not installed.
        ``damaged_ok``: damaged saved settings do not stop the command (``Identified.damaged``
        says why). ``missing_ok``: ``name`` (required) was chosen by the caller, the lock is
        taken before anything is read, and a data plane that is not there yields None
        instead of NotInstalled, the lock still held (uninstall: nothing to remove is
        success, and what an interrupted removal left is removed under the lock).
        ``check``: refusals that depend on the data plane, made before waiting for its
        lock (bad input is never reported as "busy"). ``lock``: take the lock and read the
        state again after it (False: the command only reads, and never waits). ``log``:
        start the run's log once the lock is held (False: none, or the command starts it
        with ``start_log`` when its first change comes).
        """
        return _acting_on(
            name,
            command,
            hint,
            needs_cluster=needs_cluster,
            damaged_ok=damaged_ok,
            missing_ok=missing_ok,
            lock=lock,
            log=log,
            check=check,
            verbose=verbose,
            term=term,
        )


@contextlib.contextmanager
def _acting_on(
    name: str | None,
    command: str,
    hint: str,
    *,
    needs_cluster: bool,
    damaged_ok: bool,
    missing_ok: bool,
    lock: bool,
    log: bool,
    check: Callable[[Any], None] | None,
    verbose: bool,
    term: Terminal | None,
) -> Iterator[Session[Any] | None]:
    load: Callable[[str], Identified | None] = load_for_removal if damaged_ok else load_installed
    first: Identified | None = None
    if missing_ok:
        if name is None:
            raise ValueError("missing_ok: the caller chooses the data plane")
        check_name(name)
        state = StateDir.for_name(name)
    else:
        first = (
            require_installed(name, command, hint, needs_cluster=needs_cluster, damaged_ok=True)
            if damaged_ok
            else require_installed(name, command, hint, needs_cluster=needs_cluster)
        )
        if check is not None:
            check(first)
        state = first.state
    if term is None:
        from airbox.ui import Terminal

        term = Terminal(verbose=verbose)
    with contextlib.ExitStack() as held:
        inst = first
        if lock:
            # One command at a time changes a data plane. A command that waited for the
            # lock may find the data plane changed or gone (an uninstall ran meanwhile):
            # what it read before is stale, and acting on it would act on a data plane that
            # no longer exists and re-create the removed state directory (a log, a cached
            # token). So the state is read again now.
            held.enter_context(dataplane_lock(state, command, create=False))
            inst = load(state.name)
        elif inst is None:
            inst = load(state.name)
        if inst is None:
            if not missing_ok:
                raise NotInstalled(
                    f"no data plane named {state.name} is installed any more (it was "
                    f"uninstalled while airbox {command} waited for it); nothing was changed",
                    hint=hint,
                )
            yield None
            return
        session = Session(inst, command, hint, term, locked=lock)
        if log:
            session.start_log()
        yield session
        if session.log is not None:
            runlog.stop()
