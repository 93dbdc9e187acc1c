"""The fake cluster's store: its resource types, objects, namespaces and nodes, the
admission of pods (``admission_model``), the deployment controller and Helm's release
Secrets. What the objects' status shows is ``k8s_status``'s.

A cluster in ``state.json``: ``objects`` (by ``Kind/namespace/name``), ``releases`` (Helm's
revisions by ``namespace/release``), ``nodes``, its fake ``clock`` and ``born`` (when each
object was made or last rolled out, in fake time).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass

from . import admission_model
from .k8s_state import Fail, Obj, clock, iso, now, random_suffix, stable_hex

K8S_VERSION = "v1.35.0"
CHART_VERSION = "1.8.1"
CONTAINER = "airbyte-data-plane"
# Kinds without a namespace among those airbox applies or reads (any other is namespaced).
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "Node",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
}


# --------------------------------------------------------------------------------------------
# the cluster model


@dataclass(frozen=True)
class Res:
    """A resource type kubectl knows."""

    kind: str
    api: str
    plural: str
    namespaced: bool
    aliases: tuple[str, ...]

    @property
    def group(self) -> str:
        return self.api.split("/")[0] if "/" in self.api else ""

    @property
    def qualified(self) -> str:
        """As in NotFound errors: ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self) -> str:
        """As in ``-o name``: ``deployment.apps``."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()


# The resource types airbox and the tests name (any other word is one the server lacks).
RESOURCES = (
    Res("Namespace", "v1", "namespaces", False, ("ns", "namespace")),
    Res("Node", "v1", "nodes", False, ("no", "node")),
    Res("Pod", "v1", "pods", True, ("po", "pod")),
    Res("Deployment", "apps/v1", "deployments", True, ("deploy", "deployment")),
    Res("Secret", "v1", "secrets", True, ("secret",)),
    Res("ConfigMap", "v1", "configmaps", True, ("cm", "configmap")),
    Res("Event", "v1", "events", True, ("ev", "event")),
    Res("Job", "batch/v1", "jobs", True, ("job",)),
    Res(
        "MutatingAdmissionPolicy",
        "admissionregistration.k8s.io/v1beta1",
        "mutatingadmissionpolicies",
        False,
        ("mutatingadmissionpolicy",),
    ),
    Res(
        "MutatingAdmissionPolicyBinding",
        "admissionregistration.k8s.io/v1beta1",
        "mutatingadmissionpolicybindings",
        False,
        ("mutatingadmissionpolicybinding",),
    ),
)
ADMISSION_GROUP = "admissionregistration.k8s.io"
# What the API server serves of admissionregistration.k8s.io, by version. Kubernetes 1.34
# and 1.35 (kubernetes pkg/features/kube_features.go, apiserver pkg/features): the
# MutatingAdmissionPolicy gate is beta and off by default, and beta versions are off by
# default: v1beta1 needs --runtime-config=admissionregistration.k8s.io/v1beta1=true, and
# its mutatingadmissionpolicies only with the gate on as well (kubernetes.io docs,
# "Mutating Admission Policy"). GA (v1, on by default) is 1.36.
ADMISSION_V1 = (
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
)
ADMISSION_V1BETA1 = ("validatingadmissionpolicies", "validatingadmissionpolicybindings")
ADMISSION_POLICY = ("mutatingadmissionpolicies", "mutatingadmissionpolicybindings")


def _enabled(runtime_config: Obj, group_version: str) -> bool:
    for key in (group_version, "api/beta" if "beta" in group_version else "", "api/all"):
        if key and str(runtime_config.get(key, "")).lower() == "true":
            return True
    return False


def served_admission(rec: Obj) -> dict[str, tuple[str, ...]]:
    """admissionregistration.k8s.io: version -> resources, as this cluster's API server
    (its feature gates and runtime config, from kind's config) serves them."""
    gates = rec.get("feature_gates") or {}
    runtime = rec.get("runtime_config") or {}
    minor = int(re.sub(r"^v1\.(\d+).*$", r"\1", str(rec.get("kubelet_version") or K8S_VERSION)))
    served: dict[str, tuple[str, ...]] = {"v1": ADMISSION_V1}
    if minor >= 36:
        served["v1"] = ADMISSION_V1 + ADMISSION_POLICY
    if _enabled(runtime, f"{ADMISSION_GROUP}/v1beta1"):
        served["v1beta1"] = ADMISSION_V1BETA1 + (
            ADMISSION_POLICY if gates.get(admission_model.FEATURE_GATE) is True else ()
        )
    return served


def admission_served(rec: Obj, api: str, plural: str) -> bool:
    version = api.split("/")[1] if "/" in api else api
    return plural in served_admission(rec).get(version, ())


def res_for_kind(kind: str, api: str = "v1") -> Res:
    for res in RESOURCES:
        if res.kind == kind:
            return res
    plural = kind.lower() + ("es" if kind.lower().endswith("s") else "s")
    return Res(kind, api, plural, kind not in CLUSTER_SCOPED_KINDS, (kind.lower(),))


def lookup_res(rec: Obj | None, word: str) -> Res:
    """A resource word of kubectl's command line (plural, singular or short name)."""
    for res in RESOURCES:
        if word.lower() in {res.plural, *res.aliases, res.kind.lower()}:
            if (
                res.group == ADMISSION_GROUP
                and rec is not None
                and not any(res.plural in found for found in served_admission(rec).values())
            ):
                break
            return res
    raise Fail(f'error: the server doesn\'t have a resource type "{word}"')


def okey(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def public(obj: Obj) -> Obj:
    """A copy fit for output: without the fake's private bookkeeping."""
    out = copy.deepcopy(obj)
    out.pop("_fake", None)
    return out


def next_rv(rec: Obj) -> str:
    rec["rv"] = int(rec.get("rv", 1000)) + 1
    return str(rec["rv"])


def put(rec: Obj, obj: Obj) -> Obj:
    meta = obj.setdefault("metadata", {})
    ns = meta.get("namespace", "") if res_for_kind(obj["kind"]).namespaced else ""
    key = okey(obj["kind"], ns, meta["name"])
    old = rec["objects"].get(key)
    if not old:
        import uuid
    meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else iso(now())
    meta["resourceVersion"] = next_rv(rec)
    if old is None or old.get("spec") != obj.get("spec"):
        rec.setdefault("born", {})[key] = clock(rec)  # a new object or a new rollout
    rec["objects"][key] = obj
    return obj


def get_obj(rec: Obj, kind: str, namespace: str, name: str) -> Obj | None:
    res = res_for_kind(kind)
    found: Obj | None = rec["objects"].get(okey(kind, namespace if res.namespaced else "", name))
    return found


def delete_obj(rec: Obj, kind: str, namespace: str, name: str) -> Obj | None:
    res = res_for_kind(kind)
    key = okey(kind, namespace if res.namespaced else "", name)
    (rec.get("born") or {}).pop(key, None)
    removed: Obj | None = rec["objects"].pop(key, None)
    return removed


def admit_pod(rec: Obj, pod: Obj) -> Obj:
    """A pod being created, after the cluster's mutating admission policies (their API
    served: an object of a kind no longer served is not acted on)."""
    ns = pod["metadata"].get("namespace", "")
    objects = list(rec["objects"].values())
    policies = [
        o
        for o in objects
        if o["kind"] == "MutatingAdmissionPolicy"
        and admission_served(rec, o["apiVersion"], "mutatingadmissionpolicies")
    ]
    bindings = [
        o
        for o in objects
        if o["kind"] == "MutatingAdmissionPolicyBinding"
        and admission_served(rec, o["apiVersion"], "mutatingadmissionpolicybindings")
    ]
    if not policies:
        return pod
    private = pod.pop("_fake", None)
    try:
        out = admission_model.admit(
            pod, "CREATE", get_obj(rec, "Namespace", "", ns), policies, bindings
        )
    finally:
        if private is not None:
            pod["_fake"] = private
    if private is not None:
        out["_fake"] = private
    return out


def namespace_exists(rec: Obj, ns: str) -> bool:
    return okey("Namespace", "", ns) in rec["objects"]


def new_namespace(rec: Obj, name: str, labels: Obj | None = None) -> Obj:
    return put(
        rec,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        },
    )


def new_cluster(
    name: str, *, kind: bool, docker: bool, port: int, nodes: list[tuple[str, str]]
) -> Obj:
    rec: Obj = {
        "name": name,
        "kind": kind,
        "docker": docker,
        "port": port,
        "server": f"https://127.0.0.1:{port}",
        "created": now(),
        "rv": 1000,
        "objects": {},
        "releases": {},
        "nodes": [{"name": n, "role": r, "images": {}} for n, r in nodes],
    }
    # The namespaces every cluster has (kind's also local-path-storage); the system pods
    # in them are not modelled: airbox looks at its own namespace only.
    for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
        new_namespace(rec, ns)
    if kind:
        new_namespace(rec, "local-path-storage")
    return rec


def owned_pods(rec: Obj, ns: str, deployment: str) -> list[Obj]:
    return [
        o
        for o in rec["objects"].values()
        if o["kind"] == "Pod"
        and o["metadata"].get("namespace") == ns
        and o.get("_fake", {}).get("owner") == deployment
    ]


def release_secrets(rec: Obj) -> list[Obj]:
    """Helm's storage: one Secret per release revision, as ``kubectl get secrets`` shows."""
    out = []
    for key, revisions in rec["releases"].items():
        ns, name = key.split("/", 1)
        for rev in revisions:
            payload = base64.b64encode(
                json.dumps({"name": name, "version": rev["revision"]}).encode()
            )
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "helm.sh/release.v1",
                    "metadata": {
                        "name": f"sh.helm.release.v1.{name}.v{rev['revision']}",
                        "namespace": ns,
                        "labels": {
                            "name": name,
                            "owner": "helm",
                            "status": rev["status"],
                            "version": str(rev["revision"]),
                        },
                        "creationTimestamp": iso(rev["last_deployed"]),
                        "uid": stable_hex(key, rev["revision"], n=32),
                        "resourceVersion": "1",
                    },
                    "data": {"release": base64.b64encode(payload).decode()},
                }
            )
    return out


# -- the deployment controller


def sync_launcher_pods(rec: Obj, dep: Obj) -> None:
    """The ReplicaSet controller: pods of the deployment's current template, replicas of them."""
    fake = dep["_fake"]
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    pods = owned_pods(rec, ns, name)
    keep = [p for p in pods if p["_fake"].get("hash") == fake["hash"]]
    for p in pods:
        if p not in keep:
            delete_obj(rec, "Pod", ns, p["metadata"]["name"])
    tmpl = dep["spec"]["template"]
    while len(keep) < int(dep["spec"].get("replicas", 1)):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{fake['hash']}-{random_suffix()}",
                "namespace": ns,
                "labels": {**tmpl["metadata"].get("labels", {}), "pod-template-hash": fake["hash"]},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{name}-{fake['hash']}",
                        "controller": True,
                        "blockOwnerDeletion": True,
                        "uid": stable_hex(ns, name, fake["hash"], n=32),
                    }
                ],
            },
            "spec": {
                **copy.deepcopy(tmpl["spec"]),
                "nodeName": rec["nodes"][0]["name"],
                "restartPolicy": "Always",
            },
            "_fake": {**fake, "owner": name, "created": now()},
        }
        put(rec, pod)
        keep.append(pod)
