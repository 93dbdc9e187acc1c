#!/usr/bin/env python3
"""How long does `airbox preflight` take when hosts do not answer, and a Ctrl-C in it?

Times, N times each (wall time, interpreter start-up included):

- `airbox preflight --json` when nothing answers: the control plane, the Helm repository
  and the registry accept connections and never answer, and DOCKER_HOST points at
  nothing. Target: median under 10 s (every probe has its own timeout and the run a 9 s
  deadline).
- `airbox preflight` with a dead DOCKER_HOST and hosts that answer at once. Target:
  median under 10 s (a dead socket is refused at once).
- a Ctrl-C to `airbox install` while its preflight waits on a silent control plane:
  from the signal to the exit. Target: median under 5 s (a stuck check never holds it).

The tests assert what happens in each case, never how long it took: a busy machine makes
wall time meaningless as a pass/fail criterion.

    python scripts/bench_preflight.py [-n 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_install import _Ok  # noqa: E402
from benchlib import report, time_runs  # noqa: E402

from tests import answers_factory as af  # noqa: E402
from tests.fakes.fixture import make_fake_k8s  # noqa: E402

HELM_REPO_ENV = "AIRBOX_PREFLIGHT_HELM_REPO_URL"
REGISTRY_ENV = "AIRBOX_PREFLIGHT_REGISTRY_URL"


@contextlib.contextmanager
def silent_host() -> Iterator[tuple[str, threading.Event]]:
    """A port that accepts connections and never answers; the event: one was accepted."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    accepted = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                held.append(conn)
                accepted.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


def _ctrl_c(airbox: str, base: Path, runs: int) -> list[float]:
    fake = make_fake_k8s(base)
    seconds = []
    for run in range(runs):
        with silent_host() as (url, accepted):
            data = af.answers(directory=base, name=f"benchpre{run}")
            data["controlPlane"] = {"url": url}
            answers = af.write_answers(base / f"answers{run}.yaml", data)
            env = fake.full_env(
                {
                    "AIRBOX_HOME": str(base / "home"),
                    HELM_REPO_ENV: url + "/index.yaml",
                    REGISTRY_ENV: url + "/v2/",
                }
            )
            proc = subprocess.Popen(
                [airbox, "install", "--answers", str(answers), "--yes"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
            if not accepted.wait(60):
                proc.kill()
                raise SystemExit("the install never probed the control plane")
            started = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=3)
    args = parser.parse_args()
    airbox = str(Path(sys.executable).with_name("airbox"))
    dead_docker = {"DOCKER_HOST": "unix:///nonexistent.sock"}
    quiet = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    with silent_host() as (silent, _):
        env = {
            **quiet,
            **dead_docker,
            HELM_REPO_ENV: silent + "/index.yaml",
            REGISTRY_ENV: silent + "/v2/",
        }
        nothing = time_runs(
            [airbox, "preflight", "--json", "--control-plane-url", silent], env, args.runs
        )

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    env = {
        **quiet,
        **dead_docker,
        HELM_REPO_ENV: endpoint + "/index.yaml",
        REGISTRY_ENV: endpoint + "/v2/",
    }
    no_docker = time_runs([airbox, "preflight", "--control-plane-url", endpoint], env, args.runs)
    server.shutdown()

    with tempfile.TemporaryDirectory() as tmp:
        interrupted = _ctrl_c(airbox, Path(tmp), args.runs)

    ok = report(
        (
            ("preflight, nothing answers", nothing, 10.0),
            ("preflight, Docker unreachable", no_docker, 10.0),
            ("Ctrl-C during preflight, to exit", interrupted, 5.0),
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
