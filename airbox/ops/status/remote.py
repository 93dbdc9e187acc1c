"""The checks of what the control plane says: the registration airbox made, the data
plane's heartbeat, and whether any workspace routes its syncs here. Best effort: a
control plane that does not answer makes them ``skip``, never fail status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airbox.installed import install_stopped
from airbox.ops.status.probes import Facts
from airbox.ops.status.report import Check, Region, Registration, Routing, from_json, skip


def registration_view(facts: Facts) -> Registration | None:
    probe = facts.probes.registration
    if not probe.ok or probe.value is None:
        return None
    view: Registration = from_json(Registration, probe.value)
    return view


def _not_registered(facts: Facts) -> str:
    """Why airbox has no registration to check."""
    stopped = install_stopped(facts.inst.state)
    if facts.inst.settings.registration is not None and stopped is not None:
        # Application credentials were given, so airbox registers it: not yet.
        return (
            f"registration not done yet ({stopped.sentence()}, before registering)"
            if stopped.step != "register"
            else "registration not done yet (the install stopped at the register step)"
        )
    if facts.inst.settings.registration is not None:
        return "not registered: airbox has no record of registering it"
    return "not registered by airbox (the data plane's own credentials were given)"


def _where(view: Mapping[str, Any]) -> str:
    return f"data plane {view['name']} ({view['dataplaneId']}) in region " + str(
        view.get("region") or view.get("regionId")
    )


def registration(facts: Facts) -> Check:
    if unread := facts.probes.registration.unread("registration", "could not check"):
        return unread
    view: dict[str, Any] | None = facts.probes.registration.value
    if view is None:
        return skip("registration", _not_registered(facts))
    where = _where(view)
    if not view["checked"]:
        return skip("registration", f"{where}; not checked: {view['error']}")
    if view["deleted"]:
        return Check(
            "registration",
            "fail",
            f"{where} no longer exists on the control plane",
            next=f"airbox install --name {facts.name}  (registers it again)",
        )
    if view["enabled"] is False:
        return Check(
            "registration",
            "fail",
            f"{where} is disabled: it gets no work",
            next="enable the data plane in Airbyte (organization settings)",
        )
    return Check("registration", "ok", f"{where}, enabled")


def heartbeat(facts: Facts) -> Check:
    if unread := facts.probes.registration.unread("heartbeat", "could not check"):
        return unread
    view: dict[str, Any] | None = facts.probes.registration.value
    if view is None:
        return skip("heartbeat", "not checked: " + _not_registered(facts))
    if not view["checked"]:
        return skip("heartbeat", "not checked: the control plane was not asked")
    if view["deleted"]:
        return skip("heartbeat", "not checked: the data plane is not registered")
    health = view.get("health")
    beat = f" (last heartbeat {view['lastHeartbeat']})" if view.get("lastHeartbeat") else ""
    if health is None:
        return skip("heartbeat", "the control plane does not report heartbeats to this application")
    if health == "HEALTHY":
        return Check("heartbeat", "ok", f"the control plane reports HEALTHY{beat}")
    if health == "UNKNOWN":
        return skip("heartbeat", "the control plane has no heartbeat from it yet")
    return Check(
        "heartbeat",
        "warn",
        f"the control plane reports {health}{beat}",
        next=f"airbox logs --name {facts.name}",
    )


def routing_view(facts: Facts) -> Routing | None:
    probe = facts.probes.routing
    if not probe.ok or probe.value is None:
        return None
    view: dict[str, Any] = probe.value
    return Routing(from_json(Region, view["region"]), list(view["workspaces"]))


def routing(facts: Facts) -> Check:
    """Last: a healthy data plane that no workspace uses runs nothing."""
    if unread := facts.probes.routing.unread("routing", "could not check"):
        return unread
    view = routing_view(facts)
    if view is None:
        return skip(
            "routing",
            "not checked: needs the application's credentials "
            "(AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET) and a registration "
            "by airbox",
        )
    region = view.region.name or view.region.region_id
    names = view.workspaces
    if names:
        noun = "workspaces" if len(names) > 1 else "workspace"
        return Check("routing", "ok", f"{noun} {', '.join(names)} use region {region}")
    return Check(
        "routing",
        "warn",
        f"no workspace uses region {region}: every sync runs on Airbyte's data plane, none here",
        next=f"airbox workspaces --name {facts.name} --assign <workspace>",
    )
