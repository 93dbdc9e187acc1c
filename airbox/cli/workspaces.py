"""``airbox workspaces``: which workspaces run their syncs on this data plane's region."""

from __future__ import annotations

import sys

import click

from airbox.cli.options import name_option, yes_option

EXAMPLES = """\b
Examples:
  airbox workspaces                               # which workspaces use this region
  airbox workspaces --assign analytics-eu         # route a workspace here
  airbox workspaces --assign 1b2c... --force-route --yes
  airbox workspaces --unassign analytics-eu       # back to Airbyte's managed region
  airbox workspaces -o json
"""


@click.command(epilog=EXAMPLES)
@name_option()
@click.option(
    "--assign",
    multiple=True,
    metavar="W",
    help="Route workspace W (name or id) to this data plane's region; repeatable.",
)
@click.option(
    "--unassign",
    multiple=True,
    metavar="W",
    help="Move workspace W back to Airbyte's managed region; repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--force-route",
    is_flag=True,
    help="Move a workspace that uses another self-managed region without asking.",
)
@yes_option("Never prompt.")
def workspaces(
    name: str | None,
    assign: tuple[str, ...],
    unassign: tuple[str, ...],
    output: str,
    force_route: bool,
    assume_yes: bool,
) -> int:
    """List the workspaces and the region each uses; route some to this data plane.

    A workspace runs every sync in exactly one region: until one uses this data plane's
    region, the data plane gets no work. Needs the Airbyte application's credentials
    (saved by `airbox install`, or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET).
    """
    from airbox.ops.workspaces import workspaces_command

    return workspaces_command(
        name=name,
        assign=assign,
        unassign=unassign,
        output=output,
        assume_yes=assume_yes,
        force_route=force_route,
        interactive=sys.stdin.isatty() and not assume_yes,
    )
