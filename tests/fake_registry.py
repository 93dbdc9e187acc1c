"""A minimal image registry (Docker Registry HTTP API v2, pull side) on 127.0.0.1.

The Docker Engine trusts registries on loopback addresses over plain HTTP, so the real
daemon can ``docker pull 127.0.0.1:PORT/name:tag`` from it: airbox's pull code runs for
real, without Docker Hub. It serves one tiny image (tests/fakes/images.rootfs_tar) under
any name, and can answer a pull with Docker Hub's rate-limit error instead. For
benchmarks it can carry a big layer (``extra_layer`` bytes of noise, as incompressible as
a real connector's layers) and send blobs at ``rate`` bytes per second per download (a
slow line to the registry).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.images import rootfs_tar

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    rate_limited: bool = False
    extra_layer: int = 0
    rate: float = 0.0
    # (user, password): every request must carry them (HTTP Basic, as a registry asks
    # with 401 and WWW-Authenticate); refused requests are counted in ``refused``.
    credentials: tuple[str, str] | None = None
    # With ``credentials``: the token flow of Docker Hub, Harbor, GitLab and ECR instead
    # (distribution's docs/spec/auth/token.md): a 401 names a Bearer realm, ``/token``
    # gives a token for the credentials as Basic auth (and says no to wrong ones), the
    # token opens /v2/.
    token_auth: bool = False
    # Answer every request 403 (a registry that is there, and refuses everything: a
    # closed network's stand-in); each is still recorded in ``requests``.
    refuse_all: bool = False
    refused: list[str] = field(default_factory=list)
    # Every request's method and path, in order.
    requests: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    pulls: list[str] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifest: bytes = b""

    def __post_init__(self) -> None:
        tars = [rootfs_tar()]
        if self.extra_layer:
            tars.append(_noise_tar(self.extra_layer))
        layers = [gzip.compress(t, mtime=0, compresslevel=1) for t in tars]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["sleep", "infinity"]},
                "rootfs": {"type": "layers", "diff_ids": [_digest(t) for t in tars]},
            }
        ).encode()
        self.blobs = {_digest(config): config, **{_digest(b): b for b in layers}}
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config),
                    "digest": _digest(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(b),
                        "digest": _digest(b),
                    }
                    for b in layers
                ],
            }
        ).encode()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def digest(self) -> str:
        """The digest of the one manifest it serves (what a pull by digest must name)."""
        return _digest(self.manifest)

    def node_pin_env(self, tag: str) -> dict[str, str]:
        """The environment in which the airbox executable pins the node image
        ``kindest/node:<tag>@<the digest this registry serves>`` (tests/pinned_node)."""
        site = Path(__file__).with_name("pinned_node")
        path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
        return {"PYTHONPATH": path, "AIRBOX_TEST_NODE_IMAGE": f"kindest/node:{tag}@{self.digest}"}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], throttle: bool = False
            ) -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                if not (throttle and registry.rate):
                    self.wfile.write(body)
                    return
                chunk = 64 * 1024
                started = time.monotonic()
                for sent in range(0, len(body), chunk):
                    self.wfile.write(body[sent : sent + chunk])
                    # Hold the line's rate: never ahead of sent / rate seconds.
                    ahead = (sent + chunk) / registry.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)

            def do_HEAD(self) -> None:
                self.do_GET()

            def _basic_ok(self) -> bool:
                import base64

                assert registry.credentials is not None
                expected = base64.b64encode(":".join(registry.credentials).encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _authorized(self) -> bool:
                if registry.credentials is None:
                    return True
                if registry.token_auth:
                    given = self.headers.get("Authorization", "")
                    return given.startswith("Bearer ") and given[7:] in registry.tokens
                return self._basic_ok()

            def _token(self) -> None:
                import secrets

                if not self._basic_ok():
                    registry.refused.append(self.path)
                    self._send(
                        401,
                        b'{"details": "incorrect username or password"}',
                        {"Content-Type": "application/json"},
                    )
                    return
                token = secrets.token_hex(16)
                registry.tokens.add(token)
                self._send(
                    200,
                    json.dumps({"token": token, "expires_in": 300}).encode(),
                    {"Content-Type": "application/json"},
                )

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                registry.requests.append(f"{self.command} {self.path}")
                if registry.refuse_all:
                    self._send(
                        403,
                        b'{"errors": [{"code": "DENIED", "message": "no route to this registry"}]}',
                        {"Content-Type": "application/json"},
                    )
                    return
                if path == "/token" and registry.token_auth:
                    self._token()
                    return
                if not self._authorized():
                    registry.refused.append(path)
                    challenge = (
                        f'Bearer realm="http://{registry.host}/token",service="fake-registry"'
                        if registry.token_auth
                        else 'Basic realm="fake-registry"'
                    )
                    self._send(
                        401,
                        b'{"errors": [{"code": "UNAUTHORIZED"}]}',
                        {"Content-Type": "application/json", "WWW-Authenticate": challenge},
                    )
                    return
                if path == "/v2/":
                    self._send(200, b"{}", {"Content-Type": "application/json"})
                    return
                if "/manifests/" in path:
                    registry.pulls.append(path)
                    if registry.rate_limited:
                        error = {
                            "errors": [
                                {
                                    "code": "TOOMANYREQUESTS",
                                    "message": "You have reached your pull rate limit.",
                                }
                            ]
                        }
                        self._send(
                            429, json.dumps(error).encode(), {"Content-Type": "application/json"}
                        )
                        return
                    self._send(
                        200,
                        registry.manifest,
                        {
                            "Content-Type": MANIFEST_TYPE,
                            "Docker-Content-Digest": _digest(registry.manifest),
                        },
                    )
                    return
                if "/blobs/" in path:
                    blob = registry.blobs.get(path.rsplit("/", 1)[-1])
                    if blob is not None:
                        self._send(
                            200,
                            blob,
                            {
                                "Content-Type": "application/octet-stream",
                                "Docker-Content-Digest": _digest(blob),
                            },
                            throttle=True,
                        )
                        return
                self._send(
                    404,
                    b'{"errors": [{"code": "NOT_FOUND"}]}',
                    {"Content-Type": "application/json"},
                )

        return Handler


def _noise_tar(size: int) -> bytes:
    """A layer holding one file of ``size`` random bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("opt/connector/blob")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return out.getvalue()


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()
    try:
        yield registry
    finally:
        registry.stop()
