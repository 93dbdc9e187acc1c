"""The Docker Engine, through the docker SDK: reachability, images, the node container.

Connection failures are classified into what the user must do: install Docker,
start it, or get access to its socket. The SDK is imported only when needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airbox.errors import DockerError

CONNECT_TIMEOUT = 5
# Seconds a save or load may go without a byte: the daemon exports or imports a whole
# image (a kind node image is about a gigabyte) before it answers.
LONG_TIMEOUT = 900
# The restart policy airbox gives the kind node: back after a reboot or a Docker restart,
# yet a deliberate `docker stop` is respected. kind itself uses on-failure:1, which leaves
# the node down after a reboot.
NODE_RESTART_POLICY = "unless-stopped"


def host_uses_cgroup_v1() -> bool:
    """This host's cgroup version, read locally (a dry run contacts no Docker)."""
    return not Path("/sys/fs/cgroup/cgroup.controllers").exists()


COMES_BACK = ("unless-stopped", "always")
# The label kind gives every node container of a cluster (its value: the cluster's name).
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


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


def _diagnose(
    exc: BaseException, host: str | None, timeout: float = CONNECT_TIMEOUT
) -> DockerError:
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
            f"the Docker daemon at {where} did not answer within {timeout:g}s",
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
    # Docker's restart policy (HostConfig.RestartPolicy.Name): "no", "on-failure", ...
    restart_policy: str = ""

    @property
    def comes_back(self) -> bool:
        """Whether Docker starts it again after a reboot or a daemon restart."""
        return self.restart_policy in COMES_BACK

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class ExecResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_words(self) -> str:
        """The command's last line of output, for a one-line finding."""
        lines = [
            line.strip() for line in (self.stderr + "\n" + self.stdout).splitlines() if line.strip()
        ]
        return lines[-1] if lines else f"exit code {self.returncode}"


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
            raise _diagnose(exc, host, timeout) from None
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

    def pull(
        self,
        ref: str,
        on_progress: Callable[[str], None] | None = None,
        auth: Mapping[str, str] | None = None,
    ) -> None:
        """Pull ``ref``, reporting layer progress lines; raises DockerError on failure.

        ``auth``: the registry's username and password, handed to the daemon in the API
        request (never on a command line, never in Docker's config file)."""
        import docker.errors

        if "@" in ref:
            # By digest: the daemon takes the digest where a tag would go.
            name, _, tag = ref.partition("@")
            repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        else:
            repository, _, tag = ref.rpartition(":")
            if not repository or "/" in tag:
                repository, tag = ref, "latest"
        try:
            for event in self.client.api.pull(
                repository,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=dict(auth) if auth else None,
            ):
                if "error" in event:
                    raise DockerError(
                        f"pulling {ref} failed: {event['error']}",
                        hint=_pull_hint(str(event["error"])),
                    )
                if on_progress and event.get("status"):
                    progress = event.get("progress") or ""
                    on_progress(f"{ref}: {event['status']} {progress}".strip())
        except docker.errors.APIError as exc:
            raise DockerError(
                f"pulling {ref} failed: {exc.explanation or exc}", hint=_pull_hint(str(exc))
            ) from None

    def image_id(self, ref: str) -> str | None:
        """The ID of the image ``ref`` names (``sha256:...``); None when there is none."""
        import docker.errors

        try:
            return str(self.client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None

    def repo_digests(self, ref: str) -> list[str]:
        """The ``repository@sha256:...`` names the daemon recorded for the image ``ref``
        names (one per registry it was pulled from); empty when there is no such image."""
        import docker.errors

        try:
            found = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return []
        return [str(d) for d in found.attrs.get("RepoDigests") or []]

    def image_size(self, ref: str) -> int:
        """The image's size in bytes (about its ``docker save`` size)."""
        return int(self.client.images.get(ref).attrs.get("Size") or 0)

    @contextmanager
    def _patient(self) -> Iterator[None]:
        # `docker save` exports the whole image before its first byte, and `docker load`
        # answers once every layer is in: minutes for a big image, not CONNECT_TIMEOUT.
        api = self.client.api
        before = api.timeout
        api.timeout = LONG_TIMEOUT
        try:
            yield
        finally:
            api.timeout = before

    def save(self, ref: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """``docker save ref`` as a stream of chunks (never whole in memory)."""
        import docker.errors

        with self._patient():
            try:
                yield from self.client.api.get_image(ref, chunk_size=chunk_size)
            except docker.errors.APIError as exc:
                raise DockerError(f"docker save {ref} failed: {exc.explanation or exc}") from None

    def load(self, chunks: Iterable[bytes]) -> list[str]:
        """``docker load`` from a stream of chunks; the names the daemon loaded."""
        import docker.errors

        loaded: list[str] = []
        with self._patient():
            try:
                for event in self.client.api.load_image(chunks):
                    if "error" in event:
                        raise DockerError(f"docker load failed: {event['error']}")
                    text = str(event.get("stream") or "")
                    for prefix in ("Loaded image: ", "Loaded image ID: "):
                        if text.startswith(prefix):
                            loaded.append(text[len(prefix) :].strip())
            except docker.errors.APIError as exc:
                raise DockerError(f"docker load failed: {exc.explanation or exc}") from None
        return loaded

    def tag(self, source: str, target: str) -> None:
        """Give the image ``source`` (e.g. a digest reference) the name ``target``."""
        repository, _, tag = target.rpartition(":")
        self.client.images.get(source).tag(repository, tag)

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
            str(((attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"),
        )

    def start(self, name: str) -> None:
        self.client.containers.get(name).start()

    def restart(self, name: str, timeout: int = 30) -> None:
        self.client.containers.get(name).restart(timeout=timeout)

    def set_restart_policy(self, name: str, policy: str = NODE_RESTART_POLICY) -> bool:
        """Give container ``name`` this restart policy; False when it already had it."""
        container = self.client.containers.get(name)
        current = (container.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}
        if current.get("Name") == policy:
            return False
        container.update(restart_policy={"Name": policy, "MaximumRetryCount": 0})
        return True

    def exec(self, name: str, argv: list[str]) -> ExecResult:
        """Run ``argv`` inside the running container ``name`` (``docker exec``)."""
        import docker.errors

        try:
            container = self.client.containers.get(name)
            code, (out, err) = container.exec_run(argv, demux=True)
        except docker.errors.NotFound:
            raise DockerError(f"the container {name} does not exist") from None
        except docker.errors.APIError as exc:
            raise DockerError(
                f"docker exec {name} {' '.join(argv)} failed: {exc.explanation or exc}"
            ) from None
        return ExecResult(
            argv,
            int(code if code is not None else -1),
            (out or b"").decode(errors="replace"),
            (err or b"").decode(errors="replace"),
        )

    def exec_detached(self, name: str, argv: list[str]) -> None:
        """Start ``argv`` inside the running container ``name`` and return at once
        (``docker exec -d``): it goes on after airbox exits."""
        import docker.errors

        try:
            self.client.containers.get(name).exec_run(argv, detach=True)
        except docker.errors.NotFound:
            raise DockerError(f"the container {name} does not exist") from None
        except docker.errors.APIError as exc:
            raise DockerError(
                f"docker exec -d {name} {' '.join(argv)} failed: {exc.explanation or exc}"
            ) from None

    def data_root(self) -> str:
        return str(self.info().get("DockerRootDir") or "")

    def data_root_disk(self) -> tuple[str, int, int] | None:
        """(path, total, used bytes) of the filesystem of Docker's data root, when the
        daemon runs on this machine; None for a remote daemon or a VM (Docker Desktop)."""
        host = os.environ.get("DOCKER_HOST", "")
        if host and not host.startswith("unix://"):
            return None
        root = self.data_root()
        if not root or not Path(root).is_absolute():
            return None
        try:
            usage = shutil.disk_usage(root)
        except OSError:
            return None
        # The daemon's path may not exist here (Docker Desktop's VM): then it is not ours.
        return root, usage.total, usage.used

    def containers_with_label(self, label: str) -> list[str]:
        return [c.name for c in self.client.containers.list(all=True, filters={"label": label})]

    def kind_nodes(self, cluster: str) -> list[str]:
        """The node containers of kind cluster ``cluster`` (running or not), found as kind
        finds them: by its label ``io.x-k8s.kind.cluster=<cluster>``."""
        return sorted(self.containers_with_label(f"{KIND_CLUSTER_LABEL}={cluster}"))

    def remove_kind_nodes(self, cluster: str) -> list[str]:
        """Remove kind cluster ``cluster``'s node containers and their anonymous volumes
        (what ``kind delete cluster`` does, without kind); the names removed."""
        import docker.errors

        removed = []
        for found in self.client.containers.list(
            all=True, filters={"label": f"{KIND_CLUSTER_LABEL}={cluster}"}
        ):
            # The label is checked again: a filter the daemon ignored must not widen this.
            if (found.labels or {}).get(KIND_CLUSTER_LABEL) != cluster:
                continue
            try:
                found.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                raise DockerError(
                    f"removing the container {found.name} failed: {exc.explanation or exc}"
                ) from None
            removed.append(found.name)
        return removed


def _pull_hint(error: str) -> str:
    lowered = error.lower()
    if "toomanyrequests" in lowered or "rate limit" in lowered:
        return (
            "Docker Hub's anonymous pull limit was reached: wait, or `docker login` "
            "and run airbox again"
        )
    if "no such host" in lowered or "timeout" in lowered or "connection" in lowered:
        return (
            "this machine cannot reach the image registry (registry-1.docker.io:443); "
            "check egress, DNS and HTTPS_PROXY"
        )
    return "check the image name and your registry access, then run airbox again"
