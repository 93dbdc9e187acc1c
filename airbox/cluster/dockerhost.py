"""The Docker Engine, through the docker SDK: reachability, images, the node container.

Connection failures are classified into what the user must do: install Docker,
start it, or get access to its socket. The SDK is imported only when needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airbox.errors import DockerError

CONNECT_TIMEOUT = 5


def socket_candidates() -> list[str]:
    """Where a Docker socket usually is (Linux, Docker Desktop, Colima, Rancher, rootless)."""
    home = Path.home()
    paths = [
        "/var/run/docker.sock",
        f"/run/user/{os.getuid()}/docker.sock",
        str(home / ".docker/run/docker.sock"),
        str(home / ".docker/desktop/docker.sock"),
        str(home / ".colima/default/docker.sock"),
        str(home / ".rd/docker.sock"),
    ]
    return paths


def _diagnose(exc: BaseException, host: str | None) -> DockerError:
    text = " ".join(str(e) for e in _chain(exc))
    where = host or "the default socket (/var/run/docker.sock)"
    if "Permission denied" in text or "PermissionError" in text:
        return DockerError(
            f"permission denied on the Docker socket ({where})",
            hint="add yourself to the docker group: sudo usermod -aG docker $USER, "
                 "then log out and back in (or run: newgrp docker)",
        )
    if "timed out" in text.lower() or "timeout" in text.lower():
        return DockerError(
            f"the Docker daemon at {where} did not answer within {CONNECT_TIMEOUT}s",
            hint="check it with `docker info`; restart it: sudo systemctl restart docker",
        )
    installed = shutil.which("docker") or shutil.which("dockerd")
    local_sockets = [p for p in socket_candidates() if Path(p).exists()]
    if not installed and not local_sockets and not host:
        return DockerError(
            "Docker is not installed",
            hint="install Docker Engine (scripts/install.sh does it on Ubuntu, Debian, "
                 "RHEL and Amazon Linux), then run airbox again",
        )
    return DockerError(
        f"the Docker daemon is not running (nothing answers at {where})",
        hint="start it: sudo systemctl start docker"
             + (" — or fix DOCKER_HOST, which points elsewhere" if host else ""),
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@dataclass(frozen=True)
class ContainerState:
    name: str
    status: str  # running, exited, created, paused, missing
    restart_count: int = 0
    started_at: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"


class DockerHost:
    """A connected Docker client; ``connect`` raises a DockerError with the fix."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def connect(cls, timeout: int = CONNECT_TIMEOUT) -> DockerHost:
        host = os.environ.get("DOCKER_HOST")
        try:
            import docker

            client = docker.from_env(timeout=timeout)
            client.ping()
        except Exception as exc:
            raise _diagnose(exc, host) from None
        return cls(client)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.client.info()
        return info

    def version(self) -> dict[str, Any]:
        version: dict[str, Any] = self.client.version()
        return version

    def has_image(self, ref: str) -> bool:
        import docker.errors

        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        return True

    def pull(self, ref: str, on_progress: Callable[[str], None] | None = None) -> None:
        """Pull ``ref``, reporting layer progress lines; raises DockerError on failure."""
        import docker.errors

        repository, _, tag = ref.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = ref, "latest"
        try:
            for event in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise DockerError(
                        f"pulling {ref} failed: {event['error']}",
                        hint=_pull_hint(str(event["error"])),
                    )
                if on_progress and event.get("status"):
                    progress = event.get("progress") or ""
                    on_progress(f"{ref}: {event['status']} {progress}".strip())
        except docker.errors.APIError as exc:
            raise DockerError(f"pulling {ref} failed: {exc.explanation or exc}",
                              hint=_pull_hint(str(exc))) from None

    def container(self, name: str) -> ContainerState:
        import docker.errors

        try:
            found = self.client.containers.get(name)
        except docker.errors.NotFound:
            return ContainerState(name, "missing")
        attrs = found.attrs
        state = attrs.get("State") or {}
        return ContainerState(
            name,
            str(state.get("Status") or found.status),
            int(attrs.get("RestartCount") or 0),
            str(state.get("StartedAt") or ""),
        )

    def start(self, name: str) -> None:
        self.client.containers.get(name).start()

    def containers_with_label(self, label: str) -> list[str]:
        return [c.name for c in self.client.containers.list(all=True, filters={"label": label})]


def _pull_hint(error: str) -> str:
    lowered = error.lower()
    if "toomanyrequests" in lowered or "rate limit" in lowered:
        return ("Docker Hub's anonymous pull limit was reached: wait, or `docker login` "
                "and run airbox again")
    if "no such host" in lowered or "timeout" in lowered or "connection" in lowered:
        return ("this machine cannot reach the image registry (registry-1.docker.io:443); "
                "check egress, DNS and HTTPS_PROXY")
    return "check the image name and your registry access, then run airbox again"
