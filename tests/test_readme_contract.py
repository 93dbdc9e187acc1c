"""The README's lists agree with the code: the files a dry run writes, the command table,
and which commands have -v/--verbose (cheap checks; a slip here misleads a newcomer)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click

from airbox.cli.main import COMMANDS, LazyGroup
from tests.helpers import ASSETS, REPO, airbox_bin, airbox_env

README = (REPO / "README.md").read_text(encoding="utf-8")


def _sentence(start: str, end: str) -> str:
    """The README text from ``start`` up to ``end``, joined onto one line."""
    text = " ".join(README.split())
    return text.split(start, 1)[1].split(end, 1)[0]


def test_the_dry_run_file_list_in_the_readme_is_what_a_dry_run_writes(tmp_path: Path) -> None:
    listed = set(
        re.findall(
            r"`([\w-]+\.(?:yaml|json))`",
            _sentence("--output-dir out` writes", "touches nothing else"),
        )
    )
    result = subprocess.run(
        [
            airbox_bin(),
            "install",
            "--answers",
            str(ASSETS / "demo.yaml"),
            "--dry-run",
            "--output-dir",
            "out",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=airbox_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert listed == {p.name for p in (tmp_path / "out").iterdir()}


def test_the_command_table_lists_every_command_and_no_other() -> None:
    table = README.split("## Use", 1)[1].split("\n\n", 2)[1]
    listed = re.findall(r"^\| `airbox ([\w-]+)`", table, re.M)
    assert sorted(listed) == sorted(COMMANDS)


def test_the_readme_names_exactly_the_commands_that_have_verbose() -> None:
    named = set(re.findall(r"`([\w-]+)`", _sentence("`-v/--verbose` (on", ")")))
    group = LazyGroup()
    ctx = click.Context(group)
    with_verbose = set()
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        assert command is not None
        if any("--verbose" in p.opts for p in command.params):
            with_verbose.add(name)
    assert named == with_verbose
