"""What airbox hands to Kubernetes, Helm and kind: pure functions of the settings.

- ``secret_manifest``: the Secret ``airbyte-config-secrets`` holding every credential.
- ``helm_values``: values for airbyte-data-plane that *reference* that Secret and
  hold no secret value.
- ``kind_config``: the kind cluster ``airbox-<name>``.

What a private registry needs (image names there, the pull Secret, containerd's
hosts.toml) is in ``render/registry.py``.

The chart renders some ``secretKeyRef``s whatever the other settings say (AWS access
keys with ``authenticationType: instanceProfile``, for example), and a missing key
keeps the pod from starting, so the Secret carries every key the chart can reference
for the chosen types — empty when the user has no value for it.
"""

from __future__ import annotations

from typing import Any

from airbox import versions
from airbox.config.answers import deep_merge
from airbox.config.settings import (
    BUCKET_KEYS,
    DATA_PLANE_CLIENT_ID_KEY,
    DATA_PLANE_CLIENT_SECRET_KEY,
    LICENSE_KEY_KEY,
    STORAGES,
    Section,
    Settings,
)
from airbox.config.specs import GCP_CREDENTIALS_KEY as GCP_CREDENTIALS_KEY
from airbox.render import proxy, secretrefs

# Re-exported: callers name the shared names as manifests' (the names module breaks a
# circle), and tests name the registry's pull Secret, env names, auth and hosts.toml as
# manifests'.
from airbox.render.names import LOCAL_STORE as LOCAL_STORE
from airbox.render.names import MANAGED_BY_LABEL as MANAGED_BY_LABEL
from airbox.render.names import SECRET_NAME as SECRET_NAME
from airbox.render.registry import CONNECTOR_REGISTRY_ENV as CONNECTOR_REGISTRY_ENV
from airbox.render.registry import (
    CONTAINERD_CONFIG_PATH_PATCH,
    LAUNCHER_REPOSITORY,
    REGISTRY_CA_FILE,
    from_registry,
    registry_node_dir,
)
from airbox.render.registry import JOB_PULL_SECRET_ENV as JOB_PULL_SECRET_ENV
from airbox.render.registry import PULL_SECRET_NAME as PULL_SECRET_NAME
from airbox.render.registry import pull_secret_manifest as pull_secret_manifest
from airbox.render.registry import registry_auth as registry_auth
from airbox.render.registry import registry_hosts_toml as registry_hosts_toml

# GCS: the Secret holds the key file a second time under the file's name (the row's
# ``file_key``, specs.GCP_CREDENTIALS_KEY: why there), and the launcher gets a volume
# showing it where its job pods have it, /secrets/gcp-creds.
GCP_CREDENTIALS_DIR = "/secrets/gcp-creds"
GCP_CREDENTIALS_VOLUME = "airbox-gcp-creds"

# The local object store (MinIO) airbox runs in the kind cluster when no storage is
# configured. The launcher and its job pods only write there (job logs, state); on
# airbyte-platform 1.8 the workload output reaches the control plane through its API.
LOCAL_STORE_PORT = 9000
LOCAL_STORE_BUCKET = "airbyte-storage"
LOCAL_STORE_JOB = "airbox-minio-buckets"
# Where the node sees the host directory that holds the store's data (kind extraMounts).
LOCAL_STORE_NODE_PATH = "/var/lib/airbox/storage"
# The local store's credentials: under the Secret keys the minio row names (its values
# are the minio row's, ``local_store_section``).
STORAGE_ACCESS_KEY_KEY = "AWS_ACCESS_KEY_ID"
STORAGE_SECRET_KEY_KEY = "AWS_SECRET_ACCESS_KEY"
# On the store's pod template: a fingerprint of the pair it runs with. MinIO reads its
# root credentials only when it starts, so a new pair must change the template (which
# restarts the store), and status compares it with the pair the Secret gives the pods.
STORE_CREDENTIALS_ANNOTATION = "airbox.airbyte.io/credentials"
# What the minio row's placeholders hold (``Section.helm_values``): the chart also renders
# its own Secret from storage.minio.accessKeyId/secretAccessKey, defaulting to
# minio/minio123. The pods read airbox's Secret; this keeps the chart's copy from
# holding a well-known credential.
NOT_HERE = f"(in Secret {SECRET_NAME})"


def local_store_endpoint(settings: Settings) -> str:
    return f"http://{LOCAL_STORE}.{settings.namespace}:{LOCAL_STORE_PORT}"


def local_store_section(settings: Settings) -> Section:
    """The store airbox runs next to the data plane, as the values see it: an
    S3-compatible store at an endpoint (the minio row), its credentials under the keys
    that row names (STORAGE_ACCESS_KEY_KEY/STORAGE_SECRET_KEY_KEY). The chart's own
    default names a MinIO Service nothing deploys, with well-known credentials."""
    return Section(
        STORAGES["minio"],
        {"endpoint": local_store_endpoint(settings)},
        dict.fromkeys(BUCKET_KEYS, LOCAL_STORE_BUCKET),
    )


def chart_secret_name(release: str) -> str:
    """The Secret the chart itself renders (``<release>-airbyte-data-plane-secrets``)."""
    return f"{release}-{versions.CHART_NAME}-secrets"


def secret_data(
    settings: Settings,
    *,
    placeholder_credentials: bool = False,
    local_credentials: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Every key of the generated Secret and its plain value.

    ``placeholder_credentials``: a dry run before registration has no data plane
    credentials yet; the keys are kept (so references can be checked) with a note.
    ``local_credentials``: the access key id and secret of the local store (generated
    per install), given only when airbox runs it.
    """
    data: dict[str, str] = {}
    if settings.data_plane is not None:
        data[DATA_PLANE_CLIENT_ID_KEY] = settings.data_plane.client_id
        data[DATA_PLANE_CLIENT_SECRET_KEY] = settings.data_plane.client_secret
    elif placeholder_credentials:
        data[DATA_PLANE_CLIENT_ID_KEY] = "<issued at registration>"
        data[DATA_PLANE_CLIENT_SECRET_KEY] = "<issued at registration>"
    if settings.license_key:
        data[LICENSE_KEY_KEY] = settings.license_key
    for section in settings.sections:
        data.update(section.secret_data())
    if local_credentials is not None:
        data[STORAGE_ACCESS_KEY_KEY], data[STORAGE_SECRET_KEY_KEY] = local_credentials
    data.update(proxy.secret_data(settings))
    return data


def secret_manifest(settings: Settings, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": settings.namespace,
            "labels": dict(MANAGED_BY_LABEL, **{"airbox.airbyte.io/data-plane": settings.name}),
        },
        "type": "Opaque",
        # stringData: the API server encodes it; data: would need base64 here.
        "stringData": dict(data),
    }


def namespace_manifest(settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings.namespace, "labels": dict(MANAGED_BY_LABEL)},
    }


def helm_values(settings: Settings) -> dict[str, Any]:
    """Values for airbyte-data-plane; no secret value, only Secret names and keys."""
    values: dict[str, Any] = {
        "airbyteUrl": settings.control_plane.url,
        "edition": settings.control_plane.edition,
        # Sections without their own secretName fall back to this one (the job pods'
        # container orchestrator included).
        "secretName": SECRET_NAME,
        "dataPlane": {
            "secretName": SECRET_NAME,
            "clientIdSecretName": SECRET_NAME,
            "clientIdSecretKey": DATA_PLANE_CLIENT_ID_KEY,
            "clientSecretSecretName": SECRET_NAME,
            "clientSecretSecretKey": DATA_PLANE_CLIENT_SECRET_KEY,
        },
        "secretsManager": settings.secrets_manager.helm_values(SECRET_NAME),
        # The chart's Role covers the release namespace only; job pods elsewhere
        # (the chart's default is "jobs") could never be started by the launcher.
        "workloads": {
            "namespace": settings.namespace,
            "containerOrchestrator": {"secretName": SECRET_NAME},
        },
    }
    if settings.license_key:
        values["enterprise"] = {"secretName": SECRET_NAME, "licenseKeySecretKey": LICENSE_KEY_KEY}
    storage = local_store_section(settings) if settings.runs_local_store else settings.storage
    if storage is not None:
        values["storage"] = storage.helm_values(SECRET_NAME)
    images = settings.images
    if images is not None:
        values["image"] = {
            "registry": images.registry,
            "repository": from_registry(images, LAUNCHER_REPOSITORY),
        }
        if images.has_credentials:
            values["imagePullSecrets"] = [{"name": PULL_SECRET_NAME}]
    extras = _launcher_extras(settings)
    merged = deep_merge(values, settings.values)
    marked = proxy.fingerprint(settings)
    if marked is not None:
        launcher = merged.setdefault("workloadLauncher", {})
        launcher["podAnnotations"] = {
            **(launcher.get("podAnnotations") or {}),
            proxy.PROXY_ANNOTATION: marked,
        }
    if extras:
        launcher = merged.setdefault("workloadLauncher", {})
        for key, ours in extras.items():
            launcher[key] = _merge_named(ours, launcher.get(key))
    return merged


def _launcher_extras(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Volumes, mounts and env the launcher needs beyond the chart's own wiring."""
    extras: dict[str, list[dict[str, Any]]] = {}
    # Secrets the launcher reads as files (the GCS key): their second key in the Secret.
    files = [
        fspec.file_key
        for section in settings.sections
        for fspec in section.spec.fields
        if fspec.file_key is not None
    ]
    if files:
        extras["volumes"] = [
            {
                "name": GCP_CREDENTIALS_VOLUME,
                "secret": {
                    "secretName": SECRET_NAME,
                    "items": [{"key": key, "path": key} for key in files],
                },
            }
        ]
        extras["volumeMounts"] = [
            {"name": GCP_CREDENTIALS_VOLUME, "mountPath": GCP_CREDENTIALS_DIR, "readOnly": True}
        ]
    # The settings from which the launcher builds its job pods' secretKeyRefs to the
    # secrets manager's credentials (secretrefs.CREDENTIAL_REFS); none for keyless auth.
    env = secretrefs.launcher_env(settings.secrets_manager, SECRET_NAME)
    # Fields the chart has no value for (Azure Key Vault's tags): their rows name the
    # launcher's variable.
    for section in settings.sections:
        env += section.launcher_env()
    images = settings.images
    if images is not None:
        env.append({"name": CONNECTOR_REGISTRY_ENV, "value": images.registry})
        if images.has_credentials:
            env.append({"name": JOB_PULL_SECRET_ENV, "value": PULL_SECRET_NAME})
    # The proxy, from the Secret (its URL may hold a password): the launcher's calls to
    # the control plane and the cloud go through it (render/proxy.py says how the JVM
    # takes it).
    env += proxy.pod_env(SECRET_NAME, settings)
    if env:
        extras["extraEnv"] = env
    return extras


def _merge_named(ours: list[dict[str, Any]], theirs: Any) -> list[dict[str, Any]]:
    """A user's ``values:`` list (volumes, env) plus airbox's entries it does not name."""
    given = list(theirs) if isinstance(theirs, list) else []
    names = {item.get("name") for item in given if isinstance(item, dict)}
    return [*given, *(item for item in ours if item["name"] not in names)]


def _secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key}}}


def credentials_fingerprint(access_key_id: str, secret_access_key: str) -> str:
    """A pair's fingerprint: tells two pairs apart, reveals nothing of either."""
    import hashlib

    digest = hashlib.sha256(f"airbox-store\0{access_key_id}\0{secret_access_key}".encode())
    return digest.hexdigest()[:16]


def local_store_manifests(
    settings: Settings, *, uid: int = 0, gid: int = 0, pair: tuple[str, str] | None = None
) -> list[dict[str, Any]]:
    """The local object store: a MinIO Deployment and Service, and a Job making the bucket.

    Its data lives in the host directory the kind node mounts (``kind_config``'s
    ``store_dir``), so re-creating the cluster keeps it; ``uid``/``gid``: the host user
    owning that directory, whom the store runs as (its files stay the user's). The
    credentials come from the Secret, in env vars only (never on a command line); the
    fingerprint of their ``pair`` marks the pod template, so a new pair restarts the store.
    """
    ns = settings.namespace
    labels = dict(
        MANAGED_BY_LABEL,
        **{"app.kubernetes.io/name": LOCAL_STORE, "airbox.airbyte.io/data-plane": settings.name},
    )
    selector = {"app.kubernetes.io/name": LOCAL_STORE}
    credentials = [
        _secret_env("MINIO_ROOT_USER", STORAGE_ACCESS_KEY_KEY),
        _secret_env("MINIO_ROOT_PASSWORD", STORAGE_SECRET_KEY_KEY),
    ]
    security = {"runAsUser": uid, "runAsGroup": gid, "fsGroup": gid}
    minio_image = from_registry(settings.images, versions.MINIO_IMAGE)
    pull = (
        {"imagePullSecrets": [{"name": PULL_SECRET_NAME}]}
        if settings.images is not None and settings.images.has_credentials
        else {}
    )
    ready = {
        "httpGet": {"path": "/minio/health/ready", "port": LOCAL_STORE_PORT},
        "periodSeconds": 5,
    }
    live = {
        "httpGet": {"path": "/minio/health/live", "port": LOCAL_STORE_PORT},
        "periodSeconds": 10,
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": LOCAL_STORE, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            # One writer of the data directory at a time.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": labels,
                    **(
                        {
                            "annotations": {
                                STORE_CREDENTIALS_ANNOTATION: credentials_fingerprint(*pair)
                            }
                        }
                        if pair
                        else {}
                    ),
                },
                "spec": {
                    **pull,
                    "securityContext": security,
                    "containers": [
                        {
                            "name": "minio",
                            "image": minio_image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["server", "/data", "--address", f":{LOCAL_STORE_PORT}"],
                            "env": [*credentials, {"name": "MINIO_BROWSER", "value": "off"}],
                            "ports": [{"name": "s3", "containerPort": LOCAL_STORE_PORT}],
                            "readinessProbe": ready,
                            "livenessProbe": live,
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "data",
                            "hostPath": {"path": LOCAL_STORE_NODE_PATH, "type": "Directory"},
                        }
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": LOCAL_STORE, "namespace": ns, "labels": labels},
        "spec": {
            "selector": selector,
            "ports": [{"name": "s3", "port": LOCAL_STORE_PORT, "targetPort": LOCAL_STORE_PORT}],
        },
    }
    # mc reads the server and its credentials from MC_HOST_<alias>, built in the shell
    # from the env: nothing secret on a command line. It retries until the server answers.
    script = (
        f'export MC_HOST_store="http://${{MINIO_ROOT_USER}}:${{MINIO_ROOT_PASSWORD}}@'
        f'{LOCAL_STORE}:{LOCAL_STORE_PORT}"; '
        f"until mc mb --ignore-existing store/{LOCAL_STORE_BUCKET}; do sleep 2; done"
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": LOCAL_STORE_JOB, "namespace": ns, "labels": labels},
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **pull,
                    "restartPolicy": "OnFailure",
                    "securityContext": security,
                    "containers": [
                        {
                            "name": "buckets",
                            "image": minio_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "-c", script],
                            "env": [*credentials, {"name": "MC_CONFIG_DIR", "value": "/tmp/mc"}],
                        }
                    ],
                },
            },
        },
    }
    return [deployment, service, job]


def kind_config(
    settings: Settings,
    *,
    cgroup_v1: bool = False,
    store_dir: str | None = None,
    registry_hosts: str | None = None,
    registry_ca: str | None = None,
) -> dict[str, Any]:
    """The kind cluster; ``cgroup_v1``: the host's cgroup version decides the node image.

    ``store_dir``: the host directory holding the local store's data, mounted into the
    node when airbox runs the store. ``registry_hosts``: the host file holding
    ``registry_hosts_toml`` (with ``images`` set), mounted where containerd reads it;
    ``registry_ca``: airbox's copy of the registry's CA (default: the answers' caFile).
    """
    image = versions.node_image(cgroup_v1=cgroup_v1)
    if settings.bundle or settings.images is not None:
        # Loaded from an offline bundle: `docker load` keeps the tag, not the digest (the
        # daemon records a repository digest only for what it pulled), and kind pulls a
        # reference it does not find locally. From a private registry: airbox pulls
        # <registry>/kindest/node by the pinned digest, checks it and tags it with this
        # name (ops/install.py node_pull); the daemon records only the mirror's repository
        # digest, so the pinned kindest/node@sha256 reference would send kind to Docker Hub.
        image = image.split("@", 1)[0]
    node: dict[str, Any] = {
        "role": "control-plane",
        "image": image,
        "labels": {"airbox.airbyte.io/data-plane": settings.name},
    }
    mounts: list[dict[str, Any]] = []
    if store_dir is not None:
        mounts.append({"hostPath": store_dir, "containerPath": LOCAL_STORE_NODE_PATH})
    images = settings.images
    if images is not None:
        node_dir = registry_node_dir(images)
        if registry_hosts is not None:
            mounts.append(
                {
                    "hostPath": registry_hosts,
                    "containerPath": f"{node_dir}/hosts.toml",
                    "readOnly": True,
                }
            )
        if images.ca_file:
            from pathlib import Path

            ca = registry_ca or str(Path(images.ca_file).expanduser().absolute())
            mounts.append(
                {
                    "hostPath": ca,
                    "containerPath": f"{node_dir}/{REGISTRY_CA_FILE}",
                    "readOnly": True,
                }
            )
    if mounts:
        node["extraMounts"] = mounts
    config: dict[str, Any] = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": settings.cluster_name,
        "nodes": [node],
        # The API server listens on loopback only: nothing outside the VM reaches it.
        "networking": {"apiServerAddress": "127.0.0.1"},
    }
    if images is not None:
        config["containerdConfigPatches"] = [CONTAINERD_CONFIG_PATH_PATCH]
    from airbox.render import jobproxy

    if jobproxy.wanted(settings):
        # The API that carries the proxy into job pods (render/jobproxy.py): beta in the
        # pinned Kubernetes 1.34/1.35, off unless both are set.
        config["featureGates"] = {jobproxy.FEATURE_GATE: True}
        config["runtimeConfig"] = dict(jobproxy.RUNTIME_CONFIG)
    return config
