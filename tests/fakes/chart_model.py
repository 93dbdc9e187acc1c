"""A model of how airbyte-data-plane 1.8.1 wires credentials, for the fake helm.

Written from reading the chart's templates (not copied from them): which env vars of
the launcher's Deployment are ``secretKeyRef``s, which Secret each one names, which
key it reads, and which keys the chart's own Secret holds. The fake helm renders this
for ``helm template`` and uses it to decide whether the launcher pod can start, so
tests catch a generated Secret that misses a key the chart references — the property
tests/test_chart_contract.py checks against the real chart where that is available.
"""

from __future__ import annotations

from typing import Any

CHART = "airbyte-data-plane"
CONTAINER = "airbyte-data-plane"

# (type, env var, values sub-path for the key override, default key)
_SECRETS_MANAGER_REFS: dict[str, list[tuple[str, str, str]]] = {
    "AWS_SECRET_MANAGER": [
        (
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
            "awsSecretManager.accessKeyIdSecretKey",
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
        ),
        (
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
            "awsSecretManager.secretAccessKeySecretKey",
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
        ),
    ],
    "AZURE_KEY_VAULT": [
        (
            "AB_AZURE_KEY_VAULT_CLIENT_ID",
            "azureKeyVault.clientIdSecretKey",
            "AB_AZURE_KEY_VAULT_CLIENT_ID",
        ),
        (
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
            "azureKeyVault.clientSecretSecretKey",
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
        ),
    ],
    "GOOGLE_SECRET_MANAGER": [
        (
            "SECRET_STORE_GCP_CREDENTIALS",
            "googleSecretManager.credentialsSecretKey",
            "SECRET_STORE_GCP_CREDENTIALS",
        )
    ],
    "VAULT": [("VAULT_AUTH_TOKEN", "vault.authTokenSecretKey", "VAULT_AUTH_TOKEN")],
}

_STORAGE_REFS: dict[str, list[tuple[str, str, str]]] = {
    "minio": [
        ("AWS_ACCESS_KEY_ID", "minio.accessKeyIdSecretKey", "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "minio.secretAccessKeySecretKey", "AWS_SECRET_ACCESS_KEY"),
    ],
    "s3": [
        ("AWS_ACCESS_KEY_ID", "s3.accessKeyIdSecretKey", "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "s3.secretAccessKeySecretKey", "AWS_SECRET_ACCESS_KEY"),
    ],
    "gcs": [
        (
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            "gcs.credentialsJsonSecretKey",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        )
    ],
    "azure": [
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            "azure.connectionStringSecretKey",
            "AZURE_STORAGE_CONNECTION_STRING",
        )
    ],
}


def _dig(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _secret_name(values: dict[str, Any], section: str, release: str) -> str:
    return str(
        _dig(values, f"{section}.secretName")
        or values.get("secretName")
        or f"{release}-{CHART}-secrets"
    )


def secret_refs(release: str, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(env var, Secret name, key) of every secretKeyRef the launcher gets."""
    refs = [
        (
            "DATAPLANE_CLIENT_ID",
            _secret_name(values, "dataPlane", release),
            str(_dig(values, "dataPlane.clientIdSecretKey") or "DATAPLANE_CLIENT_ID"),
        ),
        (
            "DATAPLANE_CLIENT_SECRET",
            _secret_name(values, "dataPlane", release),
            str(_dig(values, "dataPlane.clientSecretSecretKey") or "DATAPLANE_CLIENT_SECRET"),
        ),
    ]
    sm_type = str(_dig(values, "secretsManager.type") or "vault")
    for env, override, default in _SECRETS_MANAGER_REFS.get(sm_type, []):
        refs.append(
            (
                env,
                _secret_name(values, "secretsManager", release),
                str(_dig(values, f"secretsManager.{override}") or default),
            )
        )
    st_type = str(_dig(values, "storage.type") or "minio")
    for env, override, default in _STORAGE_REFS.get(st_type, []):
        refs.append(
            (
                env,
                _secret_name(values, "storage", release),
                str(_dig(values, f"storage.{override}") or default),
            )
        )
    if values.get("edition") == "enterprise":
        refs.append(
            (
                "AIRBYTE_LICENSE_KEY",
                _secret_name(values, "enterprise", release),
                str(_dig(values, "enterprise.licenseKeySecretKey") or "AIRBYTE_LICENSE_KEY"),
            )
        )
    return refs


def chart_secret_keys(values: dict[str, Any]) -> dict[str, str]:
    """The chart's own Secret: the inline values under their *default* key names."""
    keys = {
        "DATAPLANE_CLIENT_ID": str(_dig(values, "dataPlane.clientId") or ""),
        "DATAPLANE_CLIENT_SECRET": str(_dig(values, "dataPlane.clientSecret") or ""),
        "AIRBYTE_LICENSE_KEY": str(_dig(values, "enterprise.licenseKey") or ""),
    }
    sm_type = str(_dig(values, "secretsManager.type") or "vault")
    for _, _, default in _SECRETS_MANAGER_REFS.get(sm_type, []):
        keys[default] = ""
    st_type = str(_dig(values, "storage.type") or "minio")
    for _, _, default in _STORAGE_REFS.get(st_type, []):
        keys[default] = ""
    if st_type == "minio":
        keys["AWS_ACCESS_KEY_ID"] = str(_dig(values, "storage.minio.accessKeyId") or "minio")
        keys["AWS_SECRET_ACCESS_KEY"] = str(
            _dig(values, "storage.minio.secretAccessKey") or "minio123"
        )
    return keys


def launcher_config(values: dict[str, Any]) -> dict[str, str]:
    """What the chart's ConfigMap tells the launcher about the secrets manager and the
    data plane's credentials (a plain value each)."""
    config = {"SECRET_PERSISTENCE": str(_dig(values, "secretsManager.type") or "vault")}
    for what, default in (
        ("clientId", "DATAPLANE_CLIENT_ID"),
        ("clientSecret", "DATAPLANE_CLIENT_SECRET"),
    ):
        config[f"{default}_SECRET_NAME"] = str(
            _dig(values, f"dataPlane.{what}SecretName")
            or _dig(values, "dataPlane.secretName")
            or values.get("secretName")
            or ""
        )
        config[f"{default}_SECRET_KEY"] = str(_dig(values, f"dataPlane.{what}SecretKey") or default)
    return config


def extra_env(values: dict[str, Any]) -> list[dict[str, Any]]:
    """``workloadLauncher.extraEnv``: appended as given after the chart's own env."""
    given = _dig(values, "workloadLauncher.extraEnv")
    return [dict(item) for item in given] if isinstance(given, list) else []


def fullname(release: str, values: dict[str, Any]) -> str:
    """The Deployment's name: the release alone when it holds the chart's name."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])[:63].rstrip("-")
    chart = str(values.get("nameOverride") or CHART)
    return (release if chart in release else f"{release}-{chart}")[:63].rstrip("-")


def launcher_image(values: dict[str, Any], app_version: str) -> str:
    """``image.repository:image.tag`` (the tag defaulting to appVersion)."""
    return (
        f"{_dig(values, 'image.repository') or 'airbyte/workload-launcher'}:"
        f"{_dig(values, 'image.tag') or app_version}"
    )


def render(
    release: str, namespace: str, values: dict[str, Any], app_version: str
) -> list[dict[str, Any]]:
    """What ``helm template`` prints, as documents (the credential-relevant part)."""
    # The Secret and ConfigMap are named after the release whatever its name; only the
    # Deployment follows the chart's fullname rule.
    full = f"{release}-{CHART}"
    labels = {
        "app.kubernetes.io/name": str(values.get("nameOverride") or CHART),
        "app.kubernetes.io/instance": release,
    }
    env = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for var, name, key in secret_refs(release, values)
    ] + extra_env(values)
    workloads_ns = _dig(values, "workloads.namespace")
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{full}-secrets", "namespace": namespace, "labels": labels},
            "type": "Opaque",
            "stringData": chart_secret_keys(values),
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{full}-env", "namespace": namespace, "labels": labels},
            "data": {
                "AIRBYTE_URL": str(values.get("airbyteUrl") or ""),
                "AIRBYTE_EDITION": str(values.get("edition") or "community"),
                "WORKLOADS_NAMESPACE": str(workloads_ns if workloads_ns is not None else "jobs")
                or namespace,
                **launcher_config(values),
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": fullname(release, values),
                "namespace": namespace,
                "labels": labels,
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "airbyte-workload-launcher",
                        "containers": [
                            {
                                "name": CONTAINER,
                                "image": launcher_image(values, app_version),
                                "envFrom": [{"configMapRef": {"name": f"{full}-env"}}],
                                "env": env,
                            }
                        ],
                    },
                },
            },
        },
    ]
