"""What the benchmark scripts share: timing a command several times, and the report
of medians against their targets (time is measured here, never judged by a test)."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def time_runs(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall time of ``runs`` runs of ``argv`` (interpreter start-up included)."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        seconds.append(time.perf_counter() - started)
    return seconds


def report(rows: Iterable[tuple[str, list[float], float]]) -> bool:
    """Print each (label, seconds, target) row; whether every median is under target."""
    ok = True
    for label, seconds, target in rows:
        median = statistics.median(seconds)
        ok = ok and median < target
        print(
            f"{label}: median {median:.2f} s (target < {target:.0f} s); "
            f"min {min(seconds):.2f} s, max {max(seconds):.2f} s over {len(seconds)} runs"
        )
    return ok


def fake_install(
    base: Path, node: str, endpoint: str, data: dict[str, Any], cleanup: contextlib.ExitStack
) -> tuple[Path, dict[str, str]]:
    """Answers (``data`` pointed at ``endpoint``) and the environment for an install
    against the tests' fake tools, with a real (tiny) node container as the tests have,
    removed when ``cleanup`` closes. Preflight's network targets are ``endpoint`` too."""
    from tests import answers_factory as af
    from tests.fakes.fixture import make_fake_k8s

    fake = make_fake_k8s(base)
    fake.use_docker(node)
    cleanup.callback(fake.cleanup)
    data["controlPlane"] = {"url": endpoint}
    answers = af.write_answers(base / "answers.yaml", data)
    env = fake.full_env(
        {
            "AIRBOX_HOME": str(base / "home"),
            "AIRBOX_PREFLIGHT_HELM_REPO_URL": endpoint + "/index.yaml",
            "AIRBOX_PREFLIGHT_REGISTRY_URL": endpoint + "/v2/",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return answers, env
