"""A private registry (answers ``images``): the names images have there, the pull Secret
pods pull them with (and every form of its credentials, to be masked), the credentials the
host's Docker pulls with, and containerd's settings in the kind node.
"""

from __future__ import annotations

from typing import Any

from airbox.config.settings import Images, Settings
from airbox.render.names import MANAGED_BY_LABEL

# A private registry (answers ``images``). The chart (1.8.1, templates/config/_images.tpl
# "imageUrl") puts image.registry before the job pods' images (orchestrator, sidecar,
# init, profiler) but not before the launcher's own (deployment.yaml uses
# image.repository alone), so the launcher's repository carries the registry itself.
# Connector images are named by the control plane; the launcher prefixes them with
# JOB_KUBE_CONNECTOR_IMAGE_REGISTRY (airbyte-platform: airbyte.worker.job.kube.
# connector-image-registry, AirbyteWorkerJobKubernetesConfig.connectorImageRegistry);
# the chart sets nothing for it.
PULL_SECRET_NAME = "airbox-registry-credentials"
LAUNCHER_REPOSITORY = "airbyte/workload-launcher"
CONNECTOR_REGISTRY_ENV = "JOB_KUBE_CONNECTOR_IMAGE_REGISTRY"
# The chart joins imagePullSecrets (a list of {name}) into this setting as text, which
# renders "map[name:...]," (templates/config/_jobs.tpl); the launcher splits it on ','
# into the job pods' pull secrets (EnvConfigs.getJobKubeMainContainerImagePullSecrets).
# airbox's entry, later in the env list, is the one the container sees.
JOB_PULL_SECRET_ENV = "JOB_KUBE_MAIN_CONTAINER_IMAGE_PULL_SECRET"
# containerd's per-registry settings in the node (hosts.toml and the CA, kind extraMounts).
CONTAINERD_HOSTS_DIR = "/etc/containerd/certs.d"
REGISTRY_CA_FILE = "ca.crt"
# kind's default since v0.20, stated so a node image with another default still reads it.
CONTAINERD_CONFIG_PATH_PATCH = (
    f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CONTAINERD_HOSTS_DIR}"\n'
)


def from_registry(images: Images | None, image: str) -> str:
    """``image`` as the registry serves it: its path without the public registry's host
    (quay.io/minio/minio:TAG is <registry>/minio/minio:TAG, as mirrors name it)."""
    if images is None:
        return image
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        image = rest
    return f"{images.registry}/{image}"


def docker_config_json(images: Images) -> str:
    """The ``.dockerconfigjson`` of the pull Secret: the user's, or one for user/password."""
    import base64
    import json

    if images.docker_config_json:
        return images.docker_config_json
    user, password = images.username or "", images.password or ""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps(
        {"auths": {images.host: {"username": user, "password": password, "auth": auth}}}
    )


def pull_secret_values(images: Images) -> list[str]:
    """Every form of the registry credentials that could reach output: to be masked."""
    import base64

    text = docker_config_json(images)
    found = [text, base64.b64encode(text.encode()).decode()]
    if images.username and images.password:
        found.append(base64.b64encode(f"{images.username}:{images.password}".encode()).decode())
    return [value for value in found if value]


def registry_auth(images: Images | None) -> dict[str, str] | None:
    """The username and password the host's Docker pulls the registry's images with (the
    pull Secret's, read from the Docker config when that is what was given)."""
    import base64
    import json

    if images is None or not images.has_credentials:
        return None
    if not images.docker_config_json:
        return {"username": images.username or "", "password": images.password or ""}
    entry = (json.loads(images.docker_config_json).get("auths") or {}).get(images.host)
    if not isinstance(entry, dict):
        return None
    if entry.get("username") and entry.get("password"):
        return {"username": str(entry["username"]), "password": str(entry["password"])}
    if entry.get("auth"):
        user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        return {"username": user, "password": password}
    return None


def pull_secret_manifest(settings: Settings) -> dict[str, Any] | None:
    """The Secret (kubernetes.io/dockerconfigjson) pods pull the registry's images with."""
    images = settings.images
    if images is None or not images.has_credentials:
        return None
    labels = dict(MANAGED_BY_LABEL, **{"airbox.airbyte.io/data-plane": settings.name})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PULL_SECRET_NAME, "namespace": settings.namespace, "labels": labels},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": docker_config_json(images)},
    }


def registry_hosts_toml(images: Images) -> str:
    """containerd's hosts.toml for the registry (kind's nodes read registry settings from
    /etc/containerd/certs.d/<host>/hosts.toml; since kind v0.20 the older inline
    ``registry.mirrors``/``configs`` conflict with that and stop containerd): HTTPS
    checked against the given CA, or plain HTTP only when the user said ``insecure``.
    No credentials here: pods pull with the Secret."""
    scheme = "http" if images.insecure else "https"
    server = f"{scheme}://{images.host}"
    lines = [
        f'server = "{server}"',
        "",
        f'[host."{server}"]',
        '  capabilities = ["pull", "resolve"]',
    ]
    if images.ca_file:
        lines.append(f'  ca = "{registry_node_dir(images)}/{REGISTRY_CA_FILE}"')
    return "\n".join(lines) + "\n"


def registry_node_dir(images: Images) -> str:
    return f"{CONTAINERD_HOSTS_DIR}/{images.host}"
