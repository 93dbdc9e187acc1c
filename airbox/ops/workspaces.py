"""Routing workspaces to this data plane's region — step 6 of Airbyte's procedure.

A data plane gets work only from the workspaces whose region is its region ("You can tie
each workspace to exactly one region"). The public API routes a workspace with
``PATCH /workspaces/{id} {"regionId"}``, creates one in a region with ``POST /workspaces
{"name", "organizationId", "regionId"}`` and shows each workspace's region as
``dataResidency``: the region's name, lower-cased. That name is how airbox tells which
workspaces use this region.

Routing needs the Airbyte application's credentials and the region airbox registered the
data plane in. With only a data plane's own credentials, airbox cannot route: it says
where in the UI to do it.

``airbox workspaces --json`` prints::

    {"version": 1, "region": {"regionId": "...", "name": "..."},
     "workspaces": [{"workspaceId", "name", "region", "routedHere"}]}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.config.settings import Settings, is_uuid
from airbox.controlplane.api import AirbyteApi
from airbox.controlplane.registration import (
    MANAGED_ORGANIZATION,
    api_for,
    match_region,
    own_regions,
    pick_organization,
    saved_registration,
)
from airbox.errors import ControlPlaneError, MissingInput, UsageError
from airbox.paths import StateDir
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter
    from airbox.installed import Installed
    from airbox.ops.install import Context
    from airbox.ui import StepLine, Terminal

WORKSPACES_VERSION = 1
UI_PATH = "Settings › Workspace › General › Region"
CREATE_NEW = "\0create"
NEW_WORKSPACE_ADVICE = (
    "Airbyte recommends a new workspace for a data plane: connectors that already exist "
    "break when the secrets manager that holds their secrets changes."
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Region:
    region_id: str
    name: str
    organization_id: str

    @property
    def residency(self) -> str:
        """How workspaces in this region show it (``dataResidency``)."""
        return self.name.lower()

    def as_dict(self) -> dict[str, Any]:
        return {"regionId": self.region_id, "name": self.name}


@dataclass
class Routing:
    """What routing did (or found): for the install's last screen and ``--json``."""

    region: Region | None
    routed: list[str] = field(default_factory=list)    # names routed by this run
    already: list[str] = field(default_factory=list)   # names that were routed before
    created: list[str] = field(default_factory=list)   # names created in the region
    # Set when airbox could not route (no application credentials): where to do it.
    manual: str | None = None

    @property
    def workspaces(self) -> list[str]:
        return sorted(set(self.routed) | set(self.already) | set(self.created))


# --------------------------------------------------------------------------- helpers


def region_from_record(state: StateDir) -> Region | None:
    record = saved_registration(state)
    if record is None or not record.get("regionId"):
        return None
    return Region(str(record["regionId"]), str(record.get("regionName") or ""),
                  str(record.get("organizationId") or ""))


def find_region(api: AirbyteApi, settings: Settings, state: StateDir, *,
                day2: bool = False) -> Region:
    """This data plane's region: the one it was registered in (or registration.region).

    ``day2``: asked by `workspaces` or `verify`, which have no ``--region``: the hint
    names the command that saves one (install's flag, the saved settings kept)."""
    region = region_from_record(state)
    if region is not None and region.name:
        return region
    reg = settings.registration
    wanted = region.region_id if region is not None else (reg.region if reg else None)
    if not wanted:
        raise MissingInput(
            "airbox does not know this data plane's region (it did not register it)",
            hint=(f"save its region: airbox install --name {settings.name} --region "
                  "<region name or id>  (the other saved settings are kept)") if day2
            else "set registration.region (or --region) to the region's name or id",
        )
    org_id = str(pick_organization(api, reg.organization_id if reg else None)["organizationId"])
    found = match_region(own_regions(api.regions(org_id), org_id), wanted)
    if found is None:
        raise UsageError(f"the organization has no region {wanted!r}",
                         hint="set registration.region to the region the data plane is in")
    return Region(str(found["regionId"]), str(found.get("name") or ""), org_id)


def routed_here(workspace: Mapping[str, Any], region: Region) -> bool:
    return str(workspace.get("dataResidency") or "").lower() == region.residency


def rows(workspaces: Sequence[Mapping[str, Any]], region: Region) -> list[dict[str, Any]]:
    """``[{workspaceId, name, region, routedHere}]``, this region's first, then by name."""
    out = [{"workspaceId": str(w.get("workspaceId")), "name": str(w.get("name") or ""),
            "region": str(w.get("dataResidency") or ""), "routedHere": routed_here(w, region)}
           for w in workspaces]
    return sorted(out, key=lambda r: (not r["routedHere"], r["name"].casefold()))


def _listing(workspaces: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{_name(w)}  ({shown(w.get('workspaceId'))}, region "
            f"{shown(w.get('dataResidency'))})" for w in workspaces]


def resolve(wanted: Sequence[str], workspaces: Sequence[Mapping[str, Any]]
            ) -> tuple[list[dict[str, Any]], list[str]]:
    """The workspaces named (by id or name, case-insensitively), and the names not found."""
    found: list[dict[str, Any]] = []
    unknown: list[str] = []
    for item in wanted:
        text = item.strip()
        if is_uuid(text):
            match = [w for w in workspaces if str(w.get("workspaceId")).lower() == text.lower()]
        else:
            match = [w for w in workspaces
                     if str(w.get("name") or "").casefold() == text.casefold()]
            exact = [w for w in match if w.get("name") == text]
            if len(match) > 1 and len(exact) == 1:
                match = exact
        if len(match) > 1:
            raise UsageError(f"several workspaces are named {text!r}",
                             details=_listing(match),
                             hint="name the one to route by its id")
        if not match:
            unknown.append(text)
        elif all(m.get("workspaceId") != match[0].get("workspaceId") for m in found):
            found.append(dict(match[0]))
    return found, unknown


def _other_own_regions(api: AirbyteApi, region: Region) -> set[str]:
    """Lower-cased names of the organization's other self-managed regions."""
    if not region.organization_id:
        return set()
    try:
        regions = api.regions(region.organization_id)
    except ControlPlaneError as exc:
        # Without the list, every other region counts as self-managed (the careful side).
        runlog.logger().warning("regions not listed: %s", exc.message)
        return {"*"}
    return {str(r.get("name") or "").lower() for r in regions
            if r.get("organizationId") not in (MANAGED_ORGANIZATION, None)
            and str(r.get("regionId")) != region.region_id}


# --------------------------------------------------------------------------- routing


@dataclass
class RoutePlan:
    """What routing will do, decided (every name resolved, every refusal and every
    question settled) before the first change."""

    region: Region
    move: list[dict[str, Any]] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    create: list[str] = field(default_factory=list)
    here: list[dict[str, Any]] = field(default_factory=list)
    nothing_named: bool = False


def refusals(found: Sequence[Mapping[str, Any]], unknown: Sequence[str],
             workspaces: Sequence[Mapping[str, Any]], region_name: str, others: set[str],
             *, force: bool) -> list[str]:
    """Why these workspaces cannot be routed without asking: every reason, each a line."""
    problems = []
    if unknown:
        problems.append("no workspace named " + ", ".join(repr(shown(u)) for u in unknown)
                        + " is visible to the application")
    for workspace in found:
        current = str(workspace.get("dataResidency") or "").lower()
        if current == region_name.lower() or force:
            continue
        if current in others or "*" in others:
            problems.append(f"workspace {_name(workspace)} uses region {shown(current)}, "
                            f"not {shown(region_name)}")
    return problems


def refused(problems: Sequence[str], unknown: Sequence[str],
            workspaces: Sequence[Mapping[str, Any]]) -> UsageError:
    """One error for every refusal (exit 2): nothing was routed."""
    hints = []
    details: list[str] = []
    if len(problems) > 1:
        details += problems
    if unknown:
        details += ["the workspaces it can see:",
                    *("  " + text for text in _listing(workspaces) or ["none"])]
        hints.append("name one of them (by name or id) in workspaces: or --workspace (or "
                     "--assign), or create the workspace in Airbyte first")
    if any(" uses region " in p for p in problems):
        hints.append("a workspace belongs to one region: pass --force-route to move it (its "
                     "syncs will run on this data plane from then on)")
    message = problems[0] if len(problems) == 1 else (
        f"{len(problems)} problems with the workspaces to route; nothing was routed")
    return UsageError(message, details=details, hint="; ".join(hints) or None)


def plan_route(
    api: AirbyteApi,
    region: Region,
    wanted: Sequence[str],
    *,
    prompter: Prompter | None,
    force: bool = False,
    ask_when_none: bool = False,
    say: Say = lambda _: None,
    paused: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> RoutePlan:
    """Decide what routing ``wanted`` to ``region`` does; changes nothing.

    Without a prompter, any refusal (an unknown name, a workspace in another self-managed
    region without ``force``) raises one usage error listing all of them. With one, unknown
    names open the checkbox and each move out of another self-managed region is asked.
    """
    plan = RoutePlan(region)
    workspaces = api.workspaces()
    found, unknown = resolve(wanted, workspaces)
    plan.here = [w for w in workspaces if routed_here(w, region)]
    choose = bool(unknown) or (ask_when_none and not wanted and not plan.here)
    if choose and prompter is not None:
        with paused():
            found, plan.create = _pick(prompter, workspaces, region, found, unknown)
        unknown = []
    others = _other_own_regions(api, region) if any(
        not routed_here(w, region) for w in found) else set()
    if prompter is None:
        problems = refusals(found, unknown, workspaces, region.name, others, force=force)
        if problems:
            raise refused(problems, unknown, workspaces)
    for workspace in found:
        name = _name(workspace)
        if routed_here(workspace, region):
            plan.already.append(name)
            continue
        current = str(workspace.get("dataResidency") or "").lower()
        if (current in others or "*" in others) and not force and prompter is not None:
            with paused():
                ok = prompter.confirm(
                    f"Workspace {name} runs its syncs in region {shown(current)}. Move it "
                    f"to {shown(region.name)}?", default=False)
            if not ok:
                say(f"left workspace {name} in region {shown(current)}")
                continue
        plan.move.append(workspace)
    plan.nothing_named = not found and not plan.create
    return plan


def apply_route(api: AirbyteApi, plan: RoutePlan, *, say: Say = lambda _: None) -> Routing:
    """Make the changes ``plan`` decided (each idempotent: a re-run finishes the job)."""
    region = plan.region
    result = Routing(region, already=list(plan.already))
    for workspace in plan.move:
        name = _name(workspace)
        say(f"routing workspace {name} to region {shown(region.name)}")
        api.route_workspace(str(workspace["workspaceId"]), region.region_id)
        runlog.logger().info("routed workspace %s (%s) to region %s", name,
                             workspace.get("workspaceId"), region.region_id)
        result.routed.append(name)
    for name in plan.create:
        say(f"creating workspace {shown(name)} in region {shown(region.name)}")
        api.create_workspace(name, region.organization_id, region.region_id)
        runlog.logger().info("created workspace %s in region %s", name, region.region_id)
        result.created.append(shown(name))
    if plan.nothing_named:
        result.already = sorted(_name(w) for w in plan.here)
    return result


def route(
    api: AirbyteApi,
    region: Region,
    wanted: Sequence[str],
    *,
    prompter: Prompter | None,
    force: bool = False,
    ask_when_none: bool = False,
    say: Say = lambda _: None,
    paused: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Routing:
    """Route the workspaces ``wanted`` (names or ids) to ``region``; idempotent.

    Everything is decided first (``plan_route``), then changed (``apply_route``): bad
    input changes nothing.
    """
    return apply_route(api, plan_route(api, region, wanted, prompter=prompter, force=force,
                                       ask_when_none=ask_when_none, say=say, paused=paused),
                       say=say)


def _name(workspace: Mapping[str, Any]) -> str:
    """A workspace's name as shown (control characters removed, length capped)."""
    return shown(workspace.get("name") or workspace.get("workspaceId"))


def _pick(prompter: Prompter, workspaces: Sequence[Mapping[str, Any]], region: Region,
          found: Sequence[Mapping[str, Any]], unknown: Sequence[str]
          ) -> tuple[list[dict[str, Any]], list[str]]:
    """The checkbox: which workspaces, and the names of new ones to create."""
    missing = (" (" + ", ".join(repr(shown(u)) for u in unknown) + " not found)"
               if unknown else "")
    chosen_ids = {str(w.get("workspaceId")) for w in found}
    choices = [(str(w.get("workspaceId")),
                f"{_name(w)}  — region {shown(w.get('dataResidency') or '?')}"
                + (" (this data plane)" if routed_here(w, region) else ""),
                str(w.get("workspaceId")) in chosen_ids or routed_here(w, region))
               for w in sorted(workspaces, key=lambda w: str(w.get("name")).casefold())]
    choices.append((CREATE_NEW, "create a new workspace in this region (recommended)",
                    bool(unknown) and not found))
    values = prompter.checkbox(
        f"Workspaces whose syncs run on this data plane (region {shown(region.name)})"
        f"{missing}. "
        + NEW_WORKSPACE_ADVICE, choices)
    picked = [dict(w) for w in workspaces if str(w.get("workspaceId")) in values]
    new_names: list[str] = []
    if CREATE_NEW in values:
        default = unknown[0] if unknown else ""
        new_names.append(prompter.text("Name of the new workspace", default=default,
                                       validate=lambda v: bool(v.strip()) or "a name"))
    return picked, new_names


def manual_steps(region_name: str | None) -> str:
    """Routing a workspace in the UI: what to open, what to select."""
    where = f"region {region_name}" if region_name else "this data plane's region"
    return f"in Airbyte, open {UI_PATH}, select {where}, and save"


def manual_routing(region_name: str | None) -> str:
    return (f"airbox cannot route workspaces without an Airbyte application's credentials: "
            f"{manual_steps(region_name)} (or set AIRBYTE_CLIENT_ID/"
            "AIRBYTE_CLIENT_SECRET and run `airbox workspaces --assign <workspace>`)")


# ---------------------------------------------------------------- the install step


def install_step(ctx: Context, line: StepLine) -> None:
    """The install's "route" step: the workspaces of ``workspaces:``/--workspace."""
    settings = ctx.settings
    wanted = list(settings.workspaces)
    interactive = ctx.options.interactive and ctx.prompter is not None
    if settings.registration is None:
        region = region_from_record(ctx.state)
        name = region.name if region else None
        ctx.routing = Routing(region, manual=manual_routing(name))
        line.skip("needs the application's credentials; see below")
        return
    with api_for(settings, ctx.state) as api:
        try:
            region = find_region(api, settings, ctx.state)
        except MissingInput:
            if wanted:
                raise
            # Given a data plane's own credentials and no region: nothing to route, and
            # no reason to fail an install that worked.
            ctx.routing = Routing(None, manual=(
                "airbox does not know this data plane's region (it did not register it): "
                f"in Airbyte, open {UI_PATH} and select the data plane's region, or set "
                "registration.region and run `airbox workspaces --assign <workspace>`"))
            line.skip("the region is not known; see below")
            return
        result = route(api, region, wanted, prompter=ctx.prompter if interactive else None,
                       force=ctx.options.force_route, ask_when_none=interactive,
                       say=line.update, paused=line.paused)
        if not result.workspaces:
            result.already = sorted(_name(w) for w in api.workspaces()
                                    if routed_here(w, region))
    ctx.routing = result
    if result.routed or result.created:
        line.update("routed: " + ", ".join(result.routed + result.created))
    elif result.workspaces:
        line.skip("already routed: " + ", ".join(result.workspaces))
    else:
        line.skip("no workspace named")


def check_step(ctx: Context, line: StepLine) -> None:
    """Before anything is built: every workspace named exists. Without a terminal an
    unknown one is exit 2 now, not after the deployment; on a terminal the route step
    offers the list instead."""
    settings = ctx.settings
    interactive = ctx.options.interactive and ctx.prompter is not None
    with api_for(settings, ctx.state) as api:
        workspaces = api.workspaces()
        found, unknown = resolve(list(settings.workspaces), workspaces)
        if not interactive:
            # Every refusal the route step would make, decided now: nothing is registered
            # or built for an install whose last step would refuse its workspaces.
            target = _target_region(api, settings, ctx.state)
            others: set[str] = set()
            if target is not None and any(not routed_here(w, target) for w in found):
                others = _other_own_regions(api, target)
                others.discard(target.residency)
            problems = refusals(found, unknown, workspaces,
                                target.name if target else "", others if target else set(),
                                force=ctx.options.force_route)
            if problems:
                raise refused(problems, unknown, workspaces)
    line.update("found: " + ", ".join(_name(w) for w in found)
                + (f"; not found: {', '.join(shown(u) for u in unknown)} (asked at the end)"
                   if unknown else ""))


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
        lines.append(f"  region:     {region.name or region.region_id}"
                     + (f" (data plane {dataplane_id})" if dataplane_id else ""))
    if routing.manual:
        lines.append(f"  workspaces: not routed: {routing.manual}")
    elif routing.workspaces:
        lines.append("  workspaces: " + ", ".join(routing.workspaces)
                     + " (their syncs run here)")
        lines.append(f"  prove it:   airbox verify --name {name}")
    else:
        lines.append("  workspaces: none uses this region yet: every sync still runs on "
                     "Airbyte's data plane")
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
    from airbox.installed import locked, require_installed
    from airbox.ui import Terminal, render_table

    term = term or Terminal()
    hint = "install one first: airbox install"
    inst = require_installed(name, "workspaces", hint, needs_cluster=True)
    if inst.settings.registration is None:
        region = region_from_record(inst.state)
        raise MissingInput(manual_routing(region.name if region else None))
    if interactive and prompter is None:
        from airbox.config.prompts import Prompter as RealPrompter

        prompter = RealPrompter()
    # Routing changes the control plane: one airbox at a time per data plane; listing
    # only reads and never waits.
    changing = bool(assign or unassign)
    with contextlib.ExitStack() as held:
        if changing:
            inst = held.enter_context(locked(inst, "workspaces", hint))
        api = held.enter_context(_api(inst))
        region = find_region(api, inst.settings, inst.state, day2=True)
        # Every name resolved and every refusal decided before the first change.
        back = _plan_unassign(api, region, list(unassign)) if unassign else None
        plan = plan_route(api, region, list(assign), prompter=prompter if interactive
                          else None, force=force_route, say=term.info) if assign else None
        if plan is not None:
            done = apply_route(api, plan, say=term.info)
            for ws in done.routed + done.created:
                term.success(f"workspace {ws} now runs its syncs in region "
                             f"{shown(region.name)}")
            for ws in done.already:
                term.info(f"workspace {ws} already uses region {shown(region.name)}")
        if back is not None:
            _apply_unassign(api, region, *back, say=term.info)
        listed = rows(api.workspaces(), region)
    if output == "json":
        term.print(json.dumps({"version": WORKSPACES_VERSION, "region": region.as_dict(),
                               "workspaces": listed}, indent=2))
    else:
        term.print(render_table(
            [{"name": shown(r["name"]), "id": shown(r["workspaceId"]),
              "region": shown(r["region"]),
              "here": "yes" if r["routedHere"] else ""} for r in listed],
            ["name", "id", "region", "here"]))
        if not any(r["routedHere"] for r in listed):
            term.warn(f"no workspace uses region {shown(region.name)}: syncs do not run on "
                      "this data "
                      f"plane; route one: airbox workspaces --name {inst.name} --assign "
                      "<workspace>")
    return 0


def _api(inst: Installed) -> AirbyteApi:
    record = saved_registration(inst.state) or {}
    return api_for(inst.settings, inst.state, base_url=record.get("apiUrl") or None)


def _unassign(api: AirbyteApi, region: Region, wanted: list[str], *, say: Say) -> None:
    """Move workspaces back to Airbyte's managed region (when there is exactly one)."""
    _apply_unassign(api, region, *_plan_unassign(api, region, wanted), say=say)


def _plan_unassign(api: AirbyteApi, region: Region, wanted: list[str]
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The workspaces to move back to Airbyte's managed region, and that region; a usage
    error (nothing changed) when a name is unknown or the region is not clear."""
    workspaces = api.workspaces()
    found, unknown = resolve(wanted, workspaces)
    if unknown:
        raise UsageError("no workspace named " + ", ".join(repr(shown(u)) for u in unknown)
                         + " is visible to the application; nothing was changed",
                         details=_listing(workspaces))
    managed = [r for r in api.regions(region.organization_id)
               if r.get("organizationId") == MANAGED_ORGANIZATION]
    if len(managed) != 1:
        raise UsageError(
            "airbox cannot tell which Airbyte-managed region to move the workspace back to",
            details=[shown(r.get("name")) for r in managed],
            hint=f"choose the region in Airbyte: {UI_PATH}",
        )
    return found, managed[0]


def _apply_unassign(api: AirbyteApi, region: Region, found: list[dict[str, Any]],
                    managed: Mapping[str, Any], *, say: Say) -> None:
    """Move workspaces back to Airbyte's managed region."""
    for workspace in found:
        if not routed_here(workspace, region):
            say(f"workspace {_name(workspace)} does not use region {shown(region.name)}")
            continue
        api.route_workspace(str(workspace["workspaceId"]), str(managed["regionId"]))
        say(f"workspace {_name(workspace)} moved back to region {shown(managed.get('name'))}")


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
