"""Issue #20 F4, F5, F11: the lock, an interrupted uninstall, and state files airbox did
not make — each as a user meets it, through the real `airbox` executable."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.helpers import airbox_bin, default_signals
from tests.installer import Installer, cp_env, registering
from tests.snapshots import Template, restore
from tests.test_hardening import _finish, _wait_for_hanging, run, saved_install


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [airbox_bin(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=default_signals,
    )


def wait_for_stderr(proc: subprocess.Popen[str], text: str, timeout: float = 60) -> list[str]:
    """The stderr lines up to the first holding ``text`` (the rest stays for communicate)."""
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if text in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found.is_set(), (text, seen, proc.poll())
    return seen


# ------------------------------------------------------------- F4: the lock, then a fresh look

WAITERS = {
    "repair-verify-assign": [
        ["repair"],
        ["verify", "--timeout", "30s"],
        ["workspaces", "--assign", "marketing"],
    ],
    "upgrade-prune": [["upgrade"], ["prune"]],
}


@pytest.mark.parametrize("group", sorted(WAITERS))
def test_a_command_that_waited_for_an_uninstall_finds_the_data_plane_gone(
    installer: Installer, fake_cp: FakeControlPlane, group: str
) -> None:
    """F4: commands started while an uninstall holds the lock wait for it, then read the
    state again: exit 3 "not installed", and nothing created — no state directory, no
    token, no log, nothing on the control plane, no workspace routed."""
    inst, cp = installer, fake_cp
    cp.add_workspace("analytics")
    marketing = cp.add_workspace("marketing")
    env = cp_env(inst, cp)
    first = inst.run(answers=inst.write(registering(inst, cp, workspaces=["analytics"])), env=env)
    assert first.returncode == 0, first.stderr
    # helm uninstall does its work, then lingers until the test lets it go.
    inst.fake.add_fault("helm", ["uninstall"], "hang", after="work", seconds=120, exit=0, times=1)
    removal = start("uninstall", "--yes", env=env)
    hanging = _wait_for_hanging(inst, removal, "helm", ["uninstall"])
    waiters = [(args, start(*args, "--name", inst.name, env=env)) for args in WAITERS[group]]
    for _, proc in waiters:
        wait_for_stderr(proc, f"data plane {inst.name} is busy: {removal.pid} (airbox uninstall")
    inst.fake.end_hang(hanging)
    out, err = _finish(removal)
    assert removal.returncode == 0, out + err
    assert f"Data plane {inst.name} is uninstalled." in out

    for args, proc in waiters:
        out, err = _finish(proc)
        assert proc.returncode == 3, (args, out, err)
        assert f"no data plane named {inst.name} is installed any more" in err, (args, err)
        assert "unexpected error" not in err
    assert not inst.state.exists()
    assert [p.name for p in inst.home.iterdir() if p.is_dir() and p.name != "bin"] == []
    assert cp.live("sources") == [] and cp.live("connections") == []
    assert not cp.jobs
    assert cp.workspaces[marketing["workspaceId"]]["regionId"] == cp.managed_region["regionId"]


# --------------------------------------------------------------- F5: uninstall resumes


@pytest.mark.timeout(300)  # 4 000 files made, then removed
def test_an_uninstall_stopped_while_removing_the_state_is_finished_by_the_next(
    installer: Installer,
) -> None:
    """F5: SIGTERM while the local state is being removed (months of job logs in the local
    store): the data plane is still found, and the same command again removes what is left
    — secrets, kubeconfig, the store's data — and the directory."""
    inst = installer
    data = inst.answers()
    data.pop("storage", None)  # the local object store, its data under the state
    first = inst.run(answers=inst.write(data))
    assert first.returncode == 0, first.stderr
    logs = inst.state / "storage" / "airbyte-storage" / "job-logging"
    for i in range(100):
        folder = logs / f"workspace-{i}"
        folder.mkdir(parents=True)
        for j in range(40):
            (folder / f"{j}.log").write_text("x")

    proc = start("uninstall", "--yes", env=inst.env())
    deadline = time.monotonic() + 120
    while len(os.listdir(logs)) >= 100:  # the removal of the store's data is under way
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the local state was never removed"
        time.sleep(0.002)  # a poll, not a busy loop competing with the uninstall
    proc.send_signal(signal.SIGTERM)
    out, err = _finish(proc)
    assert proc.returncode == 143, (
        "the uninstall finished before the SIGTERM: the test needs more files",
        out,
        err,
    )
    assert "run the same command again to finish" in err

    again = subprocess.run(
        [airbox_bin(), "uninstall", "--yes", "--name", inst.name],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"local state {inst.state}" in again.stdout
    assert f"kind cluster {inst.cluster}" not in again.stdout  # gone already: not listed
    assert f"Data plane {inst.name} is uninstalled." in again.stdout
    assert not inst.state.exists()


def test_uninstall_removes_the_empty_directory_an_interrupted_removal_left(isolated: Path) -> None:
    """F5: stopped between removing the lock file and the directory, the next run removes
    the directory (nothing of the data plane is left to list)."""
    root = isolated / ".airbyte" / "airbox" / "dp1"
    root.mkdir(parents=True)
    (root / "lock").write_text("pid=1 command=uninstall since=2026-01-01T00:00:00Z\n")
    result = run("uninstall", "--yes", "--name", "dp1", timeout=60)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"Removed what was left of {root}" in result.stdout
    assert not root.exists()


# ------------------------------------------------------------ F11: hostile state files


def _plant(kind: str, path: Path, victim: Path) -> None:
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(victim)


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink"])
@pytest.mark.parametrize("command", ["repair", "prune", "upgrade"])
def test_a_lock_that_is_not_a_file_is_a_clear_error(
    tmp_path: Path, isolated: Path, kind: str, command: str
) -> None:
    """F11: a directory, FIFO or symlink where the lock file belongs: exit 2 naming it and
    saying how to fix it; a symlink's target is never written; no log is started."""
    state = saved_install(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("IMPORTANT USER DATA\n")
    lock = state.root / "lock"
    _plant(kind, lock, victim)
    result = run(command, "--name", "dp1", timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    what = {"directory": "a directory", "fifo": "a FIFO", "symlink": "a symbolic link"}[kind]
    assert f"the lock file of data plane dp1 ({lock}) is {what}" in result.stderr
    assert f"rm -r {lock}" in result.stderr
    assert "unexpected error" not in result.stderr
    assert victim.read_text() == "IMPORTANT USER DATA\n"
    assert not (state.root / "logs").exists()


def test_install_refuses_a_lock_that_is_a_directory(installer: Installer) -> None:
    """F11: install, too (it makes the lock file when missing, never through a link)."""
    inst = installer
    (inst.state / "lock").mkdir(parents=True)
    result = inst.run(answers=inst.write())
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"({inst.state / 'lock'}) is a directory" in result.stderr
    assert "unexpected error" not in result.stderr
    assert inst.fake.clusters() == []


def _damaged_registration(state: Path) -> None:
    (state / "registration.json").write_text(
        json.dumps(
            {
                "name": "dp1",
                "organizationId": "org-1",
                "regionId": ["a"],
                "regionName": 7,
                "dataplaneId": "dp-1",
                "clientId": "dp-client",
                "clientSecret": {"x": 1},
                "apiUrl": 5,
            }
        )
    )


@pytest.mark.parametrize(
    "command",
    [["workspaces", "-o", "json"], ["workspaces", "--assign", "marketing"], ["verify"], ["status"]],
)
def test_a_registration_record_of_the_wrong_types_is_a_clear_error(
    tmp_path: Path, isolated: Path, command: list[str]
) -> None:
    """F11: registration.json with fields of the wrong types: exit 2 naming the file and
    the fields (never their values), and what to do."""
    state = saved_install(
        tmp_path, controlPlane={"url": "http://127.0.0.1:9", "apiUrl": "http://127.0.0.1:9/v1"}
    )
    _damaged_registration(state.root)
    env = {
        **os.environ,
        "AIRBYTE_CLIENT_ID": "app-client-id",
        "AIRBYTE_CLIENT_SECRET": "app-client-secret-7a1d9e",
    }
    result = run(*command, "--name", "dp1", env=env, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert (
        f"the registration record of data plane dp1 ({state.root / 'registration.json'})"
        f" is damaged: regionId, regionName, clientSecret, apiUrl are not what airbox "
        "wrote"
    ) in result.stderr
    assert "airbox uninstall --name dp1" in result.stderr
    assert "unexpected error" not in result.stderr


def test_a_symlinked_logs_directory_is_refused_never_chmodded_or_pruned(
    tmp_path: Path, isolated: Path
) -> None:
    """F11: ``logs`` a symlink to a user's directory: exit 2 saying so; the directory
    keeps its mode and every one of its log files (airbox keeps only its last 20)."""
    state = saved_install(tmp_path)
    elsewhere = tmp_path / "my-logs"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    mine = sorted(f"{i:02d}.log" for i in range(25))
    for name in mine:
        (elsewhere / name).write_text("mine\n")
    (state.root / "logs").symlink_to(elsewhere)
    result = run("repair", "--name", "dp1", timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{state.root / 'logs'} is a symbolic link (to {elsewhere})" in result.stderr
    assert "unexpected error" not in result.stderr
    assert sorted(os.listdir(elsewhere)) == mine
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755


def test_a_symlinked_store_directory_is_refused_before_anything_is_created(
    installer: Installer,
) -> None:
    """F11: ``storage`` (the local store's data, mounted into the node) a symlink to a
    user's directory: install stops with exit 2 before the cluster exists; the directory
    keeps its mode and is never mounted."""
    inst = installer
    elsewhere = inst.tmp / "my-data"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    inst.state.mkdir(parents=True)
    (inst.state / "storage").symlink_to(elsewhere)
    data = inst.answers()
    data.pop("storage", None)
    result = inst.run(answers=inst.write(data))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{inst.state / 'storage'} is a symbolic link (to {elsewhere})" in result.stderr
    assert f"rm {inst.state / 'storage'}" in result.stderr
    assert "unexpected error" not in result.stderr
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
    assert inst.fake.clusters() == []


def test_uninstall_works_with_a_registration_record_of_the_wrong_types(
    installer: Installer, installed_plain: Template
) -> None:
    """F11: the damaged record stops the other commands, not the way out: uninstall says
    what is damaged and removes everything (the record too)."""
    inst = installer
    restore(installed_plain, inst)
    _damaged_registration(inst.state)
    result = subprocess.run(
        [airbox_bin(), "uninstall", "--yes"],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registration.json) is damaged" in result.stdout + result.stderr
    assert f"Data plane {inst.name} is uninstalled." in result.stdout
    assert inst.fake.clusters() == []
    assert not inst.state.exists()


def test_a_support_bundle_is_written_when_the_registration_record_is_damaged(
    tmp_path: Path, isolated: Path
) -> None:
    """A damaged state is exactly when a user needs a support bundle: it is written (exit
    0), the damage is said, and the record's values (a credential) stay out of it."""
    state = saved_install(
        tmp_path, controlPlane={"url": "http://127.0.0.1:9", "apiUrl": "http://127.0.0.1:9/v1"}
    )
    _damaged_registration(state.root)
    out = tmp_path / "bundle.tar.gz"
    result = run("support-bundle", "--name", "dp1", "-o", str(out), timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "the registration record of data plane dp1" in result.stderr + result.stdout
    assert "unexpected error" not in result.stderr
    assert out.is_file()
    import tarfile

    with tarfile.open(out) as archive:
        names = archive.getnames()
        text = b"".join(
            archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        )
    assert not any(n.endswith("registration.json") for n in names)
    assert b"dp-client" not in text
