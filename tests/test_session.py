"""``Session.acting_on``: the one way a day-2 command takes its data plane, lock and log."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest

from airbox import runlog
from airbox.config.gather import save
from airbox.errors import ClusterError, NotInstalled
from airbox.lock import DataPlaneBusy, dataplane_lock
from airbox.ops import session as session_module
from airbox.ops.session import Session
from airbox.paths import StateDir
from airbox.signals import Terminated
from tests.answers_factory import answers

HINT = "install it first: airbox install"


def _installed(tmp_path: Path, name: str, **changes: Any) -> StateDir:
    state = StateDir.for_name(name)
    save(state, {**answers("vault", "default", directory=tmp_path, name=name), **changes})
    return state


def _free(state: StateDir) -> bool:
    """Whether another command could take the lock right now (without waiting)."""
    try:
        with dataplane_lock(state, "probe", wait=0, create=False):
            return True
    except DataPlaneBusy:
        return False


@pytest.mark.parametrize(
    "error",
    [ClusterError("kubectl failed"), KeyboardInterrupt(), Terminated(15), RuntimeError("a bug")],
)
def test_the_lock_is_released_however_the_command_ends(
    tmp_path: Path, isolated: Path, error: BaseException
) -> None:
    state = _installed(tmp_path, "sess1")
    with pytest.raises(type(error)), Session.acting_on("sess1", "repair", HINT) as run:
        assert run.locked and not _free(state)
        raise error
    assert _free(state)


def test_the_log_is_closed_on_return_and_left_to_the_error_report_on_a_failure(
    tmp_path: Path, isolated: Path
) -> None:
    """cli.errors writes the failure into the run's log and names the file under the
    message: a command that raises leaves it open; one that returns closes it."""
    state = _installed(tmp_path, "sess2")
    with Session.acting_on("sess2", "bundle load", HINT) as run:
        assert run.log is not None and run.log.parent == state.logs
        assert run.log.name.endswith("-bundle-load.log")
        assert runlog.current_file() == str(run.log)
    assert runlog.current_file() is None
    with pytest.raises(ClusterError), Session.acting_on("sess2", "prune", HINT) as run:
        raise ClusterError("the node is stopped")
    assert runlog.current_file() == str(run.log)
    runlog.stop()


def test_a_command_that_only_reads_never_waits_and_keeps_no_log(
    tmp_path: Path, isolated: Path
) -> None:
    state = _installed(tmp_path, "sess3")
    with (
        dataplane_lock(state, "upgrade", create=False),
        Session.acting_on("sess3", "logs", HINT, lock=False, log=False) as run,
    ):
        assert not run.locked and run.log is None
    assert not state.logs.exists()


def test_the_state_is_read_again_after_waiting_for_the_lock(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F4: what was read before the wait is stale; the run acts on the settings as the
    command that held the lock left them."""
    state = _installed(tmp_path, "sess4")
    # Waits as long as the test needs (a loaded machine), not the 5 s a user gets.
    monkeypatch.setattr(
        session_module, "dataplane_lock", functools.partial(dataplane_lock, wait=300)
    )
    read_before = threading.Event()
    seen: dict[str, Any] = {}

    def first_read(inst: Any) -> None:
        seen["before"] = inst.settings.namespace
        read_before.set()

    def command() -> None:
        try:
            with Session.acting_on("sess4", "repair", HINT, check=first_read, log=False) as run:
                seen["after"] = run.inst.settings.namespace
        except BaseException as exc:  # reported to the test below
            seen["error"] = exc

    with dataplane_lock(state, "upgrade", create=False):
        worker = threading.Thread(target=command)
        worker.start()
        assert read_before.wait(300)
        # The holder changes the data plane while the command waits for it.
        _installed(tmp_path, "sess4", namespace="moved")
    worker.join(300)
    assert "error" not in seen, seen
    assert seen == {"before": "airbyte", "after": "moved"}


def test_a_data_plane_removed_while_waiting_is_not_installed_and_nothing_is_made(
    tmp_path: Path, isolated: Path
) -> None:
    state = _installed(tmp_path, "sess5")

    def uninstalled_meanwhile(inst: Any) -> None:
        state.settings.unlink()

    with (
        pytest.raises(NotInstalled, match=r"installed any more .* airbox prune waited"),
        Session.acting_on("sess5", "prune", HINT, check=uninstalled_meanwhile),
    ):
        raise AssertionError("ran on a removed data plane")
    assert not state.logs.exists()


def test_missing_ok_yields_nothing_with_the_lock_held_and_reads_only_after_it(
    tmp_path: Path, isolated: Path
) -> None:
    """Uninstall's way: the lock first, then what is there; nothing there is no error."""
    state = _installed(tmp_path, "sess6")
    with dataplane_lock(state, "probe", create=False):
        pass  # the lock file exists, as after any command
    state.settings.unlink()  # what an uninstall stopped while removing the state leaves
    state.credentials.unlink()
    with Session.acting_on(
        "sess6", "uninstall", "", damaged_ok=True, missing_ok=True, log=False
    ) as run:
        assert run is None
        assert not _free(state)
    assert _free(state)
    with (
        pytest.raises(ValueError, match="chooses"),
        Session.acting_on(None, "uninstall", "", damaged_ok=True, missing_ok=True),
    ):
        pass
