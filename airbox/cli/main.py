"""The ``airbox`` command: a click group whose subcommands load on demand.

``airbox --help`` must start almost as fast as the interpreter, so this module
imports click and nothing else of weight; each subcommand module is imported only
when it runs (or when its own ``--help`` is asked for).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from airbox import __version__

# name -> (module, attribute). A command's line in `airbox --help` is the first paragraph
# of its docstring, the summary its own --help opens with: one text, in its module.
COMMANDS: dict[str, tuple[str, str]] = {
    "preflight": ("airbox.cli.preflight", "preflight"),
    "install": ("airbox.cli.install", "install"),
    "status": ("airbox.cli.status", "status"),
    "logs": ("airbox.cli.logs", "logs"),
    "support-bundle": ("airbox.cli.bundle", "support_bundle"),
    "uninstall": ("airbox.cli.uninstall", "uninstall"),
    "dataplanes": ("airbox.cli.dataplanes", "dataplanes"),
    "repair": ("airbox.cli.repair", "repair"),
    "workspaces": ("airbox.cli.workspaces", "workspaces"),
    "verify": ("airbox.cli.verify", "verify"),
    "prune": ("airbox.cli.prune", "prune"),
    "upgrade": ("airbox.cli.upgrade", "upgrade"),
    "bundle": ("airbox.cli.offline", "bundle"),
}


def summary(command: click.Command) -> str:
    """The first paragraph of the command's help, on one line."""
    return " ".join((command.help or "").partition("\n\n")[0].split())


class Group(click.Group):
    """A group whose command list shows each command's whole summary.

    click's own list keeps only the first sentence, cut to the terminal's width with
    "...": the list would then differ from the command's --help.
    """

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class LazyGroup(Group):
    """Imports a command's module only when that command runs or a help text needs it
    (`airbox --help` imports the small airbox.cli modules for their summaries: ~5 ms)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command


EPILOG = """\b
Examples:
  airbox preflight                        # is this machine ready?
  airbox install                          # asks for what it needs
  airbox install --answers dp.yaml --yes  # unattended
  airbox install --answers dp.yaml --dry-run --output-dir out
  airbox status                           # healthy? if not, why and what to do
  airbox repair                           # after a reboot, or when status says so
  airbox prune                            # free the disk of unused connector images
  airbox upgrade --dry-run                # what an upgrade would change
  airbox logs -f                          # the data plane's logs
  airbox support-bundle                   # one redacted archive for support
  airbox bundle create -o dp.bundle       # everything an offline install needs
  airbox uninstall --deregister           # remove it all

\b
Exit codes: 0 ok, 1 failed, 2 bad input, 3 preflight failed / not installed,
4 control plane (API) error, 5 cluster or deployment error, 130 interrupted
(143/129: stopped by SIGTERM/SIGHUP; run the same command again to resume).
"""


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.version_option(__version__, "--version", prog_name="airbox", message="%(prog)s %(version)s")
def cli() -> None:
    """Turn this machine into a registered, healthy Airbyte Enterprise Flex data plane.

    State lives in ~/.airbyte/airbox/<name>/ (or $AIRBOX_HOME/<name>/).
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry: runs the group and maps errors to exit codes."""
    from airbox.cli.errors import run

    return run(cli, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
