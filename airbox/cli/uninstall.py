"""``airbox uninstall``: remove what airbox created, after confirmation."""

from __future__ import annotations

import sys

import click

from airbox.cli.options import common_options

EXAMPLES = """\b
Examples:
  airbox uninstall                            # lists what it removes, then asks
  airbox uninstall --name us-west-1-dp --yes  # no question (scripts, no terminal)
  airbox uninstall --yes --deregister         # also delete the registration in Airbyte
  airbox uninstall --yes --keep-state         # keep ~/.airbyte/airbox/<name>/

\b
Removes the Helm release, then the kind cluster airbox created. In an existing
cluster (--kube-context installs) only what airbox put there: the release, the
Secret airbyte-config-secrets, and the namespace if airbox created it and
nothing else lives in it; never the cluster. Then the local state, unless
--keep-state. Running it again is safe: it removes only what is left.
--deregister needs the Airbyte application's credentials (saved by the install,
or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET).

\b
Exit codes: 0 nothing is left (or nothing was there), 1 something could not be
removed (the message lists it and how to remove it by hand; the state is kept
so running it again finishes the job), 2 bad usage (no terminal and no --yes).
"""


@click.command(epilog=EXAMPLES)
@click.option(
    "--deregister",
    is_flag=True,
    help="Also delete the data plane's registration on the control plane.",
)
@click.option(
    "--keep-state",
    is_flag=True,
    help="Keep the local state directory (settings, credentials, logs).",
)
@common_options
def uninstall(
    name: str | None, assume_yes: bool, verbose: bool, deregister: bool, keep_state: bool
) -> int:
    """Remove what airbox installed: the release, the kind cluster it made, the state.

    Lists what it will remove and asks first (--yes to skip the question).
    """
    from airbox.ops.uninstall import uninstall_command

    return uninstall_command(
        name=name,
        assume_yes=assume_yes,
        deregister=deregister,
        keep_state=keep_state,
        verbose=verbose,
        interactive=sys.stdin.isatty() and not assume_yes,
    )
