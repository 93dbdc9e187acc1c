"""Running the real `airbox install` against fake kind/helm/kubectl and the real Docker.

The node containers are real (``--network none``), the Airbyte images are tiny local
images tagged with the real names (no registry is contacted), the control plane and
the preflight's network targets are an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airbox import versions
from tests import answers_factory as af
from tests.fakes.fixture import FakeK8s, docker_client
from tests.fakes.images import ensure_image, tag_images
from tests.helpers import airbox_bin, default_signals

if TYPE_CHECKING:
    from tests.fake_control_plane import FakeControlPlane


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # a reachable host; the Date header is sent by default
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_ok() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 standing in for every host preflight contacts."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_endpoint() -> Iterator[str]:
    with serve_ok() as url:
        yield url


@dataclass
class Installer:
    fake: FakeK8s
    endpoint: str
    tmp: Path
    home: Path
    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:8])

    def answers(self, **overrides: Any) -> dict[str, Any]:
        data = af.answers("aws-keys", "s3-keys", directory=self.tmp, name=self.name)
        data["controlPlane"] = {"url": self.endpoint, "apiUrl": self.endpoint + "/v1"}
        data.update(overrides)
        return data

    def write(self, data: dict[str, Any] | None = None) -> Path:
        return af.write_answers(self.tmp / "answers.yaml", data or self.answers())

    def env(self, **extra: str) -> dict[str, str]:
        env = self.fake.full_env(
            {
                "AIRBOX_HOME": str(self.home),
                "AIRBOX_PREFLIGHT_HELM_REPO_URL": self.endpoint + "/index.yaml",
                "AIRBOX_PREFLIGHT_REGISTRY_URL": self.endpoint + "/v2/",
                "NO_PROXY": "127.0.0.1,localhost",
                **extra,
            }
        )
        for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            env.pop(var, None)
        return env

    def start(
        self, *args: str, answers: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """`airbox install`, in its own session so a fake's Ctrl-C reaches only it."""
        argv = [airbox_bin(), "install", "--yes", "--ignore-preflight-failures", *args]
        if answers is not None:
            argv += ["--answers", str(answers)]
        # A shell that started the tests in the background (nohup, &) may have left
        # SIGINT/SIGHUP ignored, which the child would inherit and then never see the
        # simulated Ctrl-C or hang-up.
        return subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env(),
            start_new_session=True,
            preexec_fn=default_signals,
        )

    def run(
        self,
        *args: str,
        answers: Path | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = self.start(*args, answers=answers, env=env)
        argv = proc.args if isinstance(proc.args, list) else [str(proc.args)]
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    @property
    def cluster(self) -> str:
        return "airbox-" + self.name

    @property
    def state(self) -> Path:
        return self.home / self.name

    def kind_creates(self) -> int:
        return sum(1 for call in self.fake.calls("kind") if call[1:3] == ["create", "cluster"])

    def revisions(self) -> list[dict[str, Any]]:
        releases = self.fake.releases(self.cluster)
        return releases.get(f"airbyte/{self.name}", [])


@pytest.fixture
def installer(fake_k8s: FakeK8s, local_endpoint: str, tmp_path: Path) -> Installer:
    fake_k8s.use_docker(local_images())
    return Installer(fake_k8s, local_endpoint, tmp_path, tmp_path / "airbox-home")


def local_images() -> str:
    """The node image, with the data plane's images tagged on it locally; its ID."""
    client = docker_client()
    node = ensure_image(client)
    # The local object store's image too (the tests' answers mostly leave storage out).
    tag_images(
        client, node, [*versions.data_plane_images(versions.CHART_VERSION), versions.MINIO_IMAGE]
    )
    return node


def registering(inst: Installer, cp: FakeControlPlane, **extra: Any) -> dict[str, Any]:
    """Answers that make airbox register itself with ``cp`` (region eu-private)."""
    data = inst.answers()
    del data["dataPlane"]
    data["controlPlane"] = {"url": cp.url, "apiUrl": cp.api_url}
    data["registration"] = {"region": "eu-private"}
    data.update(extra)
    return data


def cp_env(inst: Installer, cp: FakeControlPlane) -> dict[str, str]:
    """The environment of a run that registers with ``cp``: its application credentials."""
    return inst.env(
        AIRBYTE_CLIENT_ID=cp.client_id,
        AIRBYTE_CLIENT_SECRET=cp.client_secret,
        NO_PROXY="127.0.0.1,localhost",
    )
