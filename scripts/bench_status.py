#!/usr/bin/env python3
"""How long does `airbox status` take, healthy and with Docker unreachable?

Installs one data plane against the test suite's fake kind/helm/kubectl with a real
(tiny) node container in Docker, as the tests do, then times `airbox status` N times,
and N times with DOCKER_HOST pointing at nothing. Wall time, interpreter
start-up included. Targets: median under 3 s, and under 5 s with Docker unreachable
(the probes run at once, each with its own short timeout). The tests do not time
anything: a busy machine makes wall time meaningless as a pass/fail criterion.

    python scripts/bench_status.py [-n 5]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_install import _Ok  # noqa: E402
from benchlib import fake_install, report, time_runs  # noqa: E402

from tests import answers_factory as af  # noqa: E402
from tests.fakes.images import ensure_image  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    airbox = str(Path(sys.executable).with_name("airbox"))
    import docker

    node = ensure_image(docker.from_env())
    name = "benchstatus" + uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        base = Path(tmp)
        answers, env = fake_install(
            base, node, endpoint, af.answers("vault", directory=base, name=name), cleanup
        )
        result = subprocess.run(
            [
                airbox,
                "install",
                "--answers",
                str(answers),
                "--yes",
                "--ignore-preflight-failures",
                "--no-preload-images",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        status = [airbox, "status", "--name", name, "--json"]
        normal = time_runs(status, env, args.runs)
        no_docker = time_runs(status, {**env, "DOCKER_HOST": "unix:///nonexistent.sock"}, args.runs)
    server.shutdown()
    ok = report((("status", normal, 3.0), ("status, Docker unreachable", no_docker, 5.0)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
