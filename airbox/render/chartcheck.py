"""Would the pods the chart renders start, and find what they read?

Rendering is not running. A ``secretKeyRef`` or ``configMapKeyRef`` whose key is
missing stops a pod with CreateContainerConfigError, and an env var naming a file
(``GOOGLE_APPLICATION_CREDENTIALS``) that no volume provides fails at the first use —
long after ``helm install`` returned. Given the manifests ``helm template`` renders and
the Secret airbox generated, ``pod_problems`` lists all of that before anything is
deployed. The install runs it on the real chart; the tests run it on the real chart
archives for every supported configuration.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

# Env vars whose value is the path of a file the process opens (a credentials file).
# Other path-valued settings of the chart name directories the process creates.
CREDENTIAL_FILE_ENVS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DATA_PLANE_SERVICE_ACCOUNT_CREDENTIALS_PATH",
)

# The launcher's job pods (airbyte-platform, workload-launcher VolumeFactory.secret()):
# when GOOGLE_APPLICATION_CREDENTIALS is set, the orchestrator pod mounts the whole
# Secret CONTAINER_ORCHESTRATOR_SECRET_NAME at CONTAINER_ORCHESTRATOR_SECRET_MOUNT_PATH
# and reads the same path there.
_ORCHESTRATOR_SECRET = "CONTAINER_ORCHESTRATOR_SECRET_NAME"
_ORCHESTRATOR_MOUNT = "CONTAINER_ORCHESTRATOR_SECRET_MOUNT_PATH"
# The images the launcher gives its job pods, read from its environment.
JOB_IMAGE_ENVS = ("WORKLOAD_INIT_IMAGE", "CONNECTOR_SIDECAR_IMAGE", "CONTAINER_ORCHESTRATOR_IMAGE")


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


@dataclass(frozen=True)
class ConfigMapRef:
    workload: str
    container: str
    env: str
    configmap: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class Container:
    """One container of a rendered pod template, with what it needs from outside."""

    workload: str  # "Deployment/<name>"
    spec: Mapping[str, Any]
    volumes: Mapping[str, Mapping[str, Any]]  # the pod's volumes by name

    @property
    def name(self) -> str:
        return str(self.spec.get("name"))

    def where(self) -> str:
        return f"{self.workload} container {self.name}"


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _name(doc: Mapping[str, Any]) -> str:
    return str((doc.get("metadata") or {}).get("name"))


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


def containers(manifests: Iterable[Mapping[str, Any]]) -> Iterator[Container]:
    for doc in manifests:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        volumes = {str(v.get("name")): v for v in spec.get("volumes") or []}
        workload = f"{doc.get('kind')}/{_name(doc)}"
        for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            yield Container(workload, container, volumes)


def secret_refs(manifests: Iterable[Mapping[str, Any]]) -> list[SecretRef]:
    """Every env ``secretKeyRef`` of every pod template in the manifests."""
    refs: list[SecretRef] = []
    for c in containers(manifests):
        for env in c.spec.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                refs.append(
                    SecretRef(
                        c.workload,
                        c.name,
                        str(env.get("name")),
                        str(ref.get("name")),
                        str(ref.get("key")),
                        bool(ref.get("optional", False)),
                    )
                )
    return refs


def configmap_refs(manifests: Iterable[Mapping[str, Any]]) -> list[ConfigMapRef]:
    """Every env ``configMapKeyRef`` of every pod template in the manifests."""
    refs: list[ConfigMapRef] = []
    for c in containers(manifests):
        for env in c.spec.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                refs.append(
                    ConfigMapRef(
                        c.workload,
                        c.name,
                        str(env.get("name")),
                        str(ref.get("name")),
                        str(ref.get("key")),
                        bool(ref.get("optional", False)),
                    )
                )
    return refs


def secret_keys(manifests: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Keys of every Secret in the manifests, by Secret name."""
    return _keys(manifests, "Secret", ("data", "stringData"))


def configmap_data(manifests: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Every ConfigMap in the manifests: its data, by ConfigMap name."""
    found: dict[str, dict[str, str]] = {}
    for doc in manifests:
        if doc.get("kind") == "ConfigMap":
            found.setdefault(_name(doc), {}).update(
                {str(k): "" if v is None else str(v) for k, v in (doc.get("data") or {}).items()}
            )
    return found


def _keys(
    manifests: Iterable[Mapping[str, Any]], kind: str, fields: tuple[str, ...]
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in manifests:
        if doc.get("kind") != kind:
            continue
        keys = found.setdefault(_name(doc), set())
        for field_name in fields:
            keys.update(str(k) for k in (doc.get(field_name) or {}))
    return found


def env_values(container: Container, configmaps: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The container's plain env values: literal, or read from a rendered ConfigMap."""
    values: dict[str, str] = {}
    for source in container.spec.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            prefix = str(source.get("prefix") or "")
            for key, value in (configmaps.get(str(ref.get("name"))) or {}).items():
                values[prefix + key] = value
    for env in container.spec.get("env") or []:
        name = str(env.get("name"))
        if "value" in env:
            values[name] = "" if env["value"] is None else str(env["value"])
            continue
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            data = configmaps.get(str(ref.get("name"))) or {}
            if str(ref.get("key")) in data:
                values[name] = data[str(ref.get("key"))]
    return values


def unresolved_refs(
    rendered: Iterable[Mapping[str, Any]], generated: Mapping[str, Any]
) -> list[SecretRef]:
    """Secret references in ``rendered`` that neither the chart's Secrets nor ours satisfy."""
    docs = list(rendered)
    available = secret_keys([*docs, generated])
    return [
        ref
        for ref in secret_refs(docs)
        if not ref.optional and ref.key not in available.get(ref.secret, set())
    ]


def pod_problems(rendered: Iterable[Mapping[str, Any]], generated: Mapping[str, Any]) -> list[str]:
    """Everything that would keep a rendered pod (or its job pods) from finding what it reads.

    ``generated`` is the Secret airbox applies; the chart's own Secrets and ConfigMaps
    count too, since Helm creates them with the release.
    """
    docs = list(rendered)
    secrets = secret_keys([*docs, generated])
    configmaps = configmap_data(docs)
    problems = [ref.describe() for ref in unresolved_refs(docs, generated)]
    for ref in configmap_refs(docs):
        if not ref.optional and ref.key not in configmaps.get(ref.configmap, {}):
            problems.append(
                f"{ref.workload} container {ref.container}: env {ref.env} needs "
                f"key {ref.key!r} of ConfigMap {ref.configmap!r}"
            )
    for c in containers(docs):
        for source in c.spec.get("envFrom") or []:
            for kind, known in (("secretRef", secrets), ("configMapRef", configmaps)):
                ref = source.get(kind)
                if ref and not ref.get("optional") and str(ref.get("name")) not in known:
                    what = "Secret" if kind == "secretRef" else "ConfigMap"
                    problems.append(
                        f"{c.where()}: envFrom needs the {what} "
                        f"{ref.get('name')!r}, which nothing creates"
                    )
        env = env_values(c, configmaps)
        for var in CREDENTIAL_FILE_ENVS:
            path = env.get(var)
            if path:
                problem = _file_problem(c, path, secrets)
                if problem:
                    problems.append(f"{c.where()}: {var}={path}: {problem}")
        problems.extend(_job_pod_problems(c, env, secrets))
    return problems


def _file_problem(c: Container, path: str, secrets: Mapping[str, set[str]]) -> str | None:
    """Why ``path`` would not exist in the container, or None."""
    mounts = sorted(
        c.spec.get("volumeMounts") or [],
        key=lambda m: len(str(m.get("mountPath") or "")),
        reverse=True,
    )
    for mount in mounts:
        mount_path = str(mount.get("mountPath") or "").rstrip("/")
        if mount.get("subPath"):
            if path != mount_path:
                continue
            relative = str(mount["subPath"])
        elif path.startswith(mount_path + "/"):
            relative = path[len(mount_path) + 1 :]
        else:
            continue
        volume = c.volumes.get(str(mount.get("name")))
        if volume is None:
            return f"the volume {mount.get('name')!r} mounted at {mount_path} does not exist"
        source = volume.get("secret")
        if source is None:
            return None  # another kind of volume: nothing airbox can check
        name = str(source.get("secretName"))
        if name not in secrets:
            return f"it is mounted from the Secret {name!r}, which nothing creates"
        key = relative
        items = source.get("items")
        if items:
            matches = [str(i.get("key")) for i in items if str(i.get("path")) == relative]
            if not matches:
                return f"the Secret volume {mount.get('name')!r} projects no file {relative!r}"
            key = matches[0]
        if key not in secrets[name]:
            return f"the Secret {name!r} has no key {key!r}"
        return None
    return "no volume is mounted there"


def _job_pod_problems(
    c: Container, env: Mapping[str, str], secrets: Mapping[str, set[str]]
) -> list[str]:
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        return []
    name = env.get(_ORCHESTRATOR_SECRET, "")
    mount = env.get(_ORCHESTRATOR_MOUNT, "").rstrip("/")
    where = f"{c.where()}: the job pods it starts"
    if not name or not mount:
        return [
            f"{where} mount no Secret for GOOGLE_APPLICATION_CREDENTIALS={path} "
            f"({_ORCHESTRATOR_SECRET} or {_ORCHESTRATOR_MOUNT} is empty)"
        ]
    if posixpath.dirname(path) != mount:
        return [
            f"{where} mount the Secret {name!r} at {mount}, not where "
            f"GOOGLE_APPLICATION_CREDENTIALS={path} points"
        ]
    key = posixpath.basename(path)
    if name not in secrets:
        return [f"{where} mount the Secret {name!r}, which nothing creates"]
    if key not in secrets[name]:
        return [f"{where} read {path}, but the Secret {name!r} has no key {key!r}"]
    return []


def deployments(manifests: Iterable[Mapping[str, Any]]) -> list[str]:
    return [_name(doc) for doc in manifests if doc.get("kind") == "Deployment"]


def images(manifests: Iterable[Mapping[str, Any]]) -> list[str]:
    """The launcher's image and the job pods' images it names, as the chart renders them."""
    docs = list(manifests)
    configmaps = configmap_data(docs)
    found: list[str] = []
    for c in containers(docs):
        image = str(c.spec.get("image") or "")
        if image and image not in found:
            found.append(image)
        env = env_values(c, configmaps)
        for var in JOB_IMAGE_ENVS:
            if env.get(var) and env[var] not in found:
                found.append(env[var])
    return found
