"""``airbox dataplanes``: the data planes registered with the control plane."""

from __future__ import annotations

import click

from airbox.cli.options import name_option

EXAMPLES = """\b
Examples:
  airbox dataplanes                          # with the saved settings of the installed one
  airbox dataplanes --name us-west-1-dp -o json
  AIRBYTE_CLIENT_ID=... AIRBYTE_CLIENT_SECRET=... airbox dataplanes --region us-west-1
  AIRBYTE_CLIENT_ID=... AIRBYTE_CLIENT_SECRET=... airbox dataplanes \\
      --api-url https://airbyte.example.com/api/public/v1
"""


@click.command(epilog=EXAMPLES)
@name_option(
    "Use the saved settings of this installed data plane (optional when there is only one)."
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--region", help="Only the data planes of this region (name or id).")
@click.option(
    "--organization-id",
    help="The organization (needed when the application can use several and none is saved).",
)
@click.option(
    "--api-url",
    help="Airbyte public API base URL (default: the saved settings', "
    "else https://api.airbyte.com/v1).",
)
def dataplanes(
    name: str | None,
    output: str,
    region: str | None,
    organization_id: str | None,
    api_url: str | None,
) -> int:
    """List the data planes registered with the control plane.

    Shows each data plane's name, id, region, whether it is enabled and when it was
    created. Uses the Airbyte application's credentials from AIRBYTE_CLIENT_ID and
    AIRBYTE_CLIENT_SECRET, or those saved by `airbox install`.
    """
    from airbox.ops.dataplanes import dataplanes_command

    return dataplanes_command(
        name=name, output=output, region=region, organization_id=organization_id, api_url=api_url
    )
