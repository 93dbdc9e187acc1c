"""``airbox status``: probe, judge, report; 0 healthy, 1 degraded or unhealthy, 3 not
installed."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

from airbox.cluster.runner import Runner
from airbox.errors import EXIT_FAILURE, EXIT_OK, EXIT_PREFLIGHT
from airbox.installed import Installed, choose_name, half_built, load_installed, tool_runner
from airbox.ops.status import ahead, checks, now, remote
from airbox.ops.status.probes import Facts, Probes, run_probes
from airbox.ops.status.render import render
from airbox.ops.status.report import (
    HEALTHY,
    NOT_INSTALLED,
    STATUS_VERSION,
    Report,
    stamp,
    target,
    verdict,
)
from airbox.paths import StateDir
from airbox.redact import REDACTOR


def assess(inst: Installed, runner: Runner, *, probes: Probes | None = None) -> Report:
    """Probe everything (or judge the ``probes`` given) and judge."""
    started = time.monotonic()
    checked_at = time.time()
    facts = Facts(inst, probes or run_probes(inst, runner), checked_at)
    found, seen = checks.run_checks(facts)
    word, reason, fix = verdict(found, inst.name)
    return Report(
        version=STATUS_VERSION,
        name=inst.name,
        verdict=word,
        reason=REDACTOR.mask_all(reason),
        next=fix,
        checked_at=stamp(checked_at),
        seconds=round(time.monotonic() - started, 2),
        target=target(inst.settings),
        namespace=inst.settings.namespace,
        checks=found,
        release=now.release_view(seen),
        pods=now.pods_view(seen),
        events=now.events_view(seen),
        registration=remote.registration_view(seen),
        node=ahead.node_view(seen),
        versions=ahead.versions_view(seen),
        routing=remote.routing_view(seen),
        unfinished_repair=ahead.unfinished_repair_view(seen),
    )


def status_report(
    inst: Installed, runner: Runner, *, probes: Probes | None = None
) -> dict[str, Any]:
    """The ``--json`` document."""
    return assess(inst, runner, probes=probes).to_json()


def not_installed_report(name: str | None) -> dict[str, Any]:
    from airbox.paths import airbox_home

    where = StateDir.for_name(name).root if name else airbox_home()
    what = f"no data plane named {name} is installed" if name else "no data plane is installed"
    reason, step = (
        f"{what} (no state in {where})",
        "airbox install" + (f" --name {name}" if name else ""),
    )
    unfinished = {} if name else half_built()
    if unfinished:
        # Only installs that stopped before a cluster: not installed, and each one listed.
        reason = f"{what}: " + "; ".join(
            f"{n} is {stopped.listing()}" for n, stopped in unfinished.items()
        )
        first = next(iter(unfinished))
        step = (
            f"airbox install --name {first}  (finishes it; or remove it: airbox "
            f"uninstall --name {first})"
        )
    return Report(
        version=STATUS_VERSION,
        name=name,
        verdict=NOT_INSTALLED,
        reason=reason,
        next=step,
        checked_at=stamp(time.time()),
        seconds=0.0,
        target=None,
        namespace=None,
        checks=[],
        release=None,
        pods=[],
        events=[],
        registration=None,
        node=None,
        versions=None,
        routing=None,
        unfinished_repair=None,
    ).to_json()


def status_command(
    *, name: str | None, as_json: bool, verbose: bool = False, out: IO[str] | None = None
) -> int:
    """``airbox status``: 0 healthy, 1 degraded or unhealthy, 3 not installed."""
    from airbox.ui import Terminal, use_color

    out = out or sys.stdout
    chosen = choose_name(name, "status")
    inst = load_installed(chosen) if chosen else None
    if inst is None:
        report = not_installed_report(chosen)
        code = EXIT_PREFLIGHT
    else:
        term = Terminal(verbose=verbose)
        report = status_report(inst, tool_runner(term.debug if verbose else None))
        code = EXIT_OK if report["verdict"] == HEALTHY else EXIT_FAILURE
    text = (
        json.dumps(report, indent=2) if as_json else "\n".join(render(report, color=use_color(out)))
    )
    out.write(REDACTOR.mask_all(text) + "\n")
    out.flush()
    return code
