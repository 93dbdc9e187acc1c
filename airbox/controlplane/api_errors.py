"""The errors a call to the Airbyte API ends with, worded so a user can act on them.

What a status means depends on the call (a 403 from a region call is not one from a
workspace call) and on the control plane: some answer an unknown client id with HTTP 500.
Every detail printed is the server's own words, shortened and masked by the redactor.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from airbox.errors import ControlPlaneError
from airbox.redact import REDACTOR
from airbox.shown import shown

# How much of an error's detail is printed (the rest goes to the run log).
DETAIL_LIMIT = 500

APPLICATIONS_HELP = (
    "in Airbyte, open your user name > User settings > Applications, create an application "
    "(or copy an existing one's client id and secret) and give them as "
    "registration.clientId/clientSecret or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET"
)
ADMIN_HELP = (
    "the application's user must be an organization admin, and the organization needs "
    "Enterprise Flex's self-managed regions (the self-managed-regions entitlement): create "
    "the application as an organization admin, or ask Airbyte support to enable the "
    "entitlement"
)
# What a 403 means depends on the call: regions and data planes need an organization
# admin and the entitlement (RegionController/DataplaneController: ORGANIZATION_ADMIN,
# LicenseEntitlementProblem); a workspace's own objects need a role in that workspace
# (PATCH /workspaces: WORKSPACE_EDITOR; jobs: WORKSPACE_RUNNER).
WORKSPACE_EDIT_HELP = (
    "the application's user may not change this workspace: it needs the workspace editor "
    "(or admin) role in it, or to be an organization admin; give the user that role in "
    "Airbyte (Settings > Members), or use an application of a user who has it"
)
WORKSPACE_RUN_HELP = (
    "the application's user may not create connectors or run syncs in this workspace: it "
    "needs the workspace editor (or admin) role there (running a sync: at least workspace "
    "runner); give the user that role in Airbyte (Settings > Members), or pick another "
    "workspace (--workspace)"
)
ORGANIZATION_HELP = (
    "the application's user is not a member of that organization: create the application "
    "as a member of your Airbyte organization"
)

# Phrases of the platform's own answer when a token request names credentials it does
# not know. Both token endpoints throw a plain exception for that, which the server's
# UncaughtExceptionHandler turns into HTTP 500 (no 4xx path exists):
# DataplaneTokenServiceDataImpl.getToken ("Credentials were not found with the clientId
# provided", "Invalid clientSecret provided."), ServiceAccountsService.generateToken
# ("Service account not found"), the database ApplicationServiceDataImpl.getToken
# ("application was not found with the clientId and clientSecret provided"). Older
# servers put the message in the 500's body; newer ones answer only {errorId}.
UNKNOWN_CREDENTIALS = (
    "not found with the clientid",
    "invalid clientsecret",
    "service account not found",
)


# A command's reads (GETs, the token call, the internal look-ups) together: beyond this, a


def http_error(
    base_url: str, what: str, method: str, url: str, response: httpx.Response, *, token_call: bool
) -> ControlPlaneError:
    status = response.status_code
    title, detail = _problem(response)
    message = f"{what} failed: {method} {url} answered HTTP {status}"
    if title:
        message += f" ({title})"
    details = [f"detail: {REDACTOR.mask_all(detail)}"] if detail else []
    refused = token_call and (
        status in (401, 403) or (status >= 500 and credentials_unknown(response))
    )
    if refused:
        message = (
            f"the control plane refused the application's client id/secret "
            f"({method} {url} answered HTTP {status})"
        )
        hint = (
            "the client id or secret is wrong, or the application was deleted: check "
            "registration.clientId/clientSecret (AIRBYTE_CLIENT_ID/"
            "AIRBYTE_CLIENT_SECRET). " + APPLICATIONS_HELP
        )
    elif status == 401:
        hint = (
            "the application's access was refused although its token is new: the "
            "application may have been deleted. " + APPLICATIONS_HELP
        )
    elif status == 403:
        hint = forbidden_help(method, url)
    elif status == 404:
        hint = (
            "it does not exist (or was deleted) on this control plane: check the ids "
            f"in the settings and that controlPlane.apiUrl ({base_url}) is the "
            "public API of your control plane"
        )
    elif status == 409:
        hint = (
            "it conflicts with what already exists on the control plane (a name in "
            "use?): choose another name, or remove the other one in Airbyte, then run "
            "the command again"
        )
    elif status == 429:
        hint = (
            "the control plane is rate limiting this application: wait a minute, "
            "then run the command again"
        )
    elif status >= 500:
        hint = (
            "the control plane (or a proxy in front of it) failed: run the command "
            "again in a few minutes — it resumes. If it persists, check "
            f"controlPlane.apiUrl ({base_url}), https://status.airbyte.com for "
            "Airbyte Cloud, or contact Airbyte support with this message"
        )
        if token_call and status == 500:
            hint = (
                "a wrong client id or secret gets this answer too on some control "
                "planes: check registration.clientId/clientSecret (AIRBYTE_CLIENT_ID/"
                "AIRBYTE_CLIENT_SECRET); otherwise " + hint
            )
    else:
        hint = (
            "the control plane rejected the request: read the detail above and fix "
            "the setting it names, then run the command again"
        )
    return ControlPlaneError(
        message, url=url, status=status, hint=hint, details=details, refused=refused
    )


def unreachable(
    base_url: str,
    what: str,
    method: str,
    url: str,
    reason: str,
    retries: int,
    *,
    slow: bool = False,
) -> ControlPlaneError:
    tries = f" (tried {retries + 1} times)" if retries else ""
    if slow:
        hint = (
            f"the control plane at {base_url} (or a proxy in front of it) "
            "answers too slowly: check https://status.airbyte.com for Airbyte "
            "Cloud, or the proxy (HTTPS_PROXY), and run the command again in a few "
            "minutes"
        )
    else:
        hint = (
            f"check that controlPlane.apiUrl ({base_url}) is right, that this "
            "machine can reach it (DNS, firewall, egress rules; try `curl -sI "
            f"{base_url}`), and behind a proxy set HTTPS_PROXY (and NO_PROXY); "
            "then run the command again"
        )
    return ControlPlaneError(f"{what} failed: {method} {url}: {reason}{tries}", url=url, hint=hint)


def unexpected(
    base_url: str,
    what: str,
    method: str,
    url: str,
    expected: str,
    content_type: str | None = None,
    status: int | None = None,
) -> ControlPlaneError:
    got = f" (HTTP {status}" if status else ""
    if content_type:
        got += (", " if got else " (") + f"content-type {content_type}"
    got += ")" if got else ""
    return ControlPlaneError(
        f"{what} failed: {method} {url} did not answer with {expected}{got}",
        url=url,
        status=status,
        hint=(
            f"check controlPlane.apiUrl ({base_url}): it must be the public API "
            "(https://api.airbyte.com/v1 for Airbyte Cloud, <airbyte url>/api/public/v1 "
            "for a self-managed control plane); a proxy answering in its place does "
            "the same"
        ),
    )


def _problem(response: httpx.Response) -> tuple[str, str]:
    """(title, detail) of an error body ``{status, type, title, detail}``, if it is one."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    title = body.get("title") or body.get("error") or ""
    detail = body.get("detail") or body.get("message") or ""
    # Words of the server's (or whoever answered): safe to print, and short.
    return (shown(title) if title else ""), (shown(detail, DETAIL_LIMIT) if detail else "")


def credentials_unknown(response: httpx.Response) -> bool:
    """Whether an error answer says the client id or secret it was given is unknown."""
    if response.status_code < 400:
        return False
    text = response.text[:4000].casefold()
    return any(phrase in text for phrase in UNKNOWN_CREDENTIALS)


def forbidden_help(method: str, url: str) -> str:
    """What a 403 from this call means: the permission that call needs."""
    path = urlsplit(url).path.rstrip("/")
    parts = [p for p in path.split("/") if p]
    # The public API base ends in .../v1; what follows names the resource.
    resource = parts[parts.index("v1") + 1 :] if "v1" in parts else parts
    first = resource[0] if resource else ""
    if first in ("regions", "dataplanes"):
        return ADMIN_HELP
    if first == "organizations":
        return ORGANIZATION_HELP
    if first == "workspaces" and (method in ("PATCH", "POST", "DELETE")):
        return WORKSPACE_EDIT_HELP
    if first in ("sources", "destinations", "connections", "jobs", "workspaces"):
        return WORKSPACE_RUN_HELP
    return (
        "the application's user lacks a permission this call needs: read the detail "
        "above; an organization admin's application can do everything airbox does"
    )
