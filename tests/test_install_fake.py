"""`airbox install` for real, against fake kind/helm/kubectl and the real Docker Engine."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from airbox.render import manifests
from tests import answers_factory as af
from tests.fakes.fixture import FakeK8s, docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import Template, restore

STEPS = [
    "preflight",
    "manifests",
    "images",
    "cluster",
    "load-images",
    "namespace",
    "secret",
    "check-chart",
    "release",
    "verify",
]


def _healthy(inst: Installer) -> None:
    """One cluster, one deployed release whose launcher pod is ready."""
    assert inst.fake.clusters() == [inst.cluster]
    revisions = inst.revisions()
    assert revisions and revisions[-1]["status"] == "deployed"
    assert [r["status"] for r in revisions].count("deployed") == 1
    result = inst.fake.run(
        "kubectl",
        "--kubeconfig",
        str(inst.state / "kubeconfig"),
        "-n",
        "airbyte",
        "get",
        "pods",
        "-o",
        "json",
    )
    pods = json.loads(result.stdout)["items"]
    assert len(pods) == 1
    assert all(cs["ready"] for cs in pods[0]["status"]["containerStatuses"])


def test_install_completes_and_writes_its_state(installer: Installer) -> None:
    inst = installer
    result = inst.run(answers=inst.write())
    assert result.returncode == 0, result.stderr
    _healthy(inst)
    assert f"Data plane {inst.name} is installed and running." in result.stdout
    assert f"airbox status --name {inst.name}" in result.stdout
    # The Secret in the cluster holds every credential, from stdin.
    secret = inst.fake.objects(inst.cluster, "Secret", "airbyte")
    data = next(s for s in secret if s["metadata"]["name"] == "airbyte-config-secrets")["data"]
    assert base64.b64decode(data["DATAPLANE_CLIENT_SECRET"]).decode() == af.SECRETS["dp_secret"]
    assert base64.b64decode(data["AWS_SECRET_ACCESS_KEY"]).decode() == af.SECRETS["s3_secret"]
    # State directory: private, with the generated files and the kubeconfig.
    assert stat.S_IMODE(inst.state.stat().st_mode) == 0o700
    for secret_file in ("secrets.yaml", "kubeconfig", "credentials.yaml"):
        assert stat.S_IMODE((inst.state / secret_file).stat().st_mode) == 0o600, secret_file
    progress = json.loads((inst.state / "progress.json").read_text())
    assert {s: progress["steps"][s]["status"] for s in STEPS} == {
        s: "done" if s != "images" else "skipped" for s in STEPS
    }
    # Recorded as installed (status tells "gone" from "never got that far" by it).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", progress["installed"])
    assert progress["chart"] == {"version": "1.8.1"}
    # The exact commands: the release is installed from the pinned chart, atomically.
    helm = next(c for c in inst.fake.calls("helm") if "upgrade" in c)
    assert helm[helm.index("upgrade") :] == [
        "upgrade",
        "--install",
        inst.name,
        "airbyte-data-plane",
        "--repo",
        "https://airbytehq.github.io/helm-charts",
        "--version",
        "1.8.1",
        "--namespace",
        "airbyte",
        "--create-namespace",
        "--values",
        str(inst.state / "values.yaml"),
        "--wait",
        "--timeout",
        "10m",
        "--history-max",
        "10",
    ]


def test_second_run_reuses_the_cluster_and_upgrades(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)  # the first install
    # A changed setting: the release is upgraded with it, the cluster reused.
    changed = inst.answers()
    changed["storage"]["bucket"] = "another-bucket"
    result = inst.run(answers=inst.write(changed))
    assert result.returncode == 0, result.stderr
    assert "exists, reused" in result.stderr
    assert inst.kind_creates() == 1
    revisions = inst.revisions()
    assert [r["status"] for r in revisions] == ["superseded", "deployed"]
    assert revisions[-1]["config"]["storage"]["bucket"]["log"] == "another-bucket"
    # Without an answers file the saved settings are used.
    result = inst.run()
    assert result.returncode == 0, result.stderr
    assert len(inst.revisions()) == 3
    _healthy(inst)


# (tool, argv tokens) of the command each step runs; a Ctrl-C lands while it runs.
INTERRUPTIONS = {
    "cluster": ("kind", ["create", "cluster"]),
    "load-images": ("kind", ["load", "docker-image"]),
    "namespace": ("kubectl", ["apply"]),
    "secret": ("kubectl", ["--namespace", "airbyte", "apply"]),
    "check-chart": ("helm", ["template"]),
    "release": ("helm", ["upgrade", "--install"]),
    "verify": ("kubectl", ["rollout", "status"]),
}


@pytest.mark.parametrize("step", sorted(INTERRUPTIONS))
def test_interrupted_at_each_step_then_rerun_finishes(installer: Installer, step: str) -> None:
    inst = installer
    tool, match = INTERRUPTIONS[step]
    inst.fake.add_fault(tool, match, "interrupt", after="work", times=1)
    answers = inst.write()
    first = inst.run(answers=answers)
    assert first.returncode == 130, (first.stdout, first.stderr)
    assert "Interrupted" in first.stderr and "run the same command again to finish" in first.stderr
    progress = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"][step]["status"] == "interrupted"
    second = inst.run(answers=answers)
    assert second.returncode == 0, second.stderr
    _healthy(inst)


def test_release_stuck_pending_is_recovered(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)  # the first install
    answers = inst.write()
    # As a killed `helm upgrade` leaves it: a new revision pending, the first deployed.
    inst.fake.upgrade_left_pending(inst.cluster, inst.name)
    assert [r["status"] for r in inst.revisions()] == ["deployed", "pending-upgrade"]
    result = inst.run(answers=answers)
    assert result.returncode == 0, result.stderr
    rollback = [c for c in inst.fake.calls("helm") if "rollback" in c]
    assert len(rollback) == 1 and rollback[0][rollback[0].index("rollback") + 2] == "1"
    _healthy(inst)


def test_first_install_stuck_pending_is_removed_then_installed(installer: Installer) -> None:
    inst = installer
    inst.fake.add_fault("helm", ["upgrade", "--install"], "interrupt", after="work", times=1)
    answers = inst.write()
    assert inst.run(answers=answers).returncode == 130
    assert [r["status"] for r in inst.revisions()] == ["pending-install"]
    result = inst.run(answers=answers)
    assert result.returncode == 0, result.stderr
    assert "removing the unfinished install" in result.stderr
    _healthy(inst)


def test_stopped_node_container_is_started(installer: Installer, installed_plain: Template) -> None:
    inst = installer
    restore(installed_plain, inst)  # the first install
    answers = inst.write()
    client = docker_client()
    node = client.containers.get(inst.cluster + "-control-plane")
    node.stop(timeout=1)
    result = inst.run(answers=answers)
    assert result.returncode == 0, result.stderr
    node.reload()
    assert node.status == "running"
    assert inst.kind_creates() == 1


def test_crashing_launcher_fails_with_diagnostics(installer: Installer) -> None:
    inst = installer
    inst.fake.set_scenario(launcher="crashloop")
    result = inst.run(answers=inst.write())
    assert result.returncode == 5, result.stderr
    assert "helm upgrade --install failed" in result.stderr
    assert "CrashLoopBackOff" in result.stderr
    assert "airbox logs" in result.stderr
    assert "log: " in result.stderr
    # A failed first install stays for diagnosis, never shown as deployed.
    assert [r["status"] for r in inst.revisions()] == ["failed"]
    assert "left in place" in result.stderr


def test_failed_upgrade_is_rolled_back_after_the_diagnosis(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)  # the first install
    answers = inst.write()
    inst.fake.set_scenario(launcher="crashloop")
    result = inst.run(answers=answers)
    assert result.returncode == 5
    assert "CrashLoopBackOff" in result.stderr
    # Diagnosed, then rolled back (whose own pods crash too in this scenario).
    assert "rolling back to revision 1" in result.stderr
    rollback = [c for c in inst.fake.calls("helm") if "rollback" in c]
    assert len(rollback) == 1 and rollback[0][rollback[0].index("rollback") + 2] == "1"


def test_image_pull_failure_names_the_registry(installer: Installer) -> None:
    inst = installer
    inst.fake.set_scenario(launcher="imagepull")
    result = inst.run(answers=inst.write())
    assert result.returncode == 5
    assert "ImagePullBackOff" in result.stderr
    assert "Docker Hub" in result.stderr


def test_rejected_credentials_are_reported(installer: Installer) -> None:
    inst = installer
    inst.fake.set_scenario(launcher="auth-fail")
    result = inst.run(answers=inst.write())
    assert result.returncode == 4, result.stderr
    assert "rejects its credentials" in result.stderr
    assert "401 Unauthorized" in result.stderr


def test_existing_cluster_runs_nothing_kind_specific(installer: Installer) -> None:
    inst = installer
    kubeconfig = inst.fake.add_existing_cluster("prod", "prod-cluster")
    # The user's namespace exists already: airbox must not claim it as its own.
    created = inst.fake.run(
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "prod",
        "apply",
        "-f",
        "-",
        input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n",
    )
    assert created.returncode == 0, created.stderr
    result = inst.run(
        "--kube-context", "prod", "--kubeconfig", str(kubeconfig), answers=inst.write()
    )
    assert result.returncode == 0, result.stderr
    assert inst.fake.calls("kind") == []
    revisions = inst.fake.releases("prod-cluster")[f"airbyte/{inst.name}"]
    assert revisions[-1]["status"] == "deployed"
    for call in inst.fake.calls("kubectl") + inst.fake.calls("helm"):
        assert "prod" in call or call[1] == "template", call
    namespace = inst.fake.objects("prod-cluster", "Namespace", "")
    labels = (
        next(n for n in namespace if n["metadata"]["name"] == "airbyte")["metadata"].get("labels")
        or {}
    )
    assert labels.get("app.kubernetes.io/managed-by") != "airbox"


def test_local_chart(installer: Installer, tmp_path: Path) -> None:
    inst = installer
    chart = tmp_path / "airbyte-data-plane"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: airbyte-data-plane\nversion: 1.8.1\nappVersion: 1.8.1\n"
    )
    result = inst.run("--chart", str(chart), answers=inst.write())
    assert result.returncode == 0, result.stderr
    helm = next(c for c in inst.fake.calls("helm") if "upgrade" in c)
    assert str(chart) in helm and "--repo" not in helm


def test_a_chart_whose_pod_would_miss_a_secret_key_is_not_installed(installer: Installer) -> None:
    inst = installer
    # A values: override that points the chart at a key the Secret does not have.
    answers = inst.answers(
        values={
            "secretsManager": {"awsSecretManager": {"accessKeyIdSecretKey": "NOT_IN_THE_SECRET"}}
        }
    )
    result = inst.run(answers=inst.write(answers))
    assert result.returncode == 5, result.stderr
    assert "the chart's pods would not start or would miss what they read" in result.stderr
    assert (
        "env AWS_SECRET_MANAGER_ACCESS_KEY_ID needs key 'NOT_IN_THE_SECRET' of Secret "
        "'airbyte-config-secrets'"
    ) in result.stderr
    assert not any("upgrade" in c for c in inst.fake.calls("helm"))


def test_no_secret_in_argv_logs_or_output(installer: Installer) -> None:
    inst = installer
    answers = inst.write()
    outputs = []
    for _ in range(2):
        result = inst.run("-v", answers=answers)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    inst.fake.set_scenario(launcher="crashloop")
    failed = inst.run("-v", answers=answers)
    assert failed.returncode == 5
    outputs.append(failed.stdout + failed.stderr)
    # Every child process's argv, as the fakes recorded them.
    for record in inst.fake.call_records():
        assert af.find_secrets(" ".join(record["argv"])) == [], record["argv"]
    # Every log file, the terminal, and the files that must stay secret-free.
    logs = list((inst.state / "logs").glob("*.log"))
    assert logs
    for path in [
        *logs,
        inst.state / "values.yaml",
        inst.state / "settings.yaml",
        inst.state / "progress.json",
    ]:
        assert af.find_secrets(path.read_text()) == [], path
    for text in outputs:
        assert af.find_secrets(text) == []
    # The secrets are where they belong (0600 files).
    assert af.SECRETS["dp_secret"] in (inst.state / "secrets.yaml").read_text()
    assert af.SECRETS["dp_secret"] in (inst.state / "credentials.yaml").read_text()


@pytest.mark.parametrize("case", ["stopped", "denied", "missing"])
def test_docker_problems_stop_install_fast_with_the_fix(
    fake_k8s: FakeK8s, tmp_path: Path, case: str
) -> None:
    # A directory another user can read (pytest's own tmp root is private to root).
    shared = Path(tempfile.mkdtemp(prefix="airbox-test-"))
    try:
        shared.chmod(0o755)
        answers = af.write_answers(shared / "a.yaml", af.answers(directory=shared))
        home = shared / "airbox-home"
        env = fake_k8s.full_env({"AIRBOX_HOME": str(home)})
        argv = [airbox_bin(), "install", "--answers", str(answers), "--yes"]
        if case == "stopped":
            env["DOCKER_HOST"] = f"unix://{shared}/docker.sock"
            fix = "systemctl start docker"
        elif case == "missing":
            env["DOCKER_HOST"] = f"unix://{shared}/docker.sock"
            env["PATH"] = str(Path(airbox_bin()).parent)  # no docker CLI anywhere
            fix = "install Docker"
        else:
            docker_client()
            if os.geteuid() != 0:
                pytest.skip("needs root to run airbox as another user")
            home.mkdir()
            home.chmod(0o777)
            for path in shared.iterdir():
                path.chmod(path.stat().st_mode | 0o044)
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
            fix = "usermod -aG docker"
        # Diagnosed before anything starts (no kind call); how fast is bench_preflight's.
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 3, result.stderr
        assert fix in result.stderr
        assert fake_k8s.calls() == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_kind_node_image_follows_the_daemons_cgroup_version(installer: Installer) -> None:
    from airbox import versions

    inst = installer
    assert inst.run(answers=inst.write()).returncode == 0
    config = yaml.safe_load((inst.state / "kind-config.yaml").read_text())
    cgroup_v1 = str(docker_client().info().get("CgroupVersion")) == "1"
    assert config["nodes"][0]["image"] == versions.node_image(cgroup_v1=cgroup_v1)


def test_ctrl_c_while_preflight_waits_on_a_silent_host(installer: Installer) -> None:
    """A check stuck on a host that never answers must not hold a Ctrl-C."""
    inst = installer
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers them
    try:
        data = inst.answers()
        data["controlPlane"] = {"url": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        proc = inst.start(answers=inst.write(data))
        # The control plane probe connecting is the proof the preflight is waiting on it
        # (it runs first, before the state directory exists).
        silent.settimeout(30)
        waiting, _ = silent.accept()
        proc.send_signal(signal.SIGINT)
        # How soon it exits is scripts/bench_preflight.py's measure, not a pass/fail here.
        _, err = proc.communicate(timeout=60)
        waiting.close()
        assert proc.returncode == 130, err
    finally:
        silent.close()
    # Interrupted before anything was changed: no state, no cluster.
    assert not (inst.state / "progress.json").exists()
    assert inst.fake.calls("kind") == []
    result = inst.run(answers=inst.write())
    assert result.returncode == 0, result.stderr
    _healthy(inst)


# -- waits that take (fake) time: tests/fakes keep a clock per cluster that each call ticks by
# a second and every wait (kubectl wait / rollout status, helm --wait) runs forward


def _clock_jumps(inst: Installer, *words: str) -> list[float]:
    """For each call with ``words``: the fake seconds between the call before it and it."""
    records = [r for r in inst.fake.call_records() if r.get("clock") is not None]
    return [
        r["clock"] - prev["clock"]
        for prev, r in itertools.pairwise(records)
        if all(w in r["argv"] for w in words)
    ]


def _local_store_answers(inst: Installer) -> Path:
    data = inst.answers()
    del data["storage"]  # airbox runs the object store in the cluster
    return inst.write(data)


def test_install_waits_as_long_as_the_pods_take_to_start(installer: Installer) -> None:
    inst = installer
    inst.fake.set_scenario(ready_delay=100)
    result = inst.run(answers=_local_store_answers(inst))
    assert result.returncode == 0, result.stderr
    _healthy(inst)
    # kubectl rollout status waited for the store, helm --wait for the launcher
    assert _clock_jumps(inst, "rollout", "status", f"deployment/{manifests.LOCAL_STORE}") == [100]
    (helm_wait,) = _clock_jumps(inst, "upgrade", "--install")
    assert helm_wait >= 100


def test_a_store_that_never_starts_fails_with_kubectls_timeout(installer: Installer) -> None:
    inst = installer
    inst.fake.set_scenario(ready_delay=200)  # longer than the 180 s airbox gives it
    result = inst.run(answers=_local_store_answers(inst))
    assert result.returncode == 5, result.stderr
    assert "the local object store did not start" in result.stderr
    assert "timed out waiting for the condition" in result.stderr
    assert not inst.revisions()  # it stopped before the release


def test_pods_slower_than_helms_timeout_fail_the_install_then_a_rerun_finishes(
    installer: Installer,
) -> None:
    inst = installer
    inst.fake.set_scenario(ready_delay=700)  # longer than helm's --timeout 10m
    answers = inst.write()
    result = inst.run(answers=answers)
    assert result.returncode == 5, result.stderr
    assert "context deadline exceeded" in result.stderr
    assert "pending (starting containers)" in result.stderr
    assert _clock_jumps(inst, "upgrade", "--install") == [601]  # its tick, then 10m
    assert [r["status"] for r in inst.revisions()] == ["failed"]
    # the same pods keep starting: a re-run's helm --wait sees them ready
    result = inst.run(answers=answers)
    assert result.returncode == 0, result.stderr
    _healthy(inst)


def test_after_a_node_restart_install_polls_the_api_until_it_answers(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)  # the first install
    answers = inst.write()
    inst.fake.set_scenario(api_delay=3)  # the API server answers 3 calls after a restart
    node = docker_client().containers.get(inst.cluster + "-control-plane")
    node.stop(timeout=1)
    before = len(inst.fake.call_records("kubectl"))
    result = inst.run(answers=answers)
    assert result.returncode == 0, result.stderr
    readyz = [
        r["exit"] for r in inst.fake.call_records("kubectl")[before:] if "/readyz" in r["argv"]
    ]
    assert readyz == [1, 1, 0]
