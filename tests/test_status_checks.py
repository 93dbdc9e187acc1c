"""status's judgement, check by check, from what the probes saw (no cluster needed).

The end-to-end runs (tests/test_status.py) show the probes read real tool output; here
each finding a user can hit is pinned by its state, its words and the verdict.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from airbox.cluster.dockerhost import ContainerState
from airbox.config.settings import Settings
from airbox.installed import Installed
from airbox.ops import status
from airbox.ops.status import DockerView, Outcome, Probes, verdict
from airbox.ops.status.checks import run_checks
from airbox.ops.status.probes import Facts
from airbox.ops.status.report import to_json
from airbox.paths import StateDir
from tests.answers_factory import answers
from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)

NOW = time.time()


def _stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def _inst(tmp_path: Path, **cluster: str) -> Installed:
    a = answers("vault", directory=tmp_path)
    if cluster:
        a["cluster"] = cluster
    settings = Settings.from_answers(a)
    return Installed(StateDir(tmp_path / "state"), a, settings)


def _node(
    ready: bool = True, name: str = "airbox-dp1-control-plane", reason: str | None = None
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": "Ready", "status": "True" if ready else "False"}
    if reason:
        cond["reason"] = reason
    return {"metadata": {"name": name}, "status": {"conditions": [cond]}}


def _pod(
    name: str = "dp1-workload-launcher-abc",
    *,
    ready: bool = True,
    waiting: str | None = None,
    message: str = "",
    restarts: int = 0,
    finished_ago: float | None = None,
) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": "launcher",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {}},
    }
    if waiting:
        cs["state"] = {"waiting": {"reason": waiting, "message": message}}
    if finished_ago is not None:
        cs["lastState"] = {
            "terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _stamp(finished_ago)}
        }
    return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [cs]}}


def _release(state: str = "deployed") -> dict[str, Any]:
    return {
        "name": "dp1",
        "namespace": "airbyte",
        "version": 2,
        "info": {"status": state, "last_deployed": _stamp(60), "description": "done"},
        "chart": {
            "metadata": {"name": "airbyte-data-plane", "version": "1.8.1", "appVersion": "1.8.1"}
        },
    }


def _event(reason: str, ago: float, message: str = "m") -> dict[str, Any]:
    return {
        "type": "Warning",
        "reason": reason,
        "message": message,
        "lastTimestamp": _stamp(ago),
        "count": 1,
        "involvedObject": {"kind": "Pod", "name": "dp1-launcher"},
    }


def _probes(**over: Any) -> Probes:
    node = ContainerState(
        "airbox-dp1-control-plane", "running", restart_count=0, restart_policy="unless-stopped"
    )
    unread = Outcome(error=RuntimeError("not read in this test"))
    values: dict[str, Any] = {
        "docker": Outcome(DockerView("27.0.1", node)),
        "nodes": Outcome([_node()]),
        "release": Outcome(_release()),
        "pods": Outcome([_pod()]),
        "events": Outcome([]),
        "logs": Outcome([]),
        "registration": Outcome(None),
        "certificates": unread,
        "disk": unread,
        "images": unread,
        "routing": Outcome(None),
        "storage": unread,
        "launcher": unread,
    }
    values.update(over)
    return Probes(**values)


def _judge(
    tmp_path: Path, inst: Installed | None = None, **over: Any
) -> tuple[dict[str, Any], tuple[str, str, str | None]]:
    inst = inst or _inst(tmp_path)
    checks, _ = run_checks(Facts(inst, _probes(**over), NOW))
    return {c.id: c for c in checks}, verdict(checks, inst.name)


def test_a_healthy_data_plane(tmp_path: Path) -> None:
    checks, (word, _, fix) = _judge(tmp_path)
    assert word == "healthy" and fix is None
    for cid in (
        "docker",
        "node-container",
        "kubernetes",
        "release",
        "pods",
        "events",
        "credentials",
    ):
        assert checks[cid].state == "ok", (cid, checks[cid])
    assert checks["kubernetes"].summary == "node airbox-dp1-control-plane Ready"


# The launcher's settings that hand the Vault token to its job pods (airbyte-platform
# workload-launcher application.yml), and the keys of airbox's Secret.
VAULT_REFS = {
    "VAULT_AUTH_TOKEN_REF_NAME": "airbyte-config-secrets",
    "VAULT_AUTH_TOKEN_REF_KEY": "VAULT_AUTH_TOKEN",
}
SECRET_KEYS = {"DATAPLANE_CLIENT_ID", "DATAPLANE_CLIENT_SECRET", "VAULT_AUTH_TOKEN"}


def test_job_pods_get_the_secrets_managers_credentials(tmp_path: Path) -> None:
    launcher = Outcome({"env": {"AIRBYTE_EDITION": "cloud", **VAULT_REFS}, "keys": SECRET_KEYS})
    checks, (word, _, _) = _judge(tmp_path, launcher=launcher)
    assert word == "healthy"
    assert (checks["job-credentials"].state, checks["job-credentials"].summary) == (
        "ok",
        "job pods get VAULT_AUTH_TOKEN from Secret airbyte-config-secrets (keys VAULT_AUTH_TOKEN)",
    )


def test_job_pods_without_the_credentials_are_unhealthy(tmp_path: Path) -> None:
    blank = Outcome({"env": {**VAULT_REFS, "VAULT_AUTH_TOKEN_REF_KEY": " "}, "keys": SECRET_KEYS})
    checks, (word, reason, fix) = _judge(tmp_path, launcher=blank)
    check = checks["job-credentials"]
    assert check.state == "fail" and word == "unhealthy"
    assert (
        reason
        == check.summary
        == (
            "job pods would not get the HashiCorp Vault credentials: syncs could not read "
            "their connectors' secrets"
        )
    )
    assert check.details == [
        "the launcher has no VAULT_AUTH_TOKEN_REF_KEY: job pods would "
        "get no VAULT_AUTH_TOKEN (HashiCorp Vault)"
    ]
    assert fix is not None and fix == check.next
    assert fix.startswith("airbox install --name dp1  (sets them again")
    # The Secret lost the key the launcher names.
    lost = Outcome({"env": VAULT_REFS, "keys": SECRET_KEYS - {"VAULT_AUTH_TOKEN"}})
    checks, _ = _judge(tmp_path, launcher=lost)
    assert checks["job-credentials"].details == [
        "in the job pods, VAULT_AUTH_TOKEN (HashiCorp Vault) is read from key "
        "'VAULT_AUTH_TOKEN', which Secret airbyte-config-secrets lacks"
    ]


def test_job_credentials_not_checked_when_nothing_can_be_read(tmp_path: Path) -> None:
    checks, _ = _judge(tmp_path, launcher=Outcome(None))
    assert (checks["job-credentials"].state, checks["job-credentials"].summary) == (
        "skip",
        "not checked: the launcher's Deployment is missing",
    )
    checks, _ = _judge(tmp_path, launcher=Outcome(error=RuntimeError("kubectl hung")))
    assert checks["job-credentials"].state == "skip"
    assert checks["job-credentials"].summary.startswith("could not read the launcher's settings: ")


def test_no_ready_node_is_a_failure(tmp_path: Path) -> None:
    checks, (word, reason, _) = _judge(
        tmp_path, nodes=Outcome([_node(False, reason="KubeletNotReady")])
    )
    assert checks["kubernetes"].state == "fail"
    assert checks["kubernetes"].details == ["airbox-dp1-control-plane: KubeletNotReady"]
    assert (word, reason) == ("unhealthy", "no node is Ready: pods cannot run")


def test_one_node_of_two_not_ready_is_a_warning(tmp_path: Path) -> None:
    checks, (word, _, _) = _judge(tmp_path, nodes=Outcome([_node(), _node(False, name="w")]))
    assert checks["kubernetes"].state == "warn"
    assert checks["kubernetes"].summary == "1 of 2 nodes are Ready"
    assert word == "degraded"


def test_no_pods_is_a_failure(tmp_path: Path) -> None:
    checks, (word, reason, fix) = _judge(tmp_path, pods=Outcome([]))
    assert checks["pods"].state == "fail"
    assert word == "unhealthy"
    assert reason == "no data plane pod runs in namespace airbyte"
    assert fix == "airbox install --name dp1"


def test_a_missing_secret_key_blocks_the_pod(tmp_path: Path) -> None:
    pod = _pod(
        ready=False,
        waiting="CreateContainerConfigError",
        message="couldn't find key DATAPLANE_CLIENT_SECRET in Secret "
        "airbyte/airbyte-config-secrets",
    )
    checks, (word, reason, fix) = _judge(tmp_path, pods=Outcome([pod]))
    assert checks["pods"].state == "fail"
    assert word == "unhealthy"
    assert reason == "a pod cannot start: its Secret is incomplete (0/1 pods ready)"
    assert fix == "airbox install --name dp1  (re-applies the Secret)"
    assert "DATAPLANE_CLIENT_SECRET" in checks["pods"].details[0]


def test_image_pull_and_crash_loop_are_failures_with_their_cause(tmp_path: Path) -> None:
    checks, (word, reason, _) = _judge(
        tmp_path, pods=Outcome([_pod(ready=False, waiting="ImagePullBackOff")])
    )
    assert checks["pods"].state == "fail" and word == "unhealthy"
    assert reason.startswith("the data plane image cannot be pulled (0/1 pods ready)")
    checks, (word, reason, fix) = _judge(
        tmp_path,
        pods=Outcome([_pod(ready=False, waiting="CrashLoopBackOff", restarts=5, finished_ago=30)]),
    )
    assert checks["pods"].state == "fail"
    assert reason == "the launcher keeps crashing (0/1 pods ready; last exit: Error (exit code 1))"
    assert fix == "airbox logs --name dp1 --previous"


def test_a_pod_that_cannot_start_is_named_before_one_that_is_still_starting(tmp_path: Path) -> None:
    starting = _pod("dp1-launcher-a", ready=False)
    blocked = _pod("dp1-launcher-b", ready=False, waiting="CreateContainerConfigError")
    checks, (word, reason, fix) = _judge(tmp_path, pods=Outcome([starting, blocked]))
    assert checks["pods"].state == "fail" and word == "unhealthy"
    assert reason == "a pod cannot start: its Secret is incomplete (0/2 pods ready)"
    assert fix == "airbox install --name dp1  (re-applies the Secret)"
    assert checks["pods"].details == [
        "dp1-launcher-a: running but not ready yet",
        "dp1-launcher-b: launcher: CreateContainerConfigError",
    ]


def test_a_starting_pod_is_a_warning(tmp_path: Path) -> None:
    checks, (word, _, _) = _judge(tmp_path, pods=Outcome([_pod(ready=False)]))
    assert checks["pods"].state == "warn" and word == "degraded"


def test_recent_restarts_warn_and_old_ones_do_not(tmp_path: Path) -> None:
    checks, (word, _, _) = _judge(tmp_path, pods=Outcome([_pod(restarts=2, finished_ago=60)]))
    assert checks["pods"].state == "warn" and word == "degraded"
    assert checks["pods"].summary == "1/1 pods ready, but restarted in the last 15 minutes"
    checks, (word, _, _) = _judge(tmp_path, pods=Outcome([_pod(restarts=2, finished_ago=3600)]))
    assert checks["pods"].state == "ok" and word == "healthy"
    assert checks["pods"].summary.endswith("(2 restarts, none recent)")


def test_a_restart_written_with_an_offset_and_nanoseconds_is_recent(tmp_path: Path) -> None:
    """Kubernetes writes UTC, but a time with an offset is read at its offset: a restart a
    minute ago, written at -05:00, is recent (it was read as five hours old)."""
    import datetime as dt

    zone = dt.timezone(dt.timedelta(hours=-5))
    finished = dt.datetime.fromtimestamp(NOW - 60, zone).strftime("%Y-%m-%dT%H:%M:%S")
    pod = _pod(restarts=1, finished_ago=60)
    pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = (
        finished + ".123456789-05:00"
    )
    checks, (word, _, _) = _judge(tmp_path, pods=Outcome([pod]))
    assert checks["pods"].state == "warn" and word == "degraded"
    assert checks["pods"].summary == "1/1 pods ready, but restarted in the last 15 minutes"


def test_only_recent_warning_events_count(tmp_path: Path) -> None:
    checks, (word, _, _) = _judge(tmp_path, events=Outcome([_event("BackOff", 3600)]))
    assert checks["events"].state == "ok" and word == "healthy"
    assert checks["events"].summary == "no warnings in the last 15 minutes (1 older)"
    checks, (word, _, _) = _judge(tmp_path, events=Outcome([_event("BackOff", 60)]))
    assert checks["events"].state == "warn" and word == "degraded"


def test_unreachable_docker_fails_and_blocks_the_rest(tmp_path: Path) -> None:
    checks, (word, reason, _) = _judge(
        tmp_path,
        docker=Outcome(error=RuntimeError("connection refused")),
        nodes=Outcome(error=RuntimeError("kubectl: connection refused")),
    )
    assert checks["docker"].state == "fail"
    assert reason.startswith("Docker is not reachable")
    for cid in ("node-container", "kubernetes", "release", "pods"):
        assert checks[cid].state == "skip"
        assert checks[cid].summary == "not checked: Docker is not reachable"
    assert word == "unhealthy"


def test_a_stopped_node_container_fails(tmp_path: Path) -> None:
    node = ContainerState("airbox-dp1-control-plane", "exited", restart_policy="no")
    checks, (word, _, fix) = _judge(tmp_path, docker=Outcome(DockerView("27", node)))
    assert checks["node-container"].state == "fail" and word == "unhealthy"
    assert fix == "airbox repair --name dp1  (starts it)"
    assert checks["kubernetes"].state == "skip"


@pytest.mark.parametrize(
    ("state", "expected", "word"),
    [
        ("deployed", "ok", "healthy"),
        ("failed", "fail", "unhealthy"),
        ("pending-upgrade", "warn", "degraded"),
        ("superseded", "fail", "unhealthy"),
    ],
)
def test_release_states(tmp_path: Path, state: str, expected: str, word: str) -> None:
    checks, (got, _, _) = _judge(tmp_path, release=Outcome(_release(state)))
    assert checks["release"].state == expected and got == word


def test_rejected_credentials_are_a_failure(tmp_path: Path) -> None:
    checks, (word, reason, _) = _judge(
        tmp_path, logs=Outcome(["ERROR 401 Unauthorized from control plane"])
    )
    assert checks["credentials"].state == "fail" and word == "unhealthy"
    assert reason == "the control plane rejects the data plane's credentials"


def _registration(**over: Any) -> dict[str, Any]:
    view = {
        "dataplaneId": "dp-id-1",
        "name": "dp1",
        "organizationId": "org",
        "regionId": "r1",
        "region": "us",
        "checked": True,
        "enabled": True,
        "deleted": False,
        "health": "HEALTHY",
        "lastHeartbeat": "t",
        "error": None,
    }
    view.update(over)
    return view


@pytest.mark.parametrize(
    ("over", "reg", "beat", "word"),
    [
        ({}, "ok", "ok", "healthy"),
        ({"deleted": True}, "fail", "skip", "unhealthy"),
        ({"enabled": False}, "fail", "ok", "unhealthy"),
        ({"enabled": None}, "ok", "ok", "healthy"),
        ({"health": "UNHEALTHY"}, "ok", "warn", "degraded"),
        ({"health": "UNKNOWN"}, "ok", "skip", "healthy"),
        ({"checked": False, "error": "no credentials"}, "skip", "skip", "healthy"),
    ],
)
def test_registration_and_heartbeat_states(
    tmp_path: Path, over: dict[str, Any], reg: str, beat: str, word: str
) -> None:
    checks, (got, _, _) = _judge(tmp_path, registration=Outcome(_registration(**over)))
    assert (checks["registration"].state, checks["heartbeat"].state, got) == (reg, beat, word)


def test_a_failure_wins_over_an_earlier_warning() -> None:
    checks = [status.Check("a", "warn", "w"), status.Check("b", "fail", "f", next="fix")]
    assert verdict(checks, "dp1") == ("unhealthy", "f", "fix")
    assert verdict([status.Check("a", "ok", "o")], "dp1") == (
        "healthy",
        "data plane dp1 is running and ready",
        None,
    )


def test_existing_cluster_target(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("")
    inst = _inst(tmp_path, kubeContext="prod", kubeconfig=str(kubeconfig))
    checks, (word, _, _) = _judge(tmp_path, inst, docker=Outcome())
    assert checks["docker"].state == "skip" and checks["node-container"].state == "skip"
    assert word == "healthy"
    assert to_json(status.report.target(inst.settings)) == {
        "type": "existing",
        "context": "prod",
        "kubeconfig": str(kubeconfig),
    }
    checks, (word, reason, fix) = _judge(
        tmp_path, inst, docker=Outcome(), nodes=Outcome(error=RuntimeError("refused"))
    )
    assert reason == "cannot reach the cluster of context prod"
    assert fix == (
        f"kubectl --kubeconfig {kubeconfig} --context prod cluster-info  "
        "(check the context, credentials and network)"
    )


def _command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, report: dict[str, Any], as_json: bool = False
) -> tuple[int, str]:
    inst = _inst(tmp_path)
    monkeypatch.setattr(status.command, "choose_name", lambda name, cmd: "dp1")
    monkeypatch.setattr(status.command, "load_installed", lambda name: inst)
    monkeypatch.setattr(status.command, "status_report", lambda inst, runner: report)
    out = io.StringIO()
    code = status.status_command(name=None, as_json=as_json, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize(("word", "code"), [("healthy", 0), ("degraded", 1), ("unhealthy", 1)])
def test_exit_code_per_verdict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, word: str, code: int
) -> None:
    report: dict[str, Any] = {"verdict": word, "reason": "r", "next": None, "checks": []}
    assert _command(monkeypatch, tmp_path, report)[0] == code


def test_secrets_in_any_part_of_the_report_are_masked_on_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airbox.redact import REDACTOR

    REDACTOR.add("known-secret-value-123")
    report = {
        "verdict": "unhealthy",
        "reason": "r",
        "next": None,
        "checks": [],
        "pods": [{"problem": "env password=hunter22xx and known-secret-value-123"}],
        "release": {"description": "Authorization: Bearer abc.def.ghi"},
    }
    for as_json in (True, False):
        _, text = _command(monkeypatch, tmp_path, report, as_json=as_json)
        for leak in ("hunter22xx", "known-secret-value-123", "abc.def.ghi"):
            assert leak not in text
    _, text = _command(monkeypatch, tmp_path, report, as_json=True)
    assert json.loads(text)["pods"][0]["problem"] == "env password=******** and ********"


def test_terminal_rendering_with_and_without_colour() -> None:
    report = {
        "verdict": "degraded",
        "reason": "why",
        "next": "do this",
        "checks": [
            {"id": "docker", "state": "ok", "summary": "fine", "details": []},
            {"id": "pods", "state": "warn", "summary": "slow", "details": ["d1"]},
            {"id": "events", "state": "skip", "summary": "not checked", "details": ["hidden"]},
        ],
    }
    assert status.render(report) == [
        "! degraded: why",
        "  next: do this",
        "",
        "✓ docker  fine",
        "! pods    slow",
        "    d1",
        "- events  not checked",
    ]
    coloured = status.render(report, color=True)
    assert coloured[0] == "\x1b[33;1m! degraded: why\x1b[0m"
    assert coloured[3] == "\x1b[32m✓\x1b[0m docker  fine"
    assert coloured[-1] == "\x1b[2m- events  not checked\x1b[0m"


def test_every_probe_runs_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each probe waits at a barrier for all the others: run one after another, they would
    never meet (the barrier's timeout only keeps a broken build from hanging)."""
    import threading

    inst = _inst(tmp_path)
    # Every probe a kind data plane has (each a module function _probe_<name>).
    names = [n[len("_probe_") :] for n in dir(status.probes) if n.startswith("_probe_")]
    assert {"docker", "nodes", "release", "pods", "events", "logs"} <= set(names)
    barrier = threading.Barrier(len(names), timeout=60)

    def meet(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return None

    for name in names:
        monkeypatch.setattr(status.probes, f"_probe_{name}", meet)
    probes = status.run_probes(inst, runner=None)  # type: ignore[arg-type]
    for name in names:
        outcome = getattr(probes, name)
        assert outcome.ok, (name, outcome.error)


def test_the_registration_probe_sees_a_data_plane_deleted_on_the_control_plane(
    tmp_path: Path, fake_cp: FakeControlPlane
) -> None:
    from airbox.controlplane.api import AirbyteApi
    from tests.test_registration import Run, make_answers

    a = make_answers(fake_cp, tmp_path)
    run = Run(a).register()
    inst = Installed(run.state, a, Settings.from_answers(a))
    [dataplane] = fake_cp.live_dataplanes()
    view = status.probes._probe_registration(inst)
    assert view is not None
    assert (view["checked"], view["deleted"], view["enabled"]) == (True, False, True)
    # Deleted through the API: only tombstoned (its id still answers), left out of lists.
    with AirbyteApi(fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret) as api:
        api.delete_dataplane(dataplane["dataplaneId"])
    view = status.probes._probe_registration(inst)
    assert view is not None
    assert (view["checked"], view["deleted"], view["error"]) == (True, True, None)
    assert view["dataplaneId"] == dataplane["dataplaneId"]


# A probe that failed (``Outcome.unread``): its check is skipped saying what could not be
# done and the tool's last words, never failed, and the verdict does not change.
UNREAD = [
    ("pods", "pods", "could not list the pods"),
    ("storage", "storage", "could not look at the store"),
    ("events", "events", "could not read the events"),
    ("logs", "credentials", "could not read the launcher's logs"),
    ("launcher", "job-credentials", "could not read the launcher's settings"),
    ("certificates", "certificates", "could not read them"),
    ("disk", "disk", "could not read the disk use"),
    ("images", "images", "could not list the node's images"),
    ("registration", "registration", "could not check"),
    ("registration", "heartbeat", "could not check"),
    ("routing", "routing", "could not check"),
]


@pytest.mark.parametrize(("probe", "check_id", "words"), UNREAD)
def test_a_probe_that_failed_skips_its_check_saying_why(
    tmp_path: Path, probe: str, check_id: str, words: str
) -> None:
    from airbox.errors import ToolError

    failed = ToolError(
        "kubectl failed", command=["kubectl"], returncode=1, output_tail="x\nError: i/o timeout\n"
    )
    over: dict[str, Any] = {probe: Outcome(error=failed)}
    checks, (word, _, _) = _judge(tmp_path, **over)
    assert (checks[check_id].state, checks[check_id].summary) == (
        "skip",
        f"{words}: Error: i/o timeout",
    )
    assert checks[check_id].next is None and word == "healthy"
