"""What `--help` says, as a user reads it: each command's line in a group's list is the summary
its own --help opens with, and the options several commands share read the same everywhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
import pytest

from airbox.cli.main import cli
from airbox.cli.options import NAME_HELP
from tests.helpers import airbox_bin, airbox_env

# The one command whose --name means something else: whose saved settings to use.
OWN_NAME_HELP = {"dataplanes"}


def _help(*path: str) -> str:
    result = subprocess.run(
        [airbox_bin(), *path, "--help"],
        capture_output=True,
        text=True,
        env=airbox_env(COLUMNS="100"),
        timeout=60,
    )
    assert result.returncode == 0, (path, result.stderr)
    return result.stdout


def _listed(text: str) -> dict[str, str]:
    """The "Commands:" section of a group's --help: name -> its line (wrapped lines joined)."""
    rows: dict[str, str] = {}
    last = None
    for line in text.split("\nCommands:\n", 1)[1].splitlines():
        if not line.strip():
            break
        row = re.match(r"^  (\S+)\s{2,}(.*)$", line)
        if row:
            last = row[1]
            rows[last] = row[2].strip()
        else:
            assert last is not None, line
            rows[last] += " " + line.strip()
    return rows


def _summary(text: str) -> str:
    """The paragraph a command's --help opens with, after its usage, on one line."""
    return " ".join(text.split("\n\n")[1].split())


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found: list[tuple[str, ...]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


def test_each_listed_command_shows_the_summary_its_own_help_opens_with() -> None:
    """One text per command (its docstring's first paragraph): `airbox --help`'s list (and
    any sub-group's) cannot drift from what `airbox CMD --help` says the command does."""
    groups: list[tuple[str, ...]] = [()]
    groups += [p for p in _commands(cli) if "\nCommands:\n" in _help(*p)]
    checked = 0
    for group in groups:
        for name, line in _listed(_help(*group)).items():
            own = _summary(_help(*group, name))
            assert line == own, (
                f"`airbox {' '.join((*group, name))}`: listed as {line!r}, its --help says {own!r}"
            )
            checked += 1
    assert checked == len(_commands(cli))


def test_every_name_option_refuses_an_empty_name_alike(tmp_path: Path) -> None:
    """`--name ""` (an unset shell variable) is one mistake with one message everywhere,
    caught before anything runs: never "the only installed data plane"."""
    with_name = [
        p for p in _commands(cli) if any("--name" in param.opts for param in _command(p).params)
    ]
    assert len(with_name) >= 12, with_name
    home = tmp_path / "airbox"
    for path in with_name:
        result = subprocess.run(
            [airbox_bin(), *path, "--name", ""],
            capture_output=True,
            text=True,
            env=airbox_env(AIRBOX_HOME=str(home)),
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert "Invalid value for '--name': must not be empty" in result.stderr, (
            path,
            result.stderr,
        )
    assert not home.exists()


@pytest.mark.parametrize(
    ("flag", "help"),
    [
        ("--name", NAME_HELP),
        ("--verbose", "Show every command and its output."),
        ("--json", "Machine-readable output."),
    ],
)
def test_a_shared_option_has_one_help_text(flag: str, help: str) -> None:
    seen = {
        " ".join(p): param.help
        for p in _commands(cli)
        for param in _command(p).params
        if flag in param.opts and p[-1] not in OWN_NAME_HELP
    }
    assert seen
    assert set(seen.values()) == {help}, seen


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command
