"""``airbox logs``: the data plane's logs, secrets masked."""

from __future__ import annotations

import click

from airbox.cli.options import name_option

EXAMPLES = """\b
Examples:
  airbox logs                          # the launcher's whole log
  airbox logs -f --tail 50             # its last 50 lines, then follow (Ctrl-C stops)
  airbox logs --since 10m              # the last ten minutes
  airbox logs --previous               # the crashed container's log (CrashLoopBackOff)
  airbox logs --name us-west-1-dp <pod-name>   # any pod of the data plane's namespace

\b
Known secrets and credential-shaped text are masked; everything else is shown
as the pod wrote it. Exit codes: 0 done, 2 bad usage, 3 not installed,
5 the cluster could not give the logs, 130 a follow stopped with Ctrl-C.
"""


@click.command(epilog=EXAMPLES)
@click.argument("pod", required=False)
@name_option()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--since", help="Only lines newer than this (e.g. 30s, 10m, 2h).")
@click.option("--tail", type=int, help="Only the last N lines (default: all).")
@click.option("-p", "--previous", is_flag=True, help="The previous (crashed) container's log.")
@click.option(
    "-c", "--container", help="The container (default: the launcher's; a pod's default otherwise)."
)
def logs(
    pod: str | None,
    name: str | None,
    follow: bool,
    since: str | None,
    tail: int | None,
    previous: bool,
    container: str | None,
) -> int:
    """Show (or follow) the data plane's logs: the launcher's, or a pod's.

    POD is any pod in the data plane's namespace (`airbox status` lists the data
    plane's own pods).
    """
    from airbox.ops.logs import logs_command

    return logs_command(
        name=name,
        pod=pod,
        container=container,
        follow=follow,
        since=since,
        tail=tail,
        previous=previous,
    )
