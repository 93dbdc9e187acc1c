"""The organization and the region a data plane is registered in: the one given (by id or
name, case-insensitively), the only one, or the user's choice; a region of the
organization's own, created when its name is new. An Airbyte-managed region is never
used for a data plane the user runs.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.config.settings import _REGION_NAME, Settings, is_uuid
from airbox.controlplane.api import AirbyteApi
from airbox.errors import ControlPlaneError, MissingInput, UsageError
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter


Say = Callable[[str], None]


def pick_organization(
    api: AirbyteApi,
    wanted: str | None,
    *,
    prompter: Prompter | None = None,
    paused: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> dict[str, Any]:
    """The organization: the given id, the only one, or the user's choice."""
    organizations = api.organizations()
    listing = [
        f"{shown(o.get('organizationId'))}  {shown(o.get('organizationName') or '')}".rstrip()
        for o in organizations
    ]
    if wanted:
        for org in organizations:
            if str(org.get("organizationId")).lower() == wanted.lower():
                return org
        if not organizations:
            # Nothing to check against: trust the id the user gave.
            return {"organizationId": wanted}
        raise UsageError(
            f"organization {wanted} is not one the application can use",
            details=["its organizations:", *("  " + text for text in listing)],
            hint="set registration.organizationId (or --organization-id) to one of them, or "
            "use an application created by a member of that organization",
        )
    if len(organizations) == 1:
        return organizations[0]
    if not organizations:
        raise ControlPlaneError(
            "the application's user belongs to no organization",
            hint="create the application as a member (admin) of your Airbyte organization",
        )
    if prompter is None:
        raise MissingInput(
            f"the application can use {len(organizations)} organizations; which one is not set",
            details=listing,
            hint="set registration.organizationId in the answers file (or --organization-id) "
            "to one of the ids above",
        )
    choices = [
        (
            str(o.get("organizationId")),
            f"{shown(o.get('organizationName') or o.get('organizationId'))} "
            f"({shown(o.get('organizationId'))})",
        )
        for o in organizations
    ]
    with paused():
        chosen = prompter.select("Organization to register the data plane in", choices)
    return next(o for o in organizations if str(o.get("organizationId")) == chosen)


def own_regions(regions: Sequence[Mapping[str, Any]], organization_id: str) -> list[dict[str, Any]]:
    """The organization's own regions (the list also holds Airbyte-managed ones)."""
    return [dict(r) for r in regions if r.get("organizationId") == organization_id]


def match_region(regions: Sequence[Mapping[str, Any]], wanted: str) -> dict[str, Any] | None:
    """The region with this id, or this name (case-insensitively); None when absent."""
    wanted = wanted.strip()
    if is_uuid(wanted):
        return next(
            (dict(r) for r in regions if str(r.get("regionId")).lower() == wanted.lower()), None
        )
    named = [r for r in regions if str(r.get("name") or "").casefold() == wanted.casefold()]
    if len(named) > 1:
        exact = [r for r in named if r.get("name") == wanted]
        if len(exact) == 1:
            return dict(exact[0])
        raise UsageError(
            f"several regions are named {wanted!r}",
            details=[f"{r.get('regionId')}  {r.get('name')}" for r in named],
            hint="set registration.region (or --region) to the id of the one to use",
        )
    return dict(named[0]) if named else None


def _region_check(value: str) -> bool | str:
    value = value.strip()
    if is_uuid(value) or _REGION_NAME.match(value):
        return True
    return "a region name (letters, digits, '-', '_', '.', spaces; at most 63) or id"


def suggested_region(settings: Settings) -> str:
    """A name for a first region: the cloud region the settings name (the secrets
    manager's or the bucket's), else this machine's host name, else the data plane's."""
    for section in settings.sections:
        value = str(section.options.get("region") or "").strip()
        if value and _REGION_NAME.match(value):
            return value
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname().split(".")[0]).strip("-._")
    return host[:63] if host and _REGION_NAME.match(host[:63]) else settings.name


def _new_region_check(taken: Sequence[str]) -> Callable[[str], bool | str]:
    """A new region's name, as typed: well formed, and not an Airbyte-managed name."""

    def check(value: str) -> bool | str:
        value = value.strip()
        if not _REGION_NAME.match(value):
            return "a region name: letters, digits, '-', '_', '.', spaces; at most 63"
        if value.casefold() in {name.casefold() for name in taken}:
            return f"{value!r} is the name of a region Airbyte manages: pick another"
        return True

    return check


def pick_region(
    api: AirbyteApi,
    organization_id: str,
    wanted: str | None,
    *,
    prompter: Prompter | None = None,
    say: Say = lambda _: None,
    paused: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    suggestion: str | None = None,
) -> dict[str, Any]:
    """The region to register in: found by name or id, or created when it is a new name.

    An organization with no region of its own (every first registration) is offered a
    new one, named after ``suggestion`` unless the user types another name.
    """
    regions = api.regions(organization_id)
    own = own_regions(regions, organization_id)
    names = sorted(shown(r.get("name")) for r in own if r.get("name"))
    if not wanted:
        if prompter is None:
            example = f" (e.g. --region {suggestion})" if suggestion and not names else ""
            raise MissingInput(
                "the region to register the data plane in is not set",
                details=[
                    "existing regions: "
                    + (", ".join(names) or "none (the organization has no region of its own yet)")
                ],
                hint="set registration.region in the answers file (or --region) to an "
                f"existing region's name or id, or to a new name to create it{example}",
            )
        with paused():
            if names:
                wanted = prompter.autocomplete(
                    "Region (pick one, or type a new name to create it)",
                    names,
                    validate=_region_check,
                )
            else:
                others = [
                    str(r.get("name") or "")
                    for r in regions
                    if str(r.get("organizationId")) != organization_id
                ]
                prompter.note(
                    "  the organization has no region of its own yet: airbox "
                    "creates one for this data plane (Airbyte lists it under "
                    "Settings > Data planes, and workspaces routed to it run their "
                    "syncs here)"
                )
                wanted = prompter.text(
                    "Name of the new region",
                    default=suggestion or "",
                    validate=_new_region_check(others),
                )
    found = match_region(own, wanted)
    if found is not None:
        return found
    if is_uuid(wanted):
        managed = match_region(regions, wanted)
        why = (
            "is managed by Airbyte; a data plane you run needs a region of your organization's own"
            if managed
            else "is not a region of the organization"
        )
        raise UsageError(
            f"region {wanted} {why}",
            details=["the organization's regions: " + (", ".join(names) or "none")],
            hint="set registration.region (or --region) to one of them, or to a new name to "
            "create a region",
        )
    name = wanted.strip()
    # The server answers a bare 500 for a name already taken by one of Airbyte's own
    # regions; refuse it before asking. Compared case-insensitively: workspaces see a
    # region by its lower-cased name (dataResidency), so "us" and "US" would clash there.
    clash = [
        r
        for r in regions
        if str(r.get("organizationId")) != organization_id
        and str(r.get("name") or "").casefold() == name.casefold()
    ]
    if clash:
        raise UsageError(
            f"region name {name!r} is taken by a region Airbyte manages "
            f"({clash[0].get('name')}); the control plane cannot create another",
            details=["the organization's regions: " + (", ".join(names) or "none")],
            hint="pick another name for registration.region (--region), one of your own "
            "such as your site's name, or use one of the organization's regions above",
        )
    try:
        region = api.create_region(name, organization_id)
    except ControlPlaneError as exc:
        if exc.status != 500:
            raise
        raise ControlPlaneError(
            exc.message,
            url=exc.url,
            status=exc.status,
            details=exc.details,
            hint=f"the control plane fails this way when the name {name!r} was used before: "
            "a deleted region keeps its name, and deleted regions are not listed. Pick "
            "another name for registration.region (--region) and run the command again",
        ) from None
    say(f"created region {shown(region.get('name') or wanted)}")
    runlog.logger().info("created region %s (%s)", region.get("name"), region.get("regionId"))
    # Remembered in registration.json: uninstall --deregister says it leaves this region.
    return {**region, "createdByAirbox": True}
