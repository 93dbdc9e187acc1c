"""``airbox logs``: the data plane's logs on standard output, secrets masked.

By default the launcher's (the chart's deployment, container ``airbyte-data-plane``);
with a pod name, that pod's (any pod of the release namespace: the launcher's, or a
sync's). Logs are the user's data, so lines pass through unchanged except for
credentials: every known secret value and credential-shaped text is masked.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
from typing import IO

from airbox.cluster import commands
from airbox.errors import EXIT_INTERRUPTED, EXIT_OK, ClusterError, UsageError
from airbox.installed import Installed
from airbox.ops.session import Session
from airbox.redact import REDACTOR

# kubectl's --since: a Go duration of whole units, such as 30s, 10m, 1h or 1h30m.
_DURATION = re.compile(r"^(\d+(h|m|s))+$")
# --follow streams until Ctrl-C; the runner needs some limit, so a generous one.
FOLLOW_TIMEOUT = 7 * 24 * 3600.0
READ_TIMEOUT = 300.0


def logs_command(
    *,
    name: str | None,
    pod: str | None,
    container: str | None,
    follow: bool,
    since: str | None,
    tail: int | None,
    previous: bool,
    out: IO[str] | None = None,
) -> int:
    """Print (or follow) the logs; 0 when done, 130 when a follow is stopped with Ctrl-C."""
    out = out or sys.stdout
    if since is not None and not _DURATION.match(since):
        raise UsageError(
            f"--since {since!r} is not a duration",
            hint="use whole units such as 30s, 10m, 2h or 1h30m",
        )
    if tail is not None and tail < -1:
        raise UsageError("--tail must be a number of lines (or -1 for all)")
    if follow and previous:
        raise UsageError(
            "--follow and --previous do not go together: a terminated container's log does not grow"
        )
    # Only reads: no lock (a follow may run for days beside a repair or an upgrade), and
    # no run log (the output is the log).
    with Session.acting_on(
        name, "logs", "install one with `airbox install`", needs_cluster=True, lock=False, log=False
    ) as run:
        return _logs(
            run,
            pod=pod,
            container=container,
            follow=follow,
            since=since,
            tail=tail,
            previous=previous,
            out=out,
        )


def _logs(
    run: Session[Installed],
    *,
    pod: str | None,
    container: str | None,
    follow: bool,
    since: str | None,
    tail: int | None,
    previous: bool,
    out: IO[str],
) -> int:
    inst = run.inst
    settings = inst.settings
    if pod:
        target = pod
    else:
        target = f"deployment/{commands.deployment_name(settings)}"
        container = container or commands.LAUNCHER_CONTAINER
    argv = commands.kubectl_logs(
        inst.kube,
        settings.namespace,
        target,
        container=container,
        follow=follow,
        since=since,
        tail=tail,
        previous=previous,
    )
    runner = run.runner
    lock = threading.Lock()

    def write(line: str) -> None:
        # Called from the runner's reader threads, already masked (mask_all).
        with lock:
            out.write(line + "\n")
            out.flush()

    if follow:
        errors: list[str] = []
        try:
            # Streamed, not kept: a follow may run for days. kubectl's own errors are
            # collected apart so they reach stderr, not the log on stdout.
            result = runner.run(
                argv,
                timeout=FOLLOW_TIMEOUT,
                check=False,
                on_line=write,
                on_stderr=errors.append,
                keep_output=False,
            )
            result = dataclasses.replace(result, stderr="\n".join(errors))
        except KeyboardInterrupt:
            # Ctrl-C is how a follow ends: no "interrupted, run it again" message.
            return EXIT_INTERRUPTED
    else:
        result = runner.run(argv, timeout=READ_TIMEOUT, check=False)
        for line in result.stdout.splitlines():
            out.write(REDACTOR.mask_all(line) + "\n")
        out.flush()
    if not result.ok:
        tail_text = [
            REDACTOR.mask_all(line) for line in result.stderr.splitlines() if line.strip()
        ][-5:]
        what = f"pod {pod}" if pod else "the launcher"
        hint = f"`airbox status --name {inst.name}` says what runs and why"
        if pod and any("not found" in line for line in tail_text):
            hint = (
                f"no pod {pod} in namespace {settings.namespace}; `airbox status --name "
                f"{inst.name}` lists the data plane's pods"
            )
        elif previous and any("previous terminated container" in line for line in tail_text):
            hint = "the container has not restarted: leave out --previous"
        raise ClusterError(f"reading the logs of {what} failed", details=tail_text, hint=hint)
    return EXIT_OK
