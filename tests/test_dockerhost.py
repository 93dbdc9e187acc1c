"""airbox's Docker code against the real Docker Engine (skipped where none is reachable)."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airbox.cluster.dockerhost import DockerHost
from airbox.errors import DockerError
from airbox.ops.install import Pulls
from airbox.ui import StepLine, Terminal
from tests.fake_registry import FakeRegistry, fake_registry  # noqa: F401
from tests.fakes.fixture import docker_client
from tests.fakes.images import ensure_image


@pytest.fixture
def docker() -> DockerHost:
    docker_client()  # skips the test when no daemon answers
    return DockerHost.connect()


@pytest.fixture
def image_refs(
    fake_registry: FakeRegistry,  # noqa: F811
    docker: DockerHost,
) -> Iterator[list[str]]:
    refs = [f"{fake_registry.host}/airbox-test/{uuid.uuid4().hex[:8]}:1.8.1" for _ in range(3)]
    yield refs
    for ref in refs:
        with contextlib.suppress(Exception):  # absent already
            docker.client.images.remove(ref, force=True)


def test_pulls_run_in_parallel_and_report(
    docker: DockerHost,
    image_refs: list[str],
    fake_registry: FakeRegistry,  # noqa: F811
) -> None:
    assert not any(docker.has_image(ref) for ref in image_refs)
    line = StepLine(Terminal(interactive=False), "pull")
    pulls = Pulls(docker, image_refs)
    pulls.wait(line)
    assert all(docker.has_image(ref) for ref in image_refs)
    assert len(fake_registry.pulls) >= len(image_refs)


def test_rate_limit_is_explained(
    docker: DockerHost,
    image_refs: list[str],
    fake_registry: FakeRegistry,  # noqa: F811
) -> None:
    fake_registry.rate_limited = True
    pulls = Pulls(docker, image_refs[:1])
    with pytest.raises(DockerError) as info:
        pulls.wait(StepLine(Terminal(interactive=False), "pull"))
    assert (
        "pull rate limit" in info.value.message or "toomanyrequests" in info.value.message.lower()
    )
    assert info.value.hint and "docker login" in info.value.hint


def test_unreachable_registry_is_explained(docker: DockerHost) -> None:
    with pytest.raises(DockerError) as info:
        docker.pull("127.0.0.1:1/airbox-test/nothing:1")
    assert info.value.hint and "cannot reach the image registry" in info.value.hint


def test_container_states(docker: DockerHost) -> None:
    client: Any = docker.client
    image = ensure_image(client)
    name = "airbox-test-" + uuid.uuid4().hex[:8]
    assert docker.container(name).status == "missing"
    container = client.containers.create(
        image, ["sleep", "infinity"], name=name, network_mode="none"
    )
    try:
        assert docker.container(name).status == "created"
        docker.start(name)
        state = docker.container(name)
        assert state.running and state.restart_count == 0
        container.stop(timeout=1)
        assert docker.container(name).status == "exited"
    finally:
        container.remove(force=True)


def test_dead_socket_is_diagnosed_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(DockerError) as info:
        DockerHost.connect()
    assert info.value.exit_code == 3
    assert "not running" in info.value.message
    assert info.value.hint and "systemctl start docker" in info.value.hint


def test_a_daemon_that_never_answers_is_given_up_on_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A socket that accepts and never answers (a hung daemon) would hold connect()
    forever without its timeout: returning at all, with the timeout named, is the proof."""
    import docker as sdk

    given: list[Any] = []
    real_from_env = sdk.from_env

    def spy(**kwargs: Any) -> Any:
        given.append(kwargs.get("timeout"))
        return real_from_env(**kwargs)

    monkeypatch.setattr(sdk, "from_env", spy)
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX) as hung:
        hung.bind(str(path))
        hung.listen(8)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        with pytest.raises(DockerError) as info:
            DockerHost.connect(timeout=1)
    assert given == [1]  # the client (and its ping) were given the timeout
    assert info.value.message == f"the Docker daemon at unix://{path} did not answer within 1s"
    assert info.value.hint and "docker info" in info.value.hint
