"""A private registry that wants credentials, end to end: install, verify's connector
pre-pull and upgrade all pull from it with the pull Secret's credentials.

The registry is ``tests/fake_registry.py`` on 127.0.0.1 (the real Docker daemon pulls
from it over plain HTTP, as it does from any loopback registry), asking for credentials
with the token flow; its port makes every image name unique to the test. kind, helm and
kubectl are the fakes, the nodes real containers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

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
        for image in client.images.list(name=f"{found.host}/*"):
            for tag in image.tags:
                with contextlib.suppress(Exception):
                    client.images.remove(tag, noprune=True)


def registry_answers(installer: Installer, registry: FakeRegistry,
                     **extra: Any) -> dict[str, Any]:
    return installer.answers(images={"registry": f"{registry.host}/mirror", "insecure": True,
                                "pullSecret": {"username": USER, "password": PASSWORD}},
                        **extra)


def manifests_served(registry: FakeRegistry) -> set[str]:
    """The images whose manifests the registry served (``name:tag``)."""
    return {p.removeprefix("/v2/").replace("/manifests/", ":") for p in registry.pulls}


def test_install_and_upgrade_pull_from_the_registry_with_its_credentials(
        inst: Installer, registry: FakeRegistry) -> None:  # noqa: F811
    result = inst.run(answers=inst.write(registry_answers(inst, registry,
                                                          chart={"version": OLD_CHART})))
    assert result.returncode == 0, result.stdout + result.stderr
    launcher = f"mirror/airbyte/workload-launcher:{OLD_CHART}"
    assert launcher in manifests_served(registry)

    # verify's connectors: pulled on the host with the credentials, loaded into the node
    # (the node's containerd has none of its own, and crictl would take them in argv).
    wanted = {f"{registry.host}/mirror/{repository}:{tag}"
              for repository, tag in versions.VERIFY_CONNECTORS.items()}
    for _ in range(600):  # the pre-pull runs on a thread nothing waits for
        loaded = set(inst.fake.state()["clusters"][inst.cluster]["nodes"][0]["images"])
        if wanted <= loaded:
            break
        node(inst).reload()
    assert wanted <= loaded
    assert not [c for c in nodetools.calls(node(inst)) if c.startswith("crictl pull")]

    # The upgrade's new images: from the registry, with the credentials.
    done = airbox(inst, "upgrade")
    assert done.returncode == 0, done.stdout + done.stderr
    served = manifests_served(registry)
    assert f"mirror/airbyte/workload-launcher:{versions.CHART_VERSION}" in served
    assert f"mirror/airbyte/container-orchestrator:{versions.CHART_VERSION}" in served
    # Every manifest was asked with a token the credentials bought; none without.
    assert all(p.startswith(("/v2/", "/token")) for p in registry.refused)
    assert PASSWORD not in done.stdout + done.stderr


def test_without_credentials_the_node_pulls_the_connectors_from_the_registry(
        inst: Installer) -> None:  # noqa: F811
    registry = FakeRegistry()
    try:
        answers = inst.answers(images={"registry": f"{registry.host}/mirror",
                                       "insecure": True})
        result = inst.run(answers=inst.write(answers))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        registry.stop()
    wanted = {f"crictl pull {registry.host}/mirror/{repository}:{tag}"
              for repository, tag in versions.VERIFY_CONNECTORS.items()}
    for _ in range(200):
        if wanted <= set(nodetools.calls(node(inst))):
            break
    assert {c for c in nodetools.calls(node(inst)) if c.startswith("crictl pull")} == wanted
