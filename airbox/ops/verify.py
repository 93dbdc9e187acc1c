"""``airbox verify``: a real sync through this data plane — the proof that it runs work.

The command: the data plane's lock, its region and workspace, one run of ``verify_sync
.Verifier`` (throwaway connectors or ``--connection``, the sync, its pods, the clean-up),
and the report (``--json``: ``verify_sync.Outcome``).

Exit codes: 0 the sync succeeded and its pods ran here; 1 it failed, timed out, or ran
elsewhere; 3 not installed; 4 API error.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING

from airbox import runlog
from airbox.errors import AirboxError, MissingInput, UsageError
from airbox.installed import Installed
from airbox.ops.routing import find_region, manual_steps, region_from_record
from airbox.ops.session import Session
from airbox.ops.verify_sync import Outcome, Verifier
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.ui import Terminal


def parse_timeout(text: str) -> float:
    """``15m``, ``90s``, ``1h``, ``1h30m`` or plain seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise UsageError(
            f"--timeout {text!r} is not a duration", hint="use for example 15m, 90s or 1h"
        )
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def verify_command(
    *,
    name: str | None,
    workspace: str | None,
    connection: str | None,
    keep: bool,
    timeout: str,
    as_json: bool,
    verbose: bool = False,
    term: Terminal | None = None,
    out: IO[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """``airbox verify``: 0 passed; 1 failed, timed out or ran elsewhere; 3; 4."""
    from airbox.controlplane.registration import api_for, saved_registration
    from airbox.ui import Terminal

    seconds = parse_timeout(timeout)
    term = term or Terminal(verbose=verbose)
    out = out or sys.stdout
    say = term.info if not as_json else runlog.logger().info

    def tell(text: str) -> None:
        runlog.logger().warning("%s", text)
        term.warn(text)

    started = time.monotonic()
    # Creates and deletes connectors on the control plane: never beside an uninstall or a
    # second verify of the same data plane (leftover clean-up would race).
    with ExitStack() as held:
        run = held.enter_context(
            Session.acting_on(
                name,
                "verify",
                "install one first: airbox install",
                needs_cluster=True,
                check=_has_credentials,
                term=term,
            )
        )
        inst = run.inst
        record = saved_registration(inst.state) or {}
        api = held.enter_context(
            api_for(inst.settings, inst.state, base_url=record.get("apiUrl") or None)
        )
        verifier = Verifier(
            inst,
            api,
            run.runner,
            say=say,
            tell=tell,
            term=None if as_json else term,
            timeout=seconds,
            sleep=sleep,
            keep=keep,
        )
        outcome = verifier.outcome
        try:
            region = find_region(api, inst.settings, inst.state, day2=True)
            outcome.region = region.as_dict()
            if connection:
                verifier.run_job(connection)
            else:
                chosen = verifier.pick_workspace(region, workspace)
                workspace_id = str(chosen["workspaceId"])
                outcome.workspace = {"workspaceId": workspace_id, "name": chosen.get("name")}
                say(f"workspace {shown(chosen.get('name'))} (region {shown(region.name)})")
                verifier.remove_leftovers(workspace_id)
                connection_id = verifier.create_throwaway(workspace_id)
                if connection_id is not None:
                    verifier.run_job(connection_id)
            if outcome.job_id is not None:
                verifier.judge()
        except BaseException as exc:
            # However the run ended (Ctrl-C, SIGTERM/SIGHUP as airbox.signals.Terminated,
            # an API error while polling): a job that is not over is cancelled before its
            # connection is deleted, and the error says what became of the job.
            interrupted = isinstance(exc, KeyboardInterrupt)
            if interrupted:
                outcome.result = "interrupted"
            notes = verifier.finish(keep=keep, interrupted=interrupted)
            if isinstance(exc, AirboxError):
                exc.details.extend(notes)
            # Re-raised as it came, so the exit code says which (130, 143, 129; 4).
            raise
        verifier.finish(keep=keep, interrupted=False)
    outcome.seconds = time.monotonic() - started
    return _report(outcome, inst, term, out, as_json=as_json, keep=keep)


def _has_credentials(inst: Installed) -> None:
    """Verify creates a connection: it needs the application's credentials."""
    if inst.settings.registration is None:
        region = region_from_record(inst.state)
        raise MissingInput(
            "airbox verify needs the Airbyte application's credentials (to create and run "
            "a connection)",
            hint="set AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET (an Airbyte application's "
            "credentials) and run airbox verify again; meanwhile, to send workspaces "
            "here by hand: " + manual_steps(region.name if region else None),
        )


def _report(
    outcome: Outcome, inst: Installed, term: Terminal, out: IO[str], *, as_json: bool, keep: bool
) -> int:
    code = 0 if outcome.result == "passed" else 1
    if as_json:
        out.write(json.dumps(outcome.as_dict(), indent=2) + "\n")
        out.flush()
        return code
    if code == 0:
        term.success(f"verified: {outcome.reason}")
    else:
        term.error(f"verify {outcome.result}: {outcome.reason}")
        if outcome.pods:
            term.detail(
                "pods seen here: " + ", ".join(f"{k} ({v})" for k, v in outcome.pods.items())
            )
        term.detail(
            f"next: airbox logs --name {inst.name}  (the launcher's view of the job); "
            "the job's own logs are in Airbyte: the connection's Job History"
        )
    if keep and outcome.created:
        term.info(
            "kept: " + ", ".join(f"{i['kind']} {i['name']} ({i['id']})" for i in outcome.created)
        )
    return code
