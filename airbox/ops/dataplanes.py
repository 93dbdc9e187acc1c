"""``airbox dataplanes``: the organization's data planes, as the control plane lists them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airbox.config.settings import CLOUD_API_URL, default_api_url, url_problem
from airbox.controlplane.api import AirbyteApi
from airbox.controlplane.regions import match_region, own_regions, pick_organization
from airbox.controlplane.registration import saved_registration
from airbox.errors import MissingInput, NotInstalled, UsageError
from airbox.paths import StateDir
from airbox.redact import REDACTOR
from airbox.shown import shown

if TYPE_CHECKING:
    from airbox.ui import Terminal


def list_dataplanes(
    api: AirbyteApi, organization_id: str | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """The organization's data planes: name, dataplaneId, region, regionId, enabled, createdAt."""
    org_id = str(pick_organization(api, organization_id)["organizationId"])
    own = own_regions(api.regions(org_id), org_id)
    if region:
        found = match_region(own, region)
        if found is None:
            raise UsageError(
                f"the organization has no region {region!r}",
                details=[
                    "its regions: "
                    + (", ".join(sorted(shown(r.get("name")) for r in own)) or "none")
                ],
                hint="give --region one of them (a name or an id)",
            )
        own = [found]
    if not own:
        return []
    names = {str(r.get("regionId")): str(r.get("name") or "") for r in own}
    rows = [
        {
            "name": dp.get("name"),
            "dataplaneId": dp.get("dataplaneId"),
            "region": names.get(str(dp.get("regionId")), ""),
            "regionId": dp.get("regionId"),
            "enabled": dp.get("enabled"),
            "createdAt": dp.get("createdAt"),
        }
        for dp in api.dataplanes(list(names))
        if str(dp.get("regionId")) in names
    ]
    return sorted(rows, key=lambda r: (str(r["region"]), str(r["name"])))


def dataplanes_command(
    *,
    name: str | None,
    output: str,
    region: str | None,
    organization_id: str | None,
    api_url: str | None,
    term: Terminal | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``airbox dataplanes``: list the organization's data planes.

    Credentials: AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET, else the saved application
    credentials of data plane ``name`` (optional when one is installed). API URL:
    ``api_url``, else the saved control plane settings, else Airbyte Cloud's.
    """
    from airbox.config.gather import load_saved, pick_name
    from airbox.ui import Terminal, render_table

    term = term or Terminal()
    environ = os.environ if environ is None else environ
    if name is not None:
        # --name becomes a path under $AIRBOX_HOME: "", ".." and "a/b" are refused.
        from airbox.installed import check_name

        check_name(name)
    chosen = pick_name(name)
    saved: dict[str, Any] = {}
    state: StateDir | None = None
    if chosen:
        candidate = StateDir.for_name(chosen)
        if candidate.exists():
            state, saved = candidate, load_saved(candidate)
            from airbox.installed import use_proxy_answers

            # Through the proxy that data plane was installed with.
            use_proxy_answers(saved)
        elif name:
            raise NotInstalled(
                f"no data plane named {name} is installed",
                hint="run `airbox install`, or leave out --name and set "
                "AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET and --api-url",
            )

    client_id, client_secret = (
        environ.get("AIRBYTE_CLIENT_ID"),
        environ.get("AIRBYTE_CLIENT_SECRET"),
    )
    section = saved.get("registration")
    saved_reg: dict[str, Any] = section if isinstance(section, dict) else {}
    if not (client_id and client_secret):
        client_id, client_secret = saved_reg.get("clientId"), saved_reg.get("clientSecret")
    if not (client_id and client_secret):
        raise MissingInput(
            "listing data planes needs an Airbyte application's credentials",
            hint="set AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET"
            + (
                ""
                if chosen
                else ", or give --name of an installed data plane that registered itself"
            ),
        )
    REDACTOR.add(str(client_secret))

    base = api_url or _saved_api_url(saved) or CLOUD_API_URL
    problem = url_problem(base)
    if problem:
        raise UsageError(f"--api-url: {problem}", hint="use https://host/path (the public API)")

    record = saved_registration(state) if state else None
    org = (
        organization_id
        or (record or {}).get("organizationId")
        or saved_reg.get("organizationId")
        or None
    )
    with AirbyteApi(
        base, str(client_id), str(client_secret), token_cache=state.token if state else None
    ) as api:
        rows = list_dataplanes(api, org, region)

    if output == "json":
        term.print(json.dumps(rows, indent=2))
    elif output == "yaml":
        from airbox.config.answers import dump_yaml

        term.print(dump_yaml(rows).rstrip())
    else:
        term.print(
            render_table(
                [
                    {
                        "name": shown(r["name"]),
                        "id": shown(r["dataplaneId"]),
                        "region": shown(r["region"]),
                        "enabled": _yes_no(r["enabled"]),
                        "created": shown(r["createdAt"] or ""),
                    }
                    for r in rows
                ],
                ["name", "id", "region", "enabled", "created"],
            )
        )
    return 0


def _yes_no(value: Any) -> str:
    return "" if value is None else "yes" if value else "no"


def _saved_api_url(saved: Mapping[str, Any]) -> str | None:
    cp = saved.get("controlPlane")
    if not isinstance(cp, dict):
        return None
    if cp.get("apiUrl"):
        return str(cp["apiUrl"]).rstrip("/")
    edition = str(cp.get("edition") or "cloud")
    if edition == "enterprise" and cp.get("url"):
        return default_api_url(edition, str(cp["url"]))
    return None
