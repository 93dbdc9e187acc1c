"""The workspaces a data plane serves: install's steps that check and route them, ``airbox
workspaces`` (list, ``--assign``, ``--unassign``) and status's look at them. How a
workspace is routed to the region is ``routing``'s.

``airbox workspaces --json`` prints::

    {"version": 1, "region": {"regionId": "...", "name": "..."},
     "workspaces": [{"workspaceId", "name", "region", "routedHere"}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.config.settings import Settings, is_uuid
from airbox.controlplane.api import AirbyteApi
from airbox.controlplane.regions import match_region, own_regions, pick_organization
from airbox.controlplane.registration import MANAGED_ORGANIZATION, api_for, saved_registration
from airbox.errors import MissingInput, UsageError
from airbox.ops.routing import (
    UI_PATH,
    Region,
    Routing,
    Say,
    apply_route,
    find_region,
    listing,
    manual_routing,
    other_own_regions,
    plan_route,
    refusals,
    refused,
    region_from_record,
    resolve,
    route,
    routed_here,
    rows,
    workspace_name,
)
from airbox.paths import StateDir
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter
    from airbox.installed import Installed
    from airbox.ui import StepLine, Terminal

WORKSPACES_VERSION = 1


# ---------------------------------------------------------------- the install step


def install_route(
    settings: Settings, state: StateDir, line: StepLine, *, prompter: Prompter | None, force: bool
) -> Routing:
    """The install's "route" step: the workspaces of ``workspaces:``/--workspace; returns
    what was done, for the install's last screen. ``prompter``: None when questions may not
    be asked."""
    wanted = list(settings.workspaces)
    interactive = prompter is not None
    if settings.registration is None:
        region = region_from_record(state)
        name = region.name if region else None
        line.skip("needs the application's credentials; see below")
        return Routing(region, manual=manual_routing(name))
    with api_for(settings, state) as api:
        try:
            region = find_region(api, settings, state)
        except MissingInput:
            if wanted:
                raise
            # Given a data plane's own credentials and no region: nothing to route, and
            # no reason to fail an install that worked.
            line.skip("the region is not known; see below")
            return Routing(
                None,
                manual=(
                    "airbox does not know this data plane's region (it did not register it): "
                    f"in Airbyte, open {UI_PATH} and select the data plane's region, or set "
                    "registration.region and run `airbox workspaces --assign <workspace>`"
                ),
            )
        result = route(
            api,
            region,
            wanted,
            prompter=prompter,
            force=force,
            ask_when_none=interactive,
            say=line.update,
            paused=line.paused,
        )
        if not result.workspaces:
            result.already = sorted(
                workspace_name(w) for w in api.workspaces() if routed_here(w, region)
            )
    if result.routed or result.created:
        line.update("routed: " + ", ".join(result.routed + result.created))
    elif result.workspaces:
        line.skip("already routed: " + ", ".join(result.workspaces))
    else:
        line.skip("no workspace named")
    return result


def install_check(
    settings: Settings, state: StateDir, line: StepLine, *, interactive: bool, force: bool
) -> None:
    """The install's "check-workspaces" step, before anything is built: every workspace
    named exists. Without a terminal (``interactive`` false) an unknown one is exit 2 now,
    not after the deployment; on a terminal the route step offers the list instead."""
    with api_for(settings, state) as api:
        workspaces = api.workspaces()
        found, unknown = resolve(list(settings.workspaces), workspaces)
        if not interactive:
            # Every refusal the route step would make, decided now: nothing is registered
            # or built for an install whose last step would refuse its workspaces.
            target = _target_region(api, settings, state)
            others: set[str] = set()
            if target is not None and any(not routed_here(w, target) for w in found):
                others = other_own_regions(api, target)
                others.discard(target.residency)
            problems = refusals(
                found,
                unknown,
                workspaces,
                target.name if target else "",
                others if target else set(),
                force=force,
            )
            if problems:
                raise refused(problems, unknown, workspaces)
    line.update(
        "found: "
        + ", ".join(workspace_name(w) for w in found)
        + (
            f"; not found: {', '.join(shown(u) for u in unknown)} (asked at the end)"
            if unknown
            else ""
        )
    )


def _target_region(api: AirbyteApi, settings: Settings, state: StateDir) -> Region | None:
    """The region the install will route to, as far as it is known before registering:
    the saved registration's, or registration.region (to be created when new); None when
    the register step will ask (or refuse)."""
    region = region_from_record(state)
    if region is not None and region.name:
        return region
    reg = settings.registration
    if reg is None or not reg.region:
        return None
    org_id = str(pick_organization(api, reg.organization_id)["organizationId"])
    found = match_region(own_regions(api.regions(org_id), org_id), reg.region)
    if found is not None:
        return Region(str(found["regionId"]), str(found.get("name") or ""), org_id)
    return None if is_uuid(reg.region) else Region("", reg.region.strip(), org_id)


def last_screen(routing: Routing | None, name: str, dataplane_id: str | None) -> list[str]:
    """The lines about routing at the end of an install."""
    if routing is None:
        return []
    region = routing.region
    lines = []
    if region is not None:
        lines.append(
            f"  region:     {region.name or region.region_id}"
            + (f" (data plane {dataplane_id})" if dataplane_id else "")
        )
    if routing.manual:
        lines.append(f"  workspaces: not routed: {routing.manual}")
    elif routing.workspaces:
        lines.append("  workspaces: " + ", ".join(routing.workspaces) + " (their syncs run here)")
        lines.append(f"  prove it:   airbox verify --name {name}")
    else:
        lines.append(
            "  workspaces: none uses this region yet: every sync still runs on Airbyte's data plane"
        )
        lines.append(f"  route one:  airbox workspaces --name {name} --assign <workspace>")
    return lines


# --------------------------------------------------------------------- the command


def workspaces_command(
    *,
    name: str | None,
    assign: Sequence[str],
    unassign: Sequence[str],
    output: str,
    assume_yes: bool,
    force_route: bool,
    interactive: bool,
    term: Terminal | None = None,
    prompter: Prompter | None = None,
) -> int:
    """``airbox workspaces``: which workspaces use this region; route or unroute some."""
    from airbox.ops.session import Session
    from airbox.ui import render_table

    if interactive and prompter is None:
        from airbox.config.prompts import Prompter as RealPrompter

        prompter = RealPrompter()
    # Routing changes the control plane: one airbox at a time per data plane, and a run
    # log, as every day-2 command that changes something keeps; listing only reads, never
    # waits and leaves no log.
    changing = bool(assign or unassign)
    with (
        Session.acting_on(
            name,
            "workspaces",
            "install one first: airbox install",
            needs_cluster=True,
            check=_has_credentials,
            lock=changing,
            log=changing,
            term=term,
        ) as run,
        _api(run.inst) as api,
    ):
        inst, term = run.inst, run.term
        runlog.logger().info(
            "airbox workspaces %s: assign %s, unassign %s", inst.name, list(assign), list(unassign)
        )
        region = find_region(api, inst.settings, inst.state, day2=True)
        # Every name resolved and every refusal decided before the first change.
        back = _plan_unassign(api, region, list(unassign)) if unassign else None
        plan = (
            plan_route(
                api,
                region,
                list(assign),
                prompter=prompter if interactive else None,
                force=force_route,
                say=term.info,
            )
            if assign
            else None
        )
        if plan is not None:
            done = apply_route(api, plan, say=term.info)
            for ws in done.routed + done.created:
                term.success(f"workspace {ws} now runs its syncs in region {shown(region.name)}")
            for ws in done.already:
                term.info(f"workspace {ws} already uses region {shown(region.name)}")
        if back is not None:
            _apply_unassign(api, region, *back, say=term.info)
        listed = rows(api.workspaces(), region)
    if output == "json":
        term.print(
            json.dumps(
                {"version": WORKSPACES_VERSION, "region": region.as_dict(), "workspaces": listed},
                indent=2,
            )
        )
    else:
        term.print(
            render_table(
                [
                    {
                        "name": shown(r["name"]),
                        "id": shown(r["workspaceId"]),
                        "region": shown(r["region"]),
                        "here": "yes" if r["routedHere"] else "",
                    }
                    for r in listed
                ],
                ["name", "id", "region", "here"],
            )
        )
        if not any(r["routedHere"] for r in listed):
            term.warn(
                f"no workspace uses region {shown(region.name)}: syncs do not run on "
                "this data "
                f"plane; route one: airbox workspaces --name {inst.name} --assign "
                "<workspace>"
            )
    return 0


def _has_credentials(inst: Installed) -> None:
    if inst.settings.registration is None:
        region = region_from_record(inst.state)
        raise MissingInput(manual_routing(region.name if region else None))


def _api(inst: Installed) -> AirbyteApi:
    record = saved_registration(inst.state) or {}
    return api_for(inst.settings, inst.state, base_url=record.get("apiUrl") or None)


def _unassign(api: AirbyteApi, region: Region, wanted: list[str], *, say: Say) -> None:
    """Move workspaces back to Airbyte's managed region (when there is exactly one)."""
    _apply_unassign(api, region, *_plan_unassign(api, region, wanted), say=say)


def _plan_unassign(
    api: AirbyteApi, region: Region, wanted: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The workspaces to move back to Airbyte's managed region, and that region; a usage
    error (nothing changed) when a name is unknown or the region is not clear."""
    workspaces = api.workspaces()
    found, unknown = resolve(wanted, workspaces)
    if unknown:
        raise UsageError(
            "no workspace named "
            + ", ".join(repr(shown(u)) for u in unknown)
            + " is visible to the application; nothing was changed",
            details=listing(workspaces),
        )
    managed = [
        r
        for r in api.regions(region.organization_id)
        if r.get("organizationId") == MANAGED_ORGANIZATION
    ]
    if len(managed) != 1:
        raise UsageError(
            "airbox cannot tell which Airbyte-managed region to move the workspace back to",
            details=[shown(r.get("name")) for r in managed],
            hint=f"choose the region in Airbyte: {UI_PATH}",
        )
    return found, managed[0]


def _apply_unassign(
    api: AirbyteApi,
    region: Region,
    found: list[dict[str, Any]],
    managed: Mapping[str, Any],
    *,
    say: Say,
) -> None:
    """Move workspaces back to Airbyte's managed region."""
    for workspace in found:
        if not routed_here(workspace, region):
            say(f"workspace {workspace_name(workspace)} does not use region {shown(region.name)}")
            continue
        api.route_workspace(str(workspace["workspaceId"]), str(managed["regionId"]))
        runlog.logger().info(
            "moved workspace %s (%s) back to region %s",
            workspace_name(workspace),
            workspace.get("workspaceId"),
            managed["regionId"],
        )
        say(
            f"workspace {workspace_name(workspace)} moved back to region "
            f"{shown(managed.get('name'))}"
        )


# ------------------------------------------------------------------------- status


def routing_probe(inst: Installed) -> dict[str, Any] | None:
    """For status: ``{region, workspaces: [names routed here]}``; None to skip
    (no application credentials, or no region known)."""
    from airbox.controlplane.api import NO_RETRY, Timeouts

    region = region_from_record(inst.state)
    if inst.settings.registration is None or region is None:
        return None
    with _api(inst) as api:
        # Status must answer fast even when the control plane does not (or trickles).
        api.timeout = Timeouts(connect=2.0, read=4.0, total=6.0)
        api.reads_within = 8.0
        api.retries = NO_RETRY
        here = [str(w.get("name")) for w in api.workspaces() if routed_here(w, region)]
    return {"region": region.as_dict(), "workspaces": sorted(here)}
