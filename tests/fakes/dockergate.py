"""A Unix socket in front of the Docker daemon that holds one chosen request until released.

airbox talks to Docker through the Docker SDK (start, ``update --restart``, restart,
exec); a test points ``DOCKER_HOST`` here to stop airbox while such a call is in flight —
the event a real user hits when SIGTERM arrives during ``docker restart`` — and then
decides what Docker does with the request: ``release(forward=True)`` passes it on after
airbox is gone (Docker completes a request whoever waits for the answer), ``False``
drops it (it never reached the daemon). Every other byte is passed through unchanged, in
both directions, so the SDK's streams (exec, attach) work as usual; ``requests`` lists
every request line that came through (what a test asserts was, or was not, asked).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import threading
from pathlib import Path

_REQUEST_LINE = re.compile(rb"(?m)^(GET|POST|PUT|DELETE|HEAD) (?:/v[0-9.]+)?(/\S*) HTTP/1\.[01]\r$")


def _upstream() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else "/var/run/docker.sock"


class DockerGate:
    def __init__(self) -> None:
        # A short directory: a Unix socket path is limited to about 100 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix="dgate-"))
        self.path = self._dir / "docker.sock"
        self.upstream = _upstream()
        self._pattern: re.Pattern[bytes] | None = None
        self.held = threading.Event()
        # Docker's answer to the held request came back (after release(forward=True)).
        self.answered = threading.Event()
        self._held_upstream: socket.socket | None = None
        self._released = threading.Event()
        self._forward = True
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(64)
        self._closed = False
        # Every request line that came through: "METHOD /path?query" (API version cut).
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` value for a client to come through this gate."""
        return f"unix://{self.path}"

    def hold(self, method: str, path: str) -> None:
        """Hold the next request ``METHOD /v1.xx<path>`` (``path``: a regex)."""
        self.held.clear()
        self.answered.clear()
        self._released.clear()
        self._pattern = re.compile(rb"(?m)^" + method.encode() + rb" /v[0-9.]+" + path.encode())

    def wait_held(self, timeout: float) -> bool:
        return self.held.wait(timeout)

    def release(self, *, forward: bool) -> None:
        self._forward = forward
        self._pattern = None
        self._released.set()

    def close(self) -> None:
        self._closed = True
        self.release(forward=True)
        with contextlib.suppress(OSError):
            self._server.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
            self._dir.rmdir()

    # ------------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not requests and src is self._held_upstream:
                    self.answered.set()
                if requests:
                    self.requests.extend(
                        f"{m.group(1).decode()} {m.group(2).decode(errors='replace')}"
                        for m in _REQUEST_LINE.finditer(data)
                    )
                pattern = self._pattern
                if requests and pattern is not None and pattern.search(data):
                    self._pattern = None
                    self._held_upstream = dst
                    self.held.set()
                    self._released.wait()
                    if not self._forward:
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if requests and dst is self._held_upstream and self._forward:
                # The held request went on after its client was stopped: let Docker answer
                # it (as it would a request that arrived whole) before hanging up.
                self.answered.wait(60)
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if not requests:
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.close()
