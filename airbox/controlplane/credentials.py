"""Are these credentials accepted? Asked the moment they are typed, so a wrong secret is
fixed at the prompt instead of failing the install minutes later.

- An Airbyte application's client id/secret: a token request to the public API
  (``POST <apiUrl>/applications/token``), as registration makes it.
- A registered data plane's client id/secret: the control plane's data plane token
  endpoint, the one the running data plane calls (``POST <airbyteUrl>/api/v1/dataplanes/
  token`` with ``{client_id, client_secret}``; anonymous; answers ``{access_token}``).

Each check says "refused" when the control plane refused the credentials (HTTP 400/401/
403/404/422, or an answer naming them unknown). The data plane token endpoint has no 4xx
path: an unknown client id or a wrong secret is a plain exception there, which the
server's UncaughtExceptionHandler answers with HTTP 500 (airbyte-platform
DataplaneTokenServiceDataImpl.kt, ServiceAccountsService.kt, UncaughtExceptionHandler.kt),
so a 500 there means "wrong, or the control plane failed" and is said that way. An
unreachable control plane or another server error is "could not tell", logged, and never
blocks (preflight and the install report those).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from airbox import __version__, runlog
from airbox.config.answers import get_path
from airbox.config.prompts import Refusal
from airbox.config.settings import CLOUD_URL, default_api_url
from airbox.controlplane.api import NO_RETRY, AirbyteApi
from airbox.controlplane.api_errors import credentials_unknown
from airbox.errors import ControlPlaneError
from airbox.redact import REDACTOR

REFUSED = (400, 401, 403, 404, 422)


def _urls(answers: Mapping[str, Any]) -> tuple[str, str]:
    """(airbyteUrl, public API base) of the answers' control plane."""
    edition = str(get_path(answers, ("controlPlane", "edition")) or "cloud")
    url = str(get_path(answers, ("controlPlane", "url")) or CLOUD_URL).rstrip("/")
    api = str(get_path(answers, ("controlPlane", "apiUrl")) or default_api_url(edition, url))
    return url, api.rstrip("/")


def check_application(api_url: str, client_id: str, client_secret: str) -> Refusal | None:
    """Why the control plane refuses the application's credentials, or None."""
    return _application_token(api_url, client_id, client_secret)[0]


def _application_token(
    api_url: str, client_id: str, client_secret: str
) -> tuple[Refusal | None, str | None]:
    """(why refused or None, why they could not be checked or None)."""
    api = AirbyteApi(api_url, client_id, client_secret, retries=NO_RETRY)
    try:
        with api:
            api.token()
    except ControlPlaneError as exc:
        if exc.status in REFUSED or exc.refused:
            return Refusal(
                f"Airbyte refused this application's client id or secret (HTTP "
                f"{exc.status} from {api_url}/applications/token)"
            ), None
        runlog.logger().info("application credentials not checked: %s", exc.message)
        return None, exc.message
    return None, None


def check_data_plane(airbyte_url: str, client_id: str, client_secret: str) -> Refusal | None:
    """Why the control plane refuses the data plane's credentials, or None."""
    return _data_plane_token(airbyte_url, client_id, client_secret)[0]


def _data_plane_token(
    airbyte_url: str, client_id: str, client_secret: str
) -> tuple[Refusal | None, str]:
    """(why refused or None, what was found) for the data plane's credentials."""
    url = airbyte_url.rstrip("/") + "/api/v1/dataplanes/token"
    REDACTOR.add(client_secret)
    try:
        with httpx.Client(
            timeout=httpx.Timeout(10.0), headers={"User-Agent": f"airbox/{__version__}"}
        ) as http:
            response = http.post(url, json={"client_id": client_id, "client_secret": client_secret})
    except httpx.HTTPError as exc:
        runlog.logger().info("data plane credentials not checked: %s", type(exc).__name__)
        return None, f"not checked: {_no_answer(exc)} ({url})"
    status = response.status_code
    if status in REFUSED or credentials_unknown(response):
        return Refusal(
            f"Airbyte refused this data plane's client id or secret (HTTP {status} from {url})"
        ), ""
    if status == 500:
        return Refusal(
            f"the control plane answered HTTP 500 to this data plane's client id "
            f"and secret ({url}): either they are wrong (Airbyte answers a wrong "
            "client id or secret with a 500: it has no other answer for it) or "
            "the control plane failed",
            certain=False,
        ), ""
    if status >= 300:
        runlog.logger().info("data plane credentials not checked: HTTP %s", status)
        return None, f"not checked: HTTP {status} from {url}"
    try:
        token = response.json().get("access_token")
    except (ValueError, AttributeError):
        token = None
    if isinstance(token, str):
        REDACTOR.add(token)
    return None, "accepted by the control plane"


def _no_answer(exc: httpx.HTTPError) -> str:
    """Why nothing answered, in words (never the exception's text: it may quote a URL)."""
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "the control plane did not answer within 10 s"
    if (
        "name or service not known" in text
        or "name resolution" in text
        or ("nodename nor servname" in text)
    ):
        return "the control plane's host name does not resolve (DNS)"
    if "refused" in text:
        return "the control plane refused the connection"
    if "certificate" in text or "ssl" in text:
        return "the TLS handshake with the control plane failed"
    return f"the control plane could not be reached ({type(exc).__name__})"


def require_data_plane(airbyte_url: str, client_id: str, client_secret: str) -> str:
    """Raise when the control plane does not accept the data plane's credentials (exit
    4, saying which settings to check); else what was found, for the progress line."""
    refusal, found = _data_plane_token(airbyte_url, client_id, client_secret)
    if refusal is None:
        return found
    where = (
        "dataPlane.clientId/clientSecret in the answers file, or DATAPLANE_CLIENT_ID/"
        "DATAPLANE_CLIENT_SECRET"
    )
    if refusal.certain:
        hint = (
            f"check the data plane's client id and secret ({where}): they are the ones "
            "shown when the data plane was registered; then run the command again"
        )
    else:
        hint = (
            f"check the data plane's client id and secret ({where}) first; if they are "
            "right, the control plane failed: run the command again in a few minutes "
            "(https://status.airbyte.com for Airbyte Cloud)"
        )
    raise ControlPlaneError(
        refusal.message,
        url=airbyte_url.rstrip("/") + "/api/v1/dataplanes/token",
        hint=hint,
        refused=refusal.certain,
    )


def check_answers(root: str, answers: Mapping[str, Any]) -> Refusal | None:
    """The prompts' ``CredentialCheck``: the credentials at ``answers[root]``."""
    return check_answers_why(root, answers)[0]


def check_answers_why(root: str, answers: Mapping[str, Any]) -> tuple[Refusal | None, str | None]:
    """(why refused or None, why they could not be checked or None) for the credentials at
    ``answers[root]``: "could not be checked" must be said, not taken for "accepted"."""
    client_id = str(get_path(answers, (root, "clientId")) or "")
    secret = str(get_path(answers, (root, "clientSecret")) or "")
    if not client_id or not secret:
        return None, None
    airbyte_url, api_url = _urls(answers)
    if root == "registration":
        return _application_token(api_url, client_id, secret)
    refusal, found = _data_plane_token(airbyte_url, client_id, secret)
    return refusal, (
        found.removeprefix("not checked: ") if found.startswith("not checked") else None
    )
