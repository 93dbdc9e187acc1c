#!/usr/bin/env python3
"""How fast does `airbox --help` start, against a bare interpreter?

Runs each command N times (default 30, after 3 warm-ups) and prints the medians and
their ratio. Target: airbox's median at most 4x `python3 -c pass`'s.

    python scripts/bench_help.py [-n 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(argv: list[str], runs: int) -> float:
    for _ in range(3):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30)
    args = parser.parse_args()
    airbox = shutil.which("airbox") or str(Path(sys.executable).with_name("airbox"))
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs)
    helped = median_seconds([airbox, "--help"], args.runs)
    ratio = helped / bare
    print(f"python3 -c pass : {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"airbox --help   : {helped * 1000:7.1f} ms (median of {args.runs})")
    print(f"ratio           : {ratio:7.2f}x (target <= 4x)")
    return 0 if ratio <= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
