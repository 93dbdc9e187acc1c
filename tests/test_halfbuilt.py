"""A first install that stopped before the cluster existed: a way out, and plain words.

Real `airbox` runs on the fakes; the install fails at "Create the kind cluster" (a fault
in the fake kind) or at the register step (the fake control plane refuses it). The
uninstall then runs with no kind, helm or kubectl on PATH and every HTTP proxy pointed at
a closed port (no network): a node container left behind is a real Docker container
(``--network none``) with kind's labels, removed through the Docker SDK.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.fakes.fixture import LABEL_STATE, docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer, cp_env, registering
from tests.snapshots import Template, restore

KIND_LABEL = "io.x-k8s.kind.cluster"


def airbox(
    inst: Installer, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=env or inst.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def fail_at_cluster(inst: Installer, name: str) -> None:
    """`airbox install` of ``name`` that fails at "Create the kind cluster"."""
    inst.name = name
    inst.fake.add_fault(
        "kind",
        ["create", "cluster"],
        "fail",
        times=1,
        stderr="ERROR: failed to create cluster: could not pull the node image\n",
    )
    result = inst.run(answers=inst.write())
    assert result.returncode != 0, result.stdout
    assert f"Create the kind cluster airbox-{name}" in result.stdout + result.stderr
    assert (inst.state / "settings.yaml").is_file()


def offline_env(inst: Installer, tmp: Path) -> dict[str, str]:
    """No kind, helm or kubectl anywhere airbox looks, and no way out to the network."""
    env = inst.env()
    for var in ("AIRBOX_KIND", "AIRBOX_HELM", "AIRBOX_KUBECTL"):
        env.pop(var)
    empty = tmp / "empty-bin"
    empty.mkdir(exist_ok=True)
    env["PATH"] = str(empty)
    for tool in ("kind", "helm", "kubectl"):
        assert shutil.which(tool, path=env["PATH"]) is None
    assert not (inst.home / "bin").exists()  # no downloaded copies either
    closed = "http://127.0.0.1:9"
    env.update(HTTPS_PROXY=closed, HTTP_PROXY=closed, https_proxy=closed, http_proxy=closed)
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def leftover_node(inst: Installer, cluster: str) -> Any:
    """A node container kind's clean-up left behind: a real one, with kind's labels."""
    client = docker_client()
    assert inst.fake.node_image
    return client.containers.run(
        inst.fake.node_image,
        ["sleep", "infinity"],
        name=f"{cluster}-control-plane",
        detach=True,
        network_mode="none",
        stop_signal="SIGKILL",
        labels={
            KIND_LABEL: cluster,
            "io.x-k8s.kind.role": "control-plane",
            # the fakes' clean-up removes it if the test fails half-way
            LABEL_STATE: str(inst.fake.state_dir.resolve()),
        },
    )


def containers_named(name: str) -> list[str]:
    return [
        c.name
        for c in docker_client().containers.list(all=True, filters={"name": name})
        if c.name == name
    ]


def test_failed_first_installs_are_not_installed_and_uninstall_needs_no_tools(
    installer: Installer, tmp_path: Path
) -> None:
    inst = installer
    first, second = ("hb" + uuid.uuid4().hex[:8] for _ in range(2))
    fail_at_cluster(inst, first)
    fail_at_cluster(inst, second)

    # Two failed attempts: nothing is installed, each is listed with where it stopped, and
    # no --name is demanded.
    status = airbox(inst, "status")
    assert status.returncode == 3, status.stdout + status.stderr
    assert "say which one with --name" not in status.stderr
    for name in (first, second):
        assert (
            f"{name} is not installed (failed at step “Create the kind cluster airbox-{name}”)"
        ) in status.stdout

    # One of them left a node behind (kind's own clean-up failed): uninstall finds it
    # through Docker, with no kind, helm or kubectl, and no network.
    node = leftover_node(inst, "airbox-" + first)
    offline = offline_env(inst, tmp_path)
    inst.name = first
    gone = airbox(inst, "uninstall", "--name", first, "--yes", env=offline)
    out = gone.stdout + gone.stderr
    assert gone.returncode == 0, out
    assert "helm is not installed" not in out and "download" not in out
    assert "through Docker (kind is not installed)" in out
    assert f"  - kind cluster airbox-{first} (and everything in it)" in gone.stdout
    assert "Helm release" not in gone.stdout  # never created: not listed, no helm needed
    assert f"Data plane {first} is uninstalled." in gone.stdout
    assert containers_named(node.name) == []
    assert not inst.state.exists()

    # The other one's node went with kind's clean-up: only the state is left to remove.
    inst.name = second
    assert containers_named(f"airbox-{second}-control-plane") == []
    other = airbox(inst, "uninstall", "--name", second, "--yes", env=offline)
    assert other.returncode == 0, other.stdout + other.stderr
    assert "kind cluster" not in other.stdout
    assert f"  - local state {inst.state}" in other.stdout
    assert not inst.state.exists()
    after = airbox(inst, "status")
    assert after.returncode == 3 and "no data plane is installed (no state in" in after.stdout


def test_one_failed_first_install_never_forces_name_on_the_running_data_plane(
    installer: Installer, installed_plain: Template
) -> None:
    inst = installer
    good = "ok" + uuid.uuid4().hex[:8]
    inst.name = good
    restore(installed_plain, inst)
    failed = "hb" + uuid.uuid4().hex[:8]
    fail_at_cluster(inst, failed)

    status = airbox(inst, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["name"] == good
    # Removing needs the name, though: a bare uninstall must never pick the running one.
    bare = airbox(inst, "uninstall", "--yes")
    assert bare.returncode == 2, bare.stdout
    assert (
        f"{failed}: not installed (failed at step “Create the kind cluster airbox-{failed}”)"
    ) in bare.stderr
    assert "1 data plane is installed and 1 not" in bare.stderr


def test_day2_commands_on_an_install_that_stopped_before_the_cluster(installer: Installer) -> None:
    inst = installer
    name = "hb" + uuid.uuid4().hex[:8]
    fail_at_cluster(inst, name)
    where = f"the install failed at step “Create the kind cluster airbox-{name}”"
    for command in ("logs", "prune", "repair", "verify", "workspaces"):
        result = airbox(inst, command, "--name", name)
        out = result.stdout + result.stderr
        assert result.returncode == 3, (command, out)
        assert f"data plane {name} is not installed: {where}" in out, (command, out)
        assert f"next: airbox install --name {name}" in out, (command, out)
        for wrong in (
            "kubeconfig: no such file",
            "--region",
            "airbox repair",
            "Nothing to repair",
            "Stopped",
            "✓",
            "recreates",
            "no longer exists",
        ):
            assert wrong not in out, (command, wrong, out)

    report = json.loads(airbox(inst, "status", "--name", name, "--json").stdout)
    node = next(c for c in report["checks"] if c["id"] == "node-container")
    assert node["summary"] == f"the kind cluster airbox-{name} was never created: {where}"
    assert node["next"].startswith(f"airbox install --name {name}  (finishes the install")
    assert "recreates" not in json.dumps(report) and "no longer" not in json.dumps(report)


def test_status_says_registration_is_not_done_when_the_register_step_failed(
    installer: Installer, fake_cp: FakeControlPlane
) -> None:
    inst = installer
    inst.name = "hb" + uuid.uuid4().hex[:8]
    fake_cp.fail("POST", "/v1/dataplanes", 422)
    env = cp_env(inst, fake_cp)
    failed = inst.run(answers=inst.write(registering(inst, fake_cp)), env=env)
    assert failed.returncode != 0, failed.stdout

    report = json.loads(airbox(inst, "status", "--name", inst.name, "--json", env=env).stdout)
    registration = next(c for c in report["checks"] if c["id"] == "registration")
    assert registration["summary"] == (
        "registration not done yet (the install stopped at the register step)"
    )
    for command in ("verify", "workspaces"):
        result = airbox(inst, command, "--name", inst.name, env=env)
        out = result.stdout + result.stderr
        assert result.returncode == 3, out
        assert (
            "the install failed at step “Register the data plane with the control plane”"
        ) in out
        assert f"next: airbox install --name {inst.name}" in out and "--region" not in out


def test_workspaces_and_verify_suggest_a_flag_that_exists_for_an_unknown_region(
    tmp_path: Path,
) -> None:
    """A data plane given its own credentials and no region: `workspaces`/`verify` have no
    --region, so the hint names the command that has it (install, settings kept)."""
    import httpx
    import pytest

    from airbox.config.settings import Settings
    from airbox.controlplane.api import AirbyteApi
    from airbox.errors import MissingInput
    from airbox.ops.routing import find_region
    from airbox.paths import StateDir
    from tests import answers_factory as af

    def unasked(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no region to look up, yet it asked {request.url}")

    # Without a region there is nothing to ask the control plane: any request fails the test.
    api = AirbyteApi("http://127.0.0.1:9", "id", "secret", transport=httpx.MockTransport(unasked))
    settings = Settings.from_answers(af.answers(directory=tmp_path, name="dp-region"))
    with pytest.raises(MissingInput) as raised:
        find_region(api, settings, StateDir(tmp_path / "dp-region"), day2=True)
    hint = raised.value.hint or ""
    assert hint.startswith("save its region: airbox install --name dp-region --region ")
    for command, has in (("workspaces", False), ("verify", False), ("install", True)):
        shown = subprocess.run(
            [airbox_bin(), command, "--help"], capture_output=True, text=True, timeout=60
        ).stdout
        assert ("--region" in shown) is has, command
