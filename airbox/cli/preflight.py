"""``airbox preflight``: only the checks, each problem with its fix."""

from __future__ import annotations

from pathlib import Path

import click

from airbox.cli.options import json_option, name_option

EXAMPLES = """\b
Examples:
  airbox preflight                          # this machine, against Airbyte Cloud
  airbox preflight --name us-west-1-dp      # an installed data plane's settings
  airbox preflight --answers dp.yaml        # before the first install
  airbox preflight --control-plane-url https://airbyte.example.com
  airbox preflight --json | jq '.checks[] | select(.outcome == "fail")'

\b
Outcomes: pass, warn (works, below Airbyte's recommendation), fail (install would
fail or the data plane could not run), skip (does not apply here).
Exit codes: 0 nothing failed (warnings allowed), 3 at least one check failed,
2 bad input.
"""


@click.command(epilog=EXAMPLES)
@name_option()
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Answers file (YAML) with the data plane's settings.",
)
@click.option(
    "--control-plane-url",
    help="Control plane URL to check (default: the settings', else Airbyte Cloud).",
)
@json_option
def preflight(
    name: str | None, answers_file: Path | None, control_plane_url: str | None, as_json: bool
) -> int:
    """Check this machine, with a fix for each problem.

    Docker (installed, running, accessible, version), CPUs, memory and disk as
    Docker sees them, kernel limits, outbound HTTPS to the control plane, the Helm
    repository and the image registry, the clock, and whether the data plane's
    name is free. Results are saved to the data plane's state directory
    (preflight.json) when it has one.
    """
    from airbox.ops.preflight.command import preflight_command

    return preflight_command(
        name=name, answers_file=answers_file, control_plane_url=control_plane_url, as_json=as_json
    )
