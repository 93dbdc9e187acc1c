"""Reading the cluster through kubectl: pods, events, nodes — and what is wrong with them.

Install uses this to say what the cluster is doing while Helm waits; status uses
it to explain an unhealthy data plane in a user's terms. Why a pod is not ready is
decided here once (``pod_health``'s ``trouble``, ``worst``): install's failed release,
status's ``pods`` check and repair's crash-loop restart each word it their own way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airbox.cluster.commands import Kube
from airbox.cluster.runner import Runner
from airbox.config import chart


def get_json(runner: Runner, kube: Kube, *args: str, timeout: float = 30) -> dict[str, Any]:
    result = runner.run(kube.kubectl(*args, "-o", "json"), timeout=timeout)
    data: dict[str, Any] = json.loads(result.stdout or "{}")
    return data


def pods(
    runner: Runner, kube: Kube, namespace: str, selector: str | None = None
) -> list[dict[str, Any]]:
    args = ["--namespace", namespace, "get", "pods"]
    if selector:
        args += ["-l", selector]
    items: list[dict[str, Any]] = get_json(runner, kube, *args).get("items", [])
    return items


def warning_events(runner: Runner, kube: Kube, namespace: str) -> list[dict[str, Any]]:
    data = get_json(
        runner, kube, "--namespace", namespace, "get", "events", "--field-selector", "type=Warning"
    )
    items: list[dict[str, Any]] = data.get("items", [])
    return sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))


# Why a pod is not ready, in the terms airbox explains it by: "image" (an image cannot be
# pulled), "crash-loop" (a container keeps crashing), "config" (CreateContainerConfigError:
# a key of a Secret or ConfigMap it reads is missing), "starting" (pending, or running but
# not ready yet: time may fix it), "other" (not scheduled, failed, another waiting reason).
Trouble = Literal["image", "crash-loop", "config", "starting", "other"]

# Closest to the root cause first: nothing runs without its image; a crash loop and a
# missing key need a fix; a pod still starting may only need time.
_ROOT_CAUSE_FIRST: tuple[Trouble, ...] = ("image", "crash-loop", "config", "other", "starting")


@dataclass(frozen=True)
class PodHealth:
    name: str
    phase: str
    ready: bool
    restarts: int
    problem: str | None  # None when healthy
    last_termination: str | None = None
    image_problem: bool = False
    trouble: Trouble | None = None  # None when healthy

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "ready": self.ready,
            "restarts": self.restarts,
            "problem": self.problem,
            "lastTermination": self.last_termination,
            "imagePullProblem": self.image_problem,
        }


# Launcher log lines that say the control plane refused the data plane's credentials
# (install's verify step and status's look at the launcher).
AUTH_FAILURE_MARKERS = (
    "401 unauthorized",
    "403 forbidden",
    "failed to authenticate",
    "invalid_client",
    "unauthorized_client",
)
_IMAGE_REASONS = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}


def pod_health(pod: dict[str, Any]) -> PodHealth:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Unknown")
    statuses = list(status.get("containerStatuses") or []) + list(
        status.get("initContainerStatuses") or []
    )
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    ready = bool(statuses) and all(s.get("ready") for s in status.get("containerStatuses") or [])
    problem: str | None = None
    trouble: Trouble | None = None
    image_problem = False
    last_termination: str | None = None
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        terminated_last = (cs.get("lastState") or {}).get("terminated") or {}
        if terminated_last:
            last_termination = (
                f"{terminated_last.get('reason') or 'terminated'}"
                f" (exit code {terminated_last.get('exitCode')})"
            )
        reason = waiting.get("reason")
        if reason and reason != "ContainerCreating" and reason != "PodInitializing":
            message = waiting.get("message") or ""
            problem = f"{cs.get('name')}: {reason}" + (f" — {message}" if message else "")
            image_problem = image_problem or reason in _IMAGE_REASONS
            trouble = (
                "crash-loop"
                if reason == "CrashLoopBackOff"
                else "config"
                if reason.startswith("CreateContainerConfig")
                else "other"
            )
            if reason == "CrashLoopBackOff" and last_termination:
                problem += f"; last exit: {last_termination}"
    if problem is None and phase == "Pending":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                problem = f"not scheduled: {cond.get('message') or cond.get('reason')}"
                trouble = "other"
        if problem is None:
            problem, trouble = "pending (starting containers)", "starting"
    if problem is None and phase in ("Failed", "Unknown"):
        problem, trouble = f"pod is {phase}", "other"
    if problem is None and not ready:
        problem, trouble = "running but not ready yet", "starting"
    return PodHealth(
        str(meta.get("name")),
        phase,
        ready and problem is None,
        restarts,
        problem,
        last_termination,
        image_problem,
        # An image that cannot be pulled explains the pod, whichever container says so.
        "image" if image_problem else trouble,
    )


def worst(healths: Iterable[PodHealth]) -> PodHealth | None:
    """The pod that explains the most why the data plane is not ready (the first of its
    kind, in ``_ROOT_CAUSE_FIRST`` order); None when every pod is ready. Install's failure
    hint and status's ``pods`` check both follow it."""
    troubled = [h for h in healths if h.trouble is not None]
    return min(troubled, key=lambda h: _ROOT_CAUSE_FIRST.index(h.trouble or "other"), default=None)


def activity(pod_list: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    """One line about what the cluster is doing now, for a progress display."""
    for pod in pod_list:
        health = pod_health(pod)
        if health.problem and not health.problem.startswith("running but"):
            return f"{health.name}: {health.problem}"
    for event in reversed(events[-5:]):
        reason = event.get("reason") or ""
        if reason in (
            "Pulling",
            "Pulled",
            "Scheduled",
            "Created",
            "Started",
            "BackOff",
            "Failed",
            "FailedScheduling",
        ):
            obj = (event.get("involvedObject") or {}).get("name", "")
            return f"{obj}: {reason} {event.get('message') or ''}".strip()
    ready = sum(1 for pod in pod_list if pod_health(pod).ready)
    return f"{ready}/{len(pod_list)} data plane pods ready" if pod_list else "waiting for pods"


def release_selector(release: str, values: Mapping[str, Any] | None = None) -> str:
    """The pods of one release of the chart (several releases may share a namespace)."""
    return f"app.kubernetes.io/name={chart.name(values or {})},app.kubernetes.io/instance={release}"


def expired_certificate(text: str) -> bool:
    """kubectl's error says the cluster's certificates expired (or are not valid yet)."""
    lowered = text.lower()
    return "certificate has expired" in lowered or (
        "x509: certificate" in lowered and "not yet valid" in lowered
    )
