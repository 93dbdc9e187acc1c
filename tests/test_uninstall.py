"""`airbox uninstall` after a real `airbox install` on the fakes (and real node containers)."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import Template, restore


def airbox(inst: Installer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # stdin is not a terminal here: without --yes the command must refuse to ask.
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=inst.env(**env),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def install(inst: Installer, answers: dict[str, Any] | None = None, *args: str, **env: str) -> None:
    result = inst.run(*args, answers=inst.write(answers), env=inst.env(**env) if env else None)
    assert result.returncode == 0, result.stderr


def node_containers(inst: Installer) -> list[str]:
    return [c.name for c in inst.fake.node_containers(docker_client())]


def test_uninstall_removes_release_cluster_and_state_then_has_nothing_to_do(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)
    assert node_containers(inst) == [inst.cluster + "-control-plane"]

    # No terminal and no --yes: it lists what it would remove, and removes nothing.
    refused = airbox(inst, "uninstall")
    assert refused.returncode == 2, refused.stderr
    assert "add --yes" in refused.stderr
    assert f"kind cluster {inst.cluster}" in refused.stdout
    assert f"Helm release {inst.name} in namespace airbyte" in refused.stdout
    assert inst.fake.clusters() == [inst.cluster] and inst.state.is_dir()

    result = airbox(inst, "uninstall", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Data plane {inst.name} is uninstalled." in result.stdout
    assert inst.fake.clusters() == []
    assert node_containers(inst) == []
    assert not inst.state.exists()
    # The release went first, with helm, then the cluster.
    calls = inst.fake.calls()
    uninstall_at = next(i for i, c in enumerate(calls) if c[0] == "helm" and "uninstall" in c)
    delete_at = next(i for i, c in enumerate(calls) if c[:3] == ["kind", "delete", "cluster"])
    assert uninstall_at < delete_at
    assert "--wait" in calls[uninstall_at]

    again = airbox(inst, "uninstall", "--yes")
    assert again.returncode == 0, again.stderr
    assert "Nothing to remove" in again.stdout
    without_yes = airbox(inst, "uninstall", "--name", inst.name)
    assert without_yes.returncode == 0 and "Nothing to remove" in without_yes.stdout


def test_deregister_deletes_the_data_plane_on_the_control_plane(
    installer: Installer, fake_cp: FakeControlPlane
) -> None:
    inst = installer
    answers = inst.answers()
    del answers["dataPlane"]
    answers["registration"] = {"region": "us-west-1"}
    answers["controlPlane"] = {**answers["controlPlane"], "apiUrl": fake_cp.api_url}
    install(
        inst,
        answers,
        AIRBYTE_CLIENT_ID=fake_cp.client_id,
        AIRBYTE_CLIENT_SECRET=fake_cp.client_secret,
    )
    [dataplane] = fake_cp.live_dataplanes()

    # Without --deregister the listing says the registration stays.
    listing = airbox(inst, "uninstall")
    assert listing.returncode == 2
    assert f"({dataplane['dataplaneId']}) stays registered" in listing.stdout
    assert "--deregister" in listing.stdout

    # With --deregister, the listing says which region is left behind (airbox made it).
    listing = airbox(inst, "uninstall", "--deregister")
    assert "the region us-west-1 (" in listing.stdout, listing.stdout
    assert "which airbox created for this data plane, stays in Airbyte" in listing.stdout

    # The saved application credentials are enough: none in the environment now.
    result = airbox(inst, "uninstall", "--yes", "--deregister")
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake_cp.live_dataplanes() == []
    assert len(fake_cp.calls("DELETE", f"/v1/dataplanes/{dataplane['dataplaneId']}")) == 1
    assert inst.fake.clusters() == [] and not inst.state.exists()
    assert [s for s in fake_cp.known_secrets() if s in result.stdout + result.stderr] == []


def test_a_failed_step_leaves_the_rest_done_and_says_what_remains(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)
    inst.fake.add_fault(
        "kind",
        ["delete", "cluster"],
        "fail",
        times=1,
        stderr="ERROR: failed to delete cluster: injected",
    )
    result = airbox(inst, "uninstall", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    # The release step before it ran; the cluster and the state remain, and it says so.
    assert inst.fake.release(inst.cluster, inst.name) == []
    assert inst.fake.clusters() == [inst.cluster]
    assert "partly uninstalled; what remains:" in result.stderr
    assert f"kind cluster {inst.cluster}" in result.stderr
    assert f"by hand: kind delete cluster --name {inst.cluster}" in result.stderr
    assert "injected" in result.stderr
    assert inst.state.is_dir() and f"kept {inst.state}" in result.stderr
    assert "log: " in result.stderr

    # Running it again finishes the job.
    again = airbox(inst, "uninstall", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert inst.fake.clusters() == [] and not inst.state.exists()


def test_a_failed_helm_uninstall_does_not_stop_the_cluster_deletion_and_keep_state(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    restore(installed_plain, inst)
    inst.fake.add_fault("helm", ["uninstall"], "fail", stderr="Error: injected helm failure")
    result = airbox(inst, "uninstall", "--yes", "--keep-state")
    # Nothing is left (the release lived in the cluster), so it succeeded, with a warning.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "injected helm failure" in result.stderr
    assert "went with the cluster" in result.stderr
    assert inst.fake.clusters() == []
    assert "is kept (--keep-state)" in result.stdout
    assert (inst.state / "settings.yaml").is_file()
    assert (inst.state / "credentials.yaml").is_file()

    again = airbox(inst, "uninstall", "--yes", "--keep-state")
    assert again.returncode == 0, again.stderr
    assert "Nothing to remove" in again.stdout
    # Without --keep-state the state is what is left, and it goes.
    last = airbox(inst, "uninstall", "--yes")
    assert last.returncode == 0, last.stderr
    assert not inst.state.exists()


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: someone-elses-app, namespace: airbyte, labels: {app: other}}
spec:
  replicas: 1
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: app, image: nginx}]}
"""


def test_existing_cluster_only_what_airbox_put_there(installer: Installer) -> None:
    inst = installer
    kubeconfig = inst.fake.add_existing_cluster("prod", "prod-cluster")
    install(inst, None, "--kube-context", "prod", "--kubeconfig", str(kubeconfig))
    kubectl = ["--kubeconfig", str(kubeconfig), "--context", "prod"]
    # Somebody else's work in the namespace: the namespace must stay.
    applied = inst.fake.run("kubectl", *kubectl, "apply", "-f", "-", input=DEPLOYMENT)
    assert applied.returncode == 0, applied.stderr
    inst.fake.add_fault(
        "helm", ["uninstall"], "fail", times=1, stderr="Error: injected helm failure"
    )

    result = airbox(inst, "uninstall", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deployment someone-elses-app" in result.stdout  # why the namespace stays
    assert "itself is not touched" in result.stdout
    # The Secret went although the release step before it failed; the release remains.
    secrets = [
        s["metadata"]["name"] for s in inst.fake.objects("prod-cluster", "Secret", "airbyte")
    ]
    assert "airbyte-config-secrets" not in secrets
    assert inst.fake.release("prod-cluster", inst.name, "airbyte") != []
    assert (
        f"by hand: helm uninstall {inst.name} --namespace airbyte --kubeconfig "
        f"{kubeconfig} --kube-context prod"
    ) in result.stderr
    assert inst.state.is_dir()

    assert "  - namespace airbyte" not in result.stdout

    # Once the other work is gone, the namespace airbox created goes too; never the cluster.
    removed = inst.fake.run(
        "kubectl", *kubectl, "--namespace", "airbyte", "delete", "deployment", "someone-elses-app"
    )
    assert removed.returncode == 0, removed.stderr
    again = airbox(inst, "uninstall", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "  - namespace airbyte" in again.stdout
    assert inst.fake.release("prod-cluster", inst.name, "airbyte") == []
    assert "prod-cluster" in inst.fake.clusters()
    names = {(o["kind"], o["metadata"]["name"]) for o in inst.fake.objects("prod-cluster")}
    assert ("Namespace", "airbyte") not in names
    assert ("Namespace", "kube-system") in names
    assert inst.fake.calls("kind") == []
    assert not inst.state.exists()
