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
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.config.settings import Settings, is_uuid
from airbox.controlplane.api import AirbyteApi
from airbox.controlplane.regions import match_region, own_regions, pick_organization
from airbox.controlplane.registration import MANAGED_ORGANIZATION, saved_registration
from airbox.errors import ControlPlaneError, MissingInput, UsageError
from airbox.paths import StateDir
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter

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
    routed: list[str] = field(default_factory=list)  # names routed by this run
    already: list[str] = field(default_factory=list)  # names that were routed before
    created: list[str] = field(default_factory=list)  # names created in the region
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
    return Region(
        str(record["regionId"]),
        str(record.get("regionName") or ""),
        str(record.get("organizationId") or ""),
    )


def find_region(
    api: AirbyteApi, settings: Settings, state: StateDir, *, day2: bool = False
) -> Region:
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
            hint=(
                f"save its region: airbox install --name {settings.name} --region "
                "<region name or id>  (the other saved settings are kept)"
            )
            if day2
            else "set registration.region (or --region) to the region's name or id",
        )
    org_id = str(pick_organization(api, reg.organization_id if reg else None)["organizationId"])
    found = match_region(own_regions(api.regions(org_id), org_id), wanted)
    if found is None:
        raise UsageError(
            f"the organization has no region {wanted!r}",
            hint="set registration.region to the region the data plane is in",
        )
    return Region(str(found["regionId"]), str(found.get("name") or ""), org_id)


def routed_here(workspace: Mapping[str, Any], region: Region) -> bool:
    return str(workspace.get("dataResidency") or "").lower() == region.residency


def rows(workspaces: Sequence[Mapping[str, Any]], region: Region) -> list[dict[str, Any]]:
    """``[{workspaceId, name, region, routedHere}]``, this region's first, then by name."""
    out = [
        {
            "workspaceId": str(w.get("workspaceId")),
            "name": str(w.get("name") or ""),
            "region": str(w.get("dataResidency") or ""),
            "routedHere": routed_here(w, region),
        }
        for w in workspaces
    ]
    return sorted(out, key=lambda r: (not r["routedHere"], r["name"].casefold()))


def listing(workspaces: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"{workspace_name(w)}  ({shown(w.get('workspaceId'))}, region "
        f"{shown(w.get('dataResidency'))})"
        for w in workspaces
    ]


def resolve(
    wanted: Sequence[str], workspaces: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The workspaces named (by id or name, case-insensitively), and the names not found."""
    found: list[dict[str, Any]] = []
    unknown: list[str] = []
    for item in wanted:
        text = item.strip()
        if is_uuid(text):
            match = [w for w in workspaces if str(w.get("workspaceId")).lower() == text.lower()]
        else:
            match = [
                w for w in workspaces if str(w.get("name") or "").casefold() == text.casefold()
            ]
            exact = [w for w in match if w.get("name") == text]
            if len(match) > 1 and len(exact) == 1:
                match = exact
        if len(match) > 1:
            raise UsageError(
                f"several workspaces are named {text!r}",
                details=listing(match),
                hint="name the one to route by its id",
            )
        if not match:
            unknown.append(text)
        elif all(m.get("workspaceId") != match[0].get("workspaceId") for m in found):
            found.append(dict(match[0]))
    return found, unknown


def other_own_regions(api: AirbyteApi, region: Region) -> set[str]:
    """Lower-cased names of the organization's other self-managed regions."""
    if not region.organization_id:
        return set()
    try:
        regions = api.regions(region.organization_id)
    except ControlPlaneError as exc:
        # Without the list, every other region counts as self-managed (the careful side).
        runlog.logger().warning("regions not listed: %s", exc.message)
        return {"*"}
    return {
        str(r.get("name") or "").lower()
        for r in regions
        if r.get("organizationId") not in (MANAGED_ORGANIZATION, None)
        and str(r.get("regionId")) != region.region_id
    }


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


def refusals(
    found: Sequence[Mapping[str, Any]],
    unknown: Sequence[str],
    workspaces: Sequence[Mapping[str, Any]],
    region_name: str,
    others: set[str],
    *,
    force: bool,
) -> list[str]:
    """Why these workspaces cannot be routed without asking: every reason, each a line."""
    problems = []
    if unknown:
        problems.append(
            "no workspace named "
            + ", ".join(repr(shown(u)) for u in unknown)
            + " is visible to the application"
        )
    for workspace in found:
        current = str(workspace.get("dataResidency") or "").lower()
        if current == region_name.lower() or force:
            continue
        if current in others or "*" in others:
            problems.append(
                f"workspace {workspace_name(workspace)} uses region {shown(current)}, "
                f"not {shown(region_name)}"
            )
    return problems


def refused(
    problems: Sequence[str], unknown: Sequence[str], workspaces: Sequence[Mapping[str, Any]]
) -> UsageError:
    """One error for every refusal (exit 2): nothing was routed."""
    hints = []
    details: list[str] = []
    if len(problems) > 1:
        details += problems
    if unknown:
        details += [
            "the workspaces it can see:",
            *("  " + text for text in listing(workspaces) or ["none"]),
        ]
        hints.append(
            "name one of them (by name or id) in workspaces: or --workspace (or "
            "--assign), or create the workspace in Airbyte first"
        )
    if any(" uses region " in p for p in problems):
        hints.append(
            "a workspace belongs to one region: pass --force-route to move it (its "
            "syncs will run on this data plane from then on)"
        )
    message = (
        problems[0]
        if len(problems) == 1
        else (f"{len(problems)} problems with the workspaces to route; nothing was routed")
    )
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
    others = (
        other_own_regions(api, region) if any(not routed_here(w, region) for w in found) else set()
    )
    if prompter is None:
        problems = refusals(found, unknown, workspaces, region.name, others, force=force)
        if problems:
            raise refused(problems, unknown, workspaces)
    for workspace in found:
        name = workspace_name(workspace)
        if routed_here(workspace, region):
            plan.already.append(name)
            continue
        current = str(workspace.get("dataResidency") or "").lower()
        if (current in others or "*" in others) and not force and prompter is not None:
            with paused():
                ok = prompter.confirm(
                    f"Workspace {name} runs its syncs in region {shown(current)}. Move it "
                    f"to {shown(region.name)}?",
                    default=False,
                )
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
        name = workspace_name(workspace)
        say(f"routing workspace {name} to region {shown(region.name)}")
        api.route_workspace(str(workspace["workspaceId"]), region.region_id)
        runlog.logger().info(
            "routed workspace %s (%s) to region %s",
            name,
            workspace.get("workspaceId"),
            region.region_id,
        )
        result.routed.append(name)
    for name in plan.create:
        say(f"creating workspace {shown(name)} in region {shown(region.name)}")
        api.create_workspace(name, region.organization_id, region.region_id)
        runlog.logger().info("created workspace %s in region %s", name, region.region_id)
        result.created.append(shown(name))
    if plan.nothing_named:
        result.already = sorted(workspace_name(w) for w in plan.here)
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
    return apply_route(
        api,
        plan_route(
            api,
            region,
            wanted,
            prompter=prompter,
            force=force,
            ask_when_none=ask_when_none,
            say=say,
            paused=paused,
        ),
        say=say,
    )


def workspace_name(workspace: Mapping[str, Any]) -> str:
    """A workspace's name as shown (control characters removed, length capped)."""
    return shown(workspace.get("name") or workspace.get("workspaceId"))


def _pick(
    prompter: Prompter,
    workspaces: Sequence[Mapping[str, Any]],
    region: Region,
    found: Sequence[Mapping[str, Any]],
    unknown: Sequence[str],
) -> tuple[list[dict[str, Any]], list[str]]:
    """The checkbox: which workspaces, and the names of new ones to create."""
    missing = " (" + ", ".join(repr(shown(u)) for u in unknown) + " not found)" if unknown else ""
    chosen_ids = {str(w.get("workspaceId")) for w in found}
    choices = [
        (
            str(w.get("workspaceId")),
            f"{workspace_name(w)}  — region {shown(w.get('dataResidency') or '?')}"
            + (" (this data plane)" if routed_here(w, region) else ""),
            str(w.get("workspaceId")) in chosen_ids or routed_here(w, region),
        )
        for w in sorted(workspaces, key=lambda w: str(w.get("name")).casefold())
    ]
    choices.append(
        (
            CREATE_NEW,
            "create a new workspace in this region (recommended)",
            bool(unknown) and not found,
        )
    )
    values = prompter.checkbox(
        f"Workspaces whose syncs run on this data plane (region {shown(region.name)})"
        f"{missing}. " + NEW_WORKSPACE_ADVICE,
        choices,
    )
    picked = [dict(w) for w in workspaces if str(w.get("workspaceId")) in values]
    new_names: list[str] = []
    if CREATE_NEW in values:
        default = unknown[0] if unknown else ""
        new_names.append(
            prompter.text(
                "Name of the new workspace",
                default=default,
                validate=lambda v: bool(v.strip()) or "a name",
            )
        )
    return picked, new_names


def manual_steps(region_name: str | None) -> str:
    """Routing a workspace in the UI: what to open, what to select."""
    where = f"region {region_name}" if region_name else "this data plane's region"
    return f"in Airbyte, open {UI_PATH}, select {where}, and save"


def manual_routing(region_name: str | None) -> str:
    return (
        f"airbox cannot route workspaces without an Airbyte application's credentials: "
        f"{manual_steps(region_name)} (or set AIRBYTE_CLIENT_ID/"
        "AIRBYTE_CLIENT_SECRET and run `airbox workspaces --assign <workspace>`)"
    )
