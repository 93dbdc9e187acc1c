"""``airbox upgrade``: a new chart (and Kubernetes) version, previewed first."""

from __future__ import annotations

from pathlib import Path

import click

from airbox.cli.options import name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox upgrade --dry-run                 # what would change; changes nothing
  airbox upgrade                           # to the versions this airbox pins
  airbox upgrade --chart-version 1.8.1     # to a chosen chart version
  airbox upgrade --chart ./airbyte-data-plane-1.8.1.tgz   # air-gapped
  airbox upgrade --bundle airbox-1.8.2.bundle --dry-run  # offline: the bundle's version

\b
Shows the plan first: the chart version, what changes in the rendered manifests
(the release's current manifest against the new chart rendered with the same
settings), the images to pull, and - when this airbox pins a newer Kubernetes -
that the kind cluster is re-created. Then pulls the new images before anything
changes, re-creates the cluster from the saved settings if needed (the state
directory stays; nothing is asked again), and upgrades the release; a failed
upgrade is rolled back to the last good revision.

\b
Exit codes: 0 upgraded (or nothing to do, or --dry-run), 2 bad usage, 3 not
installed, 5 the upgrade failed (rolled back; the message says why).
"""


@click.command(epilog=EXAMPLES)
@name_option()
@click.option(
    "--chart-version",
    metavar="V",
    help="The chart version to move to (default: the one this airbox pins).",
)
@click.option(
    "--chart", metavar="PATH|URL", help="A local or mirrored chart archive to use from now on."
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="An offline bundle (airbox bundle create) of the next version: its "
    "chart, images and tools; nothing is pulled.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@verbose_option
def upgrade(
    name: str | None,
    chart_version: str | None,
    chart: str | None,
    bundle: Path | None,
    dry_run: bool,
    verbose: bool,
) -> int:
    """Upgrade the data plane's chart (and Kubernetes) version, showing the plan first."""
    from airbox.ops.upgrade import upgrade_command

    return upgrade_command(
        name=name,
        chart_version=chart_version,
        chart=chart,
        dry_run=dry_run,
        verbose=verbose,
        bundle=bundle,
    )
