"""``airbox repair``: bring the data plane back to healthy, asking nothing."""

from __future__ import annotations

import click

from airbox.cli.options import name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox repair                       # the only installed data plane
  airbox repair --name us-west-1-dp   # one of several
  airbox repair && airbox status      # e.g. from a timer, after a reboot

\b
Fixes what it finds, in this order, and says what it did: starts a stopped node
container; sets its restart policy to unless-stopped (back after a reboot); waits
for the Kubernetes API; renews the cluster's certificates when one expires within
30 days (kubeadm certs renew all in the node, a node restart, the kubeconfig
exported again); re-applies the Secret from the saved state; rolls back a release
left pending by an interrupted run; restarts a crash-looping launcher once. Then
it runs the status checks. Running it again is safe: it does only what is needed.

\b
Exit codes: 0 healthy after (warnings are listed), 1 still unhealthy (the reason
and the next command are printed), 2 bad usage, 3 not installed.
"""


@click.command(epilog=EXAMPLES)
@name_option()
@verbose_option
def repair(name: str | None, verbose: bool) -> int:
    """Bring the data plane back to healthy without asking anything."""
    from airbox.ops.repair import repair_command

    return repair_command(name=name, verbose=verbose)
