"""Which lines of the fake kind/helm/kubectl (``tests/fakes/fakek8s.py``, ``k8s_*.py``) the
tests run.

The fakes run as separate executables, so the run sets ``COVERAGE_PROCESS_START``: the
wrappers ``tests/fakes/fixture.py`` writes start coverage when it is set, and pytest itself
runs under coverage for the fakes' in-process uses. Needs ``coverage`` (not in the test
extra: ``.venv/bin/pip install coverage``).

    .venv/bin/python scripts/fakes_coverage.py [pytest args, default: tests/]

Prints the report (with the lines that never ran) and the share of the fakes that never
run; exits with pytest's status when the tests fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = "*/tests/fakes/fakek8s.py,*/tests/fakes/k8s_*.py"


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="fakes-cov-") as tmp:
        rc = Path(tmp) / "coveragerc"
        rc.write_text(
            "[run]\nparallel = True\n"
            f"data_file = {tmp}/.coverage\n"
            "include =\n    */tests/fakes/*.py\n"
        )
        env = {**os.environ, "COVERAGE_PROCESS_START": str(rc)}
        cov = [sys.executable, "-m", "coverage"]
        tests = subprocess.run(
            [
                *cov,
                "run",
                f"--rcfile={rc}",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                *(argv or ["tests/"]),
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        subprocess.run([*cov, "combine", f"--rcfile={rc}", "-q"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*cov, "report", f"--rcfile={rc}", "-m", f"--include={TARGET}"],
            cwd=ROOT,
            env=env,
            check=False,
        )
        out = subprocess.run(
            [*cov, "json", f"--rcfile={rc}", f"--include={TARGET}", "-o", "-", "-q"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        import json

        totals = json.loads(out)["totals"]
        never = totals["missing_lines"]
        stmts = totals["num_statements"]
        print(
            f"the fake tools: {never} of {stmts} statements never run "
            f"({100 * never / stmts:.1f}%), {totals['percent_covered']:.1f}% covered"
        )
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
