"""A loopback HTTP proxy for tests: a real server on 127.0.0.1 that records what it is asked
and forwards it, as a corporate forward proxy (Squid and the like) does.

Plain HTTP comes as an absolute-URI request (``GET http://host:port/path``), HTTPS as
``CONNECT host:port`` followed by the tunnelled bytes. With ``credentials`` it demands
Basic proxy authentication: a request without the right ``Proxy-Authorization`` gets 407
with ``Proxy-Authenticate: Basic``, as Squid answers. ``route`` sends every host to one
loopback address, so a test can name a host the proxy alone resolves (requests that reach
that host prove they went through the proxy).
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the absolute URI, or host:port of a CONNECT
    authorized: bool  # the right Proxy-Authorization came with it


@dataclass
class FakeProxy:
    credentials: tuple[str, str] | None = None
    # Where every request goes (host, port); None: where it says.
    route: tuple[str, int] | None = None
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        auth = "" if user is None else f"{user}@" if password is None else f"{user}:{password}@"
        return f"http://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        return [s.target for s in self.seen]

    def start(self) -> FakeProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _authorized(self) -> bool:
        wanted = self.owner.credentials
        if wanted is None:
            return True
        given = self.headers.get("Proxy-Authorization", "")
        token = base64.b64encode(f"{wanted[0]}:{wanted[1]}".encode()).decode()
        return given == f"Basic {token}"

    def _refuse(self) -> None:
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _where(self, host: str, port: int) -> tuple[str, int]:
        return self.owner.route or (host, port)

    def do_CONNECT(self) -> None:
        ok = self._authorized()
        self.owner.seen.append(Seen("CONNECT", self.path, ok))
        if not ok:
            self._refuse()
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection(self._where(host, int(port)), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        with upstream:
            while True:
                ready, _, _ = select.select(sockets, [], [], 30)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        self.close_connection = True

    def _forward(self) -> None:
        ok = self._authorized()
        self.owner.seen.append(Seen(self.command, self.path, ok))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not ok:
            self._refuse()
            return
        parts = urlsplit(self.path)
        if not parts.scheme:
            self.send_error(400, "a proxy takes absolute URIs")
            return
        host, port = self._where(parts.hostname or "", parts.port or 80)
        import http.client

        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower()
            not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive")
        }
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(self.command, path or "/", body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            conn.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


@pytest.fixture
def fake_proxy() -> Iterator[FakeProxy]:
    proxy = FakeProxy().start()
    try:
        yield proxy
    finally:
        with contextlib.suppress(Exception):
            proxy.stop()
