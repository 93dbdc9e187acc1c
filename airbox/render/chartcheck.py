"""Does a rendered chart fit the generated Secret?

A ``secretKeyRef`` whose key is missing stops a pod with CreateContainerConfigError,
long after ``helm install`` returned. Given the manifests ``helm template`` renders
and the Secret airbox generated, ``unresolved_refs`` lists every reference that would
not resolve, before anything is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class SecretRef:
    workload: str
    container: str
    env: str
    secret: str
    key: str
    optional: bool = False

    def describe(self) -> str:
        return (
            f"{self.workload} container {self.container}: env {self.env} needs key "
            f"{self.key!r} of Secret {self.secret!r}"
        )


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def secret_refs(manifests: Iterable[Mapping[str, Any]]) -> list[SecretRef]:
    """Every env ``secretKeyRef`` of every pod template in the manifests."""
    refs: list[SecretRef] = []
    for doc in manifests:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        workload = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
        for container in containers:
            for env in container.get("env") or []:
                ref = ((env.get("valueFrom") or {}).get("secretKeyRef")) or None
                if ref:
                    refs.append(
                        SecretRef(
                            workload,
                            str(container.get("name")),
                            str(env.get("name")),
                            str(ref.get("name")),
                            str(ref.get("key")),
                            bool(ref.get("optional", False)),
                        )
                    )
    return refs


def _pod_spec(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        template: Mapping[str, Any] | None = (spec.get("template") or {}).get("spec")
        return template
    if kind == "CronJob":
        job: Mapping[str, Any] = (spec.get("jobTemplate") or {}).get("spec") or {}
        pod: Mapping[str, Any] | None = (job.get("template") or {}).get("spec")
        return pod
    return None


def secret_keys(manifests: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Keys of every Secret in the manifests, by Secret name."""
    found: dict[str, set[str]] = {}
    for doc in manifests:
        if doc.get("kind") != "Secret":
            continue
        name = str((doc.get("metadata") or {}).get("name"))
        keys = set((doc.get("data") or {}).keys()) | set((doc.get("stringData") or {}).keys())
        found.setdefault(name, set()).update(keys)
    return found


def unresolved_refs(
    rendered: Iterable[Mapping[str, Any]], generated: Mapping[str, Any]
) -> list[SecretRef]:
    """References in ``rendered`` that neither the chart's Secrets nor ours satisfy."""
    docs = list(rendered)
    available = secret_keys([*docs, generated])
    return [
        ref
        for ref in secret_refs(docs)
        if not ref.optional and ref.key not in available.get(ref.secret, set())
    ]
