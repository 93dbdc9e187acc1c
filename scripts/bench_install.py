#!/usr/bin/env python3
"""How long does a whole `airbox install` take when the tools answer instantly?

Runs `airbox install --answers ... --yes` against the test suite's fake kind/helm/kubectl
(tests/fakes) and the local Docker Engine (images pre-tagged locally, so nothing is
pulled), with the control plane and preflight's network targets on 127.0.0.1. Each run
is a fresh install into a fresh state directory; prints every run, the median, and the
per-step times of the median run. Target: under 5 s of wall time (the fake tools are
Python processes, some hundred of milliseconds each; the node container is real).

    python scripts/bench_install.py [-n 5]
"""

from __future__ import annotations

import argparse
import contextlib
import re
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

from benchlib import fake_install  # noqa: E402

from airbox import versions  # noqa: E402
from tests import answers_factory as af  # noqa: E402
from tests.fakes.images import ensure_image, tag_images  # noqa: E402

STEP_LINE = re.compile(r"✓ (.+?) \((\d+\.\d+)s\)")


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()

    import docker

    client = docker.from_env()
    node = ensure_image(client)
    tag_images(client, node, versions.data_plane_images(versions.CHART_VERSION))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    airbox = str(Path(sys.executable).with_name("airbox"))

    timings: list[tuple[float, str]] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
            base = Path(tmp)
            data = af.answers(
                "aws-keys", "s3-keys", directory=base, name=f"bench{uuid.uuid4().hex[:6]}"
            )
            answers, env = fake_install(base, node, endpoint, data, cleanup)
            started = time.perf_counter()
            result = subprocess.run(
                [
                    airbox,
                    "install",
                    "--answers",
                    str(answers),
                    "--yes",
                    "--ignore-preflight-failures",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            timings.append((seconds, result.stderr))
            print(f"run {run + 1}: {seconds:.2f} s")
    server.shutdown()
    timings.sort()
    median_seconds, median_output = timings[len(timings) // 2]
    print(
        f"median: {median_seconds:.2f} s over {args.runs} runs (target < 5 s); "
        f"min {timings[0][0]:.2f} s, max {timings[-1][0]:.2f} s"
    )
    print("steps of the median run:")
    for title, step_seconds in STEP_LINE.findall(median_output):
        print(f"  {float(step_seconds):5.2f} s  {title}")
    return 0 if statistics.median(t for t, _ in timings) < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
