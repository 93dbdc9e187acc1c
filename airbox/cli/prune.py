"""``airbox prune``: free the node's disk of connector images no pod uses."""

from __future__ import annotations

import click

from airbox.cli.options import name_option

EXAMPLES = """\b
Examples:
  airbox prune                       # the only installed data plane
  airbox prune --name us-west-1-dp   # one of several

\b
Removes, from the kind node, the connector images (source-*, destination-*) that no
container uses; the data plane's own images and those of running syncs stay. A sync
that needs a removed image pulls it again. Prints the images removed and the size
of the node's image store before and after. `airbox status` suggests it when there
is something to remove.

\b
Exit codes: 0 done (or nothing to remove), 1 some image could not be removed,
2 bad usage (an existing cluster: its images are not airbox's), 3 not installed.
"""


@click.command(epilog=EXAMPLES)
@name_option()
def prune(name: str | None) -> int:
    """Remove connector images no pod uses from the kind node."""
    from airbox.ops.prune import prune_command

    return prune_command(name=name)
