#!/usr/bin/env python3
"""How long does `airbox install --bundle` take, and is its memory flat in the bundle's size?

Builds a bundle at two sizes (the launcher's image one layer of random, incompressible
bytes; the node image, the other data plane images and two connectors tiny), with the
test suite's fake kind/helm/kubectl (offline: kind needs its node image locally, helm no
repository) and a real node container, then runs `airbox install --bundle` on a Docker
that holds none of the bundle's images: the bundle is verified (one pass), unpacked (a
second pass, each image streamed into `docker load`), the images loaded into the node.
Prints the wall time and the peak resident memory of the airbox process (its VmHWM, read
while it runs).

Target: the larger bundle's peak no more than 16 MB above the smaller's (memory flat in
the bundle's size); times are reported, not judged (a shared machine's disk decides).

    python scripts/bench_install_bundle.py [--small-mb 100] [--large-mb 400]
"""

from __future__ import annotations

import argparse
import contextlib
import os
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
sys.path.insert(0, str(REPO / "scripts"))

from benchlib import fake_install  # noqa: E402

from airbox import versions  # noqa: E402
from tests import answers_factory as af  # noqa: E402

CGROUP_V1 = not Path("/sys/fs/cgroup/cgroup.controllers").exists()


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _remove(client: Any, ref: str) -> None:
    with contextlib.suppress(Exception):
        client.images.remove(ref, force=True)


def one(size_mb: int, endpoint: str, airbox: str) -> tuple[float, float, int]:
    """(seconds, peak MB, bundle bytes) of one install from a bundle of about size_mb."""
    import docker

    from airbox.cluster.dockerhost import DockerHost
    from airbox.offline import archive
    from airbox.offline.manifest import local_name
    from tests.fakes.images import ensure_image
    from tests.test_offline_bundle import REAL_CHART, build_image

    client = docker.from_env()
    node = ensure_image(client)
    unique = "b" + uuid.uuid4().hex[:8]
    refs = [("node-image", local_name(versions.node_image(cgroup_v1=CGROUP_V1)))]
    refs += [
        ("image", f"airbyte/{name}:{unique}")
        for name in (
            "workload-launcher",
            "workload-init-container",
            "connector-sidecar",
            "container-orchestrator",
        )
    ]
    refs += [
        ("connector", f"airbyte/{name}:{unique}")
        for name in ("source-faker", "destination-dev-null")
    ]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        base = Path(tmp)
        data = af.answers("aws-keys", "s3-keys", directory=base, name=f"bench{unique}")
        data["values"] = {"image": {"tag": unique}}
        answers, env = fake_install(base, node, endpoint, data, cleanup)
        for _, ref in refs:
            build_image(client, ref, noise=size_mb * 1_000_000 if "launcher" in ref else 64 * 1024)
            cleanup.callback(_remove, client, ref)
        saved = {k: os.environ.get(k) for k in ("AIRBOX_KIND", "AIRBOX_HELM", "AIRBOX_KUBECTL")}
        os.environ.update({k: env[k] for k in saved})
        try:
            bundle = base / "dp.bundle"
            archive.create(
                bundle,
                docker=DockerHost.connect(),
                connectors=[],
                chart_version=versions.CHART_VERSION,
                images=refs,
                chart_file=REAL_CHART,
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        for _, ref in refs:  # a machine that holds none of them
            client.images.remove(ref, force=True)
        (Path(env["FAKE_K8S_STATE"]) / "scenario.json").write_text(
            '{"launcher": "ok", "node_ready": true, "offline": true}\n'
        )
        log = base / "install.log"
        started = time.perf_counter()
        with open(log, "wb") as output:
            proc = subprocess.Popen(
                [
                    airbox,
                    "install",
                    "--answers",
                    str(answers),
                    "--bundle",
                    str(bundle),
                    "--yes",
                    "--ignore-preflight-failures",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
            # The airbox process's own high-water mark (VmHWM, of its image after exec),
            # read until it exits: wait4's ru_maxrss would also count the pages the child
            # shared with this harness between fork and exec (the harness holds the
            # image it built), and the fake tools it ran.
            peak = [0]

            def watch() -> None:
                status_file = Path(f"/proc/{proc.pid}/status")
                while proc.returncode is None:
                    with contextlib.suppress(OSError, ValueError):
                        for line in status_file.read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                peak[0] = max(peak[0], int(line.split()[1]))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            _, status, _ = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.join(timeout=5)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            sys.stderr.write(log.read_text(errors="replace"))
            raise SystemExit(f"install --bundle failed (exit {proc.returncode})")
        return seconds, peak[0] / 1024, bundle.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-mb", type=int, default=100)
    parser.add_argument("--large-mb", type=int, default=400)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    airbox = str(Path(sys.executable).with_name("airbox"))
    from tests.test_offline_install import node_image_lock

    peaks = []
    for size in (args.small_mb, args.large_mb):
        # The node image has the name airbox pins: the tests that make it wait for us.
        with node_image_lock():
            seconds, peak, size_bytes = one(size, endpoint, airbox)
        peaks.append(peak)
        print(
            f"bundle {size_bytes / 1e6:6.0f} MB: install --bundle {seconds:6.1f} s, "
            f"peak memory {peak:5.0f} MB"
        )
    server.shutdown()
    flat = peaks[1] - peaks[0] <= 16
    print(
        f"peak growth {peaks[1] - peaks[0]:+.0f} MB from the smaller bundle to the larger "
        f"(target <= 16 MB): {'met' if flat else 'NOT met'}"
    )
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
