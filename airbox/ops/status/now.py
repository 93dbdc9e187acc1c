"""The checks of what is broken now: Docker, the cluster, the release, the pods, the
local store, warning events and the data plane's credentials (``checks.CHECKS`` orders
them). ``*_view`` functions are what a check saw, for the report's sections.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from airbox import timestamps
from airbox.cluster import kube
from airbox.errors import AirboxError
from airbox.fsutil import read_json
from airbox.installed import install_stopped, why
from airbox.ops.status.probes import LOG_WINDOW, DockerView, Facts
from airbox.ops.status.report import Check, Event, Pod, Release, from_json, skip
from airbox.redact import REDACTOR

# Warnings and restarts older than this are history, not a problem now.
RECENT_SECONDS = 15 * 60


# ------------------------------------------------------------------------- cluster


def docker(facts: Facts) -> Check:
    settings = facts.inst.settings
    if not settings.target.is_kind:
        return skip(
            "docker",
            f"not used: the data plane runs in the existing cluster of "
            f"context {settings.target.kube_context}",
        )
    if not facts.probes.docker.ok:
        error = facts.probes.docker.error
        assert error is not None
        hint = error.hint if isinstance(error, AirboxError) else None
        return Check(
            "docker",
            "fail",
            f"Docker is not reachable: {why(error)}",
            next=hint or "start Docker: sudo systemctl start docker",
            blocks="Docker is not reachable",
            blocks_node=True,
        )
    view: DockerView = facts.probes.docker.value
    version = f"Docker {view.version}" if view.version else "Docker"
    return Check("docker", "ok", f"{version} is running")


def node_container(facts: Facts) -> Check:
    settings = facts.inst.settings
    if not settings.target.is_kind:
        return skip("node-container", "not used: existing cluster")
    if facts.blocked:
        return skip("node-container", f"not checked: {facts.blocked}")
    view: DockerView = facts.probes.docker.value
    node = view.node
    container = settings.node_container
    name = facts.name
    if node.status == "missing":
        stopped = install_stopped(facts.inst.state)
        if stopped is not None:
            # Never created: "recreates" or "no longer exists" would send the user
            # looking for what was lost.
            summary = (
                f"the kind cluster {settings.cluster_name} was never created: {stopped.sentence()}"
            )
            fix = f"airbox install --name {name}  (finishes the install from the saved settings)"
        elif _ever_installed(facts):
            summary = (
                f"the kind cluster {settings.cluster_name} no longer exists (its "
                f"node container {container} is gone)"
            )
            fix = f"airbox install --name {name}  (recreates the cluster from the saved settings)"
        else:
            summary = (
                f"the kind cluster {settings.cluster_name} does not exist: the "
                "install did not get that far"
            )
            fix = (
                f"airbox install --name {name}  (creates the cluster again from the saved settings)"
            )
        return Check(
            "node-container",
            "fail",
            summary,
            next=fix,
            blocks_node=True,
            blocks=f"the kind cluster {settings.cluster_name} does not exist",
        )
    if not node.running:
        return Check(
            "node-container",
            "fail",
            f"the cluster's node container {container} is {node.status}",
            next=f"airbox repair --name {name}  (starts it)",
            blocks=f"the node container {container} is {node.status}",
            blocks_node=True,
        )
    restarts = f"{node.restart_count} restart{'s' if node.restart_count != 1 else ''}"
    details = [f"started at {node.started_at}"] if node.started_at else []
    return Check("node-container", "ok", f"{container} is running ({restarts})", details)


def _ever_installed(facts: Facts) -> bool:
    try:
        progress = read_json(facts.inst.state.progress)
    except (OSError, ValueError):
        return False
    return isinstance(progress, dict) and bool(progress.get("installed"))


def kubernetes(facts: Facts) -> Check:
    settings = facts.inst.settings
    nodes_probe = facts.probes.nodes
    if not nodes_probe.ok:
        assert nodes_probe.error is not None
        reason = why(nodes_probe.error)
        if kube.expired_certificate(reason):
            return Check(
                "kubernetes",
                "fail",
                "the cluster's certificates have expired: the Kubernetes API refuses every client",
                [reason],
                next=f"airbox repair --name {facts.name}  (renews them)",
                blocks="the cluster's certificates have expired",
            )
        if settings.target.is_kind:
            summary = f"the Kubernetes API of {settings.cluster_name} does not answer"
            fix = (
                f"docker restart {settings.node_container}; if it stays down, "
                f"airbox support-bundle --name {facts.name}"
            )
        else:
            summary = f"cannot reach the cluster of context {settings.target.kube_context}"
            config = (
                f" --kubeconfig {settings.target.kubeconfig}" if settings.target.kubeconfig else ""
            )
            fix = (
                f"kubectl{config} --context {settings.target.kube_context} "
                "cluster-info  (check the context, credentials and network)"
            )
        return Check(
            "kubernetes",
            "fail",
            summary,
            [reason],
            next=fix,
            blocks="the Kubernetes API does not answer",
        )
    nodes: list[dict[str, Any]] = nodes_probe.value
    ready, not_ready = [], []
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name"))
        cond: dict[str, Any] = next(
            (
                c
                for c in (node.get("status") or {}).get("conditions") or []
                if c.get("type") == "Ready"
            ),
            {},
        )
        if cond.get("status") == "True":
            ready.append(name)
        else:
            not_ready.append(
                f"{name}: {cond.get('reason') or 'NotReady'}"
                + (f" — {cond['message']}" if cond.get("message") else "")
            )
    if not nodes:
        return Check(
            "kubernetes",
            "fail",
            "the cluster has no nodes",
            next=f"airbox support-bundle --name {facts.name}",
            blocks="the cluster has no nodes",
        )
    if not ready:
        return Check(
            "kubernetes",
            "fail",
            "no node is Ready: pods cannot run",
            not_ready,
            next=f"airbox support-bundle --name {facts.name}  (and send it to support)",
        )
    if not_ready:
        return Check(
            "kubernetes", "warn", f"{len(ready)} of {len(nodes)} nodes are Ready", not_ready
        )
    noun = "node" if len(ready) == 1 else "nodes"
    return Check("kubernetes", "ok", f"{noun} {', '.join(ready)} Ready")


# ------------------------------------------------------------------------- release


def release_view(facts: Facts) -> Release | None:
    """The Helm release as the report shows it; None when it was not read or is missing."""
    probe = facts.probes.release
    if facts.blocked or not probe.ok or probe.value is None:
        return None
    settings = facts.inst.settings
    data: dict[str, Any] = probe.value
    info = data.get("info") or {}
    meta = (data.get("chart") or {}).get("metadata") or {}
    return Release(
        name=data.get("name") or settings.release,
        namespace=data.get("namespace") or settings.namespace,
        status=info.get("status"),
        revision=data.get("version"),
        chart=meta.get("name"),
        chart_version=meta.get("version"),
        app_version=meta.get("appVersion"),
        last_deployed=info.get("last_deployed"),
        description=info.get("description"),
    )


def release(facts: Facts) -> Check:
    settings = facts.inst.settings
    if not facts.probes.release.ok:
        assert facts.probes.release.error is not None
        return Check(
            "release",
            "fail",
            "cannot read the Helm release",
            [why(facts.probes.release.error)],
            next=f"airbox support-bundle --name {facts.name}",
        )
    view = release_view(facts)
    if view is None:
        return Check(
            "release",
            "fail",
            f"the Helm release {settings.release} is not installed in namespace "
            f"{settings.namespace}",
            next=f"airbox install --name {facts.name}",
            blocks=f"the release {settings.release} is not installed",
        )
    status = str(view.status or "unknown")
    summary = (
        f"{view.name} revision {view.revision} {status} ({view.chart} "
        f"{view.chart_version}, app {view.app_version}), last deployed "
        f"{_short_time(view.last_deployed)}"
    )
    details = [str(view.description)] if view.description else []
    if status == "deployed":
        return Check("release", "ok", summary)
    if status.startswith("pending"):
        return Check(
            "release",
            "warn",
            summary + ": an install or upgrade did not finish",
            details,
            next=f"airbox install --name {facts.name}  (finishes or rolls it back)",
        )
    return Check("release", "fail", summary, details, next=f"airbox install --name {facts.name}")


def _short_time(value: Any) -> str:
    stamp = timestamps.seconds(value)
    if stamp is None:
        return str(value or "unknown")
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def pods_view(facts: Facts) -> list[Pod]:
    if facts.blocked or not facts.probes.pods.ok:
        return []
    return [from_json(Pod, kube.pod_health(pod).as_dict()) for pod in facts.probes.pods.value]


def pods(facts: Facts) -> Check:
    if unread := facts.probes.pods.unread("pods", "could not list the pods"):
        return unread
    raw: list[dict[str, Any]] = facts.probes.pods.value
    healths = [kube.pod_health(pod) for pod in raw]
    name = facts.name
    if not healths:
        return Check(
            "pods",
            "fail",
            f"no data plane pod runs in namespace {facts.inst.settings.namespace}",
            next=f"airbox install --name {name}",
        )
    ready = [h for h in healths if h.ready]
    count = f"{len(ready)}/{len(healths)} pods ready"
    details = [f"{h.name}: {h.problem}" for h in healths if h.problem]
    worst = kube.worst(healths)
    if worst is not None:
        problem = worst.problem or ""
        starting = worst.trouble == "starting"
        state = "warn" if ready or starting else "fail"
        if worst.trouble == "image":
            summary = (
                f"the data plane image cannot be pulled ({count}): check egress to "
                "registry-1.docker.io and Docker Hub's rate limit (`docker login`)"
            )
            fix = f"airbox install --name {name}  (once the registry is reachable)"
        elif worst.trouble == "crash-loop":
            summary = (
                f"the launcher keeps crashing ({count}"
                + (f"; last exit: {worst.last_termination}" if worst.last_termination else "")
                + ")"
            )
            fix = f"airbox logs --name {name} --previous"
        elif starting:
            summary = f"the data plane is starting ({count})"
            fix = f"airbox status --name {name}  (again in a minute)"
        elif worst.trouble == "config":
            summary = f"a pod cannot start: its Secret is incomplete ({count})"
            fix = f"airbox install --name {name}  (re-applies the Secret)"
        else:
            summary = f"{worst.name}: {problem} ({count})"
            fix = f"airbox logs --name {name}"
        return Check("pods", state, summary, details, next=fix)
    recent = _recent_restarts(raw, facts.now)
    if recent:
        return Check(
            "pods",
            "warn",
            f"{count}, but restarted in the last {RECENT_SECONDS // 60} minutes",
            recent,
            next=f"airbox logs --name {name} --previous",
        )
    restarts = sum(h.restarts for h in healths)
    note = f" ({restarts} restarts, none recent)" if restarts else ""
    return Check("pods", "ok", f"{count}: " + ", ".join(h.name for h in healths) + note)


def _recent_restarts(raw: list[dict[str, Any]], now: float) -> list[str]:
    found = []
    for pod in raw:
        name = (pod.get("metadata") or {}).get("name")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            last = (cs.get("lastState") or {}).get("terminated") or {}
            finished = timestamps.seconds(last.get("finishedAt"))
            if finished is not None and now - finished < RECENT_SECONDS:
                found.append(
                    f"{name}/{cs.get('name')}: {cs.get('restartCount')} restarts, "
                    f"last {last.get('reason') or 'terminated'} (exit code "
                    f"{last.get('exitCode')}) at {last.get('finishedAt')}"
                )
    return found


def storage(facts: Facts) -> Check:
    """The object store airbox runs (no storage configured): the data plane writes its
    job logs and state there, so a store that is down fails the syncs."""
    from airbox.render import manifests

    settings = facts.inst.settings
    # Before the runner's "not checked": a store airbox does not run is not applicable,
    # whatever else failed.
    if settings.storage is not None:
        return skip("storage", f"{settings.storage.type} storage you configured (not checked)")
    if not settings.runs_local_store:
        return skip("storage", "no storage configured")
    if facts.blocked:
        return skip("storage", f"not checked: {facts.blocked}")
    if unread := facts.probes.storage.unread("storage", "could not look at the store"):
        return unread
    found: dict[str, Any] = facts.probes.storage.value
    where = f"{manifests.LOCAL_STORE} ({manifests.local_store_endpoint(settings)})"
    reinstall = f"airbox install --name {facts.name}"
    deployment = found.get("deployment") or {}
    if not deployment:
        return Check(
            "storage",
            "fail",
            f"the local object store {where} is missing: syncs cannot write their logs and state",
            next=f"{reinstall}  (runs it again; its data is kept)",
        )
    status = deployment.get("status") or {}
    if int(status.get("readyReplicas") or 0) < 1:
        kubeconfig = facts.inst.kube.kubeconfig
        return Check(
            "storage",
            "fail",
            f"the local object store {where} is not ready",
            next=f"kubectl --namespace {settings.namespace} describe pods -l "
            f"app.kubernetes.io/name={manifests.LOCAL_STORE}"
            + (f" --kubeconfig {kubeconfig}" if kubeconfig else ""),
        )
    # MinIO reads its pair only when it starts: the one its pod template is marked
    # with. Pods given another pair by the Secret cannot write (no mark: an older
    # airbox made the store, nothing to compare).
    template = (deployment.get("spec") or {}).get("template") or {}
    running = ((template.get("metadata") or {}).get("annotations") or {}).get(
        manifests.STORE_CREDENTIALS_ANNOTATION
    )
    if running and found.get("secretPair") and running != found["secretPair"]:
        return Check(
            "storage",
            "fail",
            f"{where} runs with other credentials than the Secret "
            f"{manifests.SECRET_NAME} gives the data plane: syncs cannot write "
            "their logs and state",
            next=f"{reinstall}  (restarts the store with the saved credentials)",
        )
    job = found.get("job") or {}
    done = any(
        c.get("type") == "Complete" and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )
    if not done:
        return Check(
            "storage",
            "fail",
            f"{where} runs, but its bucket {manifests.LOCAL_STORE_BUCKET} was not made",
            next=reinstall,
        )
    data = facts.inst.state.storage_data
    if not data.is_dir():
        return Check(
            "storage",
            "warn",
            f"{where} runs, but its host data directory {data} is gone: what "
            "it holds lives only in the node container now",
            next=f"{reinstall}  (after re-creating the cluster)",
        )
    return Check(
        "storage", "ok", f"{where} ready, bucket {manifests.LOCAL_STORE_BUCKET}, data in {data}"
    )


# -------------------------------------------------------------------------- events


def _event_time(event: Mapping[str, Any]) -> float | None:
    return timestamps.seconds(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )


def event_view(event: Mapping[str, Any]) -> Event:
    involved = event.get("involvedObject") or {}
    return Event(
        time=event.get("lastTimestamp") or event.get("eventTime"),
        type=event.get("type"),
        reason=event.get("reason"),
        object=f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        message=REDACTOR.mask_all(str(event.get("message") or "")),
        count=event.get("count"),
    )


def events_view(facts: Facts) -> list[Event]:
    """The warning events of the last ``RECENT_SECONDS``."""
    if facts.blocked or not facts.probes.events.ok:
        return []
    return [
        event_view(e)
        for e in facts.probes.events.value
        if (_event_time(e) or 0) >= facts.now - RECENT_SECONDS
    ]


def events(facts: Facts) -> Check:
    if unread := facts.probes.events.unread("events", "could not read the events"):
        return unread
    every: list[dict[str, Any]] = facts.probes.events.value
    recent = events_view(facts)
    if not recent:
        older = f" ({len(every)} older)" if every else ""
        return Check(
            "events", "ok", f"no warnings in the last {RECENT_SECONDS // 60} minutes{older}"
        )
    details = [f"{e.reason} {e.object}: {e.message}" for e in recent[-5:]]
    latest = recent[-1]
    return Check(
        "events",
        "warn",
        f"{len(recent)} warning event{'s' if len(recent) != 1 else ''} in the "
        f"last {RECENT_SECONDS // 60} minutes; latest: {latest.reason} "
        f"{latest.object}",
        details,
        next=f"airbox support-bundle --name {facts.name}",
    )


# --------------------------------------------------------------------- credentials


def credentials(facts: Facts) -> Check:
    if unread := facts.probes.logs.unread("credentials", "could not read the launcher's logs"):
        return unread
    failures: list[str] = facts.probes.logs.value
    if failures:
        return Check(
            "credentials",
            "fail",
            "the control plane rejects the data plane's credentials",
            failures[-3:],
            next=f"airbox logs --name {facts.name}  (check dataPlane.clientId/"
            "clientSecret, the control plane URL, and that the data plane "
            "is enabled in Airbyte; then airbox install)",
        )
    return Check(
        "credentials", "ok", f"no authentication errors in the launcher's logs (last {LOG_WINDOW})"
    )


def job_proxy(facts: Facts) -> Check:
    """With a proxy: the policy that gives it to job pods is there, as airbox renders it."""
    from airbox.ops.jobproxy import judge

    outcome = facts.probes.job_proxy
    return judge(facts.inst.settings, outcome.value, outcome.error)


def job_credentials(facts: Facts) -> Check:
    """Statically, what verify checks in a job pod: the launcher hands every credential
    the secrets manager needs to its job pods' init container, from airbox's Secret."""
    from airbox.ops import hydration

    section = facts.inst.settings.secrets_manager
    launcher = facts.probes.launcher
    if unread := launcher.unread("job-credentials", "could not read the launcher's settings"):
        return unread
    found: dict[str, Any] | None = launcher.value
    if found is None:
        return skip("job-credentials", "not checked: the launcher's Deployment is missing")
    problems = hydration.launcher_problems(section, found["env"], found["keys"])
    if problems:
        return Check(
            "job-credentials",
            "fail",
            f"job pods would not get the {section.spec.label} credentials: "
            "syncs could not read their connectors' secrets",
            problems,
            next=f"airbox install --name {facts.name}  (sets them again; a "
            "values: entry of workloadLauncher.extraEnv with the same "
            "name wins over airbox's)",
        )
    return Check("job-credentials", "ok", f"job pods get {hydration.arrives(section)}")
