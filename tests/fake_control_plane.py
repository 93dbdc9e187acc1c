"""A fake Airbyte control plane: a real HTTP server on 127.0.0.1 for airbox's tests.

It follows the API reference kept beside the project, with the chart archives
(``../shared/reference/airbyte-api.md``): application credentials buy 900 s bearer
tokens; regions and data planes need an organization admin and the self-managed-regions
entitlement (403 otherwise); regions and data planes are listed as bare JSON arrays,
organizations as ``{"data": [...]}``; the region list includes an Airbyte-managed region
(organization 00000000-0000-0000-0000-000000000000); deletes are soft; errors are
``{status, type, title, detail}``; a deleted data plane is only tombstoned (``GET
/dataplanes/{id}`` still answers 200; the lists leave it out); creating a region with the
name of an Airbyte-managed region or of a deleted one answers 500 (a database constraint
the server does not translate); and the internal ``POST /api/v1/dataplanes/health``
exists. Like the real server it does not refuse a second data plane of the same name.
It says no the way the server does: an organization starts with no region of its own
(every first registration); the anonymous data plane token endpoint answers an unknown
client id or a wrong secret with 500 ``{errorId}`` (no 4xx path exists there); the
application token answers 401, or, with ``applications="database"``, 500 with the
exception's message; a workspace reader gets 403 changing a workspace or its connectors.

``POST /connections`` answers only after a discover: the real server discovers the
source's schema before it creates a connection (airbyte-platform
``PUB/controllers/ConnectionsController.kt`` ``publicCreateConnection`` →
``PUB/services/SourceService.kt`` ``getSourceSchema`` → a synchronous discover job on the
workspace's data plane), which takes ``discover_seconds`` here (minutes on a fresh node
that pulls the connector image first); ``discover_failure`` makes it fail the way the
server answers a failed discover (500, "Something went wrong in the connector"). Jobs
follow the platform's states (``JobStatus.kt``): ``incomplete`` (an attempt failed) is not
final, the job retries with a new attempt; only succeeded, failed and cancelled end it.

Faults are injected per method and path (``fnmatch`` pattern): a status for the next N
answers, a delay, a dropped connection before or after the request is processed (the
latter is a lost answer: the object exists but the client never hears of it), an answer
that trickles in a byte at a time (a proxy or an overloaded server: every byte well within
any read timeout, the whole never arriving), and hooks that run once a request is
processed, before its answer is written. ``ignore_offset`` makes the lists answer the
first page whatever ``offset`` says (a cache or proxy keyed on the path alone; the real
server pages with ``limit``/``offset``, as the public API spec's list endpoints say).

Every request is recorded (``requests``) with the Authorization value and secret body
fields masked, so tests can assert on them and scan them.

Use the ``fake_cp`` fixture (import ``fake_cp_fixture`` into a conftest or test module)::

    def test_x(fake_cp: FakeControlPlane) -> None:
        api = AirbyteApi(fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

MANAGED_ORGANIZATION = "00000000-0000-0000-0000-000000000000"
TOKEN_LIFETIME = 900
MASK = "***"
_SECRET_FIELDS = {"client_secret", "clientSecret", "access_token"}

CLIENT_ID = "fake-app-client-id"
CLIENT_SECRET = "fake-app-client-secret-4f9d2c81"


@dataclass
class App:
    """An Airbyte application: its credentials, organizations, and whether it is an admin."""

    client_id: str
    client_secret: str
    organizations: list[str]
    org_admin: bool = True
    # Its user's role in the organization's workspaces: "editor" may change them and
    # create connectors and syncs there; "reader" may only look (403 otherwise).
    workspace_role: str = "editor"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: str
    times: int
    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after: bool = False
    retry_after: str | None = None
    # Seconds between the bytes of an answer that never completes; ``trickle_bytes`` of
    # them (None: until the client goes away), then the connection closes.
    trickle: float = 0.0
    trickle_bytes: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method == method and fnmatch.fnmatchcase(path, self.path)


@dataclass
class Hook:
    method: str
    path: str
    callback: Callable[[Request], object]
    times: int = 1
    # Seconds to wait after the callback before answering (e.g. for a signal to land).
    then_wait: float = 0.0


@dataclass
class FakeControlPlane:
    entitlement: bool = True
    health_available: bool = True
    # Which ApplicationService answers the token call: "keycloak" refuses unknown
    # credentials with 401 (ApplicationServiceKeycloakImpl, InvalidClientCredentials-
    # ExceptionHandler); "database" throws IllegalArgumentException, which the server's
    # UncaughtExceptionHandler answers with 500 and, in 1.8-era servers, the exception's
    # message in the body (ApplicationServiceDataImpl.getToken).
    applications: str = "keycloak"
    # A server that lists every data plane whatever ?regionIds= says (a test's knob: what
    # airbox deletes must not widen with it).
    list_ignores_region_filter: bool = False
    # Lists answer their first page whatever ?offset= says (see the module's docstring).
    ignore_offset: bool = False
    clock_offset: float = 0.0
    apps: dict[str, App] = field(default_factory=dict)
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataplanes: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataplane_secrets: dict[str, tuple[str, str]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    heartbeats: dict[str, float] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The jobs' clock: each GET /v1/jobs/{id} moves that job one entry along this script
    # (POST /v1/jobs answers with the first entry); the last entry sticks.
    job_script: list[str] = field(
        default_factory=lambda: ["pending", "running", "running", "succeeded"]
    )
    job_failure: str = "Something went wrong in the connector. See the logs for more details."
    # How long POST /connections discovers before it creates the connection (outside the
    # lock: the rest of the API answers meanwhile), and the connector error that makes the
    # discover fail instead.
    discover_seconds: float = 0.0
    discover_failure: str | None = None
    # Called (outside the lock) as the discover starts, e.g. to wait until the node has
    # the source's image, as the discover pod does.
    on_discover: Callable[[], None] | None = None
    # Called as job(status) changes, with (job, new status): how the fake cluster learns
    # that a sync runs (tests wire it to FakeK8s.job_pod).
    job_listeners: list[Callable[[dict[str, Any], str], None]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.organization_id = self.add_organization("Acme")
        self.add_app(CLIENT_ID, CLIENT_SECRET, [self.organization_id])
        # The Airbyte-managed region every organization sees.
        self.managed_region = self.add_region("US", MANAGED_ORGANIZATION)

    # ---------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        assert self.server is not None, "the fake control plane is not started"
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """The airbyteUrl (the internal API lives under /api/v1)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The public API base, as controlPlane.apiUrl."""
        return self.url + "/v1"

    @property
    def client_id(self) -> str:
        return CLIENT_ID

    @property
    def client_secret(self) -> str:
        return CLIENT_SECRET

    # ------------------------------------------------------------------ control

    def start(self) -> FakeControlPlane:
        fake = self

        class Handler(_Handler):
            control_plane = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the server's clock (tokens expire on it)."""
        self.clock_offset += seconds

    def fail(
        self, method: str, path: str, status: int, *, times: int = 1, retry_after: str | None = None
    ) -> None:
        """The next ``times`` matching requests are answered with ``status``."""
        self.faults.append(Fault(method, path, times, status=status, retry_after=retry_after))

    def slow(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` matching requests wait ``seconds`` before being processed."""
        self.faults.append(Fault(method, path, times, delay=seconds))

    def trickle(
        self, method: str, path: str, every: float, *, times: int = 1, count: int | None = None
    ) -> None:
        """The next ``times`` matching answers: headers at once, then one byte every
        ``every`` seconds (``count`` of them, or until the client hangs up)."""
        self.faults.append(Fault(method, path, times, trickle=every, trickle_bytes=count))

    def drop(self, method: str, path: str, *, times: int = 1, after: bool = False) -> None:
        """Close the connection without an answer; ``after``: once the request is processed."""
        self.faults.append(Fault(method, path, times, drop=not after, drop_after=after))

    def on(
        self,
        method: str,
        path: str,
        callback: Callable[[Request], object],
        *,
        times: int = 1,
        then_wait: float = 0.0,
    ) -> None:
        """Run ``callback`` once a matching request is processed, before it is answered.

        Its result is ignored: a lambda may end in a call that returns something.
        """
        self.hooks.append(Hook(method, path, callback, times, then_wait))

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or fnmatch.fnmatchcase(r.path, path))
            ]

    # ------------------------------------------------------------------ objects

    def add_organization(self, name: str) -> str:
        org_id = str(uuid.uuid4())
        self.organizations[org_id] = {
            "organizationId": org_id,
            "organizationName": name,
            "email": f"admin@{name.lower()}.example",
        }
        return org_id

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        organizations: list[str],
        *,
        org_admin: bool = True,
    ) -> App:
        app = App(client_id, client_secret, list(organizations), org_admin)
        self.apps[client_id] = app
        return app

    def add_region(self, name: str, organization_id: str) -> dict[str, Any]:
        region_id = str(uuid.uuid4())
        stamp = self._stamp()
        region = {
            "regionId": region_id,
            "name": name,
            "organizationId": organization_id,
            "enabled": True,
            "createdAt": stamp,
            "updatedAt": stamp,
            "deleted": False,
        }
        self.regions[region_id] = region
        return region

    def add_dataplane(self, name: str, region_id: str) -> dict[str, Any]:
        """A data plane created by someone else (its secret is never shown to airbox)."""
        return self._create_dataplane(name, region_id)[0]

    def live_regions(self, organization_id: str | None = None) -> list[dict[str, Any]]:
        return [
            _public(r)
            for r in self.regions.values()
            if not r["deleted"]
            and (organization_id is None or r["organizationId"] == organization_id)
        ]

    def live_dataplanes(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            _public(d)
            for d in self.dataplanes.values()
            if not d["deleted"] and (name is None or d["name"] == name)
        ]

    def add_workspace(
        self, name: str, region_id: str | None = None, organization_id: str | None = None
    ) -> dict[str, Any]:
        """A workspace, in the Airbyte-managed region unless ``region_id`` is given."""
        workspace_id = str(uuid.uuid4())
        workspace = {
            "workspaceId": workspace_id,
            "name": name,
            "organizationId": organization_id or self.organization_id,
            "regionId": region_id or self.managed_region["regionId"],
            "deleted": False,
        }
        self.workspaces[workspace_id] = workspace
        return workspace

    def workspace_view(self, workspace: dict[str, Any]) -> dict[str, Any]:
        """As the public API shows it: ``dataResidency`` is the region's name, lower-cased."""
        region = self.regions.get(workspace["regionId"]) or {}
        return {
            "workspaceId": workspace["workspaceId"],
            "name": workspace["name"],
            "dataResidency": str(region.get("name") or "auto").lower(),
            "notifications": {"failure": {}, "success": {}},
        }

    def routed(self, region_id: str) -> list[str]:
        """Names of the live workspaces in this region."""
        return sorted(
            w["name"]
            for w in self.workspaces.values()
            if not w["deleted"] and w["regionId"] == region_id
        )

    def live(self, kind: str) -> list[dict[str, Any]]:
        """The live sources, destinations or connections."""
        table: dict[str, dict[str, Any]] = getattr(self, kind)
        return [dict(v) for v in table.values() if not v.get("deleted")]

    def move_job(self, job_id: int, status: str) -> None:
        """Set a job's status (the test's hand on the clock), telling the listeners."""
        with self.lock:
            job = self.jobs[job_id]
            if job["status"] == status:
                return
            job["status"] = status
            job["lastUpdatedAt"] = self._stamp()
            for listener in list(self.job_listeners):
                listener(dict(job), status)

    def heartbeat(self, dataplane_id: str, seconds_ago: float = 0.0) -> None:
        self.heartbeats[dataplane_id] = self.now() - seconds_ago

    def known_secrets(self) -> list[str]:
        """Every secret value the fake handed out or knows, for leak scans."""
        values = [app.client_secret for app in self.apps.values()]
        values += [secret for _, secret in self.dataplane_secrets.values()]
        values += list(self.tokens)
        return values

    def _stamp(self) -> str:
        return dt.datetime.fromtimestamp(self.now(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _create_dataplane(self, name: str, region_id: str) -> tuple[dict[str, Any], str, str]:
        dataplane_id = str(uuid.uuid4())
        stamp = self._stamp()
        dataplane = {
            "dataplaneId": dataplane_id,
            "name": name,
            "regionId": region_id,
            "enabled": True,
            "createdAt": stamp,
            "updatedAt": stamp,
            "deleted": False,
        }
        client_id = "dp-" + uuid.uuid4().hex[:16]
        client_secret = "dp-secret-" + secrets.token_hex(16)
        self.dataplanes[dataplane_id] = dataplane
        self.dataplane_secrets[dataplane_id] = (client_id, client_secret)
        return dataplane, client_id, client_secret

    # ------------------------------------------------------------------ routing

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        with self.lock:
            if path == "/v1/applications/token":
                if method != "POST":
                    return _error(405, "method-not-allowed", f"{method} is not allowed")
                return self._token(body)
            if path == "/api/v1/dataplanes/token":
                # Anonymous, like the real one (DataplaneController.getDataplaneToken).
                return self._dataplane_token(body)
            if path.startswith("/v1/") or path in ("/api/v1/dataplanes/health", "/api/v1/jobs/get"):
                app = self._authenticate(headers)
                if app is None:
                    return _error(
                        401, "invalid-api-key", "The access token is missing, invalid or expired."
                    )
                if path == "/api/v1/dataplanes/health":
                    return self._health(method, app, body)
                if path == "/api/v1/jobs/get":
                    return self._job_info(body)
                return self._public(method, path[len("/v1") :], query, body, app)
            return _error(404, "resource-not-found", f"No route for {path}.")

    def _token(self, body: Any) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        app = self.apps.get(str(body.get("client_id")))
        if app is None or app.client_secret != body.get("client_secret"):
            if self.applications == "database":
                return _uncaught(
                    "java.lang.IllegalArgumentException",
                    "application was not found with the clientId and clientSecret provided",
                )
            return _error(401, "invalid-api-key", "Invalid client id or client secret.")
        token = "fake-token-" + secrets.token_hex(20)
        self.tokens[token] = (app.client_id, self.now() + TOKEN_LIFETIME)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}

    def _dataplane_token(self, body: Any) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        pair = (body.get("client_id"), body.get("client_secret"))
        live = [
            dp_id
            for dp_id, creds in self.dataplane_secrets.items()
            if creds == pair and not self.dataplanes.get(dp_id, {}).get("deleted")
        ]
        if not live:
            # No 4xx path exists: an unknown client id or a wrong secret is a plain
            # exception (DataplaneTokenServiceDataImpl.getToken, ServiceAccountsService.
            # generateToken's ServiceAccountNotFound), which UncaughtExceptionHandler
            # answers with 500 and, on current servers, only an error id.
            return 500, {"errorId": str(uuid.uuid4())}
        token = "fake-dp-token-" + secrets.token_hex(20)
        return 200, {"access_token": token}

    def registered_dataplane(self, name: str = "existing-dp") -> tuple[str, str]:
        """A data plane registered outside airbox: its (client id, client secret)."""
        with self.lock:
            region = next(iter(self.regions))
            _, client_id, client_secret = self._create_dataplane(name, region)
        return client_id, client_secret

    def _authenticate(self, headers: dict[str, str]) -> App | None:
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            return None
        entry = self.tokens.get(value[7:].strip())
        if entry is None or entry[1] <= self.now():
            return None
        return self.apps.get(entry[0])

    def _admin(self, app: App, organization_id: str | None) -> tuple[int, Any] | None:
        """The 403 a region or data plane call gets, or None when it is allowed."""
        if organization_id is not None and organization_id not in app.organizations:
            return _error(403, "forbidden", "The user does not have access to this organization.")
        if not app.org_admin:
            return _error(403, "forbidden", "The user is not an organization admin.")
        if not self.entitlement:
            return _error(
                403, "forbidden", "The organization is not entitled to self-managed regions."
            )
        return None

    def _public(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, app: App
    ) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        body = body if isinstance(body, dict) else {}
        if parts == ["organizations"] and method == "GET":
            return 200, {
                "data": [
                    self.organizations[o] for o in app.organizations if o in self.organizations
                ]
            }
        if parts == ["regions"] and method == "GET":
            org = next(iter(query.get("organizationId") or []), "")
            if not org:
                return _error(400, "bad-request", "organizationId is required.")
            denied = self._admin(app, org)
            if denied:
                return denied
            return 200, [
                _public(r)
                for r in self.regions.values()
                if not r["deleted"] and r["organizationId"] in (org, MANAGED_ORGANIZATION)
            ]
        if parts == ["regions"] and method == "POST":
            name, org = body.get("name"), body.get("organizationId")
            if not name or not org:
                return _error(400, "bad-request", "name and organizationId are required.")
            denied = self._admin(app, str(org))
            if denied:
                return denied
            taken = [
                r
                for r in self.regions.values()
                if r["name"] == name
                and (r["deleted"] or r["organizationId"] == MANAGED_ORGANIZATION)
            ]
            if taken:
                return _error(
                    500,
                    "unexpected-problem",
                    "An unexpected problem has occurred. If this is an error that "
                    "needs to be addressed, please submit a pull request or github "
                    "issue.",
                )
            region = self.add_region(str(name), str(org))
            if body.get("enabled") is False:
                region["enabled"] = False
            return 200, _public(region)
        if len(parts) == 2 and parts[0] == "regions":
            found = self.regions.get(parts[1])
            if found is None or found["deleted"]:
                return _error(404, "resource-not-found", f"Region {parts[1]} not found.")
            region = found
            denied = self._admin(app, region["organizationId"])
            if denied:
                return denied
            if method == "GET":
                return 200, _public(region)
            if method == "DELETE":
                region["deleted"] = True
                for dataplane in self.dataplanes.values():
                    if dataplane["regionId"] == region["regionId"]:
                        dataplane["deleted"] = True
                return 200, _public(region)
        if parts == ["dataplanes"] and method == "GET":
            denied = self._admin(app, None)
            if denied:
                return denied
            wanted = set(query.get("regionIds") or [])
            visible = {
                r["regionId"]
                for r in self.regions.values()
                if r["organizationId"] in app.organizations
            }
            return 200, [
                _public(d)
                for d in self.dataplanes.values()
                if not d["deleted"]
                and d["regionId"] in visible
                and (not wanted or d["regionId"] in wanted or self.list_ignores_region_filter)
            ]
        if parts == ["dataplanes"] and method == "POST":
            name, region_id = body.get("name"), body.get("regionId")
            if not name or not region_id:
                return _error(400, "bad-request", "name and regionId are required.")
            target = self.regions.get(str(region_id))
            if target is None or target["deleted"]:
                return _error(404, "resource-not-found", f"Region {region_id} not found.")
            denied = self._admin(app, target["organizationId"])
            if denied:
                return denied
            made, client_id, client_secret = self._create_dataplane(str(name), str(region_id))
            return 200, {
                "dataplaneId": made["dataplaneId"],
                "regionId": region_id,
                "clientId": client_id,
                "clientSecret": client_secret,
            }
        if len(parts) == 2 and parts[0] == "dataplanes":
            one = self.dataplanes.get(parts[1])
            # Like the real server: a delete only tombstones the row, and GET/DELETE by
            # id still find it (200); only the lists leave tombstoned ones out.
            if one is None:
                return _error(404, "resource-not-found", f"Dataplane {parts[1]} not found.")
            denied = self._admin(app, self.regions[one["regionId"]]["organizationId"])
            if denied:
                return denied
            if method == "GET":
                return 200, _public(one)
            if method == "DELETE":
                one["deleted"] = True
                return 200, _public(one)
        if parts and parts[0] in ("workspaces", "sources", "destinations", "connections", "jobs"):
            return self._workloads(method, parts, query, body, app)
        return _error(404, "resource-not-found", f"No route for {method} /v1{path}.")

    # ------------------------------------------- workspaces, connectors, jobs

    def _visible_workspace(self, app: App, workspace_id: str) -> dict[str, Any] | None:
        found = self.workspaces.get(workspace_id)
        if found is None or found["deleted"] or found["organizationId"] not in app.organizations:
            return None
        return found

    def _workloads(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        body: dict[str, Any],
        app: App,
    ) -> tuple[int, Any]:
        kind = parts[0]
        if kind == "workspaces":
            return self._workspaces(method, parts, query, body, app)
        if kind == "jobs":
            return self._jobs(method, parts, body, app)
        table: dict[str, dict[str, Any]] = getattr(self, kind)
        key = {
            "sources": "sourceId",
            "destinations": "destinationId",
            "connections": "connectionId",
        }[kind]
        if len(parts) == 1 and method == "GET":
            wanted = set(query.get("workspaceIds") or [])
            limit = int(next(iter(query.get("limit") or []), "20"))
            offset = 0 if self.ignore_offset else int(next(iter(query.get("offset") or []), "0"))
            rows = [
                _public(v)
                for v in table.values()
                if not v["deleted"]
                and self._visible_workspace(app, v["workspaceId"]) is not None
                and (not wanted or v["workspaceId"] in wanted)
            ]
            return 200, {"data": rows[offset : offset + limit]}
        if len(parts) == 1 and method == "POST":
            if kind == "connections":
                return self._create_connection(body, app)
            return self._create_actor(kind, body, app)
        if len(parts) == 2:
            one = table.get(parts[1])
            if (
                one is None
                or one["deleted"]
                or self._visible_workspace(app, one["workspaceId"]) is None
            ):
                return _error(404, "resource-not-found", f"{key} {parts[1]} not found.")
            if method == "GET":
                return 200, _public(one)
            if method == "DELETE":
                one["deleted"] = True
                return 204, None
        return _error(404, "resource-not-found", f"No route for {method} /v1/{'/'.join(parts)}.")

    def _workspaces(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        body: dict[str, Any],
        app: App,
    ) -> tuple[int, Any]:
        if parts == ["workspaces"] and method == "GET":
            limit = int(next(iter(query.get("limit") or []), "20"))
            offset = 0 if self.ignore_offset else int(next(iter(query.get("offset") or []), "0"))
            if not 1 <= limit <= 100:
                return _error(400, "bad-request", "limit must be between 1 and 100.")
            rows = [
                self.workspace_view(w)
                for w in self.workspaces.values()
                if not w["deleted"] and w["organizationId"] in app.organizations
            ]
            return 200, {"data": rows[offset : offset + limit]}
        if parts == ["workspaces"] and method == "POST":
            name, org = body.get("name"), body.get("organizationId") or self.organization_id
            if not name:
                return _error(400, "bad-request", "name is required.")
            if org not in app.organizations:
                return _error(403, "forbidden", "No access to this organization.")
            region_id = body.get("regionId")
            if region_id and not self._region_for(str(org), str(region_id)):
                return _error(400, "bad-request", f"Region {region_id} not found.")
            made = self.add_workspace(str(name), region_id and str(region_id), str(org))
            return 200, self.workspace_view(made)
        if len(parts) == 2:
            workspace = self._visible_workspace(app, parts[1])
            if workspace is None:
                return _error(404, "resource-not-found", f"Workspace {parts[1]} not found.")
            if method == "GET":
                return 200, self.workspace_view(workspace)
            if method == "PATCH":
                if not self._may_edit(app):
                    return _forbidden_in_workspace()
                region_id = body.get("regionId")
                if region_id is not None:
                    if not self._region_for(workspace["organizationId"], str(region_id)):
                        return _error(400, "bad-request", f"Region {region_id} not found.")
                    workspace["regionId"] = str(region_id)
                if body.get("name"):
                    workspace["name"] = str(body["name"])
                return 200, self.workspace_view(workspace)
        if len(parts) == 4 and parts[2] == "definitions" and method == "GET":
            if self._visible_workspace(app, parts[1]) is None:
                return _error(404, "resource-not-found", f"Workspace {parts[1]} not found.")
            if parts[3] in DEFINITIONS:
                return 200, {"data": [dict(d) for d in DEFINITIONS[parts[3]]]}
        return _error(404, "resource-not-found", f"No route for {method} /v1/{'/'.join(parts)}.")

    def _may_edit(self, app: App) -> bool:
        """WORKSPACE_EDITOR or more (an organization admin is one in every workspace)."""
        return app.org_admin or app.workspace_role == "editor"

    def _region_for(self, organization_id: str, region_id: str) -> bool:
        region = self.regions.get(region_id)
        return (
            region is not None
            and not region["deleted"]
            and region["organizationId"] in (organization_id, MANAGED_ORGANIZATION)
        )

    def _create_actor(self, kind: str, body: dict[str, Any], app: App) -> tuple[int, Any]:
        singular = kind[:-1]
        config = body.get("configuration")
        if not body.get("name") or not body.get("workspaceId") or not isinstance(config, dict):
            return _error(400, "bad-request", "name, workspaceId and configuration are required.")
        if self._visible_workspace(app, str(body["workspaceId"])) is None:
            return _error(403, "forbidden", "No access to this workspace.")
        if not self._may_edit(app):
            return _forbidden_in_workspace()
        definition = body.get("definitionId")
        if not definition:
            # Like the server: a connector named in the configuration must be in its map.
            named = config.get(f"{singular}Type")
            definition = NAME_TO_DEFINITION[kind].get(str(named))
            if definition is None:
                return _error(
                    400,
                    "value-not-found",
                    f"{singular}Type {named!r} is not a known {singular} name.",
                )
        if definition not in {d["id"] for d in DEFINITIONS[kind]}:
            return _error(404, "resource-not-found", f"Definition {definition} not found.")
        key = f"{singular}Id"
        made = {
            key: str(uuid.uuid4()),
            "name": body["name"],
            f"{singular}Type": next(
                d["name"].lower() for d in DEFINITIONS[kind] if d["id"] == definition
            ),
            "definitionId": definition,
            "workspaceId": body["workspaceId"],
            "configuration": config,
            "createdAt": int(self.now()),
            "deleted": False,
        }
        getattr(self, kind)[made[key]] = made
        return 200, _public(made)

    def _create_connection(self, body: dict[str, Any], app: App) -> tuple[int, Any]:
        source = self.sources.get(str(body.get("sourceId")))
        destination = self.destinations.get(str(body.get("destinationId")))
        if source is None or source["deleted"] or destination is None or destination["deleted"]:
            return _error(400, "bad-request", "sourceId and destinationId must exist.")
        if self._visible_workspace(app, source["workspaceId"]) is None or not self._may_edit(app):
            return _forbidden_in_workspace()
        made = {
            "connectionId": str(uuid.uuid4()),
            "name": body.get("name") or f"{source['name']} → {destination['name']}",
            "sourceId": source["sourceId"],
            "destinationId": destination["destinationId"],
            "workspaceId": source["workspaceId"],
            "status": "active",
            "schedule": {"scheduleType": "manual"},
            "createdAt": int(self.now()),
            "deleted": False,
        }
        self.connections[made["connectionId"]] = made
        return 200, _public(made)

    def _jobs(
        self, method: str, parts: list[str], body: dict[str, Any], app: App
    ) -> tuple[int, Any]:
        if parts == ["jobs"] and method == "POST":
            connection = self.connections.get(str(body.get("connectionId")))
            if connection is None or connection["deleted"]:
                return _error(
                    404, "resource-not-found", f"Connection {body.get('connectionId')} not found."
                )
            workspace = self._visible_workspace(app, connection["workspaceId"])
            if workspace is None:
                return _error(403, "forbidden", "No access to this connection.")
            if body.get("jobType") != "sync":
                return _error(400, "bad-request", "jobType must be sync.")
            running = [
                j
                for j in self.jobs.values()
                if j["connectionId"] == connection["connectionId"]
                and j["status"] not in FINAL_JOB_STATES
            ]
            if running:
                return _error(
                    409, "state-conflict", "A sync is already running for this connection."
                )
            job_id = 1000 + len(self.jobs) + 1
            job = {
                "jobId": job_id,
                "status": "",
                "jobType": "sync",
                "startTime": self._stamp(),
                "connectionId": connection["connectionId"],
                "workspaceId": workspace["workspaceId"],
                "regionId": workspace["regionId"],
                "step": 0,
                "attempt": 0,
            }
            self.jobs[job_id] = job
            self.move_job(job_id, self.job_script[0])
            return 200, _job_view(job)
        if len(parts) == 2:
            try:
                found = self.jobs.get(int(parts[1]))
            except ValueError:
                found = None
            if found is None:
                return _error(404, "resource-not-found", f"Job {parts[1]} not found.")
            job = found
            if method == "GET":
                if job["status"] not in FINAL_JOB_STATES:
                    job["step"] = min(job["step"] + 1, len(self.job_script) - 1)
                    if job["status"] == "incomplete":
                        job["attempt"] += 1  # the retry is a new attempt (a new pod)
                    self.move_job(job["jobId"], self.job_script[job["step"]])
                return 200, _job_view(job)
            if method == "DELETE":
                if job["status"] not in FINAL_JOB_STATES:
                    self.move_job(job["jobId"], "cancelled")
                return 200, _job_view(job)
        return _error(404, "resource-not-found", f"No route for {method} /v1/{'/'.join(parts)}.")

    def _job_info(self, body: Any) -> tuple[int, Any]:
        """The internal job read: the last attempt's failure summary."""
        job = self.jobs.get(int(body.get("id") or 0)) if isinstance(body, dict) else None
        if job is None:
            return _error(404, "resource-not-found", "Job not found.")
        failures = (
            [
                {
                    "failureOrigin": "source",
                    "externalMessage": self.job_failure,
                    "timestamp": int(self.now() * 1000),
                }
            ]
            if job["status"] == "failed"
            else []
        )
        return 200, {
            "job": {"id": job["jobId"], "status": job["status"]},
            "attempts": [
                {
                    "attempt": {
                        "id": 0,
                        "status": job["status"],
                        "failureSummary": {"failures": failures},
                    }
                }
            ],
        }

    def _health(self, method: str, app: App, body: Any) -> tuple[int, Any]:
        if not self.health_available:
            return _error(403, "forbidden", "Applications may not call this endpoint.")
        if method != "POST":
            return _error(405, "method-not-allowed", f"{method} is not allowed")
        org = body.get("organizationId") if isinstance(body, dict) else None
        if org not in app.organizations:
            return _error(403, "forbidden", "No access to this organization.")
        entries = []
        for dataplane in self.dataplanes.values():
            region = self.regions[dataplane["regionId"]]
            if dataplane["deleted"] or region["organizationId"] != org:
                continue
            beat = self.heartbeats.get(dataplane["dataplaneId"])
            age = None if beat is None else self.now() - beat
            status = (
                "UNKNOWN"
                if age is None
                else "HEALTHY"
                if age <= 60
                else "DEGRADED"
                if age <= 300
                else "UNHEALTHY"
            )
            entries.append(
                {
                    "dataplane_id": dataplane["dataplaneId"],
                    "dataplane_name": dataplane["name"],
                    "dataplane_group_id": dataplane["regionId"],
                    "organization_id": org,
                    "status": status,
                    "last_heartbeat_timestamp": None
                    if beat is None
                    else dt.datetime.fromtimestamp(beat, dt.timezone.utc).isoformat(),
                }
            )
        return 200, {"dataplanes": entries}

    # ------------------------------------------------------------------- faults

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def take_hooks(self, method: str, path: str) -> list[Hook]:
        with self.lock:
            found = [
                h
                for h in self.hooks
                if h.times > 0 and h.method == method and fnmatch.fnmatchcase(path, h.path)
            ]
            for hook in found:
                hook.times -= 1
            return found


# The connectors a workspace offers (ids as in Airbyte's registry). Like the real
# server's name map, dev-null is not in NAME_TO_DEFINITION: it needs its definitionId.
DEFINITIONS: dict[str, list[dict[str, str]]] = {
    "sources": [
        {
            "id": "dfd88b22-b603-4c3d-aad7-3701784586b1",
            "name": "Faker",
            "dockerRepository": "airbyte/source-faker",
            "dockerImageTag": "6.2.21",
        }
    ],
    "destinations": [
        {
            "id": "a7bcc9d8-13b3-4e49-b80d-d020b90045e3",
            "name": "Dev-null",
            "dockerRepository": "airbyte/destination-dev-null",
            "dockerImageTag": "0.7.21",
        }
    ],
}
NAME_TO_DEFINITION: dict[str, dict[str, str]] = {
    "sources": {"faker": "dfd88b22-b603-4c3d-aad7-3701784586b1"},
    "destinations": {},
}


# airbyte-platform airbyte-config/config-models/.../JobStatus.kt TERMINAL_STATUSES; its
# VALID_STATUS_CHANGES let INCOMPLETE go on to PENDING, RUNNING or SUCCEEDED.
FINAL_JOB_STATES = ("succeeded", "failed", "cancelled")


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job[k] for k in ("jobId", "status", "jobType", "startTime", "connectionId")}


def _forbidden_in_workspace() -> tuple[int, Any]:
    return _error(
        403, "forbidden", "The user does not have the required permissions for this workspace."
    )


def _uncaught(exception: str, message: str) -> tuple[int, Any]:
    """A 1.8-era UncaughtExceptionHandler answer (KnownException.infoFromThrowable...)."""
    return 500, {
        "message": f"Internal Server Error: {message}",
        "exceptionClassName": exception,
        "exceptionStack": [],
        "rootCauseExceptionClassName": exception,
        "rootCauseExceptionStack": [],
    }


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "deleted"}


def _error(status: int, title: str, detail: str) -> tuple[int, Any]:
    return status, {
        "status": status,
        "type": f"https://reference.airbyte.com/reference/errors#{title}",
        "title": title,
        "detail": detail,
    }


def _mask(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: (MASK if k in _SECRET_FIELDS else _mask(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_mask(v) for v in body]
    return body


class _Handler(BaseHTTPRequestHandler):
    control_plane: FakeControlPlane
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test output stays clean; requests are recorded instead

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.control_plane
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            content_type = self.headers.get("Content-Type", "")
            if "x-www-form-urlencoded" in content_type:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        recorded = dict(headers)
        if "authorization" in recorded:
            recorded["authorization"] = recorded["authorization"].split(" ")[0] + " " + MASK
        request = Request(self.command, parts.path, query, recorded, _mask(body))
        with fake.lock:
            fake.requests.append(request)

        fault = fake.take_fault(self.command, parts.path)
        if fault is not None and fault.delay and fake.stopping.wait(fault.delay):
            return
        if fault is not None and fault.drop:
            self._hang_up()
            return
        if fault is not None and fault.trickle:
            self._trickle(fault)
            return
        if fault is not None and fault.status is not None:
            status, payload = _error(
                fault.status,
                "injected-fault",
                f"Injected {fault.status} for {self.command} {parts.path}.",
            )
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._answer(status, payload, extra)
            return
        if self.command == "POST" and parts.path == "/v1/connections":
            # The discover before the connection exists; the client may give up meanwhile.
            if fake.on_discover is not None:
                fake.on_discover()
            if fake.discover_seconds and fake.stopping.wait(fake.discover_seconds):
                return
            if fake.discover_failure is not None:
                status, payload = _error(
                    500,
                    "unexpected-problem",
                    "Something went wrong in the connector. logs: " + fake.discover_failure,
                )
                self._answer(status, payload, {})
                return
        status, payload = fake.handle(self.command, parts.path, query, headers, body)
        for hook in fake.take_hooks(self.command, parts.path):
            hook.callback(request)
            if hook.then_wait:
                fake.stopping.wait(hook.then_wait)
        if fault is not None and fault.drop_after:
            self._hang_up()
            return
        self._answer(status, payload, {})

    def _answer(self, status: int, payload: Any, extra: dict[str, str]) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (a timeout, a Ctrl-C): nothing to answer to.
            self.close_connection = True

    def _trickle(self, fault: Fault) -> None:
        fake = self.control_plane
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.wfile.write(b'{"data": [')
            self.wfile.flush()
            sent = 0
            while fault.trickle_bytes is None or sent < fault.trickle_bytes:
                if fake.stopping.wait(fault.trickle):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()
                sent += 1
        except OSError:
            return  # the client went away: what a bounded client does
        self._hang_up()

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture(name="fake_cp")
def fake_cp_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeControlPlane]:
    """``fake_cp``: a started fake control plane, stopped after the test.

    Import ``fake_cp_fixture`` (or its alias ``fake_cp``) into a conftest or test module;
    the fixture's name is ``fake_cp`` either way.
    """
    # A proxy in the developer's environment must not swallow loopback requests.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = FakeControlPlane().start()
    try:
        yield fake
    finally:
        fake.stop()


fake_cp = fake_cp_fixture
