"""Are these credentials accepted? Asked the moment they are typed, so a wrong secret is
fixed at the prompt instead of failing the install minutes later.

- An Airbyte application's client id/secret: a token request to the public API
  (``POST <apiUrl>/applications/token``), as registration makes it.
- A registered data plane's client id/secret: the control plane's data plane token
  endpoint, the one the running data plane calls (``POST <airbyteUrl>/api/v1/dataplanes/
  token`` with ``{client_id, client_secret}``; anonymous; answers ``{access_token}``).

Each check says "refused" only when the control plane refused the credentials
(HTTP 400/401/403/404/422): an unreachable control plane or a server error is "could
not tell", logged, and never blocks (preflight and the install report those).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from airbox import __version__, runlog
from airbox.config.answers import get_path
from airbox.config.settings import CLOUD_URL, default_api_url
from airbox.controlplane.api import NO_RETRY, AirbyteApi
from airbox.errors import ControlPlaneError
from airbox.redact import REDACTOR

REFUSED = (400, 401, 403, 404, 422)


def _urls(answers: Mapping[str, Any]) -> tuple[str, str]:
    """(airbyteUrl, public API base) of the answers' control plane."""
    edition = str(get_path(answers, ("controlPlane", "edition")) or "cloud")
    url = str(get_path(answers, ("controlPlane", "url")) or CLOUD_URL).rstrip("/")
    api = str(get_path(answers, ("controlPlane", "apiUrl")) or default_api_url(edition, url))
    return url, api.rstrip("/")


def check_application(api_url: str, client_id: str, client_secret: str) -> str | None:
    """Why the control plane refuses the application's credentials, or None."""
    api = AirbyteApi(api_url, client_id, client_secret, retries=NO_RETRY)
    try:
        with api:
            api.token()
    except ControlPlaneError as exc:
        if exc.status in REFUSED:
            return (f"Airbyte refused this application's client id or secret (HTTP "
                    f"{exc.status} from {api_url}/applications/token)")
        runlog.logger().info("application credentials not checked: %s", exc.message)
    return None


def check_data_plane(airbyte_url: str, client_id: str, client_secret: str) -> str | None:
    """Why the control plane refuses the data plane's credentials, or None."""
    url = airbyte_url.rstrip("/") + "/api/v1/dataplanes/token"
    REDACTOR.add(client_secret)
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0),
                          headers={"User-Agent": f"airbox/{__version__}"}) as http:
            response = http.post(url, json={"client_id": client_id,
                                            "client_secret": client_secret})
    except httpx.HTTPError as exc:
        runlog.logger().info("data plane credentials not checked: %s", type(exc).__name__)
        return None
    if response.status_code in REFUSED:
        return (f"Airbyte refused this data plane's client id or secret (HTTP "
                f"{response.status_code} from {url})")
    if response.status_code >= 300:
        runlog.logger().info("data plane credentials not checked: HTTP %s",
                             response.status_code)
        return None
    try:
        token = response.json().get("access_token")
    except (ValueError, AttributeError):
        token = None
    if isinstance(token, str):
        REDACTOR.add(token)
    return None


def check_answers(root: str, answers: Mapping[str, Any]) -> str | None:
    """The prompts' ``CredentialCheck``: the credentials at ``answers[root]``."""
    client_id = str(get_path(answers, (root, "clientId")) or "")
    secret = str(get_path(answers, (root, "clientSecret")) or "")
    if not client_id or not secret:
        return None
    airbyte_url, api_url = _urls(answers)
    if root == "registration":
        return check_application(api_url, client_id, secret)
    return check_data_plane(airbyte_url, client_id, secret)
