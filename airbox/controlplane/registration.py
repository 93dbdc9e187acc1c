"""Registering the data plane with the control plane — once — and remembering it.

With an Airbyte application's credentials (``registration``), ``ensure_registered`` picks
the organization and the region (creating the region when missing), registers a data
plane named like the install, and saves what the control plane answered to
``<state>/registration.json`` (0600) before anything else happens: the client secret
is shown only in that answer.

Never twice: a "pending" marker is written before the POST. If a run dies after the
control plane created the data plane but before its answer was saved (Ctrl-C, a
dropped connection), the next run finds the marker and a data plane of that name whose
secret it never saw: that orphan is deleted and the data plane registered again. A data
plane of that name that airbox did not create is never touched.

Which organization and region: ``regions``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airbox import runlog
from airbox.config.settings import ClientCredentials, Identity, Settings
from airbox.controlplane.api import AirbyteApi
from airbox.controlplane.regions import (
    Say,
    match_region,
    pick_organization,
    pick_region,
    suggested_region,
)
from airbox.errors import ControlPlaneError, DamagedState, MissingInput, UsageError
from airbox.fsutil import SECRET_FILE, read_json, write_json
from airbox.paths import StateDir
from airbox.redact import REDACTOR
from airbox.shown import shown
from airbox.timestamps import parse_time, utc_stamp

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter

REGISTRATION_FILE = "registration.json"
MANAGED_ORGANIZATION = "00000000-0000-0000-0000-000000000000"
_RECORD_KEYS = ("dataplaneId", "clientId", "clientSecret")


def registration_file(state: StateDir) -> Path:
    return state.root / REGISTRATION_FILE


# ------------------------------------------------------------------------- the record


# The record's fields as airbox writes them (a hand edit or a damaged disk can change them).
_TEXT_KEYS = (
    "name",
    "organizationId",
    "regionId",
    "regionName",
    "dataplaneId",
    "clientId",
    "clientSecret",
    "createdAt",
    "apiUrl",
)


def _read(state: StateDir) -> dict[str, Any] | None:
    """registration.json as written (complete or pending), or None; DamagedState (exit 2)
    when a field holds the wrong type (it would reach an URL, a header or the Secret)."""
    try:
        data = read_json(registration_file(state))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    REDACTOR.add(
        *(
            str(data[k])
            for k in ("clientId", "clientSecret")
            if isinstance(data.get(k), str) and data[k]
        )
    )
    wrong = [k for k in _TEXT_KEYS if data.get(k) is not None and not isinstance(data[k], str)]
    if "pending" in data and not isinstance(data["pending"], dict):
        wrong.append("pending")
    if wrong:
        # Names only: the values may be the data plane's credentials.
        raise DamagedState(
            f"the registration record of data plane {state.name} "
            f"({registration_file(state)}) is damaged: {', '.join(wrong)} "
            f"{'is' if len(wrong) == 1 else 'are'} not what airbox wrote; nothing was changed",
            hint="restore the file from a backup (it holds the data plane's credentials); "
            f"or start over: `airbox uninstall --name {state.name}` (works without it), "
            "delete the data plane in Airbyte (Settings > Data planes), then "
            "`airbox install` again",
        )
    return data


def _complete(record: Mapping[str, Any] | None) -> bool:
    return record is not None and all(record.get(k) for k in _RECORD_KEYS)


def saved_registration(state: StateDir) -> dict[str, Any] | None:
    """The data plane airbox registered for this state (with its credentials), or None.

    Keys: organizationId, regionId, regionName, dataplaneId, clientId, clientSecret,
    createdAt, name, apiUrl. None also when only a pending marker exists (the
    registration was interrupted before its answer was saved).
    """
    record = _read(state)
    return record if _complete(record) else None


S = TypeVar("S", bound=Identity)


def with_saved_credentials(settings: S, state: StateDir) -> S:
    """``settings`` whose data plane credentials come from the saved registration.

    For commands other than install (status, uninstall): the settings files hold the
    application's credentials, the registration file the data plane's.
    """
    saved = saved_registration(state)
    if settings.data_plane is not None or saved is None:
        return settings
    return dataclasses.replace(settings, data_plane=record_credentials(saved))


def _write(state: StateDir, record: Mapping[str, Any]) -> None:
    write_json(registration_file(state), dict(record), mode=SECRET_FILE)


def _now() -> str:
    return utc_stamp()


# ------------------------------------------------------------------------------ client


def api_for(
    settings: Identity, state: StateDir | None = None, *, base_url: str | None = None
) -> AirbyteApi:
    """A client for the settings' application credentials (token cached in the state)."""
    reg = settings.registration
    if reg is None:
        raise MissingInput(
            "the Airbyte application's credentials are needed for this",
            hint="set AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET (or registration.clientId/"
            "clientSecret in the answers file)",
        )
    return AirbyteApi(
        base_url or settings.control_plane.api_url,
        reg.client_id,
        reg.client_secret,
        token_cache=state.token if state else None,
    )


def record_credentials(record: Mapping[str, Any]) -> ClientCredentials:
    """The data plane's own credentials, as a (complete) registration record holds them."""
    return ClientCredentials(str(record["clientId"]), str(record["clientSecret"]))


def ensure_registered(
    settings: Settings,
    state: StateDir,
    api: AirbyteApi,
    *,
    say: Say,
    warn: Say,
    prompter: Prompter | None = None,
    paused: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> dict[str, Any]:
    """The saved registration, confirmed or made; returns the record (with credentials).

    ``prompter``: None when questions may not be asked (--yes, no terminal).
    """
    reg = settings.registration
    assert reg is not None, "ensure_registered needs registration credentials"
    log = runlog.logger()
    record = _read(state)

    if record is not None and _complete(record):
        reused = _confirm_saved(settings, api, record, say=say, warn=warn)
        if reused:
            return record
        record = None

    organization = pick_organization(api, reg.organization_id, prompter=prompter, paused=paused)
    org_id = str(organization["organizationId"])
    say(f"organization {shown(organization.get('organizationName') or org_id)}")
    region = pick_region(
        api,
        org_id,
        reg.region,
        prompter=prompter,
        say=say,
        paused=paused,
        suggestion=suggested_region(settings),
    )
    region_id, region_name = str(region["regionId"]), str(region.get("name") or "")
    region_created = bool(region.get("createdByAirbox"))

    # A warning, not a status: the user should see that something was deleted.
    removed = _remove_orphans(api, settings.name, record, tell=warn)
    same_name = [
        dp
        for dp in api.dataplanes([region_id])
        if dp.get("name") == settings.name
        and dp.get("regionId") == region_id
        and dp.get("dataplaneId") not in removed
    ]
    if same_name:
        ids = ", ".join(str(dp.get("dataplaneId")) for dp in same_name)
        raise ControlPlaneError(
            f"a data plane named {settings.name} already exists in region {region_name} "
            f"({ids}), and airbox does not have its credentials",
            hint="choose another name (--name), or give that data plane's credentials as "
            "dataPlane.clientId/clientSecret, or delete it in Airbyte if it is unused; "
            "then run `airbox install` again",
        )

    # Before the POST: if its answer is lost, the next run knows the data plane of this
    # name in this region is airbox's own orphan, not somebody else's.
    _write(
        state,
        {
            "pending": {
                "name": settings.name,
                "regionId": region_id,
                "regionName": region_name,
                "organizationId": org_id,
                "startedAt": _now(),
            },
            "apiUrl": api.base_url,
        },
    )
    log.info("registering data plane %s in region %s (%s)", settings.name, region_name, region_id)
    say(f"registering data plane {settings.name} in region {region_name}")
    try:
        answer = api.create_dataplane(settings.name, region_id)
    except ControlPlaneError as exc:
        if refused_for_sure(exc):
            # The control plane answered "no": nothing was created, so nothing of this
            # name is airbox's orphan — a marker left now would later delete a data
            # plane someone else registers under that name.
            registration_file(state).unlink(missing_ok=True)
        raise
    record = {
        "name": settings.name,
        "organizationId": org_id,
        "regionId": str(answer.get("regionId") or region_id),
        "regionName": region_name,
        "regionCreated": region_created,
        "dataplaneId": str(answer["dataplaneId"]),
        "clientId": str(answer["clientId"]),
        "clientSecret": str(answer["clientSecret"]),
        "createdAt": _now(),
        "apiUrl": api.base_url,
    }
    # First thing after the answer: the secret exists nowhere else.
    _write(state, record)
    REDACTOR.add(record["clientId"], record["clientSecret"])
    log.info("registered data plane %s (%s)", settings.name, record["dataplaneId"])
    say(f"registered data plane {settings.name} ({record['dataplaneId']}) in region {region_name}")
    return record


def _confirm_saved(
    settings: Settings, api: AirbyteApi, record: dict[str, Any], *, say: Say, warn: Say
) -> bool:
    """Whether the saved registration is still good (True), or is gone remotely (False)."""
    saved_api = record.get("apiUrl")
    if saved_api and saved_api != api.base_url:
        raise UsageError(
            f"data plane {settings.name} is registered with the control plane at {saved_api}, "
            f"not {api.base_url}",
            hint="use the same controlPlane settings as when it was installed, or uninstall "
            "it (removing its registration) before installing it for another control "
            "plane",
        )
    dataplane_id = str(record["dataplaneId"])
    try:
        live = find_dataplane(api, dataplane_id, record.get("regionId"))
    except ControlPlaneError as exc:
        warn(
            f"could not confirm the registration with the control plane ({exc.message}); "
            "continuing with the saved credentials"
        )
        runlog.logger().warning("registration not confirmed: %s", exc.message)
        return True
    if live is None:
        warn(
            f"data plane {settings.name} ({dataplane_id}) no longer exists on the "
            "control plane (deleted there); registering it again"
        )
        runlog.logger().warning("saved data plane %s is gone; registering again", dataplane_id)
        return False
    wanted = settings.registration.region if settings.registration else None
    if (
        wanted
        and match_region(
            [{"regionId": record.get("regionId"), "name": record.get("regionName")}], wanted
        )
        is None
    ):
        warn(
            f"data plane {settings.name} stays registered in region "
            f"{record.get('regionName') or record.get('regionId')}, not {wanted}: to move "
            "it, uninstall it with its registration, then install again"
        )
    say(
        f"already registered: {settings.name} ({dataplane_id}) in region "
        f"{record.get('regionName') or record.get('regionId')}"
    )
    return True


def find_dataplane(
    api: AirbyteApi, dataplane_id: str, region_id: object = None
) -> dict[str, Any] | None:
    """The data plane as the control plane lists it, or None when it was deleted.

    Membership in the list, not ``GET /dataplanes/{id}``: the server only tombstones a
    deleted data plane and keeps answering 200 for its id, while its lists leave
    tombstoned ones out.
    """
    regions = [str(region_id)] if region_id else None
    return next(
        (
            dp
            for dp in api.dataplanes(regions)
            if str(dp.get("dataplaneId")).lower() == dataplane_id.lower()
        ),
        None,
    )


def refused_for_sure(exc: ControlPlaneError) -> bool:
    """Whether the control plane definitively refused a request (a 4xx other than a
    timeout or rate limit): it did nothing, unlike a lost or 5xx answer."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429)


# A lost answer's data plane was created while its POST ran: from the marker's time (less
# the clock skew preflight tolerates) to the end of the POST's retries and timeouts.
_ORPHAN_BEFORE = dt.timedelta(minutes=5)
_ORPHAN_AFTER = dt.timedelta(minutes=15)


def _created_during(dataplane: Mapping[str, Any], pending: Mapping[str, Any]) -> bool:
    """Whether ``dataplane`` was created while the interrupted registration ran. One
    created later is someone else's, whatever its name: never airbox's to delete."""
    started, created = (
        parse_time(pending.get("startedAt")),
        parse_time(dataplane.get("createdAt")),
    )
    if started is None or created is None:
        return False
    return started - _ORPHAN_BEFORE <= created <= started + _ORPHAN_AFTER


def _remove_orphans(
    api: AirbyteApi, name: str, record: Mapping[str, Any] | None, *, tell: Say
) -> set[str]:
    """Delete the data planes an interrupted registration left behind; their ids."""
    pending = record.get("pending") if record else None
    if not isinstance(pending, dict) or pending.get("name") != name:
        return set()
    region_id = str(pending.get("regionId") or "")
    if not region_id:
        return set()
    removed: set[str] = set()
    for dataplane in api.dataplanes([region_id]):
        if dataplane.get("name") != name or dataplane.get("regionId") != region_id:
            continue
        if not _created_during(dataplane, pending):
            runlog.logger().warning(
                "data plane %s (%s) created at %s is not the one an interrupted "
                "registration at %s left: left alone",
                name,
                dataplane.get("dataplaneId"),
                dataplane.get("createdAt"),
                pending.get("startedAt"),
            )
            continue
        dataplane_id = str(dataplane.get("dataplaneId"))
        tell(
            f"deleting data plane {name} ({dataplane_id}): an earlier registration was "
            "interrupted before its credentials were saved; registering it again"
        )
        runlog.logger().warning("deleting orphan data plane %s (%s)", name, dataplane_id)
        _delete(api, dataplane_id)
        removed.add(dataplane_id)
    return removed


def _delete(api: AirbyteApi, dataplane_id: str) -> bool:
    """Delete a data plane; False when it was already gone."""
    try:
        api.delete_dataplane(dataplane_id)
    except ControlPlaneError as exc:
        if exc.status == 404:
            return False
        raise
    return True


# ---------------------------------------------------------------------------- uninstall

Deregistered = Literal["deleted", "already-gone", "not-registered"]


def deregister(settings: Identity, state: StateDir, api: AirbyteApi | None = None) -> Deregistered:
    """Delete the data plane airbox registered for this state, then forget it.

    Idempotent: a data plane already deleted on the control plane counts as done. Data
    planes left by an interrupted registration are deleted too. Needs the application's
    credentials (``settings.registration``) unless ``api`` is given.
    """
    record = _read(state)
    if record is None:
        return "not-registered"
    own = api is None
    client = api or api_for(settings, state, base_url=record.get("apiUrl") or None)
    try:
        outcome: Deregistered = "not-registered"
        if _complete(record):
            dataplane_id = str(record["dataplaneId"])
            # A tombstoned data plane still answers 200 by id: only the list tells.
            if find_dataplane(client, dataplane_id, record.get("regionId")) is None:
                outcome = "already-gone"
            else:
                deleted = _delete(client, dataplane_id)
                outcome = "deleted" if deleted else "already-gone"
        if _remove_orphans(client, settings.name, record, tell=lambda _: None):
            outcome = "deleted"
    finally:
        if own:
            client.close()
    registration_file(state).unlink(missing_ok=True)
    return outcome
