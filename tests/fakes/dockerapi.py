"""The Docker Engine API requests a fake tool makes on almost every call, without the SDK.

In Docker mode every fake kind/helm/kubectl call lists its node containers (a cluster
exists exactly as long as its node does). Importing the Docker SDK for that (requests,
urllib3, ...) cost each call more CPU than all its other work; over a Unix socket the
same listing is a few plain HTTP requests. Endpoints: Docker Engine API ``GET
/containers/json`` (``all``, ``filters``), ``GET /containers/{id}/json`` and ``DELETE
/containers/{id}?force=1``, unversioned (the daemon answers with its own version), as
the SDK's ``containers.list(all=True, filters=...)`` and ``Container.remove(force=True)``
send them. Any other ``DOCKER_HOST`` (tcp, ssh) is left to the SDK: ``unix_socket()``
returns None.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"


class DockerAPIError(Exception):
    """The daemon could not be reached or refused a request (the message says which)."""


def unix_socket() -> str | None:
    """The daemon's Unix socket as the SDK's ``from_env`` finds it, or None (not one)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None


def _request(path: str, method: str, url: str, timeout: float = 60) -> Any:
    """One request as HTTP/1.0: the daemon answers without chunking and closes the
    connection, so the answer is everything read (http.client's import cost more than
    the request)."""
    request = f"{method} {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode()
    chunks = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(request)
            while data := sock.recv(65536):
                chunks.append(data)
    except OSError as exc:
        raise DockerAPIError(f"Error while fetching server API version: {exc}") from None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise DockerAPIError(f"no HTTP answer from {path} to {method} {url}") from None
    if status >= 400:
        try:
            message = json.loads(body).get("message", "")
        except ValueError:
            message = body.decode(errors="replace")
        raise DockerAPIError(f"{status} Server Error for {method} {url}: {message}")
    return json.loads(body) if body.strip() else None


class Container:
    """A container as the fakes read it: the inspect document, like the SDK's ``attrs``."""

    def __init__(self, path: str, attrs: dict[str, Any]) -> None:
        self._path = path
        self.attrs = attrs
        self.id: str = attrs["Id"]
        self.name: str = attrs.get("Name", "").lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.attrs.get("Config") or {}).get("Labels") or {})

    @property
    def status(self) -> str:
        state = self.attrs.get("State")
        return str(state.get("Status", "")) if isinstance(state, dict) else str(state)

    def remove(self, force: bool = False) -> None:
        _request(self._path, "DELETE", f"/containers/{self.id}?force={int(force)}")


def list_containers(path: str, labels: list[str]) -> list[Container]:
    """Every container (running or not) carrying all of ``labels`` (``key`` or
    ``key=value``), inspected, as ``containers.list(all=True, filters={"label": ...})``."""
    query = urllib.parse.urlencode({"all": "1", "filters": json.dumps({"label": labels})})
    found = _request(path, "GET", f"/containers/json?{query}") or []
    return [
        Container(path, _request(path, "GET", f"/containers/{item['Id']}/json")) for item in found
    ]
