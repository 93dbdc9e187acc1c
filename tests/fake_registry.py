"""A minimal image registry (Docker Registry HTTP API v2, pull side) on 127.0.0.1.

The Docker Engine trusts registries on loopback addresses over plain HTTP, so the real
daemon can ``docker pull 127.0.0.1:PORT/name:tag`` from it: airbox's pull code runs for
real, without Docker Hub. It serves one tiny image (tests/fakes/images.rootfs_tar) under
any name, and can answer a pull with Docker Hub's rate-limit error instead.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fakes.images import rootfs_tar

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    rate_limited: bool = False
    pulls: list[str] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifest: bytes = b""

    def __post_init__(self) -> None:
        layer_tar = rootfs_tar()
        layer = gzip.compress(layer_tar, mtime=0)
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sleep", "infinity"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
        }).encode()
        self.blobs = {_digest(layer): layer, _digest(config): config}
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": len(config), "digest": _digest(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(layer), "digest": _digest(layer)}],
        }).encode()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/v2/":
                    self._send(200, b"{}", {"Content-Type": "application/json"})
                    return
                if "/manifests/" in path:
                    registry.pulls.append(path)
                    if registry.rate_limited:
                        error = {"errors": [{"code": "TOOMANYREQUESTS", "message":
                                             "You have reached your pull rate limit."}]}
                        self._send(429, json.dumps(error).encode(),
                                   {"Content-Type": "application/json"})
                        return
                    self._send(200, registry.manifest, {
                        "Content-Type": MANIFEST_TYPE,
                        "Docker-Content-Digest": _digest(registry.manifest)})
                    return
                if "/blobs/" in path:
                    blob = registry.blobs.get(path.rsplit("/", 1)[-1])
                    if blob is not None:
                        self._send(200, blob, {"Content-Type": "application/octet-stream",
                                               "Docker-Content-Digest": _digest(blob)})
                        return
                self._send(404, b'{"errors": [{"code": "NOT_FOUND"}]}',
                           {"Content-Type": "application/json"})

        return Handler


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()
    try:
        yield registry
    finally:
        registry.stop()
