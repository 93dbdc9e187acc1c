#!/usr/bin/env python3
"""Does the suite pass several times in a row on a busy machine, started like `nohup`?

Starts a busy job (one CPU burner per core, or the command given with --busy-cmd), then
runs the test suite --runs times in a row, each as `nohup … &` would start it: SIGINT and
SIGHUP ignored (inherited by every child the tests start), standard input from
/dev/null. Stops at the first failing run. Prints each run's outcome, pytest's summary
line and its wall time (time is reported, never judged), then stops the busy job.

    .venv/bin/python scripts/flake_check.py [--runs 3] [--busy 2 | --busy-cmd CMD]
                                             [-- pytest args]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BURN = "while True:\n    pass\n"


def like_nohup() -> None:
    """In the child before exec: what `nohup cmd &` from a script leaves a process with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def start_busy(count: int, command: str | None, log: Path) -> list[subprocess.Popen[bytes]]:
    if command:
        with log.open("wb") as out:
            return [
                subprocess.Popen(
                    shlex.split(command),
                    cwd=REPO,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            ]
    return [
        subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True) for _ in range(count)
    ]


def stop_busy(jobs: list[subprocess.Popen[bytes]]) -> None:
    # A busy command still running when the runs end is stopped with them.
    for job in jobs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
        job.wait()


def run_suite(pytest_args: list[str], log: Path) -> tuple[int, str, float]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out, open(os.devnull, "rb") as devnull:
        code = subprocess.call(
            argv,
            cwd=REPO,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=like_nohup,
        )
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return code, (lines[-1] if lines else "(no output)"), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--busy",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU burners running meanwhile (default: one per core; 0: none)",
    )
    parser.add_argument("--busy-cmd", help="run this as the busy job instead of burners")
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path("/tmp"),
        help="where each run's pytest output goes (flake-check-N.log)",
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)

    busy_log = args.log_dir / "flake-check-busy.log"
    busy = start_busy(args.busy, args.busy_cmd, busy_log)
    what = (
        f"{args.busy_cmd} (output: {busy_log})" if args.busy_cmd else (f"{args.busy} CPU burner(s)")
    )
    print(
        f"busy job: {what}; {args.runs} run(s), SIGINT and SIGHUP ignored, stdin /dev/null",
        flush=True,
    )
    passed = 0
    try:
        for run in range(1, args.runs + 1):
            log = args.log_dir / f"flake-check-{run}.log"
            code, summary, seconds = run_suite(args.pytest_args, log)
            print(
                f"run {run}: {'passed' if code == 0 else f'FAILED (exit {code})'} in "
                f"{seconds:.0f}s: {summary}  [{log}]",
                flush=True,
            )
            if code != 0:
                break
            passed += 1
    finally:
        stop_busy(busy)
    print(f"{passed}/{args.runs} runs passed in a row")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
