"""`airbox prune` and `airbox upgrade` on a real install (fakes + real node containers)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from airbox import versions
from tests.fakes import nodetools
from tests.fakes.fixture import docker_client
from tests.fakes.images import tag_images
from tests.installer import Installer
from tests.snapshots import Template, restore
from tests.test_year import airbox, inst, install, node, status_json  # noqa: F401

OLD_CHART = "1.8.0"


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``directory``: its content hash and mtime."""
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def old_images() -> Iterator[None]:
    """The 1.8.0 data plane images, tagged locally (no registry is contacted)."""
    from tests.fakes.images import ensure_image

    client = docker_client()
    tag_images(client, ensure_image(client), versions.data_plane_images(OLD_CHART))
    yield


def changing_calls(installed: Installer, since: int) -> list[list[str]]:
    calls = installed.fake.calls()[since:]
    verbs = (
        "upgrade",
        "install",
        "rollback",
        "uninstall",
        "apply",
        "delete",
        "create",
        "load",
        "restart",
    )
    return [c for c in calls if any(v in c[1:4] for v in verbs)]


def test_upgrade_dry_run_prints_the_plan_and_changes_nothing_then_upgrades(
    inst: Installer,  # noqa: F811
    old_images: None,
) -> None:
    answers = inst.answers(chart={"version": OLD_CHART})
    result = inst.run(answers=inst.write(answers))
    assert result.returncode == 0, result.stderr
    assert inst.revisions()[-1]["chart_version"] == OLD_CHART
    _, report = status_json(inst)
    assert report["versions"]["chart"] == {"running": OLD_CHART, "pinned": "1.8.1"}
    [versions_check] = [c for c in report["checks"] if c["id"] == "versions"]
    assert versions_check["next"] == f"airbox upgrade --name {inst.name} --dry-run"

    before = snapshot(inst.state)
    calls_before = len(inst.fake.calls())
    container_before = node(inst).id
    dry = airbox(inst, "upgrade", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    out = dry.stdout
    assert f"Upgrade plan for data plane {inst.name}:" in out
    assert f"  chart:       airbyte-data-plane {OLD_CHART} -> 1.8.1" in out
    assert "(unchanged)" in out.split("kubernetes:")[1].splitlines()[0]
    assert "  images to pull: none" in out  # the 1.8.1 images are already on this machine
    assert "    changed: Deployment/" in out
    assert f"workload-launcher:{OLD_CHART}" in out and "workload-launcher:1.8.1" in out
    assert (
        f"helm upgrade --install {inst.name} (airbyte-data-plane 1.8.1); on failure, "
        "roll back to revision 1" in out
    )
    assert out.rstrip().endswith("Nothing was changed (dry run).")
    # Nothing changed: no state file, no cluster object, no release revision, same node.
    assert snapshot(inst.state) == before
    assert changing_calls(inst, calls_before) == []
    assert len(inst.revisions()) == 1
    assert node(inst).id == container_before

    # A version whose images are not here: they are listed to pull (first, when it runs).
    later = airbox(inst, "upgrade", "--dry-run", "--chart-version", "1.8.2")
    assert later.returncode == 0, later.stderr
    assert "airbyte/workload-launcher:1.8.2" in later.stdout.split("images to pull:")[1]
    assert snapshot(inst.state) == before

    # The upgrade itself.
    done = airbox(inst, "upgrade")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Upgraded data plane {inst.name}: chart {OLD_CHART} -> 1.8.1." in done.stdout
    assert [r["chart_version"] for r in inst.revisions()] == [OLD_CHART, "1.8.1"]
    saved = yaml.safe_load((inst.state / "settings.yaml").read_text())
    assert saved["chart"]["version"] == "1.8.1"
    code, report = status_json(inst)
    assert code == 0, report["reason"]
    assert report["versions"]["chart"] == {"running": "1.8.1", "pinned": "1.8.1"}
    again = airbox(inst, "upgrade", "--dry-run")
    assert again.returncode == 0
    assert "Nothing to upgrade" in again.stdout


def test_failed_upgrade_is_rolled_back(inst: Installer, old_images: None) -> None:  # noqa: F811
    result = inst.run(answers=inst.write(inst.answers(chart={"version": OLD_CHART})))
    assert result.returncode == 0, result.stderr
    inst.fake.add_fault(
        "helm", ["upgrade"], "fail", times=1, stderr="Error: UPGRADE FAILED: injected"
    )
    failed = airbox(inst, "upgrade")
    assert failed.returncode == 5, failed.stdout + failed.stderr
    assert "injected" in failed.stderr
    assert "rolled back to revision 1" in failed.stderr
    assert any(c[0] == "helm" and "rollback" in c for c in inst.fake.calls())
    assert inst.revisions()[-1]["chart_version"] == OLD_CHART


def test_a_new_kubernetes_version_recreates_the_cluster_from_the_saved_settings(
    inst: Installer,  # noqa: F811
    installed: Template,
) -> None:
    restore(installed, inst)
    # The cluster was made by an older airbox: an older Kubernetes runs in it.
    inst.fake.age_cluster(inst.cluster, "v1.30.0")
    old_node = node(inst).id
    before = snapshot(inst.state)
    settings_before = yaml.safe_load((inst.state / "settings.yaml").read_text())
    dry = airbox(inst, "upgrade", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "  kubernetes:  v1.30.0 -> v1.3" in dry.stdout
    assert f"the kind cluster {inst.cluster} is re-created from the saved settings" in dry.stdout
    assert snapshot(inst.state) == before and node(inst).id == old_node

    creates = inst.kind_creates()
    result = airbox(inst, "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert inst.kind_creates() == creates + 1
    assert any(c[:3] == ["kind", "delete", "cluster"] for c in inst.fake.calls())
    new = node(inst)
    assert new.id != old_node
    assert new.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    # The state directory stayed: same settings and credentials, nothing asked.
    after = snapshot(inst.state)
    for kept in ("credentials.yaml", "secrets.yaml", "values.yaml", "kind-config.yaml"):
        assert after[kept][0] == before[kept][0], kept
    # The settings now name the chart version the data plane was upgraded to.
    saved = yaml.safe_load((inst.state / "settings.yaml").read_text())
    assert saved.pop("chart") == {"version": versions.CHART_VERSION}
    assert saved == {k: v for k, v in settings_before.items() if k != "chart"}
    code, report = status_json(inst)
    assert code == 0, report["reason"]


def test_prune_removes_only_unused_connector_images(inst: Installer, installed: Template) -> None:  # noqa: F811
    restore(installed, inst)
    container = node(inst)
    faker_old = nodetools.image_entry("airbyte/source-faker:6.2.0", 300_000_000)
    faker = nodetools.image_entry("airbyte/source-faker:6.2.1", 310_000_000)
    s3 = nodetools.image_entry("airbyte/destination-s3:1.5.0", 500_000_000)
    launcher = nodetools.image_entry("airbyte/workload-launcher:1.8.1", 200_000_000)
    # A sync is running with faker 6.2.1.
    nodetools.seed(
        container,
        images_=[faker_old, faker, s3, launcher],
        used=[faker["id"], launcher["id"]],
        df=(10_000_000, 8_500_000),
    )
    _, report = status_json(inst)
    assert report["checks"][[c["id"] for c in report["checks"]].index("disk")]["next"].startswith(
        f"airbox prune --name {inst.name}"
    )

    result = airbox(inst, "prune")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Removed 2 connector images no pod uses (800.0 MB):" in out
    assert "  - docker.io/airbyte/source-faker:6.2.0 (300.0 MB)" in out
    assert "  - docker.io/airbyte/destination-s3:1.5.0 (500.0 MB)" in out
    # Six: the four seeded and the two verify connectors install pre-pulled (1 kB each in
    # the fake node), which prune keeps.
    assert "  images:      6 (1.3 GB) -> 4 (510.0 MB)" in out
    assert "image store: 85% used" in out
    assert sorted(nodetools.images_in(container)) == [
        "docker.io/airbyte/destination-dev-null:0.7.21",
        "docker.io/airbyte/source-faker:6.2.1",
        "docker.io/airbyte/source-faker:6.2.21",
        "docker.io/airbyte/workload-launcher:1.8.1",
    ]
    assert [c for c in nodetools.calls(container) if c.startswith("crictl rmi")] == [
        f"crictl rmi {faker_old['id']}",
        f"crictl rmi {s3['id']}",
    ]

    again = airbox(inst, "prune")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing to prune: the node holds 4 images")


def test_repair_prune_and_upgrade_wait_for_another_command(
    inst: Installer,  # noqa: F811
    installed: Template,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airbox.lock import dataplane_lock
    from airbox.paths import StateDir

    restore(installed, inst)
    node(inst).stop(timeout=1)
    monkeypatch.setenv("AIRBOX_HOME", str(inst.home))
    with dataplane_lock(StateDir.for_name(inst.name), "install"):
        for command in (["repair"], ["prune"], ["upgrade", "--chart-version", "1.8.2"]):
            busy = airbox(inst, *command)
            assert busy.returncode == 1, (command, busy.stdout, busy.stderr)
            assert f"data plane {inst.name} is busy" in busy.stderr, command
            assert "(airbox install" in busy.stderr, command
        # A dry run only reads: it does not wait.
        dry = airbox(inst, "upgrade", "--dry-run", "--chart-version", "1.8.2")
        assert "is busy" not in dry.stderr
    assert node(inst).status == "exited"  # the busy repair changed nothing
    assert airbox(inst, "repair").returncode == 0
