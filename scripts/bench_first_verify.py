#!/usr/bin/env python3
"""How long does the first `airbox verify` after an install take, with and without the
pre-pull of verify's connectors (faker, dev-null) that install starts in the node?

Each run is a fresh `airbox install` that registers with the fake control plane (tests/
fake_control_plane.py) on the tests' fake kind/helm/kubectl and a real (tiny) node
container, then at once `airbox verify`; only verify is timed. The node's image pulls
are played by this script against a throttled registry on 127.0.0.1 (tests/
fake_registry.py: a layer of ``--size-mb`` MiB of noise sent at ``--rate-mbps`` MiB/s
per download): an image the node pulls takes as long as downloading it from there.

- The pre-pull: install's `crictl pull` calls in the node (docker exec -d) start such a
  download at once ("with"), or are not served at all ("without": the node never gets
  the images before verify, as without the pre-pull).
- verify's waits, as on the platform: the control plane's discover (POST /connections)
  needs the source's image in the node; the sync's pods need the destination's. A pull
  already under way is waited for, not started again (containerd shares it).

    python scripts/bench_first_verify.py [-n 3] [--size-mb 16] [--rate-mbps 2]

The time saved is bounded by how long the rest of the install runs after the pre-pull
starts (seconds with these fakes, minutes on a real node, where helm waits for the
launcher): the "with" runs here are the pessimistic case.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from airbox import versions  # noqa: E402
from tests import answers_factory as af  # noqa: E402
from tests.fake_control_plane import FakeControlPlane  # noqa: E402
from tests.fake_registry import FakeRegistry  # noqa: E402
from tests.fakes import nodetools  # noqa: E402
from tests.fakes.fixture import make_fake_k8s  # noqa: E402
from tests.fakes.images import ensure_image, tag_images  # noqa: E402

FAKER, DEV_NULL = "airbyte/source-faker", "airbyte/destination-dev-null"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class NodePuller:
    """The node's image pulls, from the throttled registry: started by install's
    `crictl pull` calls (when ``serve_prepull``) or by what verify's pods need."""

    def __init__(self, container: Any, registry: FakeRegistry, *, serve_prepull: bool) -> None:
        self.container = container
        self.registry = registry
        self.serve_prepull = serve_prepull
        self.lock = threading.Lock()
        self.pulls: dict[str, threading.Event] = {}
        self.stopping = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        seen = 0
        while not self.stopping.wait(0.1):
            calls = nodetools.calls(self.container)
            for call in calls[seen:]:
                if call.startswith("crictl pull ") and self.serve_prepull:
                    self.start(call.split()[-1].removeprefix("docker.io/"))
            seen = len(calls)

    def start(self, ref: str) -> threading.Event:
        with self.lock:
            if ref not in self.pulls:
                self.pulls[ref] = threading.Event()
                threading.Thread(target=self._pull, args=(ref,), daemon=True).start()
            return self.pulls[ref]

    def ensure(self, repository: str) -> None:
        """Wait until the node has ``repository`` (any tag), pulling it if nobody is."""
        with self.lock:
            known = [ref for ref in self.pulls if ref.startswith(repository + ":")]
        ref = known[0] if known else f"{repository}:{versions.VERIFY_CONNECTORS[repository]}"
        self.start(ref).wait()

    def _pull(self, ref: str) -> None:
        name, tag = ref.rsplit(":", 1)
        base = f"http://{self.registry.host}/v2/{name}"
        with httpx.Client(timeout=600) as http:
            manifest = http.get(f"{base}/manifests/{tag}").json()
            for blob in [manifest["config"], *manifest["layers"]]:
                http.get(f"{base}/blobs/{blob['digest']}").raise_for_status()
        size = sum(layer["size"] for layer in manifest["layers"])
        nodetools.seed(self.container, images_=[nodetools.image_entry(ref, size)])
        self.pulls[ref].set()


def one_run(
    airbox: str, node_image: str, endpoint: str, registry: FakeRegistry, *, prepull: bool
) -> tuple[float, float, str]:
    """(install seconds, verify seconds, verify's output) of one fresh install + verify."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        base = Path(tmp)
        fake = make_fake_k8s(base)
        fake.use_docker(node_image)
        cleanup.callback(fake.cleanup)
        cp = FakeControlPlane().start()
        cleanup.callback(cp.stop)
        workspace = cp.add_workspace("analytics")
        name = f"bench{uuid.uuid4().hex[:6]}"
        data = af.answers("aws-keys", "s3-keys", directory=base, name=name)
        del data["dataPlane"]
        data["controlPlane"] = {"url": cp.url, "apiUrl": cp.api_url}
        data["registration"] = {"region": "eu-private"}
        data["workspaces"] = ["analytics"]
        answers = af.write_answers(base / "answers.yaml", data)
        env = fake.full_env(
            {
                "AIRBOX_HOME": str(base / "home"),
                "AIRBOX_PREFLIGHT_HELM_REPO_URL": endpoint + "/index.yaml",
                "AIRBOX_PREFLIGHT_REGISTRY_URL": endpoint + "/v2/",
                "NO_PROXY": "127.0.0.1,localhost",
                "AIRBYTE_CLIENT_ID": cp.client_id,
                "AIRBYTE_CLIENT_SECRET": cp.client_secret,
            }
        )
        cluster = "airbox-" + name
        puller: list[NodePuller] = []

        def on_job(job: dict[str, Any], status: str) -> None:
            phase = {"running": "Running", "succeeded": "Succeeded"}.get(status)
            if phase and job["workspaceId"] == workspace["workspaceId"]:
                fake.job_pod(cluster, "airbyte", job, phase)

        cp.job_listeners.append(on_job)
        cp.on_discover = lambda: puller[0].ensure(FAKER)
        # The sync's pods start once the node has the destination's image.
        cp.on("GET", "/v1/jobs/*", lambda _: puller[0].ensure(DEV_NULL))

        import docker

        client = docker.from_env()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [airbox, "install", "--answers", str(answers), "--yes", "--ignore-preflight-failures"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # The node exists once kind has made it: from then on its pulls are served.
        while not puller:
            with contextlib.suppress(docker.errors.NotFound):
                container = client.containers.get(f"{cluster}-control-plane")
                puller.append(NodePuller(container, registry, serve_prepull=prepull))
                cleanup.callback(puller[0].stopping.set)
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        _, err = proc.communicate(timeout=300)
        install_seconds = time.perf_counter() - started
        if proc.returncode != 0 or not puller:
            raise SystemExit(f"install failed ({proc.returncode}):\n{err}")
        started = time.perf_counter()
        result = subprocess.run(
            [airbox, "verify", "--name", name], capture_output=True, text=True, env=env, timeout=600
        )
        verify_seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"verify failed ({result.returncode}):\n{result.stderr}")
        return install_seconds, verify_seconds, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--size-mb", type=float, default=16.0)
    parser.add_argument("--rate-mbps", type=float, default=2.0)
    args = parser.parse_args()

    import docker

    client = docker.from_env()
    node = nodetools.ensure_tools_image(client, slow_registry=True)
    tag_images(client, ensure_image(client), versions.data_plane_images(versions.CHART_VERSION))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    registry = FakeRegistry(extra_layer=int(args.size_mb * 2**20), rate=args.rate_mbps * 2**20)
    airbox = str(Path(sys.executable).with_name("airbox"))
    pull = args.size_mb / args.rate_mbps
    print(
        f"each connector image: {args.size_mb:g} MiB at {args.rate_mbps:g} MiB/s "
        f"(about {pull:.0f} s to pull)"
    )
    results: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    try:
        for run in range(args.runs):
            for mode in ("without", "with"):
                install_s, verify_s, _ = one_run(
                    airbox, node, endpoint, registry, prepull=mode == "with"
                )
                results[mode].append((install_s, verify_s))
                print(
                    f"run {run + 1} {mode:>7} pre-pull: install {install_s:5.1f} s, "
                    f"first verify {verify_s:5.1f} s"
                )
    finally:
        registry.stop()
        server.shutdown()
    medians = {mode: statistics.median(v for _, v in rows) for mode, rows in results.items()}
    for mode, rows in results.items():
        print(
            f"{mode:>7} pre-pull: first verify median {medians[mode]:.1f} s (min "
            f"{min(v for _, v in rows):.1f}, max {max(v for _, v in rows):.1f}); install "
            f"median {statistics.median(i for i, _ in rows):.1f} s"
        )
    print(
        f"saved by the pre-pull: {medians['without'] - medians['with']:.1f} s of the first verify"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
