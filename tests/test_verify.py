"""`airbox verify`: a real sync through the installed data plane, against the fakes.

The fake control plane moves each job along ``job_script`` one step per poll; when a job
runs in this data plane's region it tells the fake cluster, which then holds the job's
pod (named and labelled like Airbyte's workload launcher does) in the release namespace.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airbox.errors import UsageError
from airbox.ops.verify import parse_timeout
from airbox.ops.verify_sync import DISCOVERING
from airbox.render import manifests
from tests.answers_factory import SECRETS
from tests.fake_control_plane import DEFINITIONS, FakeControlPlane, fake_cp  # noqa: F401
from tests.fakes import nodetools
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin, default_signals, signal_then_reap
from tests.installer import Installer, cp_env, registering
from tests.test_workspaces import region_id


def start_verify(inst: Installer, cp: FakeControlPlane, *args: str) -> subprocess.Popen[str]:
    """``airbox verify`` against ``cp``, in a session of its own so that a signal the test
    sends reaches only it."""
    return subprocess.Popen(
        [airbox_bin(), "verify", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cp_env(inst, cp),
        start_new_session=True,
        preexec_fn=default_signals,
    )


def installed(inst: Installer, cp: FakeControlPlane, **extra: Any) -> dict[str, Any]:
    """A registered data plane with the workspace analytics routed to its region, and
    the fake cluster running the pods of the jobs that run in that region (their init
    container's env from the launcher helm installed: tests/fakes/launcher_model.py).
    ``extra``: more answers."""
    workspace = cp.add_workspace("analytics")
    cp.add_workspace("marketing")
    result = inst.run(
        answers=inst.write(registering(inst, cp, workspaces=["analytics"], **extra)),
        env=cp_env(inst, cp),
    )
    assert result.returncode == 0, result.stderr
    here = region_id(cp)

    def on_job(job: dict[str, Any], status: str) -> None:
        if job["regionId"] != here:
            return  # another data plane's work
        phase = {
            "running": "Running",
            "succeeded": "Succeeded",
            "failed": "Failed",
            "cancelled": "Failed",
        }.get(status)
        if phase:
            inst.fake.job_pod(inst.cluster, "airbyte", job, phase)

    cp.job_listeners.append(on_job)
    return workspace


def verify(inst: Installer, cp: FakeControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), "verify", *args],
        capture_output=True,
        text=True,
        env=cp_env(inst, cp),
        timeout=120,
    )


def nothing_left(cp: FakeControlPlane) -> None:
    for kind in ("sources", "destinations", "connections"):
        assert cp.live(kind) == [], kind


def test_verify_passes_fails_and_tells_where_the_job_ran(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    workspace = installed(inst, cp)
    # What a killed earlier run left behind: removed by the owned prefix.
    prefix = f"airbox-verify-{inst.name}-"
    leftover = {
        "sourceId": "5b1d7e1e-0000-4000-8000-000000000001",
        "name": prefix + "faker",
        "workspaceId": workspace["workspaceId"],
        "deleted": False,
    }
    cp.sources[leftover["sourceId"]] = leftover
    mine = {
        "sourceId": "5b1d7e1e-0000-4000-8000-000000000002",
        "name": "prod-postgres",
        "workspaceId": workspace["workspaceId"],
        "deleted": False,
    }
    cp.sources[mine["sourceId"]] = mine

    passed = verify(inst, cp, "--json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    report = json.loads(passed.stdout)
    assert report["result"] == "passed" and report["status"] == "succeeded"
    job_id = report["jobId"]
    assert report["pods"] == [{"name": f"replication-job-{job_id}-attempt-0", "phase": "Succeeded"}]
    assert report["workspace"] == {"workspaceId": workspace["workspaceId"], "name": "analytics"}
    assert report["leftoversRemoved"] == [
        {"kind": "source", "id": leftover["sourceId"], "name": prefix + "faker"}
    ]
    assert sorted(i["kind"] for i in report["removed"]) == ["connection", "destination", "source"]
    # The user's own source is untouched; nothing verify made survives.
    assert [s["name"] for s in cp.live("sources")] == ["prod-postgres"]
    del cp.sources[mine["sourceId"]]
    nothing_left(cp)
    # The API calls: faker and dev-null by definition id (dev-null has no name mapping).
    [source] = [r for r in cp.calls("POST", "/v1/sources")]
    assert source.body["definitionId"] == DEFINITIONS["sources"][0]["id"]
    assert source.body["configuration"]["sourceType"] == "faker"
    [destination] = cp.calls("POST", "/v1/destinations")
    assert destination.body["definitionId"] == DEFINITIONS["destinations"][0]["id"]
    [job] = cp.calls("POST", "/v1/jobs")
    [connection] = cp.calls("POST", "/v1/connections")
    assert job.body["jobType"] == "sync"
    assert cp.jobs[job_id]["connectionId"] == report["connectionId"]
    assert connection.body["name"] == prefix + "connection"
    # Polled until done: pending, running, running, succeeded.
    assert len(cp.calls("GET", f"/v1/jobs/{job_id}")) == 3

    # A sync that fails: exit 1 with the job's reason, nothing left behind.
    cp.job_script = ["pending", "running", "failed"]
    failed = verify(inst, cp)
    assert failed.returncode == 1, failed.stderr
    assert (
        "✗ verify failed: job 1002 failed: source: Something went wrong in the connector"
        in failed.stderr
    )
    assert "replication-job-1002-attempt-0 (Failed)" in failed.stderr
    assert f"airbox logs --name {inst.name}" in failed.stderr
    nothing_left(cp)

    # A sync that succeeds without a pod here ran on another data plane.
    cp.job_listeners.clear()
    cp.job_script = ["pending", "running", "succeeded"]
    elsewhere = verify(inst, cp)
    assert elsewhere.returncode == 1, elsewhere.stderr
    assert "job 1003 succeeded, but none of its pods ran in namespace airbyte" in elsewhere.stderr
    nothing_left(cp)

    # A job that never ends: cancelled at the timeout.
    cp.job_script = ["pending", "running"]
    slow = verify(inst, cp, "--timeout", "2s")
    assert slow.returncode == 1, slow.stderr
    assert "job 1004 did not finish within 2 s (last status: running)" in slow.stderr
    assert cp.jobs[1004]["status"] == "cancelled"
    nothing_left(cp)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_verify_cancels_the_job_and_leaves_nothing(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    sig: int,
) -> None:
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.job_script = ["pending", "running"]
    procs: list[subprocess.Popen[str]] = []
    # The user gives up while the sync runs (its pod is up in the cluster). The poll is
    # answered only once airbox has exited (the event itself, not a fixed wait); its
    # cancel call meanwhile reaches the threaded fake.
    cp.on("GET", "/v1/jobs/*", lambda _: signal_then_reap(procs[0], sig))
    proc = start_verify(inst, cp)
    procs.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err  # 130 for Ctrl-C, 143 for SIGTERM
    [job_id] = list(cp.jobs)
    assert cp.jobs[job_id]["status"] == "cancelled"
    assert [r.path for r in cp.calls("DELETE", "/v1/jobs/*")] == [f"/v1/jobs/{job_id}"]
    nothing_left(cp)
    # The next run starts clean and passes.
    cp.hooks.clear()
    cp.job_script = ["pending", "running", "succeeded"]
    again = verify(inst, cp)
    assert again.returncode == 0, again.stderr
    nothing_left(cp)


def test_verify_fails_when_a_job_pods_init_container_lacks_a_credential(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """A job pod's init container reads connector secrets with the secrets manager's
    credentials, which the launcher hands over only from its *_REF_NAME/*_REF_KEY
    settings. A values: entry that blanks one (it wins over airbox's) leaves the job
    pods without that credential: verify names it and fails, status too."""
    inst, cp = installer, fake_cp
    blank = {
        "workloadLauncher": {
            "extraEnv": [{"name": "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY", "value": ""}]
        }
    }
    installed(inst, cp, values=blank)
    failed = verify(inst, cp)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    problem = (
        "job pod replication-job-1001-attempt-0: its init container gets no "
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY (AWS Secrets Manager), so connector "
        "secrets cannot be read (the launcher's "
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_NAME and "
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY hand it over)"
    )
    assert f"✗ verify failed: {problem}" in failed.stderr
    # The other credential arrives: only the missing one is named.
    assert "gets no AWS_SECRET_MANAGER_ACCESS_KEY_ID" not in failed.stderr
    nothing_left(cp)
    # verify read the Secret's keys; its values reach no log, plain or base64.
    [log] = [p for p in inst.home.rglob("*-verify.log")]
    text = log.read_text()
    assert f"get secret {manifests.SECRET_NAME} -o json" in text
    for secret in (SECRETS["sm_access"], SECRETS["sm_secret"], SECRETS["s3_secret"]):
        assert secret not in text and base64.b64encode(secret.encode()).decode() not in text
    # status sees it too, from the launcher's settings, without running a job.
    state = subprocess.run(
        [airbox_bin(), "status", "--json"],
        capture_output=True,
        text=True,
        env=cp_env(inst, cp),
        timeout=120,
    )
    report = json.loads(state.stdout)
    [check] = [c for c in report["checks"] if c["id"] == "job-credentials"]
    assert state.returncode == 1 and report["verdict"] == "unhealthy", state.stdout
    assert check["state"] == "fail"
    assert check["details"] == [
        "the launcher has no AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY: job pods would get "
        "no AWS_SECRET_MANAGER_SECRET_ACCESS_KEY (AWS Secrets Manager)"
    ]

    # Installed again without the override (values: replaces the saved ones as a whole):
    # the job pods get both keys; verify passes and says what they got.
    again = inst.run(
        answers=inst.write(registering(inst, cp, workspaces=["analytics"], values={})),
        env=cp_env(inst, cp),
    )
    assert again.returncode == 0, again.stderr
    passed = verify(inst, cp)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (
        "job pod replication-job-1002-attempt-0: its init container gets "
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID, AWS_SECRET_MANAGER_SECRET_ACCESS_KEY from Secret "
        "airbyte-config-secrets (keys AWS_SECRET_MANAGER_ACCESS_KEY_ID, "
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY)"
    ) in passed.stdout + passed.stderr
    nothing_left(cp)


def test_verify_not_installed_exits_3() -> None:
    result = subprocess.run(
        [airbox_bin(), "verify", "--name", "nothing-here"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "no data plane named nothing-here is installed" in result.stderr


def test_timeouts_parse() -> None:
    assert parse_timeout("15m") == 900
    assert parse_timeout("1h30m") == 5400
    assert parse_timeout("90") == 90
    with pytest.raises(UsageError):
        parse_timeout("soon")


# ------------------------------------------------------------ a fresh node (issue 19)


@pytest.mark.timeout(300)
def test_connection_creation_waits_for_a_slow_discover_and_says_so(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """On a fresh node the control plane's discover pulls source-faker first: creating
    the connection takes minutes. verify waits (here a second past the longest a
    control-plane request may otherwise take, far past the usual 15 s read timeout), says
    what the control plane is doing meanwhile, and leaves nothing."""
    from airbox.controlplane.limits import Timeouts

    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.discover_seconds = Timeouts().total + 1
    proc = start_verify(inst, cp)
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if DISCOVERING in line:
            break
    # Said while the control plane is still discovering: no connection exists yet.
    assert any(DISCOVERING in line for line in seen), "".join(seen)
    assert cp.live("connections") == []
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    err = "".join(seen) + rest
    assert proc.returncode == 0, err
    assert f"creating the connection airbox-verify-{inst.name}-connection ..." in err
    assert "✓ verified: job 1001 succeeded" in err
    nothing_left(cp)


def test_connection_made_after_the_timeout_is_found_and_removed(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """The control plane made the connection, but its answer came after verify gave up:
    verify looks it up by its name and removes it with the rest."""
    inst, cp = installer, fake_cp
    workspace = installed(inst, cp)
    # The answer is held until airbox has exited (the event, not a guessed wait).
    procs: list[subprocess.Popen[str]] = []
    cp.on("POST", "/v1/connections", lambda _: procs[0].wait(timeout=60))
    proc = start_verify(inst, cp, "--timeout", "3s", "--json")
    procs.append(proc)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    report = json.loads(out)
    assert report["result"] == "timeout"
    assert "did not create the connection within" in report["reason"]
    assert "made the connection after all" in report["reason"]
    [made] = [c for c in cp.connections.values()]
    assert made["workspaceId"] == workspace["workspaceId"]
    assert {
        "kind": "connection",
        "id": made["connectionId"],
        "name": f"airbox-verify-{inst.name}-connection",
    } in report["removed"]
    assert (
        f"the control plane made the connection airbox-verify-{inst.name}-connection "
        "after all" in err
    )
    nothing_left(cp)
    assert cp.calls("POST", "/v1/jobs") == []


def test_a_failed_discover_is_the_connector_in_this_data_plane(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.discover_failure = "faker: image pull back-off"
    result = verify(inst, cp)
    assert result.returncode == 1, result.stderr
    assert (
        "✗ verify failed: the source's discover failed in this data plane (the control "
        "plane runs it here before it creates a connection): Something went wrong in the "
        "connector. logs: faker: image pull back-off"
    ) in result.stderr
    assert f"next: airbox logs --name {inst.name}" in result.stderr
    assert "control plane (or a proxy in front of it) failed" not in result.stderr
    nothing_left(cp)


def _pods_follow_attempts(inst: Installer, cp: FakeControlPlane) -> None:
    """An incomplete attempt's pod ends Failed; the retry runs in a new pod."""
    here = region_id(cp)

    def on_job(job: dict[str, Any], status: str) -> None:
        if job["regionId"] == here and status == "incomplete":
            inst.fake.job_pod(inst.cluster, "airbyte", job, "Failed")

    cp.job_listeners.append(on_job)


def test_an_incomplete_job_is_polled_until_it_ends(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """``incomplete``: an attempt failed and the platform retries; the job goes on."""
    inst, cp = installer, fake_cp
    installed(inst, cp)
    _pods_follow_attempts(inst, cp)
    cp.job_script = ["pending", "running", "incomplete", "running", "succeeded"]
    result = verify(inst, cp, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "passed" and report["status"] == "succeeded"
    job_id = report["jobId"]
    assert report["pods"] == [
        {"name": f"replication-job-{job_id}-attempt-0", "phase": "Failed"},
        {"name": f"replication-job-{job_id}-attempt-1", "phase": "Succeeded"},
    ]
    assert len(cp.calls("GET", f"/v1/jobs/{job_id}")) == 4
    assert cp.calls("DELETE", "/v1/jobs/*") == []
    nothing_left(cp)


def test_ctrl_c_while_incomplete_cancels_the_job(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.job_script = ["pending", "running", "incomplete"]
    procs: list[subprocess.Popen[str]] = []
    seen_incomplete: list[str] = []

    def on_poll(request: Any) -> None:
        # The user presses Ctrl-C on the poll after airbox has seen `incomplete`.
        if any(job["status"] == "incomplete" for job in cp.jobs.values()):
            seen_incomplete.append(request.path)
        if len(seen_incomplete) == 2:
            os.kill(procs[0].pid, signal.SIGINT)
            procs[0].wait(timeout=60)

    cp.on("GET", "/v1/jobs/*", on_poll, times=20)
    proc = start_verify(inst, cp)
    procs.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "(an attempt failed; the platform retries the job)" in err
    [job_id] = list(cp.jobs)
    assert cp.jobs[job_id]["status"] == "cancelled"
    assert [r.path for r in cp.calls("DELETE", "/v1/jobs/*")] == [f"/v1/jobs/{job_id}"]
    nothing_left(cp)


# ------------------------------------------------------- what verify owns (issue 20)


def _pending_signals(pid: int) -> int:
    """The signals still pending for ``pid`` (process- and thread-wide), as a bit mask."""
    status = Path(f"/proc/{pid}/status").read_text()
    return sum(
        int(line.split()[1], 16)
        for line in status.splitlines()
        if line.startswith(("SigPnd:", "ShdPnd:"))
    )


def _send_and_wait_delivered(pid: int, sig: int) -> None:
    """Send ``sig`` and wait until the process has taken it (handled or ignored)."""
    os.kill(pid, sig)
    for _ in range(2000):
        if not _pending_signals(pid) & (1 << (sig - 1)):
            return
        os.sched_yield()
    raise AssertionError(f"signal {sig} still pending")


def test_leftovers_of_another_data_plane_are_not_ours(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """F3: data plane <name>-eu's objects start with <name>'s prefix; a verify of <name>
    must leave them alone (that plane's verify may be syncing through them right now)."""
    inst, cp = installer, fake_cp
    workspace = installed(inst, cp)
    theirs = {}
    for n, part in enumerate(("faker", "dev-null", "connection")):
        kind = {"faker": "sources", "dev-null": "destinations"}.get(part, "connections")
        key = kind[:-1] + "Id"
        item = {
            key: f"5b1d7e1e-0000-4000-8000-00000000001{n}",
            "name": f"airbox-verify-{inst.name}-eu-{part}",
            "workspaceId": workspace["workspaceId"],
            "deleted": False,
        }
        getattr(cp, kind)[item[key]] = item
        theirs[kind] = item
    result = verify(inst, cp, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["leftoversRemoved"] == []
    for kind, item in theirs.items():
        assert [i["name"] for i in cp.live(kind)] == [item["name"]], kind
    assert cp.calls("DELETE", "/v1/*/5b1d7e1e-*") == []


def test_sighup_during_the_clean_up_does_not_cut_it_short(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """F9: Ctrl-C, then the SSH window is closed while verify cleans up: the clean-up
    finishes anyway, and the exit code is the Ctrl-C's."""
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.job_script = ["pending", "running"]
    procs: list[subprocess.Popen[str]] = []
    cp.on("GET", "/v1/jobs/*", lambda _: _send_and_wait_delivered(procs[0].pid, signal.SIGINT))
    cp.on(
        "DELETE",
        "/v1/connections/*",
        lambda _: _send_and_wait_delivered(procs[0].pid, signal.SIGHUP),
    )
    proc = start_verify(inst, cp)
    procs.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert len(cp.calls("DELETE", "/v1/connections/*")) == 1  # the hang-up was delivered
    [job_id] = list(cp.jobs)
    assert cp.jobs[job_id]["status"] == "cancelled"
    nothing_left(cp)


def test_a_second_ctrl_c_stops_the_clean_up_and_says_what_is_left(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """F7: a control plane that does not answer must not hold the user: the second
    Ctrl-C stops the clean-up; verify lists what is left, and the next run removes it."""
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.job_script = ["pending", "running"]
    procs: list[subprocess.Popen[str]] = []
    cp.on("GET", "/v1/jobs/*", lambda _: _send_and_wait_delivered(procs[0].pid, signal.SIGINT))

    def second_ctrl_c(_: Any) -> None:
        # The DELETE hangs (answered only once airbox is gone) and the user presses
        # Ctrl-C again.
        os.kill(procs[0].pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            procs[0].wait(timeout=20)

    cp.on("DELETE", "/v1/connections/*", second_ctrl_c)
    proc = start_verify(inst, cp)
    procs.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert (
        "clean-up stopped; left on the control plane (as far as airbox knows): "
        "connection "
        f"airbox-verify-{inst.name}-connection" in err
    )
    assert f"source airbox-verify-{inst.name}-faker" in err
    assert f"the next `airbox verify --name {inst.name}` removes them" in err
    assert [r.path for r in cp.calls("DELETE", "/v1/sources/*")] == []
    # The next run removes what is left, by its names.
    cp.hooks.clear()
    cp.job_script = ["pending", "running", "succeeded"]
    again = verify(inst, cp, "--json")
    assert again.returncode == 0, again.stderr
    assert sorted(i["kind"] for i in json.loads(again.stdout)["leftoversRemoved"]) == [
        "destination",
        "source",
    ]  # the first run's DELETE of the connection went through
    nothing_left(cp)


def test_an_api_error_while_polling_cancels_the_job_first(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """F10: the job's status cannot be read (a proxy answers 502): the job is cancelled
    before its connection is deleted, and the error says so."""
    inst, cp = installer, fake_cp
    installed(inst, cp)
    cp.job_script = ["pending", "running"]
    cp.fail("GET", "/v1/jobs/*", 502, times=10)
    result = verify(inst, cp)
    assert result.returncode == 4, result.stderr
    assert "reading the job 1001 failed" in result.stderr
    assert "job 1001 was cancelled" in result.stderr
    assert cp.jobs[1001]["status"] == "cancelled"
    cancel = next(
        i for i, r in enumerate(cp.requests) if r.method == "DELETE" and r.path == "/v1/jobs/1001"
    )
    first_delete = next(
        i
        for i, r in enumerate(cp.requests)
        if r.method == "DELETE" and r.path.startswith("/v1/connections/")
    )
    assert cancel < first_delete
    nothing_left(cp)


# ------------------------------------------------- verify's connectors pre-pulled


def test_install_prepulls_verify_connectors_and_never_waits_for_them(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node's registry never answers (each `crictl pull` in it hangs): the install
    still completes, and the node has been asked to pull faker and dev-null with the
    tags of the workspace's definitions (newer than airbox's pinned ones here)."""
    inst, cp = installer, fake_cp
    inst.fake.use_docker(nodetools.ensure_tools_image(docker_client(), slow_registry=True))
    monkeypatch.setitem(DEFINITIONS["sources"][0], "dockerImageTag", "6.2.99")
    monkeypatch.setitem(DEFINITIONS["destinations"][0], "dockerImageTag", "0.7.99")
    installed(inst, cp)
    node = docker_client().containers.get(f"{inst.cluster}-control-plane")
    wanted = [
        "crictl pull docker.io/airbyte/source-faker:6.2.99",
        "crictl pull docker.io/airbyte/destination-dev-null:0.7.99",
    ]
    for _ in range(200):  # handed to the node by now, or within moments
        if all(w in nodetools.calls(node) for w in wanted):
            break
        node.reload()
    assert sorted(c for c in nodetools.calls(node) if c.startswith("crictl pull")) == sorted(wanted)
    # Still pulling (the registry never answers): the install did not wait for them.
    assert nodetools.images_in(node) == []


def test_verify_without_application_credentials_says_what_to_set_once(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """Installed with the data plane's own credentials: verify cannot create a connection;
    it says what to set (once) and how to route by hand meanwhile, exit 2, nothing made."""
    inst, cp = installer, fake_cp
    first = inst.run(answers=inst.write())
    assert first.returncode == 0, first.stderr
    result = subprocess.run(
        [airbox_bin(), "verify"], capture_output=True, text=True, env=inst.env(), timeout=120
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the Airbyte application's credentials" in result.stderr
    assert result.stderr.count("AIRBYTE_CLIENT_ID") == 1, result.stderr
    assert "Settings › Workspace › General › Region" in result.stderr
    nothing_left(cp)
