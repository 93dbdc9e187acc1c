"""The ``airbox status --json`` document: typed here, serialised by ``to_json``.

``version`` changes only when the shape stops being backward compatible; new keys may
appear. Each field's JSON key is its name in camelCase. The shape, as a script sees it::

    {
      "version": 1,
      "name": "dp1",                     # null when nothing is installed
      "verdict": "healthy",              # healthy | degraded | unhealthy | not installed
      "reason": "...",                   # one sentence: why this verdict
      "next": "airbox logs --name dp1",  # what to do next, or null when healthy
      "checkedAt": "2026-01-01T00:00:00Z", "seconds": 0.6,
      "target": {"type": "kind", "cluster": "airbox-dp1",
                 "nodeContainer": "airbox-dp1-control-plane"},
             # or {"type": "existing", "context": "prod", "kubeconfig": null}
      "namespace": "airbyte",
      "checks": [                        # always these ids, in this order
        {"id": "docker", "state": "ok", "ok": true, "summary": "...",
         "details": ["..."], "next": null}
      ],
      "release": {"name", "namespace", "status", "revision", "chart", "chartVersion",
                  "appVersion", "lastDeployed", "description"} | null,
      "pods": [{"name", "phase", "ready", "restarts", "problem", "lastTermination",
                "imagePullProblem"}],
      "events": [{"time", "type", "reason", "object", "message", "count"}],  # warnings
      "registration": {"dataplaneId", "name", "organizationId", "regionId", "region",
                       "checked", "enabled", "deleted", "health", "lastHeartbeat",
                       "error"} | null,      # null: airbox did not register it
      "node": {                          # kind only (null otherwise); parts may be missing
        "restartPolicy": "unless-stopped",
        "certificates": [{"name": "apiserver", "expires": "2027-01-01T00:00:00Z",
                          "daysLeft": 364, "authority": false}],
        "disk": [{"path": "...", "totalBytes": 1, "usedBytes": 1, "percent": 12.5}],
        "images": {"count": 12, "bytes": 1, "unusedConnectors": ["..."],
                   "unusedConnectorBytes": 1, "connectors": ["airbyte/source-x:1.2"],
                   "offline": false}
      } | null,
      "versions": {"chart": {"running": "1.8.0", "pinned": "1.8.1"},
                   "kubernetes": {"running": "v1.35.0", "pinned": "v1.35.0"}} | null,
      "routing": {"region": {"regionId", "name"}, "workspaces": ["..."]} | null,
                                         # null: not checked (see the routing check)
      "unfinishedRepair": {"what": "certificate renewal",
                           "startedAt": "2026-01-01T00:00:00Z",
                           "next": "airbox repair --name dp1"} | null
                                         # a repair stopped half-way; null: none
    }

``state`` is ``ok``, ``warn`` (works, needs attention: makes the verdict degraded),
``fail`` (makes it unhealthy) or ``skip`` (not applicable, or not checked because of an
earlier failure or a missing credential); ``ok`` is true, false, false, null
respectively. What each check looks at is in ``checks.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from airbox.redact import REDACTOR
from airbox.timestamps import utc_stamp

if TYPE_CHECKING:
    from airbox.config.settings import Settings

STATUS_VERSION = 1
HEALTHY, DEGRADED, UNHEALTHY, NOT_INSTALLED = "healthy", "degraded", "unhealthy", "not installed"


def json_key(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def to_json(value: Any) -> Any:
    """A report (or any part of one) as the JSON document's plain values."""
    if isinstance(value, Check):
        return value.to_json()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        omit = type(value) in OMIT_NONE
        return {
            json_key(name): to_json(item)
            for name, item in zip(value._fields, value, strict=True)
            if not (omit and item is None)
        }
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


def from_json(cls: Any, data: Mapping[str, Any]) -> Any:
    """The part ``cls`` of the report from a mapping keyed like its JSON (a probe's view)."""
    return cls(*(data.get(json_key(name)) for name in cls._fields))


@dataclass(frozen=True)
class Check:
    """One check's finding. ``blocks``: why later checks cannot look (the root cause);
    ``blocks_node``: the node's insides cannot be looked at either."""

    id: str
    state: str  # ok | warn | fail | skip
    summary: str
    details: list[str] = field(default_factory=list)
    next: str | None = None
    blocks: str | None = field(default=None, compare=False, repr=False)
    blocks_node: bool = field(default=False, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        ok = {"ok": True, "warn": False, "fail": False}.get(self.state)
        return {
            "id": self.id,
            "state": self.state,
            "ok": ok,
            "summary": REDACTOR.mask_all(self.summary),
            "details": [REDACTOR.mask_all(d) for d in self.details],
            "next": self.next,
        }


def skip(check_id: str, summary: str) -> Check:
    """A check that did not judge: not applicable, or it could not look (``summary``: why)."""
    return Check(check_id, "skip", summary)


# The keys of a check in the JSON (``to_json`` above writes them by hand: ``ok`` is derived).
CHECK_KEYS = ("id", "state", "ok", "summary", "details", "next")

# The report's other parts are NamedTuples: as immutable and typed as frozen dataclasses,
# and several times cheaper to define (status imports them on every run).


class KindTarget(NamedTuple):
    type: str  # "kind"
    cluster: str
    node_container: str


class ExistingTarget(NamedTuple):
    type: str  # "existing"
    context: str | None
    kubeconfig: str | None


class Release(NamedTuple):
    name: str
    namespace: str
    status: str | None
    revision: int | None
    chart: str | None
    chart_version: str | None
    app_version: str | None
    last_deployed: str | None
    description: str | None


class Pod(NamedTuple):
    name: str
    phase: str
    ready: bool
    restarts: int
    problem: str | None
    last_termination: str | None
    image_pull_problem: bool


class Event(NamedTuple):
    time: str | None
    type: str | None
    reason: str | None
    object: str
    message: str
    # The JSON's "count" shadows tuple.count, which nothing calls on a report part.
    count: int | None  # type: ignore[assignment]


class Registration(NamedTuple):
    dataplane_id: str
    name: str
    organization_id: str | None
    region_id: str | None
    region: str | None
    checked: bool
    enabled: bool | None
    deleted: bool
    health: str | None
    last_heartbeat: str | None
    error: str | None


class Certificate(NamedTuple):
    name: str
    expires: str
    days_left: int
    authority: bool


class Disk(NamedTuple):
    path: str
    total_bytes: int
    used_bytes: int
    percent: float


class Images(NamedTuple):
    count: int  # type: ignore[assignment]  # as Event.count
    bytes: int
    unused_connectors: list[str]
    unused_connector_bytes: int
    connectors: list[str]  # the connector images in the node
    offline: bool  # installed from a bundle: only those connectors can run


class Node(NamedTuple):
    """What was read in the node; a part that could not be read is left out."""

    restart_policy: str | None = None
    certificates: list[Certificate] | None = None
    disk: list[Disk] | None = None
    images: Images | None = None


class Pinned(NamedTuple):
    running: str
    pinned: str


class Versions(NamedTuple):
    chart: Pinned | None = None
    kubernetes: Pinned | None = None


# Parts whose fields are left out of the JSON while they are None.
OMIT_NONE = frozenset({Node, Versions})


class Region(NamedTuple):
    region_id: str
    name: str | None


class Routing(NamedTuple):
    region: Region
    workspaces: list[str]


class UnfinishedRepair(NamedTuple):
    """A repair that stopped half-way (Ctrl-C, a signal, an error); ``next`` finishes it.
    ``what``: "certificate renewal" (renewed in the node; the node restart and the
    kubeconfig export may still be due, so the control plane and airbox's kubeconfig may
    still use the old certificates)."""

    what: str
    started_at: str | None
    next: str


class Report(NamedTuple):
    version: int
    name: str | None
    verdict: str
    reason: str
    next: str | None
    checked_at: str
    seconds: float
    target: KindTarget | ExistingTarget | None
    namespace: str | None
    checks: list[Check]
    release: Release | None
    pods: list[Pod]
    events: list[Event]
    registration: Registration | None
    node: Node | None
    versions: Versions | None
    routing: Routing | None
    unfinished_repair: UnfinishedRepair | None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = to_json(self)
        return document


def target(settings: Settings) -> KindTarget | ExistingTarget:
    if settings.target.is_kind:
        return KindTarget("kind", settings.cluster_name, settings.node_container)
    return ExistingTarget(
        "existing", context=settings.target.kube_context, kubeconfig=settings.target.kubeconfig
    )


def verdict(checks: list[Check], name: str) -> tuple[str, str, str | None]:
    """(verdict, reason, next): the first failure, else the first warning, else healthy."""
    for state, word in (("fail", UNHEALTHY), ("warn", DEGRADED)):
        first = next((c for c in checks if c.state == state), None)
        if first is not None:
            return word, first.summary, first.next
    return HEALTHY, f"data plane {name} is running and ready", None


def stamp(seconds: float) -> str:
    return utc_stamp(seconds)
