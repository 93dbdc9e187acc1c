"""The Airbyte public API calls airbox makes, with the errors a user can act on.

Facts this client relies on (Airbyte's published API spec, and what its server does):
an application's client id/secret buys a bearer token (``POST /applications/token``,
900 s by default); lists come back as a bare JSON array or as ``{"data": [...]}``;
errors carry ``{status, type, title, detail}``. Idempotent calls (GET, DELETE and the
token call) are retried on connection errors, timeouts, 429 and 5xx with a short
exponential backoff; ``POST /regions`` and ``POST /dataplanes`` never are, because a
lost answer does not mean nothing was created (registration recovers from that).

Every conversation is bounded, whatever the server (or a proxy in front of it) does: one
request ends after ``Timeouts.total`` seconds even when its answer trickles in a byte at a
time (httpx's read timeout restarts with every byte); a command's reads together end after
``reads_within`` seconds; and a list stops at ``MAX_PAGES`` pages, or as soon as a page
brings nothing new (a server or cache that ignores ``offset`` would page for ever).

No secret ever reaches a message, an exception or the log: the client secret travels
only in the token request's body, and every token is registered with the redactor.

httpx is imported here only; ``airbox --help`` never imports this module.
"""

from __future__ import annotations

import json as _json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from airbox import __version__, runlog
from airbox.errors import ControlPlaneError
from airbox.fsutil import SECRET_FILE, read_json, write_json
from airbox.redact import REDACTOR
from airbox.shown import shown

# How much of an error's detail is printed (the rest goes to the run log).
DETAIL_LIMIT = 500
# Renew a cached token this long before it runs out, so a call never starts with a token
# that expires in flight.
TOKEN_MARGIN = 60.0
# A token whose answer leaves out expires_in: the server's default lifetime.
DEFAULT_TOKEN_LIFETIME = 900.0

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
# control plane that answers every page slowly has the command stop with an error.
READS_WITHIN = 300.0
# Pages of 100 a list may have (100 000 entries): beyond, the server is paging for ever.
MAX_PAGES = 1000
# The largest answer airbox reads into memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect, for each read/write once connected, and ``total`` for
    one request from start to its answer's last byte."""

    connect: float = 5.0
    read: float = 15.0
    total: float = 60.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(min(self.read, self.total), connect=min(self.connect, self.total),
                             pool=min(self.connect, self.total))


@dataclass(frozen=True)
class Retry:
    """How idempotent calls are retried: ``attempts`` retries after the first try.

    Delays grow 0.5, 1, 2 s (each with jitter, at most ``cap``), so giving up takes a few
    seconds plus the timeouts; ``budget`` stops retrying once that much time has gone by
    since the first try (a hung server costs two read timeouts, not four).
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 4.0
    budget: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        # "Equal jitter": never less than half the step, so a burst of clients spreads out
        # without any of them hammering the server right away.
        step = min(self.cap, self.base * 2.0**retry)
        return step / 2 + random.uniform(0, step / 2)


NO_RETRY = Retry(attempts=0)
# The policy of clients that do not choose one; tests swap it for one without delays.
DEFAULT_RETRY = Retry()


def _list(payload: Any) -> list[dict[str, Any]]:
    """A list answer, bare or wrapped in ``{"data": [...]}`` (the server and the spec differ)."""
    if isinstance(payload, dict):
        payload = payload.get("data")
    if not isinstance(payload, list):
        raise ValueError("not a list")
    return [item for item in payload if isinstance(item, dict)]


class AirbyteApi:
    """A client of the Airbyte public API for one application (client id/secret).

    ``base_url`` is the public API base (``https://api.airbyte.com/v1``, or
    ``<airbyteUrl>/api/public/v1``). ``token_cache``: a file (0600) that keeps the access
    token between runs. ``reads_within``: the seconds this client's reads may take in all
    (a command's deadline for them). ``sleep`` and ``clock`` exist for tests.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        token_cache: Path | None = None,
        timeout: Timeouts | None = None,
        retries: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        reads_within: float = READS_WITHIN,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        REDACTOR.add(client_secret)
        self.token_cache = token_cache
        self.timeout = timeout or Timeouts()
        self.retries = retries or DEFAULT_RETRY
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._http: httpx.Client | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        # Seconds the reads of this client may take in all, and those they took so far.
        self.reads_within = reads_within
        self._reads_spent = 0.0

    def __repr__(self) -> str:
        # The default repr would show the secret in a traceback's locals.
        return f"AirbyteApi({self.base_url!r}, client_id={self.client_id!r})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.timeout.as_httpx(),
                transport=self._transport,
                headers={"User-Agent": f"airbox/{__version__}", "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> AirbyteApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --------------------------------------------------------------------- calls

    def organizations(self) -> list[dict[str, Any]]:
        """``[{organizationId, organizationName, email}]`` the application can see."""
        return self._get_list("/organizations", what="listing the organizations")

    def regions(self, organization_id: str) -> list[dict[str, Any]]:
        """Every region the organization sees, Airbyte-managed ones included."""
        return self._get_list("/regions", params={"organizationId": organization_id},
                              what="listing the regions")

    def create_region(self, name: str, organization_id: str) -> dict[str, Any]:
        return self._object("POST", "/regions", json={"name": name,
                                                      "organizationId": organization_id},
                            idempotent=False, what=f"creating the region {name}",
                            require=("regionId",))

    def dataplanes(self, region_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        params = {"regionIds": list(region_ids)} if region_ids else None
        return self._get_list("/dataplanes", params=params, what="listing the data planes")

    def create_dataplane(self, name: str, region_id: str) -> dict[str, Any]:
        """``{dataplaneId, regionId, clientId, clientSecret}``; the secret is shown only here."""
        answer = self._object("POST", "/dataplanes", json={"name": name, "regionId": region_id},
                              idempotent=False, what=f"registering the data plane {name}",
                              require=("dataplaneId", "clientId", "clientSecret"))
        REDACTOR.add(str(answer["clientId"]), str(answer["clientSecret"]))
        return answer

    def get_dataplane(self, dataplane_id: str) -> dict[str, Any]:
        return self._object("GET", f"/dataplanes/{dataplane_id}",
                            what=f"reading the data plane {dataplane_id}", require=("dataplaneId",))

    def delete_dataplane(self, dataplane_id: str) -> None:
        self._call("DELETE", f"/dataplanes/{dataplane_id}",
                   what=f"deleting the data plane {dataplane_id}", allow_empty=True)

    # ------------------------------------------------------------- workspaces

    def workspaces(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every workspace the application can see: ``[{workspaceId, name, dataResidency}]``.

        Paginated (``limit``/``offset``, at most 100 a page): pages are read until one comes
        back short. ``dataResidency`` is the workspace's region name, lower-cased.
        """
        return self._pages("/workspaces", {}, what="listing the workspaces",
                           page_size=page_size)

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        return self._object("GET", f"/workspaces/{workspace_id}",
                            what=f"reading the workspace {workspace_id}",
                            require=("workspaceId",))

    def route_workspace(self, workspace_id: str, region_id: str) -> dict[str, Any]:
        """Point a workspace at a region (``PATCH /workspaces/{id} {regionId}``).

        Setting a field to the value it has is harmless, so a retry is safe.
        """
        return self._object("PATCH", f"/workspaces/{workspace_id}",
                            json={"regionId": region_id}, idempotent=True,
                            what=f"routing the workspace {workspace_id} to region {region_id}",
                            require=("workspaceId",))

    def create_workspace(self, name: str, organization_id: str,
                         region_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "organizationId": organization_id}
        if region_id:
            body["regionId"] = region_id
        return self._object("POST", "/workspaces", json=body, idempotent=False,
                            what=f"creating the workspace {name}", require=("workspaceId",))

    # ------------------------------------------------ connectors, connections, jobs

    def definitions(self, workspace_id: str, kind: str) -> list[dict[str, Any]]:
        """The connector definitions (``kind``: sources | destinations) of a workspace:
        ``[{id, name, dockerRepository, dockerImageTag}]``."""
        return self._get_list(f"/workspaces/{workspace_id}/definitions/{kind}",
                              what=f"listing the {kind[:-1]} connectors")

    def create_actor(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a source or destination (``kind``: sources | destinations)."""
        key = "sourceId" if kind == "sources" else "destinationId"
        return self._object("POST", f"/{kind}", json=dict(body), idempotent=False,
                            what=f"creating the {kind[:-1]} {body.get('name')}", require=(key,))

    def list_actors(self, kind: str, workspace_id: str) -> list[dict[str, Any]]:
        """Sources, destinations or connections (``kind``) of one workspace, every page."""
        return self._pages(f"/{kind}", {"workspaceIds": [workspace_id]},
                           what=f"listing the {kind}")

    def delete_actor(self, kind: str, actor_id: str) -> bool:
        """Delete a source, destination or connection; False when it was already gone."""
        try:
            self._call("DELETE", f"/{kind}/{actor_id}",
                       what=f"deleting the {kind[:-1]} {actor_id}", allow_empty=True)
        except ControlPlaneError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create_connection(self, body: Mapping[str, Any], *,
                          read_timeout: float | None = None) -> dict[str, Any]:
        """``POST /connections``. The server discovers the source's schema before it
        answers (a job on the workspace's data plane: minutes when the connector's image
        is pulled first), so the caller may wait ``read_timeout`` s instead of the usual."""
        return self._object("POST", "/connections", json=dict(body), idempotent=False,
                            what=f"creating the connection {body.get('name')}",
                            require=("connectionId",), read_timeout=read_timeout)

    def start_job(self, connection_id: str, job_type: str = "sync") -> dict[str, Any]:
        return self._object("POST", "/jobs",
                            json={"connectionId": connection_id, "jobType": job_type},
                            idempotent=False, what=f"starting a {job_type} of {connection_id}",
                            require=("jobId",))

    def get_job(self, job_id: int | str) -> dict[str, Any]:
        # Polled for as long as the caller's own timeout for the job (verify's --timeout):
        # each poll is bounded by Timeouts.total, and none counts against reads_within.
        return self._object("GET", f"/jobs/{job_id}", what=f"reading the job {job_id}",
                            require=("jobId",), read=False)

    def cancel_job(self, job_id: int | str) -> dict[str, Any] | None:
        answer = self._call("DELETE", f"/jobs/{job_id}", what=f"cancelling the job {job_id}",
                            allow_empty=True)
        return answer if isinstance(answer, dict) else None

    def job_failure(self, airbyte_url: str, job_id: int | str) -> str | None:
        """Why a job failed, from its last attempt's failure summary, or None.

        The public job answer carries no reason; the internal ``POST <airbyteUrl>/api/v1/
        jobs/get {"id"}`` does (``attempts[].attempt.failureSummary.failures[]``). An
        application token may not be allowed to call it: best effort, never an error.
        """
        url = airbyte_url.rstrip("/") + "/api/v1/jobs/get"
        try:
            answer = self._call("POST", url, json={"id": int(job_id)},
                                what=f"reading why job {job_id} failed", retries=NO_RETRY,
                                read=True)
            attempts = answer.get("attempts") if isinstance(answer, dict) else None
            for entry in reversed(attempts or []):
                summary = ((entry or {}).get("attempt") or {}).get("failureSummary") or {}
                for failure in summary.get("failures") or []:
                    text = failure.get("externalMessage") or failure.get("internalMessage")
                    if text:
                        origin = failure.get("failureOrigin")
                        return REDACTOR.mask_all(shown(f"{origin}: {text}" if origin
                                                       else text, DETAIL_LIMIT))
        except Exception as exc:  # best effort: an unknown reason, not a second failure
            runlog.logger().debug("job failure reason unavailable: %s", exc)
        return None

    def dataplane_health(
        self, airbyte_url: str, organization_id: str
    ) -> list[dict[str, Any]] | None:
        """Heartbeat-based health of the organization's data planes, or None.

        Internal API (``POST <airbyteUrl>/api/v1/dataplanes/health``) that an application
        token may not be allowed to call: any failure means "unknown", never an error.
        """
        url = airbyte_url.rstrip("/") + "/api/v1/dataplanes/health"
        try:
            answer = self._call("POST", url, json={"organizationId": organization_id},
                                what="reading the data plane health", retries=NO_RETRY,
                                read=True)
        except ControlPlaneError as exc:
            runlog.logger().debug("data plane health unavailable: %s", exc.message)
            return None
        except Exception as exc:
            # Best effort means a malformed URL or an odd answer is "unknown" too.
            runlog.logger().debug("data plane health unavailable: %s", type(exc).__name__)
            return None
        if isinstance(answer, dict):
            # The internal response wraps its list; take whichever key holds it.
            answer = next((v for v in answer.values() if isinstance(v, list)), None)
        if not isinstance(answer, list):
            return None
        return [item for item in answer if isinstance(item, dict)]

    # --------------------------------------------------------------------- token

    def token(self) -> str:
        """A valid access token: from memory, from the cache file, or a new one."""
        now = self._clock()
        if self._token and now < self._expires_at - TOKEN_MARGIN:
            return self._token
        cached = self._read_cache()
        if cached is not None and now < cached[1] - TOKEN_MARGIN:
            self._token, self._expires_at = cached
            return cached[0]
        return self._new_token()

    def invalidate_token(self) -> None:
        self._token = None
        self._expires_at = 0.0
        if self.token_cache is not None:
            self.token_cache.unlink(missing_ok=True)

    def _new_token(self) -> str:
        answer = self._object(
            "POST", "/applications/token",
            json={"client_id": self.client_id, "client_secret": self._client_secret,
                  "grant_type": "client_credentials"},
            auth=False, what="getting an access token", require=("access_token",),
        )
        token = str(answer["access_token"])
        REDACTOR.add(token)
        try:
            lifetime = float(answer.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        self._token, self._expires_at = token, self._clock() + lifetime
        self._write_cache()
        return token

    def _read_cache(self) -> tuple[str, float] | None:
        if self.token_cache is None:
            return None
        try:
            data = read_json(self.token_cache)
        except (OSError, ValueError):
            return None
        # A token belongs to one application on one control plane.
        if (not isinstance(data, dict) or data.get("apiUrl") != self.base_url
                or data.get("clientId") != self.client_id):
            return None
        token, expires_at = data.get("accessToken"), data.get("expiresAt")
        if not isinstance(token, str) or not isinstance(expires_at, (int, float)):
            return None
        REDACTOR.add(token)
        return token, float(expires_at)

    def _write_cache(self) -> None:
        if self.token_cache is None or self._token is None:
            return
        try:
            write_json(self.token_cache, {"apiUrl": self.base_url, "clientId": self.client_id,
                                          "accessToken": self._token,
                                          "expiresAt": self._expires_at}, mode=SECRET_FILE)
        except OSError as exc:
            # Only a cache: the next run asks for a new token.
            runlog.logger().debug("token cache not written: %s", exc)

    # ------------------------------------------------------------------ plumbing

    def _get_list(self, path: str, *, what: str,
                  params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        answer = self._call("GET", path, params=params, what=what)
        try:
            return _list(answer)
        except ValueError:
            raise self._unexpected(what, "GET", self._url(path), "a list") from None

    def _pages(self, path: str, params: Mapping[str, Any], *, what: str,
               page_size: int = 100) -> list[dict[str, Any]]:
        """Every entry of a paginated list: pages are read until one comes back short.

        A page that brings nothing new (a server, proxy or cache ignoring ``offset``) or
        more than ``MAX_PAGES`` pages is an error: the list would never end, or be wrong.
        """
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number in range(MAX_PAGES):
            offset = number * page_size
            page = self._get_list(path, params={**params, "limit": page_size,
                                                "offset": offset}, what=what)
            keys = {_json.dumps(item, sort_keys=True, default=str) for item in page}
            if page and keys <= seen:
                raise ControlPlaneError(
                    f"{what} failed: GET {self._url(path)} answered page {number + 1} "
                    f"(offset {offset}) with entries it had already sent",
                    url=self._url(path),
                    hint=("the control plane, or a proxy or cache in front of it, ignores "
                          "the offset parameter, so the list never ends: check that "
                          f"controlPlane.apiUrl ({self.base_url}) is the control plane's "
                          "public API itself, then run the command again"),
                )
            seen |= keys
            found.extend(page)
            if len(page) < page_size:
                return found
        raise ControlPlaneError(
            f"{what} failed: GET {self._url(path)} still had more after {MAX_PAGES} pages "
            f"({len(found)} entries)",
            url=self._url(path),
            hint=(f"airbox reads at most {MAX_PAGES * page_size} entries of a list: the "
                  "control plane (or a proxy in front of it) pages without end; check "
                  f"controlPlane.apiUrl ({self.base_url}), then run the command again"),
        )

    def _object(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._call(method, path, what=what, **kwargs)
        if not isinstance(answer, dict):
            raise self._unexpected(what, method, self._url(path), "a JSON object")
        return answer

    def _url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        auth: bool = True,
        require: Sequence[str] = (),
        allow_empty: bool = False,
        retries: Retry | None = None,
        read_timeout: float | None = None,
        timeout: Timeouts | None = None,
        read: bool | None = None,
    ) -> Any:
        """One call. ``timeout`` replaces the client's for this call (``read_timeout``, its
        read and total seconds); ``read`` (default: a GET or the token call) counts its
        time against ``reads_within``."""
        url = self._url(path)
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "HEAD") or not auth
        if read is None:
            read = method == "GET" or not auth
        policy = (retries or self.retries) if idempotent else NO_RETRY
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
            response = self._send(method, url, what=what, json=json, params=params,
                                  headers=headers, policy=policy,
                                  timeout=_with_read(timeout or self.timeout, read_timeout),
                                  read=read)
            if response.status_code == 401 and auth and not refreshed:
                # The cached token may have been revoked or have expired early: one new
                # token, one more try. A 401 means the request was not processed, so even
                # a POST is safe to repeat.
                refreshed = True
                self.invalidate_token()
                continue
            break
        if response.status_code >= 400:
            raise self._http_error(what, method, url, response, token_call=not auth)
        status = response.status_code
        if not response.content.strip():
            if allow_empty:
                return None
            raise self._unexpected(what, method, url, "a JSON answer", status=status)
        try:
            answer = response.json()
        except ValueError:
            if allow_empty:
                return None
            raise self._unexpected(what, method, url, "JSON",
                                   response.headers.get("content-type"), status) from None
        if require and not (isinstance(answer, dict)
                            and all(answer.get(key) for key in require)):
            raise self._unexpected(what, method, url, "an answer with " + ", ".join(require),
                                   status=status)
        return answer

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        policy: Retry,
        timeout: Timeouts,
        read: bool,
    ) -> httpx.Response:
        log = runlog.logger()
        started = time.monotonic()
        retry = 0
        while True:
            attempt_started = time.monotonic()
            total, overdue = timeout.total, ""
            if read:
                left = self.reads_within - self._reads_spent
                if left <= 0:
                    raise self._unreachable(what, method, url, _overdue(self), retry, slow=True)
                if left < total:
                    total, overdue = left, _overdue(self)
            try:
                response = self._request(method, url, timeout, total, read=read, json=json,
                                         params=params, headers=headers)
            except httpx.TransportError as exc:
                slow = isinstance(exc, _Overtime)
                reason = overdue if overdue and slow else _transport_reason(exc, timeout)
                log.debug("%s %s: %s (after %.1fs)", method, url, reason,
                          time.monotonic() - attempt_started)
                delay = policy.delay(retry)
                if (retry < policy.attempts and _in_budget(started, delay, policy)
                        and not (overdue and slow)):
                    retry += 1
                    self._sleep(delay)
                    continue
                raise self._unreachable(what, method, url, reason, retry, slow=slow) from None
            log.debug("%s %s -> %s (%.1fs)", method, url, response.status_code,
                      time.monotonic() - attempt_started)
            status = response.status_code
            if (status == 429 or status >= 500) and not credentials_unknown(response):
                # (A server that said the credentials are unknown will say it again.)
                delay = policy.delay(retry, _retry_after(response))
                if retry < policy.attempts and _in_budget(started, delay, policy):
                    retry += 1
                    self._sleep(delay)
                    continue
            return response

    def _request(self, method: str, url: str, timeout: Timeouts, total: float, *,
                 read: bool, **kwargs: Any) -> httpx.Response:
        """One request whose answer is complete within ``total`` seconds, or _Overtime.

        httpx's read timeout restarts with every chunk, so an answer trickling in a byte
        at a time never trips it: the request runs in a thread of its own, which this one
        waits for at most ``total`` seconds. One that overruns is abandoned with its
        connection pool (it ends itself at its next chunk or read timeout); a Ctrl-C
        reaches this thread at once.
        """
        client = self.http
        deadline = time.monotonic() + total
        outcome: list[httpx.Response | BaseException] = []
        finished = threading.Event()
        abandoned = threading.Event()

        def work() -> None:
            try:
                with client.stream(method, url, timeout=timeout.as_httpx(),
                                   **kwargs) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            raise _TooLarge(f"an answer larger than "
                                            f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB")
                        if abandoned.is_set() or time.monotonic() > deadline:
                            raise _Overtime(_too_slow(total))
                    # The body as read (decoded): its length and encoding headers go.
                    headers = [(k, v) for k, v in response.headers.multi_items()
                               if k.lower() not in _BODY_HEADERS]
                    outcome.append(httpx.Response(response.status_code, headers=headers,
                                                  content=bytes(body),
                                                  request=response.request))
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            finally:
                finished.set()
                if abandoned.is_set():
                    client.close()

        started = time.monotonic()
        threading.Thread(target=work, name="airbox-http", daemon=True).start()
        try:
            done = finished.wait(max(total, 0.0))
        finally:
            if read:
                self._reads_spent += time.monotonic() - started
            if not finished.is_set():
                # Later calls get a client of their own; the worker closes this one.
                abandoned.set()
                if self._http is client:
                    self._http = None
        if not done:
            raise _Overtime(_too_slow(total))
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    # -------------------------------------------------------------------- errors

    def _http_error(self, what: str, method: str, url: str, response: httpx.Response,
                    *, token_call: bool) -> ControlPlaneError:
        status = response.status_code
        title, detail = _problem(response)
        message = f"{what} failed: {method} {url} answered HTTP {status}"
        if title:
            message += f" ({title})"
        details = [f"detail: {REDACTOR.mask_all(detail)}"] if detail else []
        refused = token_call and (status in (401, 403) or (
            status >= 500 and credentials_unknown(response)))
        if refused:
            message = (f"the control plane refused the application's client id/secret "
                       f"({method} {url} answered HTTP {status})")
            hint = ("the client id or secret is wrong, or the application was deleted: check "
                    "registration.clientId/clientSecret (AIRBYTE_CLIENT_ID/"
                    "AIRBYTE_CLIENT_SECRET). " + APPLICATIONS_HELP)
        elif status == 401:
            hint = ("the application's access was refused although its token is new: the "
                    "application may have been deleted. " + APPLICATIONS_HELP)
        elif status == 403:
            hint = forbidden_help(method, url)
        elif status == 404:
            hint = ("it does not exist (or was deleted) on this control plane: check the ids "
                    f"in the settings and that controlPlane.apiUrl ({self.base_url}) is the "
                    "public API of your control plane")
        elif status == 409:
            hint = ("it conflicts with what already exists on the control plane (a name in "
                    "use?): choose another name, or remove the other one in Airbyte, then run "
                    "the command again")
        elif status == 429:
            hint = ("the control plane is rate limiting this application: wait a minute, "
                    "then run the command again")
        elif status >= 500:
            hint = ("the control plane (or a proxy in front of it) failed: run the command "
                    "again in a few minutes — it resumes. If it persists, check "
                    f"controlPlane.apiUrl ({self.base_url}), https://status.airbyte.com for "
                    "Airbyte Cloud, or contact Airbyte support with this message")
            if token_call and status == 500:
                hint = ("a wrong client id or secret gets this answer too on some control "
                        "planes: check registration.clientId/clientSecret (AIRBYTE_CLIENT_ID/"
                        "AIRBYTE_CLIENT_SECRET); otherwise " + hint)
        else:
            hint = ("the control plane rejected the request: read the detail above and fix "
                    "the setting it names, then run the command again")
        return ControlPlaneError(message, url=url, status=status, hint=hint, details=details,
                                 refused=refused)

    def _unreachable(self, what: str, method: str, url: str, reason: str,
                     retries: int, *, slow: bool = False) -> ControlPlaneError:
        tries = f" (tried {retries + 1} times)" if retries else ""
        if slow:
            hint = (f"the control plane at {self.base_url} (or a proxy in front of it) "
                    "answers too slowly: check https://status.airbyte.com for Airbyte "
                    "Cloud, or the proxy (HTTPS_PROXY), and run the command again in a few "
                    "minutes")
        else:
            hint = (f"check that controlPlane.apiUrl ({self.base_url}) is right, that this "
                    "machine can reach it (DNS, firewall, egress rules; try `curl -sI "
                    f"{self.base_url}`), and behind a proxy set HTTPS_PROXY (and NO_PROXY); "
                    "then run the command again")
        return ControlPlaneError(f"{what} failed: {method} {url}: {reason}{tries}", url=url,
                                 hint=hint)

    def _unexpected(self, what: str, method: str, url: str, expected: str,
                    content_type: str | None = None,
                    status: int | None = None) -> ControlPlaneError:
        got = f" (HTTP {status}" if status else ""
        if content_type:
            got += (", " if got else " (") + f"content-type {content_type}"
        got += ")" if got else ""
        return ControlPlaneError(
            f"{what} failed: {method} {url} did not answer with {expected}{got}",
            url=url, status=status,
            hint=(f"check controlPlane.apiUrl ({self.base_url}): it must be the public API "
                  "(https://api.airbyte.com/v1 for Airbyte Cloud, <airbyte url>/api/public/v1 "
                  "for a self-managed control plane); a proxy answering in its place does "
                  "the same"),
        )


_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


def _with_read(timeout: Timeouts, read_timeout: float | None) -> Timeouts:
    """``timeout`` with a longer wait for one call's answer (its total at least as long)."""
    if read_timeout is None:
        return timeout
    return Timeouts(connect=timeout.connect, read=read_timeout,
                    total=max(timeout.total, read_timeout))


class _Overtime(httpx.TimeoutException):
    """An answer not complete within the request's total time."""


class _TooLarge(httpx.TransportError):
    """An answer larger than airbox reads."""


def _too_slow(total: float) -> str:
    return f"no complete answer within {total:.3g} s"


def _overdue(api: AirbyteApi) -> str:
    return (f"the control plane's answers to this command took more than "
            f"{api.reads_within:g} s in all")


def _in_budget(started: float, delay: float, policy: Retry) -> bool:
    return time.monotonic() - started + delay < policy.budget


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to the backoff


def _transport_reason(exc: httpx.TransportError, timeout: Timeouts) -> str:
    if isinstance(exc, (_Overtime, _TooLarge)):
        return str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout.connect:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout.read:g} s"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without an answer"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service not known" in text or "nodename nor servname" in text or (
                "name resolution" in text):
            return "the host name does not resolve (DNS)"
        if "certificate" in text or "ssl" in text:
            return "the TLS handshake failed (" + REDACTOR.mask(str(exc)) + ")"
        if "refused" in text:
            return "the connection was refused"
        return "cannot connect (" + REDACTOR.mask(str(exc)) + ")"
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused the connection (" + REDACTOR.mask(str(exc)) + ")"
    return f"{type(exc).__name__}: {REDACTOR.mask(str(exc))}"


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
    resource = parts[parts.index("v1") + 1:] if "v1" in parts else parts
    first = resource[0] if resource else ""
    if first in ("regions", "dataplanes"):
        return ADMIN_HELP
    if first == "organizations":
        return ORGANIZATION_HELP
    if first == "workspaces" and (method in ("PATCH", "POST", "DELETE")):
        return WORKSPACE_EDIT_HELP
    if first in ("sources", "destinations", "connections", "jobs", "workspaces"):
        return WORKSPACE_RUN_HELP
    return ("the application's user lacks a permission this call needs: read the detail "
            "above; an organization admin's application can do everything airbox does")
