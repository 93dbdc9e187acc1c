#!/usr/bin/env python3
"""Mutation testing over hand-written mutants (``scripts/mutants.py``).

Each mutant is applied to a private copy of the repository (one copy per job; the
working tree is never edited), the tests named for it run there (``-x``, with a
timeout), and the mutant counts as *caught* when they fail. The report gives
caught/total per module over the non-equivalent mutants and lists every survivor;
the exit status is 1 when a module is under the threshold.

Usage:
  .venv/bin/python scripts/mutate.py                 # every mutant
  .venv/bin/python scripts/mutate.py --module redact --jobs 2
  .venv/bin/python scripts/mutate.py --list
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from mutants import MODULES, MUTANTS, Mutant  # noqa: E402

# Copied into each job's tree; .venv, .git and caches stay behind.
COPIED = ("airbox", "tests", "assets", "scripts", "pyproject.toml", "README.md")


@dataclass
class Result:
    mutant: Mutant
    outcome: str  # caught | survived | timeout | error
    seconds: float
    note: str = ""


def check_mutants(mutants: list[tuple[int, Mutant]]) -> dict[int, str]:
    """Mutants whose original is not exactly once in the file (stale) or that do not
    compile, by index, with the reason."""
    problems: dict[int, str] = {}
    for index, m in mutants:
        text = (REPO / m.path).read_text(encoding="utf-8")
        count = text.count(m.original)
        if count != 1:
            problems[index] = (
                f"mutant {index} ({m.module}: {m.description}): original found "
                f"{count} times in {m.path}"
            )
            continue
        try:
            compile(text.replace(m.original, m.replacement, 1), m.path, "exec")
        except SyntaxError as exc:
            # A mutant that does not even import would be "caught" by any test.
            problems[index] = (
                f"mutant {index} ({m.module}: {m.description}): not valid "
                f"Python ({exc.msg}, line {exc.lineno})"
            )
    return problems


def make_tree(root: Path) -> Path:
    tree = root / "repo"
    tree.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, tree / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, tree / name)
    return tree


# pytest-xdist workers per test run (0: none); --workers changes it.
XDIST_WORKERS = "0"
# Test runs under way (each in a session of its own): killed if the script is stopped.
RUNNING: set[subprocess.Popen[str]] = set()


def _children() -> dict[int, list[int]]:
    """Every process's children, read from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                # The fields after the command's closing parenthesis: state, then the parent.
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def kill_tree(pid: int) -> None:
    """Kill a test run's session and every process it started, also those in sessions of
    their own: the tests start ``airbox`` with ``start_new_session`` so that a simulated
    Ctrl-C reaches only it, and killing the run's session alone would leave such an airbox
    (say, one spinning in a mutant's slow code) running on, taking a core from every later
    run. The run is stopped first, so nothing new starts while its tree is read."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGSTOP)
    children = _children()
    tree, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            tree.append(child)
            todo.append(child)
    for each in [pid, *tree]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(each, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(each, signal.SIGKILL)


def run_tests(tree: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """(outcome, seconds, last line): outcome is passed | failed | timeout."""
    # A test file, or one test in it (``tests/test_x.py::test_y``).
    present = [t for t in tests if (tree / t.split("::")[0]).exists()]
    if not present:
        return "passed", 0.0, "no test file exists"
    env = dict(os.environ)
    # The copy's airbox wins over the editable install, in pytest and in every child.
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        XDIST_WORKERS,
        *present,
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    RUNNING.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        proc.communicate()
        return "timeout", time.monotonic() - started, f"no result within {timeout:.0f}s"
    finally:
        RUNNING.discard(proc)
    lines = [line for line in out.splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    last = "; ".join([*failed[:3], lines[-1]] if lines else failed)
    return ("passed" if proc.returncode == 0 else "failed"), time.monotonic() - started, last


def run_mutant(tree: Path, m: Mutant, timeout: float) -> Result:
    target = tree / m.path
    pristine = (REPO / m.path).read_text(encoding="utf-8")
    target.write_text(pristine.replace(m.original, m.replacement, 1), encoding="utf-8")
    try:
        outcome, seconds, last = run_tests(tree, m.tests, timeout)
    finally:
        target.write_text(pristine, encoding="utf-8")
    if outcome == "passed":
        return Result(m, "survived", seconds, last)
    if outcome == "timeout":
        return Result(m, "timeout", seconds, last)
    return Result(m, "caught", seconds, last)


def baseline(tree: Path, mutants: list[Mutant], timeout: float) -> list[str]:
    """The tests the mutants use must pass unmutated, or every mutant looks caught."""
    files = sorted({t for m in mutants for t in m.tests})
    outcome, seconds, last = run_tests(tree, tuple(files), timeout * 3)
    print(
        f"baseline: {len(files)} test files or tests {outcome} in {seconds:.0f}s ({last})",
        flush=True,
    )
    return [] if outcome == "passed" else [f"baseline tests {outcome}: {last}"]


def report(results: list[Result], equivalent: list[Mutant], threshold: float) -> bool:
    print()
    print("| module | caught | total | % | survivors |")
    print("|---|---|---|---|---|")
    ok = True
    for module in MODULES:
        mine = [r for r in results if r.mutant.module == module]
        if not mine:
            continue
        caught = sum(r.outcome == "caught" for r in mine)
        pct = 100.0 * caught / len(mine)
        survivors = sum(r.outcome != "caught" for r in mine)
        ok = ok and pct >= threshold
        print(f"| {module} | {caught} | {len(mine)} | {pct:.0f} | {survivors} |")
    survived = [r for r in results if r.outcome == "survived"]
    if survived:
        print("\nsurvivors:")
        for r in survived:
            print(
                f"  [{r.mutant.module}] {r.mutant.description}  ({r.mutant.path}; "
                f"{', '.join(r.mutant.tests)})"
            )
    timeouts = [r for r in results if r.outcome == "timeout"]
    if timeouts:
        print("\ntimed out (counted as NOT caught: the tests could not decide in time):")
        for r in timeouts:
            print(f"  [{r.mutant.module}] {r.mutant.description}")
    if equivalent:
        print("\nequivalent (not run):")
        for m in equivalent:
            print(f"  [{m.module}] {m.description}: {m.equivalent}")
    total = len(results)
    caught = sum(r.outcome == "caught" for r in results)
    if total:
        print(
            f"\ntotal: {caught}/{total} caught ({100.0 * caught / total:.0f}%), "
            f"threshold {threshold:.0f}% per module: {'met' if ok else 'NOT met'}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module",
        action="append",
        choices=list(MODULES),
        help="run only this module's mutants (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run in parallel")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per mutant's test run (a timeout counts as not caught)",
    )
    parser.add_argument(
        "--threshold", type=float, default=90.0, help="minimum %% caught per module (default 90)"
    )
    parser.add_argument(
        "--workers",
        default="0",
        help="pytest-xdist workers per test run (default 0: in one process)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the unmutated run of the tests"
    )
    parser.add_argument(
        "--index",
        type=int,
        action="append",
        help="run only the mutant with this index (see --list)",
    )
    args = parser.parse_args(argv)
    global XDIST_WORKERS
    XDIST_WORKERS = args.workers

    selected = [
        (i, m)
        for i, m in enumerate(MUTANTS)
        if (not args.module or m.module in args.module) and (not args.index or i in args.index)
    ]
    if args.list:
        for i, m in selected:
            flag = f"  EQUIVALENT: {m.equivalent}" if m.equivalent else ""
            print(f"{i:3} {m.module:13} {m.description}{flag}")
        print(f"{len(selected)} mutants")
        return 0
    # A mutant whose snippet the code no longer has is reported (and the run fails), but
    # the others still run: the code moves under the list.
    problems = check_mutants(selected)
    selected = [(i, m) for i, m in selected if i not in problems]
    if problems:
        print("\n".join(problems.values()), file=sys.stderr)
    runnable = [m for _, m in selected if not m.equivalent]
    before = {path: (REPO / path).read_bytes() for path in {m.path for m in MUTANTS}}
    equivalent = [m for _, m in selected if m.equivalent]

    with tempfile.TemporaryDirectory(prefix="airbox-mutate-") as tmp:
        trees: queue.Queue[Path] = queue.Queue()
        for slot in range(max(1, args.jobs)):
            (Path(tmp) / str(slot)).mkdir()
            trees.put(make_tree(Path(tmp) / str(slot)))
        if not args.no_baseline:
            tree = trees.get()
            failures = baseline(tree, runnable, args.timeout)
            trees.put(tree)
            if failures:
                print("\n".join(failures), file=sys.stderr)
                return 2

        def job(m: Mutant) -> Result:
            tree = trees.get()
            try:
                return run_mutant(tree, m, args.timeout)
            finally:
                trees.put(tree)

        results: list[Result] = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for result in pool.map(job, runnable):
                results.append(result)
                print(
                    f"{result.outcome:8} {result.seconds:5.0f}s [{result.mutant.module}] "
                    f"{result.mutant.description}",
                    flush=True,
                )

    # Mutants go to the copies only; fail loudly if the working tree ever changed.
    changed = [path for path, data in before.items() if (REPO / path).read_bytes() != data]
    if changed:
        print(f"error: the working tree changed during the run: {changed}", file=sys.stderr)
        return 2
    met = report(results, equivalent, args.threshold)
    if problems:
        print(
            f"\n{len(problems)} stale or invalid mutant(s), not run: update scripts/mutants.py",
            file=sys.stderr,
        )
        return 2
    return 0 if met else 1


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Stopped (Ctrl-C, kill): take the test runs down too, they are in sessions of their own.
    signal.signal(signal.SIGTERM, _stop)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        for running in list(RUNNING):
            kill_tree(running.pid)
        sys.exit(130)
