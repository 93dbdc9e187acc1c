"""The README's set-up, as typed, in a fresh virtual environment: `airbox` ends on PATH.

It installs the package and its dependencies from the package index into a new venv
(about 30 s with a warm cache), so it runs in CI like every other test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airbox import __version__
from tests.helpers import REPO


def _venv_block() -> list[str]:
    """The lines of the README's set-up block that makes a virtual environment."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", setup, re.S)
    block = next(b for b in blocks if "venv" in b and "activate" in b)
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.timeout(600)
def test_the_readme_venv_setup_puts_airbox_on_path(tmp_path: Path) -> None:
    lines = _venv_block()
    assert lines[-1] == "airbox install"
    assert "airbox --version" in lines
    # A clean copy of the repository (what a clone holds), so the build leaves no trace
    # in the working tree.
    clone = tmp_path / "airbox"
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # PATH without this test run's venv: `airbox` must come from the new one.
    env["PATH"] = os.pathsep.join(
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if Path(p).resolve() != Path(sys.executable).parent.resolve()
    )
    script = "set -e\n" + "\n".join(lines[:-1]) + "\ncommand -v airbox\n"
    result = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=540
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout.splitlines()
    assert f"airbox {__version__}" in out
    assert out[-1] == str(clone / ".venv" / "bin" / "airbox")
