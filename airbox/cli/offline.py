"""``airbox bundle``: the offline bundle — made on a connected machine, checked anywhere."""

from __future__ import annotations

from pathlib import Path

import click

from airbox.cli.main import Group
from airbox.cli.options import json_option, name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox bundle create --output airbox-1.8.1.bundle      # on a connected machine
  airbox bundle create -o dp.bundle --connector airbyte/source-postgres:3.6.28 \\
      --connector airbyte/destination-snowflake:4.0.4
  airbox bundle inspect airbox-1.8.1.bundle              # the manifest; every SHA-256
  airbox install --bundle airbox-1.8.1.bundle            # on the machine with no internet

\b
A bundle is one uncompressed tar: the kind node image, the data plane's images, the
local object store's image, connector images, the chart and the pinned kind, helm and
kubectl, with a manifest listing each item's SHA-256. It holds no secret.
"""


@click.group(cls=Group, epilog=EXAMPLES)
def bundle() -> None:
    """Everything an install needs in one file, for a machine with no internet."""


CREATE_EXAMPLES = """\b
Examples:
  airbox bundle create --output airbox.bundle
  airbox bundle create -o airbox.bundle --connector airbyte/source-postgres:3.6.28
  airbox bundle create -o airbox.bundle --chart ./airbyte-data-plane-1.8.1.tgz

\b
Pulls what is missing (Docker Hub, quay.io, the chart repository, the tools' release
pages), then writes the file: several gigabytes (the kind node image alone is about
one; `bundle inspect` lists each item's size). The node image follows this machine's
cgroup version. The file is written under a temporary name and renamed when complete,
readable by all (0644): it holds images, a chart and binaries, nothing from any settings.

\b
Exit codes: 0 written, 1 failed (a pull, the disk), 2 bad input (every problem listed),
3 Docker is not running, 130 interrupted (nothing is left behind).
"""


@bundle.command("create", epilog=CREATE_EXAMPLES)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="The file to write (replaced if it exists).",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    metavar="IMAGE",
    help="A connector image to carry, with its tag (repeat it). Default: the "
    "ones `airbox verify` runs (source-faker, destination-dev-null).",
)
@click.option(
    "--chart",
    "chart_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A local airbyte-data-plane chart archive (.tgz) instead of the one "
    "from the chart repository.",
)
@click.option(
    "--chart-version",
    metavar="VERSION",
    help="The chart version to carry (default: the one airbox pins; for "
    "`airbox upgrade --bundle`, the next one).",
)
@verbose_option
def create(
    output: Path,
    connectors: tuple[str, ...],
    chart_file: Path | None,
    chart_version: str | None,
    verbose: bool,
) -> int:
    """Write an offline bundle (run it on a machine with internet)."""
    from airbox.ops.offline_bundle import create_command

    return create_command(
        output=output,
        connectors=list(connectors),
        chart_file=chart_file,
        chart_version=chart_version,
        verbose=verbose,
    )


INSPECT_EXAMPLES = """\b
Examples:
  airbox bundle inspect airbox.bundle
  airbox bundle inspect airbox.bundle --json

\b
Exit codes: 0 every item checks, 2 the bundle is damaged (the item is named) or is
not a bundle.
"""


@bundle.command("inspect", epilog=INSPECT_EXAMPLES)
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def inspect(file: Path, as_json: bool) -> int:
    """Show a bundle's manifest and check every item's size and SHA-256."""
    from airbox.ops.offline_bundle import inspect_command

    return inspect_command(file, as_json=as_json)


LOAD_EXAMPLES = """\b
Examples:
  airbox bundle load connectors.bundle                 # the only data plane
  airbox bundle load connectors.bundle --name dp1

\b
Adds a bundle's images to an installed data plane, with no network: each is loaded
into Docker (unless Docker has it), then into the kind node (`kind load`). The way to
run a connector offline: `airbox bundle create --connector IMAGE -o FILE` on a
connected machine, copy FILE, then load it here. The bundle is checked first (every
byte); a damaged one changes nothing.

\b
Exit codes: 0 loaded, 1 failed, 2 bad input or a damaged bundle (the item is named),
3 no data plane is installed.
"""


@bundle.command("load", epilog=LOAD_EXAMPLES)
@click.argument("file", type=click.Path(path_type=Path))
@name_option()
@verbose_option
def load(file: Path, name: str | None, verbose: bool) -> int:
    """Load a bundle's images into an installed data plane's kind node."""
    from airbox.ops.bundled import load_command

    return load_command(file, name=name, verbose=verbose)
