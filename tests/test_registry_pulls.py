"""A private registry that wants credentials, end to end: install, verify's connector
pre-pull and upgrade all pull from it with the pull Secret's credentials.

The registry is ``tests/fake_registry.py`` on 127.0.0.1 (the real Docker daemon pulls
from it over plain HTTP, as it does from any loopback registry), asking for credentials
with the token flow; its port makes every image name unique to the test. kind, helm and
kubectl are the fakes, the nodes real containers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from airbox import versions
from tests.fake_registry import FakeRegistry
from tests.fakes import nodetools
from tests.fakes.fixture import docker_client
from tests.installer import Installer
from tests.test_year import airbox, inst, node  # noqa: F401

USER = "mirror-reader"
PASSWORD = "registry-password-6e5d4c3b2a19"
OLD_CHART = "1.8.0"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    found = FakeRegistry(credentials=(USER, PASSWORD), token_auth=True)
    try:
        yield found
    finally:
        found.stop()
        client = docker_client()
        # Every name under the registry (a name filter "host/*" matches one path level).
        for image in client.images.list():
            for ref in [*image.tags, *(image.attrs.get("RepoDigests") or [])]:
                if ref.startswith(found.host + "/"):
                    with contextlib.suppress(Exception):
                        client.images.remove(ref, noprune=True)


def node_tag(inst: Installer) -> str:  # noqa: F811
    """The node image's tag in this test (kind's config names it; unique to the test)."""
    return f"v1.35.0-{inst.name}"


@pytest.fixture
def node_env(inst: Installer, registry: FakeRegistry) -> Iterator[dict[str, str]]:  # noqa: F811
    """The airbox executable's environment: the node image it pins is one ``registry``
    serves (tests/pinned_node), tagged ``node_tag``; the tag is removed afterwards."""
    try:
        yield inst.env(**registry.node_pin_env(node_tag(inst)))
    finally:
        with contextlib.suppress(Exception):
            docker_client().images.remove(f"kindest/node:{node_tag(inst)}", noprune=True)


def registry_answers(installer: Installer, registry: FakeRegistry, **extra: Any) -> dict[str, Any]:
    return installer.answers(
        images={
            "registry": f"{registry.host}/mirror",
            "insecure": True,
            "pullSecret": {"username": USER, "password": PASSWORD},
        },
        **extra,
    )


def manifests_served(registry: FakeRegistry) -> set[str]:
    """The images whose manifests the registry served (``name:tag``)."""
    return {p.removeprefix("/v2/").replace("/manifests/", ":") for p in registry.pulls}


def test_install_and_upgrade_pull_from_the_registry_with_its_credentials(
    inst: Installer,  # noqa: F811
    registry: FakeRegistry,
    node_env: dict[str, str],
) -> None:
    result = inst.run(
        answers=inst.write(registry_answers(inst, registry, chart={"version": OLD_CHART})),
        env=node_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    launcher = f"mirror/airbyte/workload-launcher:{OLD_CHART}"
    assert launcher in manifests_served(registry)

    # verify's connectors: pulled on the host with the credentials, loaded into the node
    # (the node's containerd has none of its own, and crictl would take them in argv).
    wanted = {
        f"{registry.host}/mirror/{repository}:{tag}"
        for repository, tag in versions.VERIFY_CONNECTORS.items()
    }
    for _ in range(600):  # the pre-pull runs on a thread nothing waits for
        loaded = set(inst.fake.state()["clusters"][inst.cluster]["nodes"][0]["images"])
        if wanted <= loaded:
            break
        node(inst).reload()
    assert wanted <= loaded
    assert not [c for c in nodetools.calls(node(inst)) if c.startswith("crictl pull")]

    # The upgrade's new images: from the registry, with the credentials.
    pin = registry.node_pin_env(node_tag(inst))
    done = airbox(
        inst,
        "upgrade",
        PYTHONPATH=pin["PYTHONPATH"],
        AIRBOX_TEST_NODE_IMAGE=pin["AIRBOX_TEST_NODE_IMAGE"],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    served = manifests_served(registry)
    assert f"mirror/airbyte/workload-launcher:{versions.CHART_VERSION}" in served
    assert f"mirror/airbyte/container-orchestrator:{versions.CHART_VERSION}" in served
    # Every manifest was asked with a token the credentials bought; none without.
    assert all(p.startswith(("/v2/", "/token")) for p in registry.refused)
    assert PASSWORD not in done.stdout + done.stderr


def test_without_credentials_the_node_pulls_the_connectors_from_the_registry(
    inst: Installer,  # noqa: F811
) -> None:
    registry = FakeRegistry()
    try:
        answers = inst.answers(images={"registry": f"{registry.host}/mirror", "insecure": True})
        result = inst.run(
            answers=inst.write(answers), env=inst.env(**registry.node_pin_env(node_tag(inst)))
        )
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        registry.stop()
        with contextlib.suppress(Exception):
            docker_client().images.remove(f"kindest/node:{node_tag(inst)}", noprune=True)
            docker_client().images.remove(
                f"{registry.host}/mirror/kindest/node@{registry.digest}", noprune=True
            )
    wanted = {
        f"crictl pull {registry.host}/mirror/{repository}:{tag}"
        for repository, tag in versions.VERIFY_CONNECTORS.items()
    }
    for _ in range(200):
        if wanted <= set(nodetools.calls(node(inst))):
            break
    assert {c for c in nodetools.calls(node(inst)) if c.startswith("crictl pull")} == wanted


def test_the_node_image_comes_from_the_registry_by_its_pinned_digest(
    inst: Installer,  # noqa: F811
    registry: FakeRegistry,
    node_env: dict[str, str],
) -> None:
    """On a VM whose only registry is the private one (the fakes' offline scenario: kind
    pulls no node image it does not find in Docker, helm reaches no chart repository)."""
    from tests.test_offline_bundle import REAL_CHART

    inst.fake.set_scenario(offline=True)
    answers = inst.write(registry_answers(inst, registry, chart={"source": str(REAL_CHART)}))
    pinned = f"{registry.host}/mirror/kindest/node@{registry.digest}"
    tag = f"kindest/node:{node_tag(inst)}"

    planned = inst.run("--dry-run", answers=answers, env=node_env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"docker pull {pinned}\n" in planned.stdout
    assert f"docker tag {pinned} {tag}\n" in planned.stdout
    assert registry.pulls == []

    result = inst.run(answers=answers, env=node_env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Asked by digest, with the credentials (the token flow: no manifest without them).
    assert f"/v2/mirror/kindest/node/manifests/{registry.digest}" in registry.pulls
    assert PASSWORD not in json.dumps(inst.fake.calls())
    config = yaml.safe_load((inst.state / "kind-config.yaml").read_text())
    assert config["nodes"][0]["image"] == tag
    # What kind found in Docker: the pinned image under that tag.
    assert pinned in docker_client().images.get(tag).attrs["RepoDigests"]
    assert inst.kind_creates() == 1

    # A re-run finds it there: nothing is asked of the registry again.
    asked = len(registry.pulls)
    again = inst.run(answers=answers, env=node_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [p for p in registry.pulls[asked:] if "/kindest/node/" in p]


def test_a_mirror_serving_another_node_image_is_refused_before_the_cluster_is_made(
    inst: Installer,  # noqa: F811
    registry: FakeRegistry,
) -> None:
    # The real pin (this host's): the loopback registry answers its digest with its one
    # image, whose digest is another.
    from tests.test_offline_bundle import REAL_CHART
    from tests.test_offline_install import CGROUP_V1

    inst.fake.set_scenario(offline=True)
    pin = versions.node_image(cgroup_v1=CGROUP_V1)

    answers = inst.write(registry_answers(inst, registry, chart={"source": str(REAL_CHART)}))
    result = inst.run(answers=answers)
    assert result.returncode == 5, result.stdout + result.stderr
    digest = pin.split("@", 1)[1]
    err = " ".join(result.stderr.split())
    assert (
        f"the registry {registry.host} does not serve the image airbox pins for "
        f"{pin.split('@', 1)[0]}: {registry.host}/mirror/kindest/node@"
        f"{digest} is another image there"
    ) in err
    assert "mirror the image by its digest" in err
    assert f"/v2/mirror/kindest/node/manifests/{digest}" in registry.pulls
    assert inst.kind_creates() == 0
