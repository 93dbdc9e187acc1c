"""A year on one VM: the node comes back, repair, status looking ahead, prune, upgrade.

The node containers are real (``--network none``); inside them, kubeadm, crictl and df
are the fake tools of ``tests/fakes/nodetools.py`` (certificates with a chosen expiry,
image lists), reached by airbox through ``docker exec`` like the real ones.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from airbox.ops.status import CHECK_IDS
from airbox.versions import pinned_kubernetes
from tests.fakes import nodetools
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import Template, restore


@pytest.fixture
def inst(installer: Installer) -> Installer:
    """An installer whose kind nodes run the image with the fake node tools."""
    installer.fake.use_docker(nodetools.ensure_tools_image(docker_client()))
    return installer


def airbox(
    inst: Installer, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=inst.env(**env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def install(inst: Installer, *args: str) -> None:
    result = inst.run(*args, answers=inst.write())
    assert result.returncode == 0, result.stdout + result.stderr


def node(inst: Installer) -> Any:
    return docker_client().containers.get(inst.cluster + "-control-plane")


def status_json(inst: Installer) -> tuple[int, dict[str, Any]]:
    result = airbox(inst, "status", "--json")
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}


def test_install_sets_the_restart_policy_and_status_reports_one_that_is_not(
    inst: Installer,
) -> None:
    install(inst)
    container = node(inst)
    # What `docker inspect` shows: Docker brings the node back after a reboot.
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    code, report = status_json(inst)
    assert code == 0, report
    assert checks(report)["restart-policy"]["state"] == "ok"
    assert report["node"]["restartPolicy"] == "unless-stopped"

    # kind's own policy (on-failure) leaves the node down after a reboot: a finding.
    container.update(restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "degraded"
    check = checks(report)["restart-policy"]
    assert check["state"] == "warn"
    assert "will stay down after a reboot" in check["summary"]
    assert report["next"] == f"airbox repair --name {inst.name}  (sets it to unless-stopped)"

    # A re-run of install sets it again (and only then: it is a step that checks first).
    install(inst)
    assert node(inst).attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_status_json_carries_certificates_disk_images_and_versions(
    inst: Installer, installed: Template
) -> None:
    restore(installed, inst)
    code, report = status_json(inst)
    assert code == 0, report
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    found = checks(report)
    assert found["certificates"]["state"] == "ok"
    assert "valid for 364 more days" in found["certificates"]["summary"]
    names = {c["name"]: c for c in report["node"]["certificates"]}
    assert names["apiserver"]["daysLeft"] == 364 and names["apiserver"]["authority"] is False
    assert names["ca"]["authority"] is True
    assert found["disk"]["state"] == "ok"
    [store, host] = report["node"]["disk"]
    assert store["path"] == f"{inst.cluster}-control-plane:/var/lib/containerd"
    assert store["percent"] == 10.0
    assert host["path"] == docker_client().info()["DockerRootDir"]
    assert found["versions"]["state"] == "ok"
    # The fake kubelet says v1.35.0; the pin depends on this host's cgroup version.
    pinned = pinned_kubernetes(cgroup_v1=docker_client().info().get("CgroupVersion") == "1")
    assert report["versions"] == {
        "chart": {"running": "1.8.1", "pinned": "1.8.1"},
        "kubernetes": {"running": "v1.35.0", "pinned": pinned},
    }
    assert found["images"]["state"] == "ok"

    # Twenty days left: degraded, and repair renews them.
    container = node(inst)
    connector = nodetools.image_entry("airbyte/source-faker:6.2.1", 400_000_000)
    launcher = nodetools.image_entry("airbyte/workload-launcher:1.8.1", 200_000_000)
    nodetools.seed(
        container,
        expires_in_days=20.5,
        images_=[connector, launcher],
        used=[launcher["id"]],
        df=(100_000_000, 85_000_000),
    )
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "degraded"
    found = checks(report)
    assert found["certificates"]["state"] == "warn"
    assert "expire in 20 days" in found["certificates"]["summary"]
    assert found["certificates"]["next"] == f"airbox repair --name {inst.name}  (renews them)"
    # The node's image store above 80%: prune is the next step, as there is something to prune.
    assert found["disk"]["state"] == "warn"
    assert "85% used" in found["disk"]["details"][0]
    assert found["disk"]["next"].startswith(f"airbox prune --name {inst.name}")
    # Four: the two seeded and the verify connectors install pre-pulled (1 kB each in the
    # fake node); those are not "unused" (verify needs them; prune keeps them).
    assert report["node"]["images"] == {
        "count": 4,
        "bytes": 600_002_000,
        "unusedConnectors": ["docker.io/airbyte/source-faker:6.2.1"],
        "unusedConnectorBytes": 400_000_000,
        # Which connectors this data plane has at hand (offline, the only ones it runs).
        "connectors": [
            "airbyte/destination-dev-null:0.7.21",
            "airbyte/source-faker:6.2.1",
            "airbyte/source-faker:6.2.21",
        ],
        "offline": False,
    }
    assert (
        "1 connector image no pod uses (400.0 MB); connector images: "
        "airbyte/destination-dev-null:0.7.21, airbyte/source-faker:6.2.1, "
        "airbyte/source-faker:6.2.21" in found["images"]["summary"]
    )
    assert "cannot run" not in found["images"]["summary"]  # a registry is at hand

    # Expired: unhealthy.
    nodetools.seed(container, expires_in_days=-1, df=(100_000_000, 96_000_000))
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert checks(report)["certificates"]["state"] == "fail"
    assert "expired" in checks(report)["certificates"]["summary"]
    assert checks(report)["disk"]["state"] == "fail"


def test_docker_stop_then_repair_brings_it_back_healthy(
    inst: Installer, installed: Template
) -> None:
    restore(installed, inst)
    container = node(inst)
    # Several things wrong at once: the node stopped and set not to come back, the
    # certificates 10 days from expiry, the Secret deleted by hand, the release stuck.
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
    code, report = status_json(inst)
    assert code == 1 and report["next"].startswith(f"airbox repair --name {inst.name}")
    kubeconfig_before = (inst.state / "kubeconfig").read_text()

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Repaired data plane {inst.name}:" in out
    node_name = inst.cluster + "-control-plane"
    assert f"  - started the node container {node_name} (it was exited)" in out
    assert f"  - set the restart policy of {node_name} to unless-stopped (was on-failure)" in out
    assert "  - renewed the cluster's certificates" in out
    assert f"  - exported the kubeconfig again ({inst.state / 'kubeconfig'})" in out
    assert "  - re-applied the Secret airbyte-config-secrets from secrets.yaml" in out
    assert "  - rolled back the release stuck in pending-upgrade to revision 1" in out
    assert "restarted the crash-looping launcher" not in out
    assert f"✓ healthy: data plane {inst.name} is running and ready" in out

    container = node(inst)
    assert container.status == "running"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "kubeadm certs renew all" in nodetools.calls(container)
    calls = inst.fake.calls()
    assert [
        "kind",
        "export",
        "kubeconfig",
        "--name",
        inst.cluster,
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
    ] in calls
    assert any(c[0] == "helm" and "rollback" in c for c in calls)
    assert (inst.state / "kubeconfig").stat().st_mode & 0o777 == 0o600
    assert kubeconfig_before  # refreshed in place, still a kubeconfig
    secrets = [s["metadata"]["name"] for s in inst.fake.objects(inst.cluster, "Secret", "airbyte")]
    assert "airbyte-config-secrets" in secrets
    code, report = status_json(inst)
    assert code == 0, report["reason"]
    assert "valid for 364 more days" in checks(report)["certificates"]["summary"]
    # The secret values never reach the terminal.
    for value in inst.answers()["dataPlane"].values():
        assert str(value) not in out + result.stderr

    # Idempotent: nothing left to do.
    again = airbox(inst, "repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Nothing to repair on data plane {inst.name}." in again.stdout
    assert nodetools.calls(node(inst)).count("kubeadm certs renew all") == 1


def test_repair_restarts_a_crash_looping_launcher_once_and_says_why_it_is_still_down(
    inst: Installer, installed: Template
) -> None:
    restore(installed, inst)
    inst.fake.set_scenario(launcher="crashloop")
    result = airbox(inst, "repair")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  - restarted the crash-looping launcher" in result.stdout
    assert "✗ unhealthy: the launcher keeps crashing" in result.stdout
    assert f"  next: airbox logs --name {inst.name} --previous" in result.stdout
    restarts = [c for c in inst.fake.calls("kubectl") if "restart" in c]
    assert len(restarts) == 1

    # The cluster gone: repair cannot make one; it says what can.
    deleted = inst.fake.run("kind", "delete", "cluster", "--name", inst.cluster)
    assert deleted.returncode == 0, deleted.stderr
    gone = airbox(inst, "repair")
    assert gone.returncode == 1
    # A failure shown as one (✗), never a ✓ then "Nothing to repair" then "Stopped".
    assert (
        f"Cannot repair data plane {inst.name}: the kind cluster {inst.cluster} no "
        "longer exists" in gone.stdout
    )
    assert "Nothing to repair" not in gone.stdout and "Stopped" not in gone.stdout
    assert "✓ Check the node container" not in gone.stdout + gone.stderr
    assert f"  next: airbox install --name {inst.name}" in gone.stdout
