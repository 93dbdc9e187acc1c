"""What the fake cluster's API server shows right now: the status of nodes, pods,
deployments and jobs, the Warning events and the launcher's log, all derived from the
stored objects and the scenario (``scenario.json``) whenever they are read.

The launcher's pod follows ``scenario["launcher"]`` (ok, crashloop, imagepull, auth-fail),
``node_ready`` and ``ready_delay``; a pod whose Secret or key is missing waits in
CreateContainerConfigError, as the kubelet leaves it.
"""

from __future__ import annotations

import os

from .k8s_cluster import (
    CHART_VERSION,
    CONTAINER,
    K8S_VERSION,
    get_obj,
    okey,
    owned_pods,
    public,
    release_secrets,
)
from .k8s_state import Ctx, Obj, iso, now, parse_time, stable_hex, utc, warming


def node_ready(ctx: Ctx) -> bool:
    return bool(ctx.scenario().get("node_ready", True))


def node_objects(ctx: Ctx, rec: Obj) -> list[Obj]:
    ready = node_ready(ctx)
    created = iso(rec["created"])
    out = []
    for i, node in enumerate(rec["nodes"]):
        role = node["role"]
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node["name"],
            "kubernetes.io/os": "linux",
        }
        if role == "control-plane":
            labels["node-role.kubernetes.io/control-plane"] = ""
        cond = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubelet is posting ready status"
            if ready
            else "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: "
            "cni plugin not initialized",
            "lastHeartbeatTime": iso(now()),
            "lastTransitionTime": created,
        }
        taints = [] if ready else [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node["name"],
                    "labels": labels,
                    "creationTimestamp": created,
                    "uid": stable_hex(rec["name"], node["name"], n=32),
                    "resourceVersion": str(rec.get("rv", 1000)),
                },
                "spec": {
                    "podCIDR": f"10.244.{i}.0/24",
                    "providerID": f"kind://docker/{rec['name']}/{node['name']}",
                    **({"taints": taints} if taints else {}),
                },
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": f"172.18.0.{i + 2}"},
                        {"type": "Hostname", "address": node["name"]},
                    ],
                    "conditions": [cond],
                    "images": [{"names": [ref], "sizeBytes": 1000} for ref in node["images"]],
                    "nodeInfo": {
                        "architecture": "amd64",
                        "containerRuntimeVersion": "containerd://2.1.4",
                        "kernelVersion": os.uname().release,
                        # FakeK8s.age_cluster: a cluster made by an older airbox
                        "kubeletVersion": rec.get("kubelet_version") or K8S_VERSION,
                        "operatingSystem": "linux",
                        "osImage": "Debian GNU/Linux 12 (bookworm)",
                    },
                },
            }
        )
    return out


def pod_condition(ctx: Ctx, rec: Obj, pod: Obj) -> str:
    """What a pod is doing right now: system, pending, missing-secret or the scenario."""
    fake = pod.get("_fake", {})
    if fake.get("role") != "launcher":
        return "system"
    scen = ctx.scenario()
    if not scen.get("node_ready", True):
        return "pending"
    secret = fake.get("requires_secret")
    if secret and get_obj(rec, "Secret", pod["metadata"]["namespace"], secret) is None:
        return "missing-secret"
    if missing_secret_key(rec, pod) is not None:
        return "missing-key"
    if warming(ctx, rec, okey("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])):
        return "starting"
    launcher = str(scen.get("launcher", "ok"))
    return launcher if launcher in ("ok", "crashloop", "imagepull", "auth-fail") else "ok"


def missing_secret_key(rec: Obj, pod: Obj) -> tuple[str, str] | None:
    """The first (Secret, key) the launcher's env references that the cluster lacks."""
    ns = pod["metadata"]["namespace"]
    for secret, key in pod.get("_fake", {}).get("required_keys") or []:
        obj = get_obj(rec, "Secret", ns, secret)
        if obj is None or key not in (obj.get("data") or {}):
            return secret, key
    return None


def pod_view(ctx: Ctx, rec: Obj, pod: Obj) -> Obj:
    """The pod as the API server would show it, status derived from the scenario now."""
    out = public(pod)
    state = pod_condition(ctx, rec, pod)
    created = pod.get("_fake", {}).get("created") or parse_time(
        pod["metadata"].get("creationTimestamp")
    )
    node = pod["spec"].get("nodeName") or rec["nodes"][0]["name"]
    containers = pod["spec"].get("containers", [])
    statuses = []
    ready = state in ("system", "ok", "auth-fail")
    for c in containers:
        cs: Obj = {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": ready,
            "containerID": f"containerd://{stable_hex(pod['metadata']['name'], c['name'], n=64)}",
        }
        if state in ("system", "ok", "auth-fail"):
            cs["imageID"] = (
                f"docker.io/{c.get('image', '')}@sha256:{stable_hex(c.get('image'), n=64)}"
            )
            cs["state"] = {"running": {"startedAt": iso(created + 3)}}
            cs["lastState"] = {}
        elif state == "crashloop":
            cs["imageID"] = (
                f"docker.io/{c.get('image', '')}@sha256:{stable_hex(c.get('image'), n=64)}"
            )
            cs["restartCount"] = 6
            cs["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={c['name']} "
                    f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})",
                }
            }
            cs["lastState"] = {
                "terminated": {
                    "reason": "Error",
                    "exitCode": 1,
                    "startedAt": iso(max(created, now() - 62)),
                    "finishedAt": iso(max(created, now() - 58)),
                    "containerID": cs["containerID"],
                }
            }
        elif state == "imagepull":
            cs.pop("containerID")
            cs["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{c.get("image")}"',
                }
            }
            cs["lastState"] = {}
        elif state == "missing-key":
            cs.pop("containerID")
            secret, key = missing_secret_key(rec, pod) or ("", "")
            cs["state"] = {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": f"couldn't find key {key} in Secret "
                    f"{pod['metadata']['namespace']}/{secret}",
                }
            }
            cs["lastState"] = {}
        elif state == "starting":
            cs.pop("containerID")
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            cs["lastState"] = {}
        elif state == "missing-secret":
            cs.pop("containerID")
            cs["state"] = {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": f'secret "{pod["_fake"]["requires_secret"]}" not found',
                }
            }
            cs["lastState"] = {}
        statuses.append(cs)
    status: Obj = {
        "phase": "Running",
        "hostIP": "172.18.0.2",
        "podIP": f"10.244.0.{int(stable_hex(pod['metadata']['name'], n=2), 16) % 250 + 2}",
        "startTime": iso(created),
        "qosClass": "BestEffort",
    }
    t = iso(created)
    if state == "pending":
        status = {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": t,
                    "message": "0/1 nodes are available: 1 node(s) had untolerated taint "
                    "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: "
                    "1 Preemption is not helpful for scheduling.",
                }
            ],
        }
        out["spec"].pop("nodeName", None)
        out["status"] = status
        return out
    r = "True" if ready else "False"
    cond_reason = (
        {}
        if ready
        else {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{CONTAINER}]",
        }
    )
    status["conditions"] = [
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t},
        {"type": "Initialized", "status": "True", "lastTransitionTime": t},
        {"type": "Ready", "status": r, "lastTransitionTime": t, **cond_reason},
        {"type": "ContainersReady", "status": r, "lastTransitionTime": t, **cond_reason},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
    ]
    status["containerStatuses"] = statuses
    status["phase"] = (
        "Pending"
        if state in ("imagepull", "missing-secret", "missing-key", "starting")
        else "Running"
    )
    out["spec"]["nodeName"] = node
    out["status"] = status
    finished = pod.get("_fake", {}).get("phase")
    if finished in ("Succeeded", "Failed"):
        # A sync's pod after its job ended: its containers exited, it is not ready.
        code = 0 if finished == "Succeeded" else 1
        status["phase"] = finished
        for cs in statuses:
            cs.update(
                ready=False,
                started=False,
                state={
                    "terminated": {
                        "reason": "Completed" if code == 0 else "Error",
                        "exitCode": code,
                        "startedAt": iso(created + 3),
                        "finishedAt": iso(now()),
                    }
                },
            )
        for cond in status["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="PodCompleted")
    return out


def deployment_view(ctx: Ctx, rec: Obj, dep: Obj) -> Obj:
    out = public(dep)
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    replicas = int(dep.get("spec", {}).get("replicas", 1))
    if dep.get("_fake", {}).get("role") == "launcher":
        pods = [pod_view(ctx, rec, p) for p in owned_pods(rec, ns, name)]
        ready = sum(1 for p in pods if is_ready(p))
    elif unresolved_refs(rec, ns, dep):
        ready = 0  # its pods stay in CreateContainerConfigError
    elif warming(ctx, rec, okey("Deployment", ns, name)):
        ready = 0
    else:
        ready = replicas
    available = ready >= replicas
    t = dep["metadata"].get("creationTimestamp", iso(now()))
    status: Obj = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastTransitionTime": t,
                "lastUpdateTime": t,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                "message": f'ReplicaSet "{name}-{dep.get("_fake", {}).get("hash", "")}" '
                + ("has successfully progressed." if available else "is progressing."),
                "lastTransitionTime": t,
                "lastUpdateTime": t,
            },
        ],
    }
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    if replicas - ready:
        status["unavailableReplicas"] = replicas - ready
    out.setdefault("metadata", {}).setdefault("generation", 1)
    out["status"] = status
    return out


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def make_event(
    rec: Obj,
    pod: Obj,
    reason: str,
    message: str,
    component: str = "kubelet",
    count: int = 1,
    age: float = 60,
) -> Obj:
    """A Warning event about ``pod``, last seen ``age`` seconds ago."""
    meta = pod["metadata"]
    ns = meta.get("namespace", "default")
    first = parse_time(meta.get("creationTimestamp"))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{stable_hex(meta['name'], reason, message)}",
            "namespace": ns,
            "creationTimestamp": iso(first),
            "uid": stable_hex(meta["name"], reason, n=32),
            "resourceVersion": "1",
        },
        "involvedObject": {
            "apiVersion": pod.get("apiVersion", "v1"),
            "kind": pod["kind"],
            "name": meta["name"],
            "namespace": ns,
            "uid": meta.get("uid", ""),
            "fieldPath": f"spec.containers{{{CONTAINER}}}",
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": count,
        "firstTimestamp": iso(first),
        "lastTimestamp": iso(max(first, now() - age)),
        "source": {
            "component": component,
            **({"host": rec["nodes"][0]["name"]} if component == "kubelet" else {}),
        },
        "reportingComponent": component,
        "reportingInstance": "",
    }


def derived_events(ctx: Ctx, rec: Obj) -> list[Obj]:
    """The Warning events the scheduler and kubelet record for the launcher's pods in the
    scenario (airbox reads Warning events only; the Normal ones are not modelled)."""
    events: list[Obj] = []
    pods = [o for o in rec["objects"].values() if o["kind"] == "Pod"]
    for pod in [p for p in pods if p.get("_fake", {}).get("role") == "launcher"]:
        meta = pod["metadata"]
        image = pod["spec"]["containers"][0]["image"]
        state = pod_condition(ctx, rec, pod)
        if state == "pending":
            message = (
                "0/1 nodes are available: 1 node(s) had untolerated taint "
                "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: "
                "1 Preemption is not helpful for scheduling."
            )
            events.append(
                make_event(rec, pod, "FailedScheduling", message, "default-scheduler", 1, 30)
            )
        elif state == "imagepull":
            repo, _, tag = image.rpartition(":")
            message = (
                f'Failed to pull image "{image}": failed to pull and unpack image '
                f'"docker.io/{image}": failed to copy: httpReadSeeker: failed open: '
                f"unexpected status from GET request to https://registry-1.docker.io/v2/"
                f"{repo}/manifests/{tag}: 429 Too Many Requests\ntoomanyrequests: You have "
                "reached your pull rate limit. You may increase the limit by authenticating "
                "and upgrading: https://www.docker.com/increase-rate-limit"
            )
            events += [
                make_event(rec, pod, "Failed", message, count=4, age=90),
                make_event(rec, pod, "Failed", "Error: ErrImagePull", count=4, age=90),
                make_event(rec, pod, "Failed", "Error: ImagePullBackOff", count=12, age=20),
            ]
        elif state in ("missing-secret", "missing-key"):
            secret, key = missing_secret_key(rec, pod) or (pod["_fake"]["requires_secret"], "")
            message = (
                f"Error: couldn't find key {key} in Secret {meta['namespace']}/{secret}"
                if state == "missing-key"
                else f'Error: secret "{secret}" not found'
            )
            events.append(make_event(rec, pod, "Failed", message, count=8, age=15))
        elif state == "crashloop":
            message = (
                f"Back-off restarting failed container {CONTAINER} in pod "
                f"{meta['name']}_{meta['namespace']}({meta['uid']})"
            )
            events.append(make_event(rec, pod, "BackOff", message, count=26, age=10))
    return events


def unresolved_refs(rec: Obj, ns: str, workload: Obj) -> list[str]:
    """The secretKeyRefs of a workload's pod template that no Secret key answers (the
    kubelet then refuses to start the container: CreateContainerConfigError)."""
    spec = workload.get("spec", {}).get("template", {}).get("spec", {})
    missing = []
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if not ref or ref.get("optional"):
                continue
            secret = get_obj(rec, "Secret", ns, ref.get("name", ""))
            if secret is None or ref.get("key") not in (secret.get("data") or {}):
                missing.append(f"{ref.get('name')}/{ref.get('key')}")
    return missing


def job_view(ctx: Ctx, rec: Obj, job: Obj) -> Obj:
    """A Job completes once its pod can start (the fake runs no command)."""
    out = public(job)
    t = job["metadata"].get("creationTimestamp", iso(now()))
    ns = job["metadata"]["namespace"]
    if unresolved_refs(rec, ns, job) or warming(ctx, rec, okey("Job", ns, job["metadata"]["name"])):
        out["status"] = {"active": 1, "startTime": t}
    else:
        out["status"] = {
            "succeeded": 1,
            "startTime": t,
            "completionTime": t,
            "conditions": [
                {"type": "Complete", "status": "True", "lastProbeTime": t, "lastTransitionTime": t}
            ],
        }
    return out


def all_objects(ctx: Ctx, rec: Obj) -> list[Obj]:
    """Every object of the cluster as the API server would list it right now."""
    out: list[Obj] = []
    for obj in rec["objects"].values():
        if obj["kind"] == "Pod":
            out.append(pod_view(ctx, rec, obj))
        elif obj["kind"] == "Deployment":
            out.append(deployment_view(ctx, rec, obj))
        elif obj["kind"] == "Job":
            out.append(job_view(ctx, rec, obj))
        else:
            out.append(public(obj))
    out += node_objects(ctx, rec)
    out += derived_events(ctx, rec)
    out += release_secrets(rec)
    return out


# --------------------------------------------------------------------------------------------
# launcher logs (kubectl logs and kind export logs)


def launcher_log_entries(ctx: Ctx, rec: Obj, pod: Obj) -> list[tuple[float, str]]:
    """The launcher's log as (time, line) pairs, ending a few seconds ago, per the scenario."""
    fake = pod.get("_fake", {})
    scen = ctx.scenario()
    state = pod_condition(ctx, rec, pod)
    start = now() - 65
    version = fake.get("app_version", CHART_VERSION)
    url = fake.get("control_plane_url") or "https://cloud.airbyte.com"
    entries: list[tuple[float, str]] = []

    def log(offset: float, thread: str, level: str, msg: str) -> None:
        ts = utc(start + offset)
        entries.append(
            (
                start + offset,
                f"{ts:%Y-%m-%d %H:%M:%S},{ts.microsecond // 1000:03d} [{thread}] {level:<5} {msg}",
            )
        )

    def raw(*lines: str) -> None:
        entries.extend((entries[-1][0], line) for line in lines)

    log(0, "main", "INFO", f"Starting workload launcher (version {version})")
    log(1.2, "main", "INFO", f"Connecting to control plane at {url}")
    if state == "crashloop":
        log(1.9, "main", "ERROR", "Application startup failed")
        raw(
            'Exception in thread "main" '
            "io.micronaut.context.exceptions.BeanInstantiationException: Error instantiating "
            "bean of type [io.airbyte.workload.launcher.client.ControlPlaneClient]",
            "\tat io.micronaut.context.DefaultBeanContext.resolveByBeanFactory"
            "(DefaultBeanContext.java:2368)",
            "\tat io.micronaut.context.DefaultBeanContext.createRegistration"
            "(DefaultBeanContext.java:3186)",
            "\tat io.airbyte.workload.launcher.ApplicationKt.main(Application.kt:21)",
            "Caused by: java.lang.IllegalStateException: Missing required configuration: "
            "DATAPLANE_CLIENT_SECRET",
            "\tat io.airbyte.workload.launcher.config.ControlPlaneConfig.validate"
            "(ControlPlaneConfig.kt:44)",
            "\t... 12 more",
        )
    elif state == "auth-fail":
        log(2.0, "main", "ERROR", "Failed to authenticate with the control plane: 401 Unauthorized")
        log(12.0, "main", "WARN", "Retrying authentication in 10s (attempt 2 of 5)")
        log(
            22.1, "main", "ERROR", "Failed to authenticate with the control plane: 401 Unauthorized"
        )
    else:
        log(2.0, "main", "INFO", "Authenticated with the control plane")
        log(2.4, "main", "INFO", "Registered data plane; polling for workloads")
        log(32.4, "scheduled-1", "INFO", "Heartbeat sent to control plane")
        log(62.4, "scheduled-1", "INFO", "Heartbeat sent to control plane")
    raw(*(str(x) for x in scen.get("log_lines") or []))
    return entries


def launcher_log_lines(ctx: Ctx, rec: Obj, pod: Obj) -> list[str]:
    return [line for _, line in launcher_log_entries(ctx, rec, pod)]
