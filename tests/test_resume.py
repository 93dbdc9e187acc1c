"""`airbox repair` and `airbox upgrade` stopped half-way: the same command, run again, finishes.

Real node containers (``--network none``) with the fake node tools inside, the fake
kind/helm/kubectl outside; every run is the real ``airbox`` executable in a session of
its own, stopped with SIGTERM at an event (a fake tool's call logged, a Docker request
held by ``tests/fakes/dockergate.py``), never after a fixed sleep.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airbox import versions
from tests.fakes import nodetools
from tests.fakes.dockergate import DockerGate
from tests.fakes.fixture import docker_client
from tests.fakes.images import ensure_image, tag_images
from tests.helpers import airbox_bin, default_signals
from tests.installer import Installer
from tests.snapshots import Template, Templates, restore
from tests.test_year import airbox, checks, inst, node, status_json  # noqa: F401
from tests.test_year_upgrade import OLD_CHART, old_images  # noqa: F401

WAIT = 120.0


# Each test here is about a repair or an upgrade of a finished install: the install is
# made once per session (and worker) and restored under each test's own name
# (tests/snapshots.py), rather than run again by every test.
@pytest.fixture
def installed_old(templates: Templates) -> Template:
    """Chart 1.8.0 with the local object store, installed (the upgrade loop's start)."""
    client = docker_client()
    tag_images(client, ensure_image(client), versions.data_plane_images(OLD_CHART))

    def answers(installer: Installer) -> dict[str, Any]:
        data = installer.answers(chart={"version": OLD_CHART})
        data.pop("storage", None)  # the local object store: its step runs too
        return data

    return templates.get(
        "node-tools, chart 1.8.0, local store", nodetools.ensure_tools_image(client), answers
    )


def start(
    installer: Installer, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``airbox ARGS`` in a session of its own (a signal to it reaches it alone)."""
    return subprocess.Popen(
        [airbox_bin(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env or installer.env(),
        start_new_session=True,
        preexec_fn=default_signals,
    )


def finish(proc: subprocess.Popen[str], timeout: float = WAIT) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def until(
    what: str,
    ready: Callable[[], Any],
    proc: subprocess.Popen[str] | None = None,
    timeout: float = WAIT,
) -> Any:
    """Poll ``ready`` until it returns something true (the event), failing if ``proc``
    ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"airbox ended before {what}: {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as `systemctl stop` or `kill` sends it: exit 143 and the resume hint."""
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)
    assert proc.returncode == 143, out + err
    assert "Stopped by SIGTERM" in err and "run the same command again" in err, err
    return out + err


def started_at(installer: Installer) -> str:
    container = node(installer)
    return str(container.attrs["State"]["StartedAt"])


def node_expiry(container: Any) -> int:
    code, out = container.exec_run(["cat", "/fake/certs-expire"])
    assert code == 0, out
    return int(out.strip())


def kubeconfig_client_cert(installer: Installer) -> str:
    import yaml

    config = yaml.safe_load((installer.state / "kubeconfig").read_text())
    [user] = [u for u in config["users"] if u["name"] == f"kind-{installer.cluster}"]
    return base64.b64decode(user["user"]["client-certificate-data"]).decode()


def progress(installer: Installer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((installer.state / "progress.json").read_text())
    return data


def assert_renewal_complete(installer: Installer, before_started: str) -> None:
    """The renewed certificates are in use: the node started after the renewal, the
    kubeconfig carries the renewed client certificate, nothing is left recorded."""
    container = node(installer)
    assert started_at(installer) != before_started, "the node was never restarted"
    expiry = node_expiry(container)
    assert expiry > time.time() + 360 * 86400
    assert f"not after {expiry}" in kubeconfig_client_cert(installer)
    assert (installer.state / "kubeconfig").stat().st_mode & 0o777 == 0o600
    assert not progress(installer).get("repair", {}).get("renewal")
    code, report = status_json(installer)
    assert code == 0, report["reason"]
    assert "valid for 364 more days" in checks(report)["certificates"]["summary"]
    assert report["unfinishedRepair"] is None
    again = airbox(installer, "repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Nothing to repair on data plane {installer.name}." in again.stdout


# ---------------------------------------------------------------------------- F1: repair


def test_repair_stopped_during_the_renewal_is_finished_by_the_next_repair(
    inst: Installer,  # noqa: F811
    installed: Template,
) -> None:
    """F1: SIGTERM while `kubeadm certs renew all` runs. Docker runs the exec to its end,
    so the certificates on disk are then valid for a year; the next repair still restarts
    the node and exports the kubeconfig, from the renewal it recorded."""
    restore(installed, inst)
    container = node(inst)
    nodetools.seed(container, expires_in_days=10)
    before_started = started_at(inst)
    before_cert = kubeconfig_client_cert(inst)
    nodetools.hold_renew(container, True)
    proc = start(inst, "repair")
    until(
        "kubeadm certs renew all",
        lambda: "kubeadm certs renew all" in nodetools.calls(container),
        proc,
    )
    stop(proc)
    nodetools.hold_renew(container, False)
    until(
        "the renewal to finish in the node",
        lambda: node_expiry(container) > time.time() + 360 * 86400,
    )
    assert started_at(inst) == before_started
    assert kubeconfig_client_cert(inst) == before_cert
    # Meanwhile the certificates on disk look fine for a year; status still says that the
    # repair is unfinished and what finishes it (it used to say healthy).
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] != "healthy", report
    assert report["unfinishedRepair"]["what"] == "certificate renewal"
    assert report["unfinishedRepair"]["next"] == f"airbox repair --name {inst.name}"
    certificates = checks(report)["certificates"]
    assert certificates["state"] == "warn", certificates
    assert certificates["summary"].startswith("a repair renewed the cluster's certificates")
    assert certificates["next"].startswith(f"airbox repair --name {inst.name}  (finishes it")
    human = airbox(inst, "status")
    assert "! certificates     a repair renewed the cluster's certificates" in human.stdout

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "  - finished the certificate renewal an earlier repair started" in out
    assert (
        f"  - restarted the node {inst.cluster}-control-plane so the control plane uses "
        "the renewed certificates"
    ) in out
    assert f"  - exported the kubeconfig again ({inst.state / 'kubeconfig'})" in out
    assert f"✓ healthy: data plane {inst.name} is running and ready" in out
    assert nodetools.calls(node(inst)).count("kubeadm certs renew all") == 1
    assert_renewal_complete(inst, before_started)


def test_repair_failing_after_the_renewal_is_finished_by_the_next_repair(
    inst: Installer,  # noqa: F811
    installed: Template,
) -> None:
    """F1: not only a signal: `kind export kubeconfig` failing after the renewal and the
    restart leaves the export due, and the next repair does it."""
    restore(installed, inst)
    container = node(inst)
    nodetools.seed(container, expires_in_days=10)
    before_started = started_at(inst)
    inst.fake.add_fault(
        "kind",
        ["export", "kubeconfig"],
        "fail",
        times=1,
        stderr="ERROR: failed to get cluster internal kubeconfig: injected",
    )
    failed = airbox(inst, "repair")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Stopped: exporting the kind kubeconfig failed" in failed.stdout
    assert progress(inst)["repair"]["renewal"]["first"]

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  - finished the certificate renewal an earlier repair started" in result.stdout
    assert "  - exported the kubeconfig again" in result.stdout
    # Restarted by the first run already (after the renewal): not a second time.
    assert "restarted the node" not in result.stdout
    assert nodetools.calls(node(inst)).count("kubeadm certs renew all") == 1
    assert_renewal_complete(inst, before_started)


# --------------------------------------------------------------------------- F2: upgrade


def hanging(
    installer: Installer, proc: subprocess.Popen[str], tool: str, words: list[str]
) -> dict[str, Any]:
    """The fake's record of the call now hanging (logged before it sleeps)."""

    def found() -> dict[str, Any] | None:
        return next(
            (
                r
                for r in installer.fake.call_records(tool)
                if r["exit"] is None and all(w in r["argv"] for w in words)
            ),
            None,
        )

    record: dict[str, Any] = until(f"{tool} {' '.join(words)}", found, proc)
    return record


def assert_upgraded(
    installer: Installer, result: subprocess.CompletedProcess[str], chart_from: str
) -> None:
    """Finished: the new chart deployed, nothing recorded as in flight, healthy, and a
    further upgrade finds nothing to do."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"Upgraded data plane {installer.name}: chart {chart_from} -> {versions.CHART_VERSION}"
    ) in result.stdout
    last = installer.revisions()[-1]
    assert (last["status"], last["chart_version"]) == ("deployed", versions.CHART_VERSION)
    assert not progress(installer).get("upgrade")
    code, report = status_json(installer)
    assert code == 0, report["reason"]
    again = airbox(installer, "upgrade")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith(
        f"Nothing to upgrade: data plane {installer.name} runs chart {versions.CHART_VERSION}"
    )


# These install, then run two or three repairs or upgrades (some re-creating the cluster):
# minutes on a loaded machine.
@pytest.mark.timeout(480)
def test_upgrade_stopped_during_helm_upgrade_is_finished_by_the_next_upgrade(
    inst: Installer,  # noqa: F811
    old_images: None,  # noqa: F811
) -> None:
    """F2a: SIGTERM while `helm upgrade` runs leaves the release pending-upgrade (Helm
    never got to mark it); the next `airbox upgrade` rolls it back and upgrades, it does
    not call the pending revision "nothing to upgrade"."""
    result = inst.run(answers=inst.write(inst.answers(chart={"version": OLD_CHART})))
    assert result.returncode == 0, result.stderr
    inst.fake.add_fault(
        "helm", ["upgrade", "--install"], "hang", after="work", times=1, seconds=120
    )
    proc = start(inst, "upgrade")
    hanging(inst, proc, "helm", ["upgrade", "--install"])
    stop(proc)
    last = inst.revisions()[-1]
    assert (last["status"], last["chart_version"]) == ("pending-upgrade", versions.CHART_VERSION)

    dry = airbox(inst, "upgrade", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Nothing to upgrade" not in dry.stdout
    assert "  resuming:    the upgrade started " in dry.stdout
    assert (
        "  release:     revision 2 is pending-upgrade (an install or upgrade did not finish)"
    ) in dry.stdout
    assert (
        f"  chart:       airbyte-data-plane {OLD_CHART} -> {versions.CHART_VERSION}" in dry.stdout
    )

    done = airbox(inst, "upgrade")
    assert any(c[0] == "helm" and "rollback" in c for c in inst.fake.calls())
    assert_upgraded(inst, done, OLD_CHART)


@pytest.mark.timeout(480)
def test_upgrade_stopped_while_recreating_the_cluster_is_finished_by_the_next_upgrade(
    inst: Installer,  # noqa: F811
    installed: Template,
) -> None:
    """F2b: SIGTERM during `kind delete cluster` of a Kubernetes upgrade: the cluster is
    gone with its release; the next `airbox upgrade` creates it again and installs the
    release (not "release not installed")."""
    restore(installed, inst)
    inst.fake.age_cluster(inst.cluster, "v1.30.0")
    inst.fake.add_fault("kind", ["delete", "cluster"], "hang", after="work", times=1, seconds=120)
    proc = start(inst, "upgrade")
    hanging(inst, proc, "kind", ["delete", "cluster"])
    stop(proc)
    assert inst.cluster not in inst.fake.clusters()

    done = airbox(inst, "upgrade")
    assert "  resuming:    the upgrade started " in done.stdout
    assert "  kubernetes:  no cluster answers -> v1.3" in done.stdout
    assert "Kubernetes v1.30.0 -> v1.3" in done.stdout
    assert inst.cluster in inst.fake.clusters()
    assert node(inst).attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert_upgraded(inst, done, versions.CHART_VERSION)


# ------------------------------------------------ the loop: stopped at each step, re-run


@dataclass(frozen=True)
class Blocker:
    """How a test holds a step's work in flight (an event), then what becomes of it once
    airbox is stopped: Docker completes what it was asked (forwarded), an exec in the node
    runs to its end, a fake tool is ended with airbox's process group."""

    docker: tuple[str, str] | None = None  # a Docker API request held at the gate
    tool: tuple[str, tuple[str, ...], str] | None = None  # (tool, argv words, after)
    renew: bool = False  # `kubeadm certs renew all` held inside the node
    skip: int = 0  # matching tool calls that pass before the one held


# What each repair step is stopped in: the first change (or the only call) it makes.
REPAIR_BLOCKERS: dict[str, Blocker] = {
    "node": Blocker(docker=("POST", r"/containers/[^/ ]+/start")),
    "restart-policy": Blocker(docker=("POST", r"/containers/[^/ ]+/update")),
    "certificates": Blocker(renew=True),
    "node-restart": Blocker(docker=("POST", r"/containers/[^/ ]+/restart")),
    "kubeconfig": Blocker(tool=("kind", ("export", "kubeconfig"), "before")),
    "api": Blocker(tool=("kubectl", ("get", "--raw", "/readyz"), "before")),
    "secret": Blocker(tool=("kubectl", ("--namespace", "apply"), "before")),
    "release": Blocker(tool=("helm", ("rollback",), "work")),
    "launcher": Blocker(tool=("kubectl", ("get", "pods"), "before")),
}


def test_every_repair_step_has_a_way_to_be_stopped_in() -> None:
    from airbox.ops.repair import STEPS

    assert list(REPAIR_BLOCKERS) == list(STEPS)


@pytest.fixture
def gate() -> Iterator[DockerGate]:
    found = DockerGate()
    yield found
    found.close()


def stop_at(installer: Installer, gate: DockerGate, blocker: Blocker, *args: str) -> str:
    """Run ``airbox ARGS`` until it is in ``blocker``'s call, SIGTERM it there, then let
    the call's work go on as the real thing would; return what airbox printed."""
    container = node(installer) if blocker.renew else None
    if blocker.docker:
        gate.hold(*blocker.docker)
    if container is not None:
        nodetools.hold_renew(container, True)
    if blocker.tool:
        tool, words, after = blocker.tool
        installer.fake.add_fault(
            tool, list(words), "hang", after=after, times=1, seconds=120, skip=blocker.skip
        )
    proc = start(installer, *args, env=installer.env(DOCKER_HOST=gate.host))
    if blocker.docker:
        until(f"Docker request {blocker.docker}", gate.held.is_set, proc)
    if container is not None:
        until(
            "kubeadm certs renew all",
            lambda: "kubeadm certs renew all" in nodetools.calls(container),
            proc,
        )
    if blocker.tool:
        hanging(installer, proc, blocker.tool[0], list(blocker.tool[1]))
    printed = stop(proc)
    if blocker.docker:
        gate.release(forward=True)
        until("Docker's answer to the held request", gate.answered.is_set)
    if container is not None:
        nodetools.hold_renew(container, False)
        until(
            "the renewal to finish in the node",
            lambda: node_expiry(container) > time.time() + 360 * 86400,
        )
    return printed


@pytest.mark.timeout(480)
@pytest.mark.parametrize("step", list(REPAIR_BLOCKERS))
def test_repair_stopped_at_each_step_is_finished_by_the_next_repair(
    inst: Installer,  # noqa: F811
    installed: Template,
    gate: DockerGate,
    step: str,
) -> None:
    """Everything wrong at once (node stopped and not coming back, certificates 10 days
    from expiry, the Secret deleted, the release stuck pending), `airbox repair` stopped
    by SIGTERM in one step, then run again: healthy, and nothing left to do."""
    restore(installed, inst)
    container = node(inst)
    nodetools.seed(container, expires_in_days=10)
    kubectl = [
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
        "--context",
        "kind-" + inst.cluster,
        "--namespace",
        "airbyte",
    ]
    deleted = inst.fake.run("kubectl", *kubectl, "delete", "secret", "airbyte-config-secrets")
    assert deleted.returncode == 0, deleted.stderr
    # Revision 2 pending, as a killed `helm upgrade` leaves it (revision 1 to roll back to).
    inst.fake.upgrade_left_pending(inst.cluster, inst.name)
    container.update(restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    container.stop(timeout=1)
    before_started = started_at(inst)

    stop_at(inst, gate, REPAIR_BLOCKERS[step], "repair")

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"✓ healthy: data plane {inst.name} is running and ready" in result.stdout
    container = node(inst)
    assert container.status == "running"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    secrets = [s["metadata"]["name"] for s in inst.fake.objects(inst.cluster, "Secret", "airbyte")]
    assert "airbyte-config-secrets" in secrets
    assert inst.revisions()[-1]["status"] == "deployed"
    assert_renewal_complete(inst, before_started)


# What each upgrade step is stopped in (the scenario: chart 1.8.0 on an older Kubernetes,
# the local object store, no registration). None: the step makes no call of its own to
# hold, and SIGTERM goes when progress.json shows it started (it lands there or later).
UPGRADE_BLOCKERS: dict[str, Blocker | None] = {
    "pull": Blocker(docker=("POST", r"/images/create")),
    "delete-cluster": Blocker(tool=("kind", ("delete", "cluster"), "work")),
    "preflight": Blocker(docker=("GET", r"/version")),
    "check-credentials": None,
    "check-workspaces": None,
    "register": None,
    "manifests": None,
    "images": None,
    "cluster": Blocker(tool=("kind", ("create", "cluster"), "before")),
    "node-restart": Blocker(docker=("POST", r"/containers/[^/ ]+/update")),
    "connector-images": None,  # its `docker exec -d` runs on a thread nothing waits for
    "load-images": Blocker(tool=("kind", ("load", "docker-image"), "before")),
    "namespace": Blocker(tool=("kubectl", ("get", "namespace"), "before")),
    "secret": Blocker(tool=("kubectl", ("--namespace", "apply"), "before")),
    "job-proxy": None,
    "storage": Blocker(tool=("kubectl", ("delete", "--ignore-not-found"), "before")),
    "check-chart": Blocker(tool=("helm", ("template",), "before"), skip=1),  # 1: the plan's
    "release": Blocker(tool=("helm", ("upgrade", "--install"), "work")),
    "verify": Blocker(tool=("kubectl", ("rollout", "status"), "before")),
    "route": None,
}
NOT_IN_THIS_UPGRADE = {
    "pull": "the new images are on this machine already (no registry is ever contacted)",
    "check-workspaces": "no workspaces to route without a registration",
    "job-proxy": "no proxy in this upgrade (tests/test_jobproxy.py stops and resumes it)",
}


def test_every_upgrade_step_has_a_way_to_be_stopped_in() -> None:
    from airbox.ops.upgrade import step_names

    assert list(UPGRADE_BLOCKERS) == step_names()


def stop_when_started(installer: Installer, step: str) -> str:
    """SIGTERM as soon as progress.json shows ``step`` began (a step with no call of its
    own to hold); a run that finished first is let be."""

    def entry() -> Any:
        try:
            return progress(installer).get("steps", {}).get(step)
        except (OSError, ValueError):
            return None

    before = entry()
    proc = start(installer, "upgrade")
    until(f"step {step} to start", lambda: entry() != before and entry(), proc)
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)
    assert proc.returncode in (143, 0), out + err
    return out + err


@pytest.mark.timeout(480)
@pytest.mark.parametrize("step", list(UPGRADE_BLOCKERS))
def test_upgrade_stopped_at_each_step_is_finished_by_the_next_upgrade(
    inst: Installer,  # noqa: F811
    installed_old: Template,
    gate: DockerGate,
    old_images: None,  # noqa: F811
    step: str,
) -> None:
    """Chart 1.8.0 on an older Kubernetes (the cluster is re-created): `airbox upgrade`
    stopped by SIGTERM in one step, then run again: upgraded, healthy, nothing pending."""
    if step in NOT_IN_THIS_UPGRADE:
        pytest.skip(NOT_IN_THIS_UPGRADE[step])
    restore(installed_old, inst)
    inst.fake.age_cluster(inst.cluster, "v1.30.0")

    blocker = UPGRADE_BLOCKERS[step]
    if blocker is None:
        stop_when_started(inst, step)
    else:
        stop_at(inst, gate, blocker, "upgrade")

    done = airbox(inst, "upgrade", timeout=240)
    if done.stdout.startswith("Nothing to upgrade"):
        # Only a step with nothing to hold: the first run finished before SIGTERM came.
        assert blocker is None, done.stdout
    else:
        assert_upgraded(inst, done, OLD_CHART)
    assert node(inst).attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert not progress(inst).get("upgrade")
