"""What airbox hands to Kubernetes, Helm and kind: pure functions of the settings.

- ``secret_manifest``: the Secret ``airbyte-config-secrets`` holding every credential.
- ``helm_values``: values for airbyte-data-plane that *reference* that Secret and
  hold no secret value.
- ``kind_config``: the kind cluster ``airbox-<name>``.

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
    DATA_PLANE_CLIENT_ID_KEY,
    DATA_PLANE_CLIENT_SECRET_KEY,
    LICENSE_KEY_KEY,
    Section,
    Settings,
    load_service_account,
)

SECRET_NAME = "airbyte-config-secrets"
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "airbox"}


def chart_secret_name(release: str) -> str:
    """The Secret the chart itself renders (``<release>-airbyte-data-plane-secrets``)."""
    return f"{release}-{versions.CHART_NAME}-secrets"


def secret_data(settings: Settings, *, placeholder_credentials: bool = False) -> dict[str, str]:
    """Every key of the generated Secret and its plain value.

    ``placeholder_credentials``: a dry run before registration has no data plane
    credentials yet; the keys are kept (so references can be checked) with a note.
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
    data.update(_section_secrets(settings.secrets_manager))
    if settings.storage is not None:
        data.update(_section_secrets(settings.storage.section))
    return data


def _section_secrets(section: Section) -> dict[str, str]:
    data: dict[str, str] = {}
    for fspec in section.spec.fields:
        if fspec.secret_key is None:
            continue
        value = section.value(fspec.key)
        if fspec.kind == "json-file" and value:
            content, _ = load_service_account(str(value))
            value = content
        # Inapplicable (instanceProfile) or absent: the key must still exist.
        data[fspec.secret_key] = str(value) if value and fspec.applies(section.options) else ""
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


def _section_values(section: Section) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for fspec in section.spec.fields:
        if fspec.secret_key is not None:
            if fspec.values_ref:
                values[fspec.values_ref] = fspec.secret_key
            continue
        value = section.value(fspec.key)
        if value in (None, "", {}):
            continue
        if fspec.kind == "tags" and section.spec.section == "awsSecretManager":
            # The chart wants a list of {key, value} for AWS tags.
            value = [{"key": str(k), "value": str(v)} for k, v in value.items()]
        values[fspec.key] = value
    return values


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
        "secretsManager": {
            "type": settings.secrets_manager.type,
            "secretName": SECRET_NAME,
            settings.secrets_manager.spec.section: _section_values(settings.secrets_manager),
        },
        # The chart's Role covers the release namespace only; job pods elsewhere
        # (the chart's default is "jobs") could never be started by the launcher.
        "workloads": {
            "namespace": settings.namespace,
            "containerOrchestrator": {"secretName": SECRET_NAME},
        },
    }
    if settings.license_key:
        values["enterprise"] = {
            "secretName": SECRET_NAME,
            "licenseKeySecretKey": LICENSE_KEY_KEY,
        }
    if settings.storage is not None:
        values["storage"] = {
            "secretName": SECRET_NAME,
            "type": settings.storage.section.type,
            "bucket": dict(settings.storage.buckets),
            settings.storage.section.spec.section: _section_values(settings.storage.section),
        }
    else:
        # The chart's default storage reads its (non-secret, default) keys from the
        # Secret the chart renders itself; keep it pointed there.
        values["storage"] = {"secretName": chart_secret_name(settings.release)}
    return deep_merge(values, settings.values)


def kind_config(settings: Settings, *, cgroup_v1: bool = False) -> dict[str, Any]:
    """The kind cluster; ``cgroup_v1``: the host's cgroup version decides the node image."""
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": settings.cluster_name,
        "nodes": [
            {
                "role": "control-plane",
                "image": versions.node_image(cgroup_v1=cgroup_v1),
                "labels": {"airbox.airbyte.io/data-plane": settings.name},
            }
        ],
        # The API server listens on loopback only: nothing outside the VM reaches it.
        "networking": {"apiServerAddress": "127.0.0.1"},
    }
