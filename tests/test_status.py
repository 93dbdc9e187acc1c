"""`airbox status` against a real `airbox install` on the fakes (and real node containers)."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import uuid
from typing import Any

import pytest
import yaml

from airbox.ops.status import CHECK_IDS
from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import Template, restore


def airbox(
    inst: Installer, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args], capture_output=True, text=True, env=inst.env(**env), timeout=timeout
    )


def status_json(inst: Installer, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    result = airbox(inst, "status", "--json", *args, timeout=60, **env)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}


def install(inst: Installer, answers: dict[str, Any] | None = None, **env: str) -> None:
    result = inst.run(answers=inst.write(answers), env=inst.env(**env) if env else None)
    assert result.returncode == 0, result.stderr


def test_healthy_then_each_failure_names_its_root_cause(
    installer: Installer, installed_plain: Template
) -> None:
    """One install, broken a little more at each step, from the release down to Docker."""
    inst = installer
    restore(installed_plain, inst)
    # No wall-time bound here (a busy machine makes it noise): scripts/bench_status.py
    # times status; tests/test_status_checks.py shows the probes run at once.
    result = airbox(inst, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ healthy: data plane {inst.name} is running and ready"
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    code, report = status_json(inst)
    assert code == 0
    assert report["version"] == 1 and report["name"] == inst.name
    assert report["verdict"] == "healthy" and report["next"] is None
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    states = {c["id"]: c["state"] for c in report["checks"]}
    assert states == {
        "docker": "ok",
        "node-container": "ok",
        "kubernetes": "ok",
        "release": "ok",
        "pods": "ok",
        "storage": "skip",
        "events": "ok",
        "credentials": "ok",
        "job-credentials": "ok",
        "job-proxy": "skip",
        "registration": "skip",
        "heartbeat": "skip",
        "restart-policy": "ok",
        # The default fake node has no kubeadm/crictl (see test_year.py).
        "certificates": "skip",
        "disk": "skip",
        "images": "skip",
        "versions": "ok",
        "routing": "skip",
    }
    # The launcher hands the AWS keys to its job pods from airbox's Secret.
    assert checks(report)["job-credentials"]["summary"] == (
        "job pods get AWS_SECRET_MANAGER_ACCESS_KEY_ID, AWS_SECRET_MANAGER_SECRET_ACCESS_KEY "
        "from Secret airbyte-config-secrets (keys AWS_SECRET_MANAGER_ACCESS_KEY_ID, "
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY)"
    )
    assert report["release"]["status"] == "deployed"
    assert report["release"]["revision"] == 1
    assert report["release"]["chartVersion"] == "1.8.1"
    assert report["target"] == {
        "type": "kind",
        "cluster": inst.cluster,
        "nodeContainer": inst.cluster + "-control-plane",
    }
    [pod] = report["pods"]
    assert pod["ready"] is True and pod["problem"] is None
    assert report["registration"] is None
    assert isinstance(report["seconds"], float) and report["seconds"] >= 0

    # An upgrade that never finished: still running, but needs the install to finish it.
    inst.fake.pending(inst.cluster, inst.name, "pending-upgrade", namespace="airbyte")
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "degraded"
    assert "did not finish" in report["reason"]
    assert report["next"].startswith(f"airbox install --name {inst.name}")

    # The release removed with helm: unhealthy, and the install recreates it.
    helm = [
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
        "--kube-context",
        "kind-" + inst.cluster,
    ]
    removed = inst.fake.run("helm", *helm, "uninstall", inst.name, "--namespace", "airbyte")
    assert removed.returncode == 0, removed.stderr
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert report["reason"] == (
        f"the Helm release {inst.name} is not installed in namespace airbyte"
    )
    assert report["next"] == f"airbox install --name {inst.name}"
    assert report["release"] is None
    assert checks(report)["pods"]["state"] == "skip"

    # Docker down: the root cause, not the kubectl errors it causes.
    code, report = status_json(inst, DOCKER_HOST="unix:///nonexistent.sock")
    assert code == 1 and report["verdict"] == "unhealthy"
    assert "Docker is not reachable" in report["reason"]
    assert "systemctl start docker" in report["next"]
    assert checks(report)["kubernetes"]["state"] == "skip"
    assert checks(report)["pods"]["summary"] == "not checked: Docker is not reachable"

    # The node container stopped.
    node = inst.cluster + "-control-plane"
    container = docker_client().containers.get(node)
    container.stop(timeout=1)
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert report["reason"] == f"the cluster's node container {node} is exited"
    assert report["next"].startswith(f"airbox repair --name {inst.name}")
    assert checks(report)["docker"]["state"] == "ok"
    assert checks(report)["release"]["state"] == "skip"

    # The cluster deleted behind airbox's back.
    container.remove(force=True)
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert f"the kind cluster {inst.cluster} no longer exists" in report["reason"]
    assert report["next"].startswith(f"airbox install --name {inst.name}")


# (scenario, failing check, words of the reason, next step) — one install serves them all:
# the fakes derive the launcher's state from the scenario whenever they are asked.
LAUNCHER_PROBLEMS = [
    ("crashloop", "pods", "the launcher keeps crashing", "airbox logs --name {} --previous"),
    ("imagepull", "pods", "image cannot be pulled", "airbox install --name {}"),
    ("auth-fail", "credentials", "rejects the data plane's credentials", "airbox logs --name {}"),
]


def test_launcher_problems_are_unhealthy_with_the_cause(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)
    for scenario, failing, reason, next_step in LAUNCHER_PROBLEMS:
        inst.fake.set_scenario(launcher=scenario)
        code, report = status_json(inst)
        assert code == 1, scenario
        assert report["verdict"] == "unhealthy", scenario
        assert reason in report["reason"], scenario
        assert report["next"].startswith(next_step.format(inst.name)), scenario
        assert checks(report)[failing]["state"] == "fail", scenario
        assert checks(report)["release"]["state"] == "ok", scenario
        if scenario == "imagepull":
            assert report["pods"][0]["imagePullProblem"] is True
        if scenario == "crashloop":
            assert "exit code 1" in report["reason"]
            # The human form puts the same verdict first, and the next step under it.
            human = airbox(inst, "status")
            assert human.returncode == 1
            assert human.stdout.startswith("✗ unhealthy: the launcher keeps crashing")
            assert f"  next: {next_step.format(inst.name)}" in human.stdout
            assert "✗ pods" in human.stdout and "CrashLoopBackOff" in human.stdout

    # The whole cluster deleted with kind: the install recreates it.
    deleted = inst.fake.run("kind", "delete", "cluster", "--name", inst.cluster)
    assert deleted.returncode == 0, deleted.stderr
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert f"the kind cluster {inst.cluster} no longer exists" in report["reason"]
    assert report["next"].startswith(f"airbox install --name {inst.name}")


def test_not_installed_exits_3(installer: Installer) -> None:
    inst = installer
    result = airbox(inst, "status")
    assert result.returncode == 3
    assert result.stdout.startswith("✗ not installed: no data plane is installed")
    code, report = status_json(inst, "--name", "nothing-here")
    assert code == 3
    assert report["verdict"] == "not installed" and report["name"] == "nothing-here"
    assert report["next"] == "airbox install --name nothing-here"
    bad = airbox(inst, "status", "--name", "../etc")
    assert bad.returncode == 2 and "not a data plane name" in bad.stderr


def test_several_data_planes_need_a_name(installer: Installer, installed_plain: Template) -> None:
    inst = installer
    restore(installed_plain, inst)
    first = inst.name
    # Unique: other test runs share the Docker engine (and kind's cluster names).
    second = "second-" + uuid.uuid4().hex[:8]
    inst.name = second
    install(inst)
    for command in (["status"], ["logs"], ["support-bundle"], ["uninstall", "--yes"]):
        result = airbox(inst, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "2 data planes are installed; say which one with --name" in result.stderr
        assert first in result.stderr and second in result.stderr
    for name in (first, second):
        code, report = status_json(inst, "--name", name)
        assert code == 0, report
        assert report["name"] == name and report["verdict"] == "healthy"
    assert sorted(inst.fake.clusters()) == sorted(["airbox-" + first, "airbox-" + second])


def _registered(inst: Installer, fake_cp: FakeControlPlane, **control_plane: str) -> None:
    answers = inst.answers()
    del answers["dataPlane"]
    answers["registration"] = {"region": "us-west-1"}
    answers["controlPlane"] = {
        **answers["controlPlane"],
        "apiUrl": fake_cp.api_url,
        **control_plane,
    }
    install(
        inst,
        answers,
        AIRBYTE_CLIENT_ID=fake_cp.client_id,
        AIRBYTE_CLIENT_SECRET=fake_cp.client_secret,
    )


# Three installs and five status runs on a shared, loaded machine.
@pytest.mark.timeout(300)
def test_the_local_object_store(installer: Installer) -> None:
    """No storage section: install runs MinIO (data on the host), status watches it."""
    inst = installer
    answers = inst.answers()
    del answers["storage"]
    install(inst, answers)
    data = inst.state / "storage"
    assert data.is_dir() and stat.S_IMODE(data.stat().st_mode) == 0o700
    saved = json.loads((inst.state / "storage-credentials.json").read_text())
    assert stat.S_IMODE((inst.state / "storage-credentials.json").stat().st_mode) == 0o600
    kubectl = [
        "kubectl",
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
        "--context",
        "kind-" + inst.cluster,
        "--namespace",
        "airbyte",
    ]
    secret = json.loads(
        inst.fake.run(*kubectl, "get", "secret", "airbyte-config-secrets", "-o", "json").stdout
    )["data"]
    assert base64.b64decode(secret["AWS_SECRET_ACCESS_KEY"]).decode() == saved["secretAccessKey"]
    kind_config = yaml.safe_load((inst.state / "kind-config.yaml").read_text())
    assert kind_config["nodes"][0]["extraMounts"][0]["hostPath"] == str(data)
    code, report = status_json(inst)
    assert code == 0, report
    storage = checks(report)["storage"]
    assert storage["state"] == "ok"
    assert storage["summary"].startswith("airbox-minio (http://airbox-minio.airbyte:9000) ready")

    # The store deleted behind airbox's back: unhealthy, and the install runs it again.
    deleted = inst.fake.run(*kubectl, "delete", "deployment", "airbox-minio")
    assert deleted.returncode == 0, deleted.stderr
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert checks(report)["storage"]["state"] == "fail"
    assert "local object store" in report["reason"] and "missing" in report["reason"]
    assert report["next"].startswith(f"airbox install --name {inst.name}")
    install(inst, answers)
    code, report = status_json(inst)
    assert code == 0 and checks(report)["storage"]["state"] == "ok"
    # Same credentials across re-runs: the data written before stays readable.
    assert json.loads((inst.state / "storage-credentials.json").read_text()) == saved

    # A Secret missing the store's keys: its pod cannot start.
    inst.fake.run(*kubectl, "delete", "secret", "airbyte-config-secrets")
    keyless = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: airbyte-config-secrets\n"
        "  namespace: airbyte\n"
    )
    assert inst.fake.run(*kubectl, "apply", "-f", "-", input=keyless).returncode == 0
    code, report = status_json(inst)
    assert checks(report)["storage"]["state"] == "fail"
    assert "not ready" in checks(report)["storage"]["summary"]


@pytest.mark.timeout(300)
def test_the_local_stores_credentials_never_change_behind_its_back(installer: Installer) -> None:
    """MinIO reads its pair only when it starts: a lost or damaged credentials file is
    read back from the cluster's Secret; a new pair restarts the store (then the
    launcher); status notices a Secret whose pair the store does not run with."""
    from airbox.render.manifests import STORE_CREDENTIALS_ANNOTATION, credentials_fingerprint

    inst = installer
    answers = inst.answers()
    del answers["storage"]
    install(inst, answers)
    kubectl = [
        "kubectl",
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
        "--context",
        "kind-" + inst.cluster,
        "--namespace",
        "airbyte",
    ]
    saved_file = inst.state / "storage-credentials.json"
    saved = json.loads(saved_file.read_text())

    def secret_pair() -> tuple[str, str]:
        data = json.loads(
            inst.fake.run(*kubectl, "get", "secret", "airbyte-config-secrets", "-o", "json").stdout
        )["data"]
        return (
            base64.b64decode(data["AWS_ACCESS_KEY_ID"]).decode(),
            base64.b64decode(data["AWS_SECRET_ACCESS_KEY"]).decode(),
        )

    def store_mark() -> str:
        [store] = [
            d
            for d in inst.fake.objects(inst.cluster, "Deployment", "airbyte")
            if d["metadata"]["name"] == "airbox-minio"
        ]
        return str(
            store["spec"]["template"]["metadata"]["annotations"][STORE_CREDENTIALS_ANNOTATION]
        )

    def launcher_pods() -> list[str]:
        return sorted(
            p["metadata"]["name"] for p in inst.fake.objects(inst.cluster, "Pod", "airbyte")
        )

    first = (saved["accessKeyId"], saved["secretAccessKey"])
    assert secret_pair() == first and store_mark() == credentials_fingerprint(*first)
    pods = launcher_pods()

    # Damaged, then gone: read back from the Secret; nothing restarts.
    for damage in ("{", None):
        if damage is None:
            saved_file.unlink()
        else:
            saved_file.write_text(damage)
        result = inst.run(answers=inst.write(answers))
        assert result.returncode == 0, result.stderr
        assert "credentials were read back from the Secret airbyte-config-secrets" in (
            result.stderr + result.stdout
        )
        assert json.loads(saved_file.read_text()) == saved
        assert stat.S_IMODE(saved_file.stat().st_mode) == 0o600
        assert secret_pair() == first and store_mark() == credentials_fingerprint(*first)
        assert launcher_pods() == pods
        log = "".join(p.read_text() for p in (inst.state / "logs").glob("*.log"))
        assert first[1] not in log and base64.b64encode(first[1].encode()).decode() not in log

    # The Secret given another pair behind the store's back (what an older airbox did):
    # the store still runs with the first one, the pods would get the other.
    secret = json.loads(
        inst.fake.run(*kubectl, "get", "secret", "airbyte-config-secrets", "-o", "json").stdout
    )
    secret["data"].update(
        AWS_ACCESS_KEY_ID=base64.b64encode(b"airbox-0000other").decode(),
        AWS_SECRET_ACCESS_KEY=base64.b64encode(b"0" * 48).decode(),
    )
    for key in ("resourceVersion", "uid", "creationTimestamp", "annotations"):
        secret["metadata"].pop(key, None)
    applied = inst.fake.run(*kubectl, "apply", "-f", "-", input=json.dumps(secret))
    assert applied.returncode == 0, applied.stderr
    code, report = status_json(inst)
    storage = checks(report)["storage"]
    assert storage["state"] == "fail", storage
    assert storage["summary"] == (
        "airbox-minio (http://airbox-minio.airbyte:9000) runs with "
        "other credentials than the Secret airbyte-config-secrets "
        "gives the data plane: syncs cannot write their logs and "
        "state"
    )
    assert code == 1 and report["next"].startswith(f"airbox install --name {inst.name}")
    install(inst, answers)
    assert secret_pair() == first
    code, report = status_json(inst)
    assert checks(report)["storage"]["state"] == "ok", report

    # No saved pair and no Secret (deleted with everything in it): a new pair, and the
    # store restarts with it (its template changes) before the launcher does.
    saved_file.unlink()
    inst.fake.run(*kubectl, "delete", "secret", "airbyte-config-secrets")
    before = len(inst.fake.calls("kubectl"))
    install(inst, answers)
    renewed = json.loads(saved_file.read_text())
    second = (renewed["accessKeyId"], renewed["secretAccessKey"])
    assert second != first and set(renewed) == {"accessKeyId", "secretAccessKey"}
    assert secret_pair() == second and store_mark() == credentials_fingerprint(*second)
    calls = [" ".join(c) for c in inst.fake.calls("kubectl")[before:]]
    store_ready = next(
        i for i, c in enumerate(calls) if "rollout status deployment/airbox-minio" in c
    )
    restart = next(i for i, c in enumerate(calls) if "rollout restart deployment/" in c)
    assert store_ready < restart
    assert not set(launcher_pods()) & set(pods)
    code, report = status_json(inst)
    assert checks(report)["storage"]["state"] == "ok", report


def test_storage_you_configure_is_not_run_by_airbox(installer: Installer) -> None:
    inst = installer
    answers = inst.answers()
    answers["storage"] = {
        "type": "minio",
        "bucket": "logs",
        "minio": {
            "endpoint": "http://minio.internal:9000",
            "accessKeyId": "onprem-id-0001",
            "secretAccessKey": "onprem-secret-0001",
        },
    }
    install(inst, answers)
    assert not (inst.state / "storage").exists()
    assert not (inst.state / "storage-credentials.json").exists()
    code, report = status_json(inst)
    assert code == 0, report
    assert checks(report)["storage"] == {
        "id": "storage",
        "state": "skip",
        "ok": None,
        "summary": "minio storage you configured (not checked)",
        "details": [],
        "next": None,
    }
    assert not any("minio" in " ".join(call) for call in inst.fake.calls("kind"))


def test_registration_and_heartbeat(installer: Installer, fake_cp: FakeControlPlane) -> None:
    inst = installer
    _registered(inst, fake_cp, url=fake_cp.url)
    [dataplane] = fake_cp.live_dataplanes()
    fake_cp.heartbeat(dataplane["dataplaneId"], seconds_ago=5)
    fake_cp.add_workspace("analytics", region_id=dataplane["regionId"])
    code, report = status_json(inst)
    assert code == 0, report
    registration = report["registration"]
    assert registration["dataplaneId"] == dataplane["dataplaneId"]
    assert registration["region"] == "us-west-1"
    assert registration["enabled"] is True and registration["checked"] is True
    assert registration["health"] == "HEALTHY"
    assert checks(report)["registration"]["state"] == "ok"
    assert checks(report)["heartbeat"]["state"] == "ok"

    # An old heartbeat: the control plane's word makes it degraded, not unhealthy.
    fake_cp.heartbeat(dataplane["dataplaneId"], seconds_ago=600)
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "degraded"
    assert "UNHEALTHY" in report["reason"]

    # Deleted on the control plane (through its API, which only tombstones it: the id
    # still answers 200): the install registers it again.
    from airbox.controlplane.api import AirbyteApi

    with AirbyteApi(fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret) as api:
        api.delete_dataplane(dataplane["dataplaneId"])
        assert api.get_dataplane(dataplane["dataplaneId"])["name"] == dataplane["name"]
    code, report = status_json(inst)
    assert code == 1 and report["verdict"] == "unhealthy"
    assert "no longer exists on the control plane" in report["reason"]
    assert report["next"].startswith(f"airbox install --name {inst.name}")
    secrets = fake_cp.known_secrets()
    assert [s for s in secrets if s in json.dumps(report)] == []

    # An unreachable control plane never fails status: its checks are "not checked".
    fake_cp.stop()
    code, report = status_json(inst)
    assert code == 0, report
    assert report["verdict"] == "healthy"
    assert checks(report)["registration"]["state"] == "skip"
    assert "not checked" in checks(report)["registration"]["summary"]
    assert report["registration"]["checked"] is False
    assert report["registration"]["error"]
