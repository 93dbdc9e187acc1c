"""What the benchmark scripts share: timing a command several times, and the report
of medians against their targets (time is measured here, never judged by a test)."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterable


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
        print(f"{label}: median {median:.2f} s (target < {target:.0f} s); "
              f"min {min(seconds):.2f} s, max {max(seconds):.2f} s over {len(seconds)} runs")
    return ok
