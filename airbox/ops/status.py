"""``airbox status``: is the data plane healthy, and if not, why and what to do next.

Every probe runs concurrently (Docker through its SDK, kubectl, helm, the Airbyte API)
and none can make status itself fail: a probe that fails becomes a finding. The
verdict comes from the first failing check in the order below (the one closest to
the root cause: Docker before the cluster, the cluster before the release, ...), else
the first warning, else healthy.

``--json`` prints this shape (``version`` changes only when it stops being
backward compatible; new keys may appear)::

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
                   "unusedConnectorBytes": 1}
      } | null,
      "versions": {"chart": {"running": "1.8.0", "pinned": "1.8.1"},
                   "kubernetes": {"running": "v1.35.0", "pinned": "v1.35.0"}} | null,
      "routing": {"region": {"regionId", "name"}, "workspaces": ["..."]} | null
                                         # null: not checked (see the routing check)
    }

Check ids: ``docker``, ``node-container``, ``kubernetes``, ``release``, ``pods``,
``storage`` (the MinIO airbox runs when no storage is configured: ready, bucket made,
its host data directory there; ``skip`` for a store you configured), ``events``,
``credentials``, ``job-credentials`` (the launcher's settings hand every credential the
secrets manager needs to its job pods, each from a key of airbox's Secret; ``fail``
otherwise: syncs with secrets could not read them), ``registration``, ``heartbeat``,
then the ones that look
ahead: ``restart-policy`` (the node comes back after a reboot), ``certificates``
(kubeadm's, read in the node: warn under 30 days, fail once expired), ``disk`` (the
node's image store and the host's Docker data root: warn above 80%, fail from 95%),
``images`` (how many the node holds; connector images no pod uses, for ``airbox
prune``) and ``versions`` (the chart and Kubernetes against the ones airbox pins; an
available upgrade is noted, not a warning); last ``routing``: ``ok`` when a workspace
uses the data plane's region, ``warn`` when none does (it gets no work), ``skip``
without the application's credentials. ``state`` is ``ok``,
``warn`` (works, needs attention: makes the verdict degraded), ``fail`` (makes it
unhealthy) or ``skip`` (not applicable, or not checked because of an earlier failure
or a missing credential); ``ok`` is true, false, false, null respectively.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from airbox.cluster import commands, kube
from airbox.cluster.runner import Runner
from airbox.config.settings import Settings
from airbox.errors import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PREFLIGHT,
    AirboxError,
    ToolError,
)
from airbox.fsutil import read_json
from airbox.installed import (
    Installed,
    choose_name,
    half_built,
    install_stopped,
    load_installed,
    tool_runner,
    why,
)
from airbox.paths import StateDir
from airbox.redact import REDACTOR

STATUS_VERSION = 1
CHECK_IDS = ("docker", "node-container", "kubernetes", "release", "pods", "storage", "events",
             "credentials", "job-credentials", "registration", "heartbeat",
             # Looking ahead: what will break in the coming weeks, not what is broken now.
             "restart-policy", "certificates", "disk", "images", "versions",
             # Last: does any workspace send its syncs here?
             "routing")
DISK_WARN_PERCENT = 80.0
DISK_FAIL_PERCENT = 95.0
# Warnings and restarts older than this are history, not a problem now.
RECENT_SECONDS = 15 * 60
LOG_WINDOW = "10m"

HEALTHY, DEGRADED, UNHEALTHY, NOT_INSTALLED = "healthy", "degraded", "unhealthy", "not installed"

T = TypeVar("T")


# ------------------------------------------------------------------------- the model


@dataclass
class Check:
    id: str
    state: str  # ok | warn | fail | skip
    summary: str
    details: list[str] = field(default_factory=list)
    next: str | None = None

    def as_dict(self) -> dict[str, Any]:
        ok = {"ok": True, "warn": False, "fail": False}.get(self.state)
        return {"id": self.id, "state": self.state, "ok": ok,
                "summary": REDACTOR.mask_all(self.summary),
                "details": [REDACTOR.mask_all(d) for d in self.details], "next": self.next}


@dataclass
class Outcome:
    """What one probe returned, or why it could not."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class DockerView:
    version: str
    node: Any  # dockerhost.ContainerState, or None for an existing cluster
    cgroup_v1: bool = False


@dataclass
class Probes:
    docker: Outcome
    nodes: Outcome
    release: Outcome
    pods: Outcome
    events: Outcome
    logs: Outcome
    registration: Outcome
    certificates: Outcome = field(default_factory=Outcome)
    disk: Outcome = field(default_factory=Outcome)
    images: Outcome = field(default_factory=Outcome)
    routing: Outcome = field(default_factory=Outcome)
    storage: Outcome = field(default_factory=Outcome)
    launcher: Outcome = field(default_factory=Outcome)


# ---------------------------------------------------------------------------- probes


def _probe_docker(inst: Installed) -> DockerView:
    from airbox.cluster.dockerhost import DockerHost

    host = DockerHost.connect()
    version = str(host.version().get("Version") or "")
    info = host.info()
    return DockerView(version, host.container(inst.settings.node_container),
                      str(info.get("CgroupVersion") or "2") == "1")


def _probe_certificates(inst: Installed) -> list[Any]:
    from airbox.cluster import node
    from airbox.cluster.dockerhost import DockerHost

    return node.certificates(DockerHost.connect(), inst.settings.node_container)


def _probe_disk(inst: Installed) -> list[Any]:
    """The node's image store, then the host's Docker data root (when it is local)."""
    from airbox.cluster import node
    from airbox.cluster.dockerhost import DockerHost

    host = DockerHost.connect()
    found = [node.image_store_disk(host, inst.settings.node_container)]
    local = host.data_root_disk()
    if local is not None:
        found.append(node.DiskUse(*local))
    return found


def _probe_images(inst: Installed) -> Any:
    from airbox.cluster import node
    from airbox.cluster.dockerhost import DockerHost

    return node.image_store(DockerHost.connect(), inst.settings.node_container)


def _probe_nodes(inst: Installed, runner: Runner) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.get_json(runner, inst.kube, "get", "nodes",
                                                timeout=15).get("items", [])
    return items


def _probe_release(inst: Installed, runner: Runner) -> dict[str, Any] | None:
    """``helm status`` as JSON; None when the release does not exist."""
    argv = commands.helm_status(inst.kube, inst.settings)
    result = runner.run(argv, timeout=20, check=False)
    if result.ok:
        data: dict[str, Any] = json.loads(result.stdout or "{}")
        return data
    text = result.stderr.strip()
    if "release: not found" in text:
        return None
    raise ToolError("helm status failed", command=REDACTOR.mask_argv(argv),
                    returncode=result.returncode, output_tail=REDACTOR.mask_all(text[-2000:]))


def _probe_pods(inst: Installed, runner: Runner) -> list[dict[str, Any]]:
    return kube.pods(runner, inst.kube, inst.settings.namespace,
                     kube.release_selector(inst.settings.release, inst.settings.values))


def _probe_storage(inst: Installed, runner: Runner) -> dict[str, Any]:
    """The local store's Deployment and bucket Job (``{}`` for each that is missing), and
    ``secretPair``: the fingerprint of the pair the Secret gives the pods (None: none)."""
    from airbox.render import manifests

    found: dict[str, Any] = {"secretPair": _secret_store_fingerprint(inst, runner)}
    for kind, name in (("deployment", manifests.LOCAL_STORE),
                       ("job", manifests.LOCAL_STORE_JOB)):
        argv = inst.kube.kubectl("--namespace", inst.settings.namespace, "get", kind, name,
                                 "-o", "json")
        result = runner.run(argv, timeout=15, check=False)
        if result.ok:
            found[kind] = json.loads(result.stdout or "{}")
        elif "NotFound" in result.stderr or "not found" in result.stderr:
            found[kind] = {}
        else:
            raise ToolError(f"kubectl get {kind} {name} failed",
                            command=REDACTOR.mask_argv(argv), returncode=result.returncode,
                            output_tail=REDACTOR.mask_all(result.stderr[-2000:]))
    return found


def _probe_launcher(inst: Installed, runner: Runner) -> dict[str, Any] | None:
    """The launcher's plain settings (its Deployment's env, ConfigMaps resolved) and the
    keys of airbox's Secret; None when the Deployment is missing."""
    from airbox.installed import not_found
    from airbox.ops import hydration
    from airbox.render import chartcheck

    ns = inst.settings.namespace

    def get(kind: str, name: str) -> dict[str, Any] | None:
        try:
            return kube.get_json(runner, inst.kube, "--namespace", ns, "get", kind, name,
                                 timeout=15)
        except ToolError as exc:
            if not_found(exc):
                return None
            raise

    deployment = get("deployment", commands.deployment_name(inst.settings))
    if deployment is None:
        return None
    container = next(chartcheck.containers([deployment]), None)
    if container is None:
        return {"env": {}, "keys": set()}
    names = {str((source.get("configMapRef") or {}).get("name"))
             for source in container.spec.get("envFrom") or [] if source.get("configMapRef")}
    names |= {str(ref.get("name")) for entry in container.spec.get("env") or []
              if (ref := (entry.get("valueFrom") or {}).get("configMapKeyRef"))}
    configmaps = {name: (found.get("data") or {}) for name in sorted(names)
                  if (found := get("configmap", name)) is not None}
    return {"env": chartcheck.env_values(container, configmaps),
            "keys": hydration.read_secret_keys(runner, inst.kube, ns)}


def _secret_store_fingerprint(inst: Installed, runner: Runner) -> str | None:
    import base64

    from airbox.render import manifests

    argv = inst.kube.kubectl("--namespace", inst.settings.namespace, "get", "secret",
                             manifests.SECRET_NAME, "-o", "json")
    # Only the fingerprint leaves this function; the data is never logged.
    result = runner.run(argv, timeout=15, check=False, secret_output=True)
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout or "{}").get("data") or {}
        pair = [base64.b64decode(str(data[key])).decode()
                for key in (manifests.STORAGE_ACCESS_KEY_KEY, manifests.STORAGE_SECRET_KEY_KEY)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifests.credentials_fingerprint(pair[0], pair[1])


def _probe_events(inst: Installed, runner: Runner) -> list[dict[str, Any]]:
    return kube.warning_events(runner, inst.kube, inst.settings.namespace)


def auth_failures(text: str) -> list[str]:
    """The launcher log lines that say the control plane refused its credentials."""
    from airbox.ops.install import AUTH_FAILURE_MARKERS

    return [REDACTOR.mask_all(line) for line in text.splitlines()
            if any(marker in line.lower() for marker in AUTH_FAILURE_MARKERS)]


def _probe_logs(inst: Installed, runner: Runner) -> list[str]:
    result = runner.run(commands.kubectl_launcher_logs(inst.kube, inst.settings, LOG_WINDOW),
                        timeout=20)
    return auth_failures(result.stdout)


def _probe_registration(inst: Installed) -> dict[str, Any] | None:
    """The saved registration, checked against the control plane when credentials allow.

    Best effort: API failures land in ``error``; they never fail status.
    """
    from airbox.controlplane.api import NO_RETRY, Timeouts
    from airbox.controlplane.registration import api_for, find_dataplane, saved_registration
    from airbox.errors import ControlPlaneError

    record = saved_registration(inst.state)
    if record is None:
        return None
    view: dict[str, Any] = {
        "dataplaneId": str(record["dataplaneId"]),
        "name": record.get("name") or inst.name,
        "organizationId": record.get("organizationId"),
        "regionId": record.get("regionId"),
        "region": record.get("regionName"),
        "checked": False, "enabled": None, "deleted": False,
        "health": None, "lastHeartbeat": None, "error": None,
    }
    if inst.settings.registration is None:
        view["error"] = ("no application credentials to ask the control plane with (set "
                         "AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET)")
        return view
    api = api_for(inst.settings, inst.state, base_url=record.get("apiUrl") or None)
    # Status must answer fast even when the control plane does not (or trickles).
    api.timeout = Timeouts(connect=2.0, read=4.0, total=6.0)
    api.reads_within = 8.0
    api.retries = NO_RETRY
    with api:
        try:
            answer = find_dataplane(api, view["dataplaneId"], view["regionId"])
        except ControlPlaneError as exc:
            view["error"] = exc.message
            return view
        if answer is None:
            # Deleted: the server tombstones it, and only its lists leave it out.
            view.update(checked=True, deleted=True)
            return view
        view.update(checked=True, enabled=answer.get("enabled"),
                    regionId=answer.get("regionId") or view["regionId"])
        if view["organizationId"]:
            health = api.dataplane_health(inst.settings.control_plane.url,
                                          str(view["organizationId"]))
            entry = next((h for h in health or []
                          if str(h.get("dataplane_id") or h.get("dataplaneId"))
                          == view["dataplaneId"]), None)
            if entry is not None:
                view["health"] = entry.get("status")
                view["lastHeartbeat"] = (entry.get("last_heartbeat_timestamp")
                                         or entry.get("lastHeartbeatTimestamp"))
    return view


def _probe_routing(inst: Installed) -> dict[str, Any] | None:
    from airbox.ops.workspaces import routing_probe

    return routing_probe(inst)


def _attempt(func: Callable[[], T]) -> Outcome:
    try:
        return Outcome(func())
    except Exception as exc:  # every probe failure is a finding, never a crash
        return Outcome(error=exc)


def run_probes(inst: Installed, runner: Runner) -> Probes:
    """Every probe at once; Docker's only for a kind cluster."""
    jobs: dict[str, Callable[[], Any]] = {
        "nodes": lambda: _probe_nodes(inst, runner),
        "release": lambda: _probe_release(inst, runner),
        "pods": lambda: _probe_pods(inst, runner),
        "events": lambda: _probe_events(inst, runner),
        "logs": lambda: _probe_logs(inst, runner),
        "registration": lambda: _probe_registration(inst),
        "routing": lambda: _probe_routing(inst),
        "launcher": lambda: _probe_launcher(inst, runner),
    }
    if inst.settings.target.is_kind and inst.settings.storage is None:
        jobs["storage"] = lambda: _probe_storage(inst, runner)
    if inst.settings.target.is_kind:
        jobs["docker"] = lambda: _probe_docker(inst)
        jobs["certificates"] = lambda: _probe_certificates(inst)
        jobs["disk"] = lambda: _probe_disk(inst)
        jobs["images"] = lambda: _probe_images(inst)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs),
                                               thread_name_prefix="airbox-status") as pool:
        futures = {key: pool.submit(_attempt, job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    return Probes(docker=results.get("docker", Outcome()), nodes=results["nodes"],
                  release=results["release"], pods=results["pods"], events=results["events"],
                  logs=results["logs"], registration=results["registration"],
                  certificates=results.get("certificates", Outcome()),
                  disk=results.get("disk", Outcome()), images=results.get("images", Outcome()),
                  routing=results["routing"], storage=results.get("storage", Outcome()),
                  launcher=results["launcher"])


# ---------------------------------------------------------------------------- checks


def _event_time(event: Mapping[str, Any]) -> float | None:
    return kube.parse_time(event.get("lastTimestamp") or event.get("eventTime")
                       or (event.get("metadata") or {}).get("creationTimestamp"))


def event_view(event: Mapping[str, Any]) -> dict[str, Any]:
    involved = event.get("involvedObject") or {}
    return {
        "time": event.get("lastTimestamp") or event.get("eventTime"),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "object": f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        "message": REDACTOR.mask_all(str(event.get("message") or "")),
        "count": event.get("count"),
    }


class Assessment:
    """Turns the probes into the checks, in order, each aware of what failed before it."""

    def __init__(self, inst: Installed, probes: Probes, now: float) -> None:
        self.inst = inst
        self.p = probes
        self.now = now
        self.checks: list[Check] = []
        # Why later checks could not look (the root cause), once one is known.
        self.blocked: str | None = None
        self.release: dict[str, Any] | None = None
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.registration: dict[str, Any] | None = None
        # Why the node's insides could not be looked at (Docker down, node stopped).
        self.node_blocked: str | None = None
        self.node: dict[str, Any] = {}
        self.versions: dict[str, Any] = {}
        self.routing: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.inst.name

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def skip(self, check_id: str, summary: str) -> None:
        self.add(Check(check_id, "skip", summary))

    def run(self) -> list[Check]:
        self.docker()
        self.node_container()
        self.kubernetes()
        self.release_check()
        self.pods_check()
        self.storage_check()
        self.events_check()
        self.credentials()
        self.job_credentials()
        self.registration_checks()
        self.restart_policy()
        self.certificates()
        self.disk()
        self.images()
        self.versions_check()
        self.routing_check()
        return self.checks

    # ------------------------------------------------------------------ cluster

    def docker(self) -> None:
        settings = self.inst.settings
        if not settings.target.is_kind:
            self.skip("docker", f"not used: the data plane runs in the existing cluster of "
                                f"context {settings.target.kube_context}")
            return
        if not self.p.docker.ok:
            error = self.p.docker.error
            assert error is not None
            hint = error.hint if isinstance(error, AirboxError) else None
            self.add(Check("docker", "fail", f"Docker is not reachable: {why(error)}",
                           next=hint or "start Docker: sudo systemctl start docker"))
            self.blocked = "Docker is not reachable"
            self.node_blocked = self.blocked
            return
        view: DockerView = self.p.docker.value
        version = f"Docker {view.version}" if view.version else "Docker"
        self.add(Check("docker", "ok", f"{version} is running"))

    def node_container(self) -> None:
        settings = self.inst.settings
        if not settings.target.is_kind:
            self.skip("node-container", "not used: existing cluster")
            return
        if self.blocked:
            self.skip("node-container", f"not checked: {self.blocked}")
            return
        view: DockerView = self.p.docker.value
        node = view.node
        container = settings.node_container
        if node.status == "missing":
            stopped = install_stopped(self.inst.state)
            if stopped is not None:
                # Never created: "recreates" or "no longer exists" would send the user
                # looking for what was lost.
                summary = (f"the kind cluster {settings.cluster_name} was never created: "
                           f"{stopped.sentence()}")
                fix = (f"airbox install --name {self.name}  (finishes the install from the "
                       "saved settings)")
            elif self._ever_installed():
                summary = (f"the kind cluster {settings.cluster_name} no longer exists (its "
                           f"node container {container} is gone)")
                fix = (f"airbox install --name {self.name}  (recreates the cluster from the "
                       "saved settings)")
            else:
                summary = (f"the kind cluster {settings.cluster_name} does not exist: the "
                           "install did not get that far")
                fix = (f"airbox install --name {self.name}  (creates the cluster again from "
                       "the saved settings)")
            self.add(Check("node-container", "fail", summary, next=fix))
            self.blocked = f"the kind cluster {settings.cluster_name} does not exist"
            self.node_blocked = self.blocked
            return
        if not node.running:
            self.add(Check("node-container", "fail",
                           f"the cluster's node container {container} is {node.status}",
                           next=f"airbox repair --name {self.name}  (starts it)"))
            self.blocked = f"the node container {container} is {node.status}"
            self.node_blocked = self.blocked
            return
        restarts = f"{node.restart_count} restart{'s' if node.restart_count != 1 else ''}"
        details = [f"started at {node.started_at}"] if node.started_at else []
        self.add(Check("node-container", "ok", f"{container} is running ({restarts})",
                       details))

    def _ever_installed(self) -> bool:
        try:
            progress = read_json(self.inst.state.progress)
        except (OSError, ValueError):
            return False
        return isinstance(progress, dict) and bool(progress.get("installed"))

    def kubernetes(self) -> None:
        settings = self.inst.settings
        if self.blocked:
            self.skip("kubernetes", f"not checked: {self.blocked}")
            return
        if not self.p.nodes.ok:
            assert self.p.nodes.error is not None
            reason = why(self.p.nodes.error)
            if kube.expired_certificate(reason):
                self.add(Check("kubernetes", "fail", "the cluster's certificates have expired: "
                               "the Kubernetes API refuses every client", [reason],
                               next=f"airbox repair --name {self.name}  (renews them)"))
                self.blocked = "the cluster's certificates have expired"
                return
            if settings.target.is_kind:
                summary = f"the Kubernetes API of {settings.cluster_name} does not answer"
                fix = (f"docker restart {settings.node_container}; if it stays down, "
                       f"airbox support-bundle --name {self.name}")
            else:
                summary = (f"cannot reach the cluster of context {settings.target.kube_context}")
                config = (f" --kubeconfig {settings.target.kubeconfig}"
                          if settings.target.kubeconfig else "")
                fix = (f"kubectl{config} --context {settings.target.kube_context} "
                       "cluster-info  (check the context, credentials and network)")
            self.add(Check("kubernetes", "fail", summary, [reason], next=fix))
            self.blocked = "the Kubernetes API does not answer"
            return
        nodes: list[dict[str, Any]] = self.p.nodes.value
        ready, not_ready = [], []
        for node in nodes:
            name = str((node.get("metadata") or {}).get("name"))
            cond: dict[str, Any] = next(
                (c for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"), {})
            if cond.get("status") == "True":
                ready.append(name)
            else:
                not_ready.append(f"{name}: {cond.get('reason') or 'NotReady'}"
                                 + (f" — {cond['message']}" if cond.get("message") else ""))
        if not nodes:
            self.add(Check("kubernetes", "fail", "the cluster has no nodes",
                           next=f"airbox support-bundle --name {self.name}"))
            self.blocked = "the cluster has no nodes"
        elif not ready:
            self.add(Check("kubernetes", "fail", "no node is Ready: pods cannot run",
                           not_ready, next=f"airbox support-bundle --name {self.name}  (and "
                                           "send it to support)"))
        elif not_ready:
            self.add(Check("kubernetes", "warn",
                           f"{len(ready)} of {len(nodes)} nodes are Ready", not_ready))
        else:
            noun = "node" if len(ready) == 1 else "nodes"
            self.add(Check("kubernetes", "ok", f"{noun} {', '.join(ready)} Ready"))

    # ------------------------------------------------------------------ release

    def release_check(self) -> None:
        settings = self.inst.settings
        if self.blocked:
            self.skip("release", f"not checked: {self.blocked}")
            return
        if not self.p.release.ok:
            assert self.p.release.error is not None
            self.add(Check("release", "fail", "cannot read the Helm release",
                           [why(self.p.release.error)],
                           next=f"airbox support-bundle --name {self.name}"))
            return
        data: dict[str, Any] | None = self.p.release.value
        if data is None:
            self.add(Check("release", "fail",
                           f"the Helm release {settings.release} is not installed in namespace "
                           f"{settings.namespace}",
                           next=f"airbox install --name {self.name}"))
            self.blocked = f"the release {settings.release} is not installed"
            return
        info = data.get("info") or {}
        meta = (data.get("chart") or {}).get("metadata") or {}
        self.release = {
            "name": data.get("name") or settings.release,
            "namespace": data.get("namespace") or settings.namespace,
            "status": info.get("status"),
            "revision": data.get("version"),
            "chart": meta.get("name"),
            "chartVersion": meta.get("version"),
            "appVersion": meta.get("appVersion"),
            "lastDeployed": info.get("last_deployed"),
            "description": info.get("description"),
        }
        status = str(info.get("status") or "unknown")
        summary = (f"{self.release['name']} revision {self.release['revision']} {status} "
                   f"({self.release['chart']} {self.release['chartVersion']}, app "
                   f"{self.release['appVersion']}), last deployed "
                   f"{_short_time(self.release['lastDeployed'])}")
        details = [str(info["description"])] if info.get("description") else []
        if status == "deployed":
            self.add(Check("release", "ok", summary))
        elif status.startswith("pending"):
            self.add(Check("release", "warn", summary + ": an install or upgrade did not finish",
                           details, next=f"airbox install --name {self.name}  (finishes or "
                                         "rolls it back)"))
        else:
            self.add(Check("release", "fail", summary, details,
                           next=f"airbox install --name {self.name}"))

    def pods_check(self) -> None:
        from airbox.cluster.kube import pod_health

        if self.blocked:
            self.skip("pods", f"not checked: {self.blocked}")
            return
        if not self.p.pods.ok:
            assert self.p.pods.error is not None
            self.skip("pods", f"could not list the pods: {why(self.p.pods.error)}")
            return
        raw: list[dict[str, Any]] = self.p.pods.value
        healths = [pod_health(pod) for pod in raw]
        self.pods = [h.as_dict() for h in healths]
        if not healths:
            self.add(Check("pods", "fail",
                           f"no data plane pod runs in namespace {self.inst.settings.namespace}",
                           next=f"airbox install --name {self.name}"))
            return
        ready = [h for h in healths if h.ready]
        problems = [h for h in healths if h.problem]
        count = f"{len(ready)}/{len(healths)} pods ready"
        details = [f"{h.name}: {h.problem}" for h in problems]
        if problems:
            worst = next((h for h in problems if h.image_problem), None) or next(
                (h for h in problems if "CrashLoopBackOff" in (h.problem or "")), None
            ) or problems[0]
            problem = worst.problem or ""
            starting = problem.startswith(("running but not ready", "pending (starting"))
            state = "warn" if ready or starting else "fail"
            if worst.image_problem:
                summary = (f"the data plane image cannot be pulled ({count}): check egress to "
                           "registry-1.docker.io and Docker Hub's rate limit (`docker login`)")
                fix = f"airbox install --name {self.name}  (once the registry is reachable)"
            elif "CrashLoopBackOff" in problem:
                summary = (f"the launcher keeps crashing ({count}"
                           + (f"; last exit: {worst.last_termination}"
                              if worst.last_termination else "") + ")")
                fix = f"airbox logs --name {self.name} --previous"
            elif starting:
                summary = f"the data plane is starting ({count})"
                fix = f"airbox status --name {self.name}  (again in a minute)"
            elif "CreateContainerConfig" in problem:
                summary = f"a pod cannot start: its Secret is incomplete ({count})"
                fix = f"airbox install --name {self.name}  (re-applies the Secret)"
            else:
                summary = f"{worst.name}: {problem} ({count})"
                fix = f"airbox logs --name {self.name}"
            self.add(Check("pods", state, summary, details, next=fix))
            return
        recent = self._recent_restarts(raw)
        if recent:
            self.add(Check("pods", "warn", f"{count}, but restarted in the last "
                                           f"{RECENT_SECONDS // 60} minutes", recent,
                           next=f"airbox logs --name {self.name} --previous"))
            return
        restarts = sum(h.restarts for h in healths)
        note = f" ({restarts} restarts, none recent)" if restarts else ""
        self.add(Check("pods", "ok", f"{count}: " + ", ".join(h.name for h in healths) + note))

    def storage_check(self) -> None:
        """The object store airbox runs (no storage configured): the data plane writes
        its job logs and state there, so a store that is down fails the syncs."""
        from airbox.render import manifests

        settings = self.inst.settings
        if settings.storage is not None:
            self.skip("storage", f"{settings.storage.section.type} storage you configured "
                                 "(not checked)")
            return
        if not settings.target.is_kind:
            self.skip("storage", "no storage configured")
            return
        if self.blocked:
            self.skip("storage", f"not checked: {self.blocked}")
            return
        if not self.p.storage.ok:
            assert self.p.storage.error is not None
            self.skip("storage", f"could not look at the store: {why(self.p.storage.error)}")
            return
        found: dict[str, Any] = self.p.storage.value
        where = f"{manifests.LOCAL_STORE} ({manifests.local_store_endpoint(settings)})"
        reinstall = f"airbox install --name {self.name}"
        deployment = found.get("deployment") or {}
        if not deployment:
            self.add(Check("storage", "fail", f"the local object store {where} is missing: "
                                              "syncs cannot write their logs and state",
                           next=f"{reinstall}  (runs it again; its data is kept)"))
            return
        status = deployment.get("status") or {}
        if int(status.get("readyReplicas") or 0) < 1:
            self.add(Check("storage", "fail", f"the local object store {where} is not ready",
                           next=f"kubectl --namespace {settings.namespace} describe pods -l "
                                f"app.kubernetes.io/name={manifests.LOCAL_STORE}"
                                + (f" --kubeconfig {self.inst.kube.kubeconfig}"
                                   if self.inst.kube.kubeconfig else "")))
            return
        # MinIO reads its pair only when it starts: the one its pod template is marked
        # with. Pods given another pair by the Secret cannot write (no mark: an older
        # airbox made the store, nothing to compare).
        template = (deployment.get("spec") or {}).get("template") or {}
        running = ((template.get("metadata") or {}).get("annotations") or {}).get(
            manifests.STORE_CREDENTIALS_ANNOTATION)
        if running and found.get("secretPair") and running != found["secretPair"]:
            self.add(Check("storage", "fail",
                           f"{where} runs with other credentials than the Secret "
                           f"{manifests.SECRET_NAME} gives the data plane: syncs cannot write "
                           "their logs and state",
                           next=f"{reinstall}  (restarts the store with the saved credentials)"))
            return
        job = found.get("job") or {}
        done = any(c.get("type") == "Complete" and c.get("status") == "True"
                   for c in (job.get("status") or {}).get("conditions") or [])
        if not done:
            self.add(Check("storage", "fail",
                           f"{where} runs, but its bucket {manifests.LOCAL_STORE_BUCKET} was "
                           "not made", next=reinstall))
            return
        data = self.inst.state.storage_data
        if not data.is_dir():
            self.add(Check("storage", "warn",
                           f"{where} runs, but its host data directory {data} is gone: what "
                           "it holds lives only in the node container now",
                           next=f"{reinstall}  (after re-creating the cluster)"))
            return
        self.add(Check("storage", "ok", f"{where} ready, bucket {manifests.LOCAL_STORE_BUCKET}, "
                                        f"data in {data}"))

    def _recent_restarts(self, raw: list[dict[str, Any]]) -> list[str]:
        found = []
        for pod in raw:
            name = (pod.get("metadata") or {}).get("name")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                last = (cs.get("lastState") or {}).get("terminated") or {}
                finished = kube.parse_time(last.get("finishedAt"))
                if finished is not None and self.now - finished < RECENT_SECONDS:
                    found.append(f"{name}/{cs.get('name')}: {cs.get('restartCount')} restarts, "
                                 f"last {last.get('reason') or 'terminated'} (exit code "
                                 f"{last.get('exitCode')}) at {last.get('finishedAt')}")
        return found

    def events_check(self) -> None:
        if self.blocked:
            self.skip("events", f"not checked: {self.blocked}")
            return
        if not self.p.events.ok:
            assert self.p.events.error is not None
            self.skip("events", f"could not read the events: {why(self.p.events.error)}")
            return
        events: list[dict[str, Any]] = self.p.events.value
        recent = [e for e in events
                  if (_event_time(e) or 0) >= self.now - RECENT_SECONDS]
        self.events = [event_view(e) for e in recent]
        if not recent:
            older = f" ({len(events)} older)" if events else ""
            self.add(Check("events", "ok",
                           f"no warnings in the last {RECENT_SECONDS // 60} minutes{older}"))
            return
        details = [f"{v['reason']} {v['object']}: {v['message']}" for v in self.events[-5:]]
        latest = self.events[-1]
        self.add(Check("events", "warn",
                       f"{len(recent)} warning event{'s' if len(recent) != 1 else ''} in the "
                       f"last {RECENT_SECONDS // 60} minutes; latest: {latest['reason']} "
                       f"{latest['object']}", details,
                       next=f"airbox support-bundle --name {self.name}"))

    def credentials(self) -> None:
        if self.blocked:
            self.skip("credentials", f"not checked: {self.blocked}")
            return
        if not self.p.logs.ok:
            assert self.p.logs.error is not None
            self.skip("credentials", f"could not read the launcher's logs: "
                                     f"{why(self.p.logs.error)}")
            return
        failures: list[str] = self.p.logs.value
        if failures:
            self.add(Check("credentials", "fail",
                           "the control plane rejects the data plane's credentials",
                           failures[-3:],
                           next=f"airbox logs --name {self.name}  (check dataPlane.clientId/"
                                "clientSecret, the control plane URL, and that the data plane "
                                "is enabled in Airbyte; then airbox install)"))
            return
        self.add(Check("credentials", "ok", "no authentication errors in the launcher's logs "
                                            f"(last {LOG_WINDOW})"))

    def job_credentials(self) -> None:
        """Statically, what verify checks in a job pod: the launcher hands every credential
        the secrets manager needs to its job pods' init container, from airbox's Secret."""
        from airbox.ops import hydration

        section = self.inst.settings.secrets_manager
        if self.blocked:
            self.skip("job-credentials", f"not checked: {self.blocked}")
            return
        if not self.p.launcher.ok:
            assert self.p.launcher.error is not None
            self.skip("job-credentials", "could not read the launcher's settings: "
                                         f"{why(self.p.launcher.error)}")
            return
        found: dict[str, Any] | None = self.p.launcher.value
        if found is None:
            self.skip("job-credentials", "not checked: the launcher's Deployment is missing")
            return
        problems = hydration.launcher_problems(section, found["env"], found["keys"])
        if problems:
            self.add(Check("job-credentials", "fail",
                           f"job pods would not get the {section.spec.label} credentials: "
                           "syncs could not read their connectors' secrets", problems,
                           next=f"airbox install --name {self.name}  (sets them again; a "
                                "values: entry of workloadLauncher.extraEnv with the same "
                                "name wins over airbox's)"))
            return
        self.add(Check("job-credentials", "ok", f"job pods get {hydration.arrives(section)}"))

    # ------------------------------------------------------------- control plane

    def registration_checks(self) -> None:
        if not self.p.registration.ok:
            assert self.p.registration.error is not None
            text = f"could not check: {why(self.p.registration.error)}"
            self.skip("registration", text)
            self.skip("heartbeat", text)
            return
        view: dict[str, Any] | None = self.p.registration.value
        self.registration = view
        if view is None:
            stopped = install_stopped(self.inst.state)
            if self.inst.settings.registration is not None and stopped is not None:
                # Application credentials were given, so airbox registers it: not yet.
                text = (f"registration not done yet ({stopped.sentence()}, before "
                        "registering)" if stopped.step != "register" else
                        "registration not done yet (the install stopped at the register "
                        "step)")
            elif self.inst.settings.registration is not None:
                text = "not registered: airbox has no record of registering it"
            else:
                text = "not registered by airbox (the data plane's own credentials were given)"
            self.skip("registration", text)
            self.skip("heartbeat", "not checked: " + text)
            return
        where = f"data plane {view['name']} ({view['dataplaneId']}) in region " + str(
            view.get("region") or view.get("regionId"))
        if not view["checked"]:
            self.skip("registration", f"{where}; not checked: {view['error']}")
            self.skip("heartbeat", "not checked: the control plane was not asked")
            return
        if view["deleted"]:
            self.add(Check("registration", "fail",
                           f"{where} no longer exists on the control plane",
                           next=f"airbox install --name {self.name}  (registers it again)"))
            self.skip("heartbeat", "not checked: the data plane is not registered")
            return
        if view["enabled"] is False:
            self.add(Check("registration", "fail", f"{where} is disabled: it gets no work",
                           next="enable the data plane in Airbyte (organization settings)"))
        else:
            self.add(Check("registration", "ok", f"{where}, enabled"))
        health = view.get("health")
        beat = f" (last heartbeat {view['lastHeartbeat']})" if view.get("lastHeartbeat") else ""
        if health is None:
            self.skip("heartbeat", "the control plane does not report heartbeats to this "
                                   "application")
        elif health == "HEALTHY":
            self.add(Check("heartbeat", "ok", f"the control plane reports HEALTHY{beat}"))
        elif health == "UNKNOWN":
            self.skip("heartbeat", "the control plane has no heartbeat from it yet")
        else:
            self.add(Check("heartbeat", "warn", f"the control plane reports {health}{beat}",
                           next=f"airbox logs --name {self.name}"))


    # -------------------------------------------------------------- looking ahead

    def _node_skip(self, check_id: str) -> bool:
        if not self.inst.settings.target.is_kind:
            self.skip(check_id, "not checked: the data plane runs in an existing cluster "
                                "airbox does not manage")
            return True
        if self.node_blocked:
            self.skip(check_id, f"not checked: {self.node_blocked}")
            return True
        return False

    def restart_policy(self) -> None:
        from airbox.cluster.dockerhost import NODE_RESTART_POLICY

        if self._node_skip("restart-policy"):
            return
        node = self.p.docker.value.node
        self.node["restartPolicy"] = node.restart_policy
        if node.comes_back:
            self.add(Check("restart-policy", "ok",
                           f"{node.name} comes back after a reboot or a Docker restart "
                           f"(restart policy {node.restart_policy})"))
            return
        self.add(Check("restart-policy", "warn",
                       f"{node.name} will stay down after a reboot or a Docker restart "
                       f"(restart policy {node.restart_policy})",
                       next=f"airbox repair --name {self.name}  (sets it to "
                            f"{NODE_RESTART_POLICY})"))

    def certificates(self) -> None:
        from airbox.cluster.node import RENEW_WITHIN_DAYS

        if self._node_skip("certificates"):
            return
        if not self.p.certificates.ok:
            assert self.p.certificates.error is not None
            self.skip("certificates", f"could not read them: {why(self.p.certificates.error)}")
            return
        now = dt.datetime.fromtimestamp(self.now, dt.timezone.utc)
        certs = self.p.certificates.value
        self.node["certificates"] = [c.as_dict(now) for c in certs]
        leaves = [c for c in certs if not c.authority] or certs
        first = min(leaves, key=lambda c: c.expires)
        when = first.expires.strftime("%Y-%m-%d %H:%M UTC")
        days = int(first.days_left(now) // 1)
        expired = [c.name for c in leaves if c.days_left(now) <= 0]
        soon = [f"{c.name}: {c.expires.strftime('%Y-%m-%d')}" for c in leaves
                if c.days_left(now) < RENEW_WITHIN_DAYS]
        fix = f"airbox repair --name {self.name}  (renews them)"
        if expired:
            self.add(Check("certificates", "fail",
                           f"{len(expired)} of the cluster's certificates expired (first: "
                           f"{first.name}, {when}): the Kubernetes API refuses every client",
                           soon, next=fix))
        elif soon:
            self.add(Check("certificates", "warn",
                           f"the cluster's certificates expire in {days} days ({first.name}, "
                           f"{when}); then the data plane stops", soon, next=fix))
        else:
            self.add(Check("certificates", "ok",
                           f"the cluster's certificates are valid for {days} more days "
                           f"(until {when})"))

    def disk(self) -> None:
        from airbox.cluster.node import human_bytes

        if self._node_skip("disk"):
            return
        if not self.p.disk.ok:
            assert self.p.disk.error is not None
            self.skip("disk", f"could not read the disk use: {why(self.p.disk.error)}")
            return
        uses = self.p.disk.value
        self.node["disk"] = [u.as_dict() for u in uses]
        names = ["the node's image store", "the host's Docker data root"]
        parts = [f"{label} {u.percent:.0f}% used ({human_bytes(u.used)} of "
                 f"{human_bytes(u.total)}, {u.where})"
                 for label, u in zip(names, uses, strict=False)]
        worst = max(uses, key=lambda u: u.percent)
        if worst.percent <= DISK_WARN_PERCENT:
            self.add(Check("disk", "ok", "; ".join(parts)))
            return
        state = "fail" if worst.percent >= DISK_FAIL_PERCENT else "warn"
        unused = self._unused_connectors()
        fix = (f"airbox prune --name {self.name}  (removes connector images no pod uses)"
               if unused else "free space on the disk holding Docker's data (docker system "
                              "prune), or grow it")
        self.add(Check("disk", state, f"disk {worst.percent:.0f}% used: "
                       + ("pods will fail to start or write" if state == "fail"
                          else "it fills up with every connector version syncs use"),
                       parts, next=fix))

    def _unused_connectors(self) -> list[Any]:
        if not self.p.images.ok or self.p.images.value is None:
            return []
        unused: list[Any] = self.p.images.value.unused_connectors()
        return unused

    def images(self) -> None:
        from airbox.cluster.node import human_bytes

        if self._node_skip("images"):
            return
        if not self.p.images.ok:
            assert self.p.images.error is not None
            self.skip("images", f"could not list the node's images: {why(self.p.images.error)}")
            return
        store = self.p.images.value
        unused = store.unused_connectors()
        freed = sum(i.size for i in unused)
        self.node["images"] = {"count": len(store.images), "bytes": store.total,
                               "unusedConnectors": [i.label for i in unused],
                               "unusedConnectorBytes": freed}
        summary = f"{len(store.images)} images in the node ({human_bytes(store.total)})"
        from airbox.ops.connectors import describe

        # Which connectors run here (offline: the only ones that can), said last.
        text, listed = describe(self.inst.settings, store)
        self.node["images"].update(listed)
        if unused:
            self.add(Check("images", "ok",
                           f"{summary}; {len(unused)} connector image"
                           f"{'s' if len(unused) != 1 else ''} no pod uses "
                           f"({human_bytes(freed)}){text}",
                           next=f"airbox prune --name {self.name}  (frees "
                                f"{human_bytes(freed)})"))
            return
        self.add(Check("images", "ok", summary + text))

    def versions_check(self) -> None:
        from airbox import versions

        if self.blocked:
            self.skip("versions", f"not checked: {self.blocked}")
            return
        found: dict[str, Any] = {}
        notes: list[str] = []
        behind = False
        if self.release is not None:
            running = str(self.release.get("chartVersion") or "")
            found["chart"] = {"running": running, "pinned": versions.CHART_VERSION}
            notes.append(f"chart {running}" + ("" if running == versions.CHART_VERSION else
                                               f" (airbox pins {versions.CHART_VERSION})"))
            behind = behind or versions.older(running, versions.CHART_VERSION)
        if self.inst.settings.target.is_kind and self.p.nodes.ok and self.p.docker.ok:
            kubelets = {str(((n.get("status") or {}).get("nodeInfo") or {})
                            .get("kubeletVersion") or "") for n in self.p.nodes.value}
            running = ", ".join(sorted(k for k in kubelets if k)) or "unknown"
            pinned = versions.pinned_kubernetes(cgroup_v1=self.p.docker.value.cgroup_v1)
            found["kubernetes"] = {"running": running, "pinned": pinned}
            notes.append(f"Kubernetes {running}" + ("" if running == pinned else
                                                    f" (airbox pins {pinned})"))
            behind = behind or versions.older(running, pinned)
        self.versions = found
        if not found:
            self.skip("versions", "not checked: nothing to compare")
            return
        if behind:
            self.add(Check("versions", "ok", "; ".join(notes) + ": an upgrade is available",
                           next=f"airbox upgrade --name {self.name} --dry-run"))
            return
        self.add(Check("versions", "ok", "; ".join(notes)))

    def routing_check(self) -> None:
        """Last: a healthy data plane that no workspace uses runs nothing."""
        if not self.p.routing.ok:
            assert self.p.routing.error is not None
            self.skip("routing", f"could not check: {why(self.p.routing.error)}")
            return
        view: dict[str, Any] | None = self.p.routing.value
        self.routing = view
        if view is None:
            self.skip("routing", "not checked: needs the application's credentials "
                                 "(AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET) and a registration "
                                 "by airbox")
            return
        region = view["region"]["name"] or view["region"]["regionId"]
        names: list[str] = view["workspaces"]
        if names:
            noun = "workspaces" if len(names) > 1 else "workspace"
            self.add(Check("routing", "ok", f"{noun} {', '.join(names)} use region {region}"))
            return
        self.add(Check("routing", "warn",
                       f"no workspace uses region {region}: every sync runs on Airbyte's "
                       "data plane, none here",
                       next=f"airbox workspaces --name {self.name} --assign <workspace>"))


def _short_time(value: Any) -> str:
    stamp = kube.parse_time(value)
    if stamp is None:
        return str(value or "unknown")
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


# --------------------------------------------------------------------------- verdict


def verdict(checks: list[Check], name: str) -> tuple[str, str, str | None]:
    """(verdict, reason, next): the first failure, else the first warning, else healthy."""
    for state, word in (("fail", UNHEALTHY), ("warn", DEGRADED)):
        first = next((c for c in checks if c.state == state), None)
        if first is not None:
            return word, first.summary, first.next
    return HEALTHY, f"data plane {name} is running and ready", None


def _target(settings: Settings) -> dict[str, Any]:
    if settings.target.is_kind:
        return {"type": "kind", "cluster": settings.cluster_name,
                "nodeContainer": settings.node_container}
    return {"type": "existing", "context": settings.target.kube_context,
            "kubeconfig": settings.target.kubeconfig}


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def status_report(inst: Installed, runner: Runner, *,
                  probes: Probes | None = None) -> dict[str, Any]:
    """Probe everything (or judge the ``probes`` given) and judge: the ``--json`` document."""
    started = time.monotonic()
    now = time.time()
    probes = probes or run_probes(inst, runner)
    assessment = Assessment(inst, probes, now)
    checks = assessment.run()
    word, reason, fix = verdict(checks, inst.name)
    return {
        "version": STATUS_VERSION,
        "name": inst.name,
        "verdict": word,
        "reason": REDACTOR.mask_all(reason),
        "next": fix,
        "checkedAt": _stamp(now),
        "seconds": round(time.monotonic() - started, 2),
        "target": _target(inst.settings),
        "namespace": inst.settings.namespace,
        "checks": [c.as_dict() for c in checks],
        "release": assessment.release,
        "pods": assessment.pods,
        "events": assessment.events,
        "registration": assessment.registration,
        "node": assessment.node or None,
        "versions": assessment.versions or None,
        "routing": assessment.routing,
    }


def not_installed_report(name: str | None) -> dict[str, Any]:
    from airbox.paths import airbox_home

    where = StateDir.for_name(name).root if name else airbox_home()
    what = f"no data plane named {name} is installed" if name else "no data plane is installed"
    reason, step = f"{what} (no state in {where})", "airbox install" + (
        f" --name {name}" if name else "")
    unfinished = {} if name else half_built()
    if unfinished:
        # Only installs that stopped before a cluster: not installed, and each one listed.
        reason = f"{what}: " + "; ".join(f"{n} is {stopped.listing()}"
                                         for n, stopped in unfinished.items())
        first = next(iter(unfinished))
        step = (f"airbox install --name {first}  (finishes it; or remove it: airbox "
                f"uninstall --name {first})")
    return {
        "version": STATUS_VERSION, "name": name, "verdict": NOT_INSTALLED,
        "reason": reason,
        "next": step,
        "checkedAt": _stamp(time.time()), "seconds": 0.0, "target": None, "namespace": None,
        "checks": [], "release": None, "pods": [], "events": [], "registration": None,
        "node": None, "versions": None,
        "routing": None,
    }


# ---------------------------------------------------------------------------- output

_SYMBOLS = {"ok": ("✓", "32"), "warn": ("!", "33"), "fail": ("✗", "31"), "skip": ("-", "2")}
_VERDICT_STATE = {HEALTHY: "ok", DEGRADED: "warn", UNHEALTHY: "fail", NOT_INSTALLED: "fail"}


def render(report: Mapping[str, Any], *, color: bool = False) -> list[str]:
    """The verdict first, then one line per check (details and next steps under problems)."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    symbol, code = _SYMBOLS[_VERDICT_STATE[report["verdict"]]]
    lines = [paint(f"{symbol} {report['verdict']}: {report['reason']}", code + ";1")]
    if report.get("next"):
        lines.append(f"  next: {report['next']}")
    checks = report.get("checks") or []
    if checks:
        lines.append("")
        width = max(len(c["id"]) for c in checks)
        for check in checks:
            symbol, code = _SYMBOLS[check["state"]]
            text = f"{check['id'].ljust(width)}  {check['summary']}"
            # A skipped check is dimmed whole; the others colour only their symbol.
            lines.append(paint(f"{symbol} {text}", code) if check["state"] == "skip"
                         else f"{paint(symbol, code)} {text}")
            if check["state"] in ("warn", "fail"):
                lines.extend(f"    {d}" for d in check["details"])
    return lines


def _color(stream: IO[str]) -> bool:
    return not os.environ.get("NO_COLOR") and bool(getattr(stream, "isatty", lambda: False)())


def status_command(*, name: str | None, as_json: bool, verbose: bool = False,
                   out: IO[str] | None = None) -> int:
    """``airbox status``: 0 healthy, 1 degraded or unhealthy, 3 not installed."""
    from airbox.ui import Terminal

    out = out or sys.stdout
    chosen = choose_name(name, "status")
    inst = load_installed(chosen) if chosen else None
    if inst is None:
        report = not_installed_report(chosen)
        code = EXIT_PREFLIGHT
    else:
        term = Terminal(verbose=verbose)
        report = status_report(inst, tool_runner(term.debug if verbose else None))
        code = EXIT_OK if report["verdict"] == HEALTHY else EXIT_FAILURE
    text = (json.dumps(report, indent=2) if as_json
            else "\n".join(render(report, color=_color(out))))
    out.write(REDACTOR.mask_all(text) + "\n")
    out.flush()
    return code
