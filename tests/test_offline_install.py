"""`airbox install --bundle`, `airbox upgrade --bundle` and `airbox bundle load`: a data
plane with no registry and no chart repository, only the control plane.

Real boundaries: the bundle is made by `airbox/offline/archive.create` from tiny images
built here with unique content and names (the kind node image under the name airbox pins,
the data plane's images under a tag of this test's own, two connectors); the Docker
daemon is real and airbox reaches it through a gate that records every API request
(`tests/fakes/dockergate.py`), so "nothing was pulled" is read where a pull would be
asked; the daemon's own event stream says the same. Every network endpoint airbox could
use instead (the preflight's registry and chart repository, the tools' download mirror)
is a loopback registry that refuses everything and records each request
(`tests/fake_registry.py`). kind, helm and kubectl are the fakes in their "offline"
scenario: kind needs its node image in the local Docker, helm any chart not a local file
fails; the node containers are real.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox import versions
from airbox.cluster.dockerhost import DockerHost
from airbox.offline import archive
from airbox.offline import manifest as mf
from tests.fake_registry import FakeRegistry
from tests.fakes import nodetools
from tests.fakes.dockergate import DockerGate
from tests.fakes.fixture import docker_client
from tests.installer import Installer
from tests.test_offline_bundle import REAL_CHART, build_image, flip
from tests.test_year import airbox, inst, node  # noqa: F401

CGROUP_V1 = not Path("/sys/fs/cgroup/cgroup.controllers").exists()
# The node image airbox runs here, by the name a load gives it (no digest).
NODE_IMAGE = mf.local_name(versions.node_image(cgroup_v1=CGROUP_V1))
OLD_CHART = Path(str(REAL_CHART).replace(versions.CHART_VERSION, "1.8.0"))
NODE_LOCK = Path("/tmp/airbox-tests-kindest-node.lock")
# Each test makes a bundle, installs from it (an upgrade test twice), and may wait for
# another test that holds the node image's name (node_image_lock).
pytestmark = pytest.mark.timeout(600)


@contextlib.contextmanager
def node_image_lock() -> Iterator[None]:
    """The node image's name is the one airbox pins, shared by every test that makes it:
    one such test at a time (they remove it to start from a machine without it)."""
    with open(NODE_LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Offline:
    inst: Installer
    tmp: Path
    unique: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:8])
    made: list[str] = field(default_factory=list)
    refusing: FakeRegistry = field(default_factory=lambda: FakeRegistry(refuse_all=True))
    gate: DockerGate = field(default_factory=DockerGate)

    @property
    def data_plane(self) -> list[str]:
        return [
            f"airbyte/{name}:{self.unique}"
            for name in (
                "workload-launcher",
                "workload-init-container",
                "connector-sidecar",
                "container-orchestrator",
            )
        ]

    def connectors(self, *names: str) -> list[str]:
        return [f"airbyte/{name}:{self.unique}" for name in names]

    def bundle(
        self,
        name: str,
        *,
        connectors: tuple[str, ...] = ("source-faker", "destination-dev-null"),
        data_plane: bool = True,
        chart: Path = REAL_CHART,
        node_image: str = NODE_IMAGE,
    ) -> Path:
        """A bundle of images built here (then removed from Docker: the install starts on
        a machine that has none of them)."""
        client = docker_client()
        refs: list[tuple[str, str]] = [("node-image", node_image)] if data_plane else []
        refs += [("image", ref) for ref in (self.data_plane if data_plane else [])]
        refs += [("connector", ref) for ref in self.connectors(*connectors)]
        for _, ref in refs:
            build_image(client, ref)
            self.made.append(ref)
        output = self.tmp / name
        archive.create(
            output,
            docker=DockerHost.connect(),
            connectors=[],
            chart_version=versions.CHART_VERSION,
            images=refs,
            chart_file=chart,
        )
        self.remove()
        return output

    def remove(self) -> None:
        client = docker_client()
        for ref in self.made:
            with contextlib.suppress(Exception):
                client.images.remove(ref, force=True)

    def answers(self, **extra: Any) -> Path:
        # The data plane's images under this test's tag: no other test's are involved.
        return self.inst.write(self.inst.answers(values={"image": {"tag": self.unique}}, **extra))

    def env(self, **extra: str) -> dict[str, str]:
        refusing = f"http://{self.refusing.host}"
        return self.inst.env(
            DOCKER_HOST=self.gate.host,
            AIRBOX_PREFLIGHT_REGISTRY_URL=refusing + "/v2/",
            AIRBOX_PREFLIGHT_HELM_REPO_URL=refusing + "/index.yaml",
            AIRBOX_TOOLS_MIRROR=refusing + "/tools",
            **extra,
        )

    def node_images(self) -> set[str]:
        cluster = self.inst.fake.state()["clusters"][self.inst.cluster]
        return set(cluster["nodes"][0]["images"])

    def pulls(self) -> list[str]:
        """Pull requests (`POST /images/create`) airbox and its tools made."""
        return [r for r in self.gate.requests if r.startswith("POST /images/create")]


@pytest.fixture
def offline(inst: Installer, tmp_path: Path) -> Iterator[Offline]:  # noqa: F811
    if not REAL_CHART.is_file():
        pytest.skip(f"the real chart archive is not at {REAL_CHART}")
    inst.fake.set_scenario(offline=True)
    with node_image_lock():
        found = Offline(inst, tmp_path)
        try:
            yield found
        finally:
            found.remove()
            found.refusing.stop()
            found.gate.close()


def pull_events(since: float, names: set[str]) -> list[dict[str, Any]]:
    """The daemon's own record: image pulls of ``names`` from ``since`` until now."""
    events = docker_client().events(
        since=int(since),
        until=int(time.time()) + 1,
        filters={"type": "image", "event": "pull"},
        decode=True,
    )
    return [
        e
        for e in events
        if e.get("id") in names
        or (e.get("Actor") or {}).get("ID") in names
        or ((e.get("Actor") or {}).get("Attributes") or {}).get("name") in names
    ]


# ------------------------------------------------------------------- the acceptance


def test_install_from_a_bundle_pulls_nothing_and_the_node_gets_every_image(
    offline: Offline,
) -> None:
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    client = docker_client()
    for ref in [NODE_IMAGE, *offline.made]:  # a machine holding none of them
        assert not [i for i in client.images.list() if ref in i.tags]
    started = time.time()
    result = dp.run("--bundle", str(bundle), answers=offline.answers(), env=offline.env())
    assert result.returncode == 0, result.stdout + result.stderr

    # No pull anywhere: none asked of Docker (by airbox or its tools), none in the
    # daemon's events; the registry, chart repository and tool mirror saw nothing.
    assert offline.pulls() == []
    assert pull_events(started, {NODE_IMAGE, *offline.made}) == []
    assert any(r.startswith("POST /images/load") for r in offline.gate.requests)
    assert offline.refusing.requests == []
    helm = dp.fake.calls("helm")
    assert not [c for c in helm if "--repo" in c or c[1:2] == ["pull"] or c[1:2] == ["repo"]]
    # The chart is the bundle's, unpacked into the state directory.
    chart = dp.state / "bundle" / "charts" / REAL_CHART.name
    upgrade = next(c for c in helm if "upgrade" in c and "--install" in c)
    at = upgrade.index("--install")
    assert upgrade[at + 2 : at + 5] == [str(chart), "--version", versions.CHART_VERSION]
    # kind found its node image locally (the offline fake would have failed to pull it):
    # the config names it as the load named it, without the digest.
    config = yaml.safe_load((dp.state / "kind-config.yaml").read_text())
    assert config["nodes"][0]["image"] == NODE_IMAGE
    # The node got every image: the data plane's and the connectors.
    assert offline.node_images() == {
        *offline.data_plane,
        *offline.connectors("source-faker", "destination-dev-null"),
    }
    # Saved: a resumed install, repair or upgrade knows the source.
    saved = yaml.safe_load((dp.state / "settings.yaml").read_text())
    assert saved["bundle"] == str(bundle)
    assert saved["chart"]["version"] == versions.CHART_VERSION
    assert "Load the images, chart and tools from the offline bundle" in result.stderr

    # Running it again changes nothing: everything is in place.
    before = len(offline.gate.requests)
    again = dp.run(answers=offline.answers(), env=offline.env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [
        r
        for r in offline.gate.requests[before:]
        if r.startswith(("POST /images/load", "POST /images/create"))
    ]
    # Not even read again: the step looks at what is in place first.
    assert (
        "Load the images, chart and tools from the offline bundle (every image in "
        "Docker, the chart and the tools in place)" in " ".join(again.stderr.split())
    )

    # status: the connectors present, and what offline means for the others.
    container = node(dp)
    nodetools.seed(
        container,
        images_=[nodetools.image_entry(ref, 1000) for ref in offline.connectors("source-faker")],
    )
    status = airbox(dp, "status", "--json")
    report = json.loads(status.stdout)
    images = next(c for c in report["checks"] if c["id"] == "images")
    assert report["node"]["images"]["connectors"] == offline.connectors("source-faker")
    assert report["node"]["images"]["offline"] is True
    assert (
        "Installed from a bundle, with no registry: a connector whose image is not "
        "listed cannot run here; add one with `airbox bundle create --connector IMAGE "
        f"--output FILE` on a connected machine, then `airbox bundle load FILE --name "
        f"{dp.name}`"
    ) in images["summary"]


def test_a_damaged_bundle_is_exit_2_naming_the_item_and_nothing_is_created(
    offline: Offline,
) -> None:
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    made = archive.read_manifest(bundle)
    launcher = next(i for i in made.items if i.name == offline.data_plane[0])
    with open(bundle, "rb") as handle:
        data = handle.read()
    # Its tar header (the manifest names it first), then three blocks into its bytes.
    offset = data.index(launcher.path.encode(), data.index(launcher.path.encode()) + 1)
    offset += 512 * 3
    flip(bundle, offset)
    result = dp.run("--bundle", str(bundle), answers=offline.answers(), env=offline.env())
    assert result.returncode == 2, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert f"the bundle {bundle} is damaged" in err
    assert launcher.path in err and "nothing was changed" in err
    assert not dp.state.exists()
    assert dp.fake.calls() == []
    # Found first: before the machine check, before any question.
    assert "Machine checked" not in result.stderr
    assert not [r for r in offline.gate.requests if r.startswith("POST /images/load")]


def test_a_bundle_that_does_not_match_this_airbox_names_both_versions(offline: Offline) -> None:
    dp = offline.inst
    other = "kindest/node:v1.29.2"
    bundle = offline.bundle("old-node.bundle", node_image=other)
    result = dp.run(
        "--bundle",
        str(bundle),
        "--chart-version",
        "1.8.0",
        answers=offline.answers(),
        env=offline.env(),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert f"it carries the node image {other}; this airbox runs {NODE_IMAGE}" in err
    assert (
        "chart.version: 1.8.0 was asked for; the bundle carries chart "
        f"{versions.CHART_VERSION}" in err
    )
    assert not dp.state.exists()


def test_ctrl_c_while_loading_then_the_same_command_finishes(offline: Offline) -> None:
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    answers = offline.answers()
    offline.gate.hold("POST", "/images/load")
    proc = dp.start("--bundle", str(bundle), answers=answers, env=offline.env())
    try:
        assert offline.gate.wait_held(120), "airbox never loaded an image"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        offline.gate.release(forward=False)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    steps = json.loads((dp.state / "progress.json").read_text())["steps"]
    assert steps["images"]["status"] == "interrupted"
    again = dp.run(answers=answers, env=offline.env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert offline.pulls() == []
    assert offline.node_images() == {
        *offline.data_plane,
        *offline.connectors("source-faker", "destination-dev-null"),
    }


# ----------------------------------------------------------------- upgrade, bundle load


def test_upgrade_from_a_bundle_plans_then_moves_offline(offline: Offline) -> None:
    if not OLD_CHART.is_file():
        pytest.skip(f"the real chart archive is not at {OLD_CHART}")
    dp = offline.inst
    first = offline.bundle("old.bundle", chart=OLD_CHART)
    result = dp.run("--bundle", str(first), answers=offline.answers(), env=offline.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["chart_version"] for r in dp.revisions()] == ["1.8.0"]
    offline.made.clear()
    offline.unique = "u" + offline.unique[1:]
    # The next version's bundle; the values name its images' tag.
    nxt = offline.bundle("next.bundle")
    answers = yaml.safe_load((dp.state / "settings.yaml").read_text())
    answers["values"] = {"image": {"tag": offline.unique}}
    (dp.state / "settings.yaml").write_text(yaml.safe_dump(answers))

    env = offline.env()
    dry = airbox(
        dp,
        "upgrade",
        "--bundle",
        str(nxt),
        "--dry-run",
        DOCKER_HOST=env["DOCKER_HOST"],
        AIRBOX_TOOLS_MIRROR=env["AIRBOX_TOOLS_MIRROR"],
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "chart:       airbyte-data-plane 1.8.0 -> 1.8.1" in dry.stdout
    assert f"bundle:      {nxt} (chart 1.8.1," in dry.stdout
    assert offline.data_plane[0] in dry.stdout.split("images to load from the bundle:")[1]
    assert dry.stdout.rstrip().endswith("Nothing was changed (dry run).")
    assert len(dp.revisions()) == 1

    done = airbox(
        dp,
        "upgrade",
        "--bundle",
        str(nxt),
        DOCKER_HOST=env["DOCKER_HOST"],
        AIRBOX_TOOLS_MIRROR=env["AIRBOX_TOOLS_MIRROR"],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["chart_version"] for r in dp.revisions()] == ["1.8.0", "1.8.1"]
    assert offline.pulls() == []
    assert offline.refusing.requests == []
    assert set(offline.data_plane) <= offline.node_images()
    saved = yaml.safe_load((dp.state / "settings.yaml").read_text())
    assert saved["bundle"] == str(nxt) and saved["chart"]["version"] == "1.8.1"


def test_bundle_load_adds_a_connector_to_an_installed_data_plane(offline: Offline) -> None:
    dp = offline.inst
    nothing = airbox(dp, "bundle", "load", str(offline.tmp / "x.bundle"))
    assert nothing.returncode == 3, nothing.stdout + nothing.stderr
    assert "no data plane is installed" in nothing.stderr

    bundle = offline.bundle("dp.bundle")
    result = dp.run("--bundle", str(bundle), answers=offline.answers(), env=offline.env())
    assert result.returncode == 0, result.stdout + result.stderr
    extra = offline.bundle("postgres.bundle", connectors=("source-postgres",), data_plane=False)
    env = offline.env()
    loaded = airbox(dp, "bundle", "load", str(extra), DOCKER_HOST=env["DOCKER_HOST"])
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    [postgres] = offline.connectors("source-postgres")
    assert f"connectors: {postgres}" in loaded.stdout
    assert postgres in offline.node_images()
    assert offline.pulls() == []
    # A damaged one changes nothing.
    flip(extra, os.path.getsize(extra) // 2)
    bad = airbox(dp, "bundle", "load", str(extra))
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "is damaged" in bad.stderr


def test_the_dry_run_plan_of_a_bundle_install(offline: Offline) -> None:
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    out = offline.tmp / "out"
    result = subprocess.run(
        [
            *_airbox(),
            "install",
            "--answers",
            str(offline.answers()),
            "--bundle",
            str(bundle),
            "--dry-run",
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=offline.env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    plan = {step["step"]: step for step in json.loads((out / "plan.json").read_text())}
    loads = [c for c in plan["images"]["commands"] if c[:2] == ["docker", "load"]]
    assert len(loads) == 1 + 4 + 2  # the node image, the data plane, the connectors
    assert plan["connector-images"]["commands"] == [
        [
            "kind",
            "load",
            "docker-image",
            "--name",
            dp.cluster,
            *offline.connectors("source-faker", "destination-dev-null"),
        ]
    ]
    assert not (dp.state / "bundle").exists()
    assert not [r for r in offline.gate.requests if r.startswith("POST /images/load")]


def _airbox() -> list[str]:
    from tests.helpers import airbox_bin

    return [airbox_bin()]


def test_offline_an_image_the_node_lacks_is_said_so_not_blamed_on_docker_hub(
    offline: Offline,
) -> None:
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    dp.fake.set_scenario(launcher="imagepull")
    result = dp.run("--bundle", str(bundle), answers=offline.answers(), env=offline.env())
    assert result.returncode == 5, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert "an image is not in the kind node and nothing can be pulled offline" in err
    assert "Docker Hub" not in err
