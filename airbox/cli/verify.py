"""``airbox verify``: run one real sync through this data plane and show it ran here."""

from __future__ import annotations

import click

from airbox.cli.options import json_option, name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox verify                                  # throwaway faker -> dev-null sync
  airbox verify --workspace analytics-eu --timeout 30m
  airbox verify --connection 9924bcd0-99be-453d-ba47-c2c9766f7da5
  airbox verify --json

\b
Exit codes: 0 the sync succeeded and its pods ran on this data plane; 1 it failed,
timed out, or ran elsewhere; 3 not installed; 4 control plane (API) error; 130 interrupted
(143 on SIGTERM; the job is cancelled and what verify created is deleted).
"""


@click.command(epilog=EXAMPLES)
@name_option()
@click.option(
    "--workspace",
    help="A workspace routed to this data plane's region (name or id; default: the first one).",
)
@click.option("--connection", help="Sync this existing connection instead of a throwaway one.")
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the throwaway source, destination and "
    "connection (named airbox-kept-<name>-<time>-...; "
    "later runs leave them alone).",
)
@click.option(
    "--timeout",
    default="15m",
    show_default=True,
    help="Give up (and cancel the job) after this long: 15m, 90s, 1h.",
)
@json_option
@verbose_option
def verify(
    name: str | None,
    workspace: str | None,
    connection: str | None,
    keep: bool,
    timeout: str,
    as_json: bool,
    verbose: bool,
) -> int:
    """Run one real sync through this data plane and show that it ran here.

    Creates a throwaway faker source, dev-null destination and connection in a workspace
    routed to this data plane's region (all three named airbox-verify-<name>-...), runs
    one sync, watches its pods appear in the data plane's namespace, then deletes the
    three. Needs the Airbyte application's credentials.
    """
    from airbox.ops.verify import verify_command

    return verify_command(
        name=name,
        workspace=workspace,
        connection=connection,
        keep=keep,
        timeout=timeout,
        as_json=as_json,
        verbose=verbose,
    )
