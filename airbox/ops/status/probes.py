"""What ``airbox status`` looks at: every probe at once, none able to fail status.

Docker through its SDK, kubectl, helm and the Airbyte API each answer in a thread of
their own; a probe that raises becomes an ``Outcome`` with the error, which a check
turns into a finding (``checks.py``).
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airbox.cluster import commands, kube
from airbox.cluster.runner import Runner
from airbox.errors import ToolError
from airbox.installed import Installed, why
from airbox.ops.status.report import Check, skip
from airbox.redact import REDACTOR

# How far back the launcher's log is read for authentication errors.
LOG_WINDOW = "10m"

T = TypeVar("T")


@dataclass
class Outcome:
    """What one probe returned, or why it could not."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unread(self, check_id: str, what: str) -> Check | None:
        """The finding of check ``check_id`` when this probe failed: ``skip``, saying
        ``what`` could not be done and why (a failed probe never fails status); None
        when the probe answered and the check judges what it saw."""
        if self.error is None:
            return None
        return skip(check_id, f"{what}: {why(self.error)}")


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
    # With a proxy: airbox's policy and binding as the cluster has them (ops/jobproxy.py).
    job_proxy: Outcome = field(default_factory=Outcome)


# ---------------------------------------------------------------------------- probes


def _probe_docker(inst: Installed) -> DockerView:
    from airbox.cluster.dockerhost import DockerHost

    host = DockerHost.connect()
    version = str(host.version().get("Version") or "")
    info = host.info()
    return DockerView(
        version,
        host.container(inst.settings.node_container),
        str(info.get("CgroupVersion") or "2") == "1",
    )


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
    items: list[dict[str, Any]] = kube.get_json(runner, inst.kube, "get", "nodes", timeout=15).get(
        "items", []
    )
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
    raise ToolError(
        "helm status failed",
        command=REDACTOR.mask_argv(argv),
        returncode=result.returncode,
        output_tail=REDACTOR.mask_all(text[-2000:]),
    )


def _probe_pods(inst: Installed, runner: Runner) -> list[dict[str, Any]]:
    return kube.pods(
        runner,
        inst.kube,
        inst.settings.namespace,
        kube.release_selector(inst.settings.release, inst.settings.values),
    )


def _probe_storage(inst: Installed, runner: Runner) -> dict[str, Any]:
    """The local store's Deployment and bucket Job (``{}`` for each that is missing), and
    ``secretPair``: the fingerprint of the pair the Secret gives the pods (None: none)."""
    from airbox.render import manifests

    found: dict[str, Any] = {"secretPair": _secret_store_fingerprint(inst, runner)}
    for kind, name in (("deployment", manifests.LOCAL_STORE), ("job", manifests.LOCAL_STORE_JOB)):
        argv = inst.kube.kubectl(
            "--namespace", inst.settings.namespace, "get", kind, name, "-o", "json"
        )
        result = runner.run(argv, timeout=15, check=False)
        if result.ok:
            found[kind] = json.loads(result.stdout or "{}")
        elif "NotFound" in result.stderr or "not found" in result.stderr:
            found[kind] = {}
        else:
            raise ToolError(
                f"kubectl get {kind} {name} failed",
                command=REDACTOR.mask_argv(argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )
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
            return kube.get_json(
                runner, inst.kube, "--namespace", ns, "get", kind, name, timeout=15
            )
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
    names = {
        str((source.get("configMapRef") or {}).get("name"))
        for source in container.spec.get("envFrom") or []
        if source.get("configMapRef")
    }
    names |= {
        str(ref.get("name"))
        for entry in container.spec.get("env") or []
        if (ref := (entry.get("valueFrom") or {}).get("configMapKeyRef"))
    }
    configmaps = {
        name: (found.get("data") or {})
        for name in sorted(names)
        if (found := get("configmap", name)) is not None
    }
    return {
        "env": chartcheck.env_values(container, configmaps),
        "keys": hydration.read_secret_keys(runner, inst.kube, ns),
    }


def _secret_store_fingerprint(inst: Installed, runner: Runner) -> str | None:
    import base64

    from airbox.render import manifests

    argv = inst.kube.kubectl(
        "--namespace", inst.settings.namespace, "get", "secret", manifests.SECRET_NAME, "-o", "json"
    )
    # Only the fingerprint leaves this function; the data is never logged.
    result = runner.run(argv, timeout=15, check=False, secret_output=True)
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout or "{}").get("data") or {}
        pair = [
            base64.b64decode(str(data[key])).decode()
            for key in (manifests.STORAGE_ACCESS_KEY_KEY, manifests.STORAGE_SECRET_KEY_KEY)
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifests.credentials_fingerprint(pair[0], pair[1])


def _probe_events(inst: Installed, runner: Runner) -> list[dict[str, Any]]:
    return kube.warning_events(runner, inst.kube, inst.settings.namespace)


def auth_failures(text: str) -> list[str]:
    """The launcher log lines that say the control plane refused its credentials."""
    return [
        REDACTOR.mask_all(line)
        for line in text.splitlines()
        if any(marker in line.lower() for marker in kube.AUTH_FAILURE_MARKERS)
    ]


def _probe_logs(inst: Installed, runner: Runner) -> list[str]:
    result = runner.run(
        commands.kubectl_launcher_logs(inst.kube, inst.settings, LOG_WINDOW), timeout=20
    )
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
        "checked": False,
        "enabled": None,
        "deleted": False,
        "health": None,
        "lastHeartbeat": None,
        "error": None,
    }
    if inst.settings.registration is None:
        view["error"] = (
            "no application credentials to ask the control plane with (set "
            "AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET)"
        )
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
        view.update(
            checked=True,
            enabled=answer.get("enabled"),
            regionId=answer.get("regionId") or view["regionId"],
        )
        if view["organizationId"]:
            health = api.dataplane_health(
                inst.settings.control_plane.url, str(view["organizationId"])
            )
            entry = next(
                (
                    h
                    for h in health or []
                    if str(h.get("dataplane_id") or h.get("dataplaneId")) == view["dataplaneId"]
                ),
                None,
            )
            if entry is not None:
                view["health"] = entry.get("status")
                view["lastHeartbeat"] = entry.get("last_heartbeat_timestamp") or entry.get(
                    "lastHeartbeatTimestamp"
                )
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
    if inst.settings.runs_local_store:
        jobs["storage"] = lambda: _probe_storage(inst, runner)
    if inst.settings.network is not None:
        from airbox.ops.jobproxy import live_objects

        jobs["job_proxy"] = lambda: live_objects(runner, inst.kube, inst.settings)
    if inst.settings.target.is_kind:
        jobs["docker"] = lambda: _probe_docker(inst)
        jobs["certificates"] = lambda: _probe_certificates(inst)
        jobs["disk"] = lambda: _probe_disk(inst)
        jobs["images"] = lambda: _probe_images(inst)
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(jobs), thread_name_prefix="airbox-status"
    ) as pool:
        futures = {key: pool.submit(_attempt, job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    return Probes(
        docker=results.get("docker", Outcome()),
        nodes=results["nodes"],
        release=results["release"],
        pods=results["pods"],
        events=results["events"],
        logs=results["logs"],
        registration=results["registration"],
        certificates=results.get("certificates", Outcome()),
        disk=results.get("disk", Outcome()),
        images=results.get("images", Outcome()),
        routing=results["routing"],
        storage=results.get("storage", Outcome()),
        launcher=results["launcher"],
        job_proxy=results.get("job_proxy", Outcome()),
    )


@dataclass(frozen=True)
class Facts:
    """What the checks judge: the data plane, what the probes saw, and when. ``blocked``:
    why checks that need the cluster could not look (the root cause, once a check found
    one); ``node_blocked``: why the node's insides could not be looked at."""

    inst: Installed
    probes: Probes
    now: float
    blocked: str | None = None
    node_blocked: str | None = None

    @property
    def name(self) -> str:
        return self.inst.name
