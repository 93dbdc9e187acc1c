"""``airbox status``: is the data plane healthy, and if not, why and what to do next."""

from __future__ import annotations

import click

from airbox.cli.options import json_option, name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox status                       # the only installed data plane
  airbox status --name us-west-1-dp   # one of several
  airbox status --json | jq -r '.verdict, .reason, .next'
  airbox status --json | jq '.checks[] | select(.state != "ok")'

\b
The first line is the verdict (healthy, degraded, unhealthy or not installed) with
the reason and the next command to run; then one line per check: Docker, the
cluster's node container, Kubernetes, the Helm release, the pods, recent warning
events, the launcher's authentication, and - when airbox registered the data
plane - its registration and heartbeat as the control plane reports them.

\b
Exit codes: 0 healthy, 1 degraded or unhealthy, 3 not installed,
2 bad usage (several data planes and no --name).
"""


@click.command(epilog=EXAMPLES)
@name_option()
@json_option
@verbose_option
def status(name: str | None, as_json: bool, verbose: bool) -> int:
    """Say whether the data plane is healthy and, if not, why and what to do next.

    Every probe runs at once and none can make status fail: Docker down, a deleted
    cluster or a removed release are reported as findings.
    """
    from airbox.ops.status import status_command

    return status_command(name=name, as_json=as_json, verbose=verbose)
