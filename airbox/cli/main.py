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

# name -> (module, attribute, one-line help shown by `airbox --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "preflight": ("airbox.cli.preflight", "preflight",
                  "Check this machine, with a fix for each problem."),
    "install": ("airbox.cli.install", "install", "Install or upgrade a data plane."),
    "status": ("airbox.cli.status", "status",
               "Is the data plane healthy? If not, why, and what to do next."),
    "logs": ("airbox.cli.logs", "logs", "Show (or follow) the data plane's logs."),
    "support-bundle": ("airbox.cli.bundle", "support_bundle",
                       "Write one redacted archive of diagnostics for support."),
    "uninstall": ("airbox.cli.uninstall", "uninstall",
                  "Remove what airbox installed (after confirmation)."),
    "dataplanes": ("airbox.cli.dataplanes", "dataplanes",
                   "List the data planes registered with the control plane."),
    "repair": ("airbox.cli.repair", "repair",
               "Bring the data plane back to healthy (no questions asked)."),
    "workspaces": ("airbox.cli.workspaces", "workspaces",
                   "Which workspaces run their syncs here; route them to this region."),
    "verify": ("airbox.cli.verify", "verify",
               "Run one real sync through the data plane and show it ran here."),
    "prune": ("airbox.cli.prune", "prune",
              "Remove connector images no pod uses from the kind node."),
    "upgrade": ("airbox.cli.upgrade", "upgrade",
                "Move to a new chart (and Kubernetes) version, showing the plan first."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry[2]) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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
