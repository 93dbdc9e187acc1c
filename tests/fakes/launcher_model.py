"""A model of the workload launcher's job pods for the fakes: their init container's env.

Written from reading airbytehq/airbyte-platform (not copied from it):
airbyte-workload-launcher/src/main/kotlin/config/EnvVarConfigBeanFactory.kt,
``initEnvVars``, builds the init container's environment from the launcher's own
settings. The secrets manager's plain settings (``secretPersistenceEnvMap``) go over as
values. Its credentials (``secretPersistenceSecretsEnvMap``) go over only as
``secretKeyRef``s built from pairs of settings naming a Secret and a key — a pair with a
blank half is left out ("kube will fail to create the pod"), and the launcher's own
credential values are never copied. The data plane's credentials
(``dataplaneCredentialsSecretsEnvMap``) likewise, from DATAPLANE_CLIENT_*_SECRET_NAME /
_SECRET_KEY. The settings' names are those of the launcher's
src/main/resources/application.yml (``airbyte.secret.store``), Azure's typos included.

Kept apart from airbox's own table (airbox/render/secretrefs.py) on purpose: the fake
must not agree with airbox by construction. tests/test_chart_contract.py checks both
against the platform's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The init container's name (the launcher's InitContainerFactory).
INIT_CONTAINER = "init"

# init container variable -> (setting naming the Secret, setting naming the key)
SECRET_REFS: dict[str, tuple[str, str]] = {
    "SECRET_STORE_GCP_CREDENTIALS": ("SECRET_STORE_GCP_SECRET_NAME", "SECRET_STORE_GCP_SECRET_KEY"),
    "AWS_SECRET_MANAGER_ACCESS_KEY_ID": (
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME",
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_KEY",
    ),
    "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY": (
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_NAME",
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY",
    ),
    "AB_AZURE_KEY_VAULT_CLIENT_ID": (
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY",
    ),
    "AB_AZURE_KEY_VAULT_CLIENT_SECRET": (
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY",
    ),
    "VAULT_AUTH_TOKEN": ("VAULT_AUTH_TOKEN_REF_NAME", "VAULT_AUTH_TOKEN_REF_KEY"),
}
DATAPLANE_REFS: dict[str, tuple[str, str]] = {
    "DATAPLANE_CLIENT_ID": ("DATAPLANE_CLIENT_ID_SECRET_NAME", "DATAPLANE_CLIENT_ID_SECRET_KEY"),
    "DATAPLANE_CLIENT_SECRET": (
        "DATAPLANE_CLIENT_SECRET_SECRET_NAME",
        "DATAPLANE_CLIENT_SECRET_SECRET_KEY",
    ),
}
# secretPersistenceEnvMap: plain values (the GCP region only when set).
PLAIN = (
    "SECRET_PERSISTENCE",
    "SECRET_STORE_GCP_PROJECT_ID",
    "SECRET_STORE_GCP_REGION",
    "AWS_SECRET_MANAGER_REGION",
    "AWS_KMS_KEY_ARN",
    "AWS_SECRET_MANAGER_SECRET_TAGS",
    "AB_AZURE_KEY_VAULT_VAULT_URL",
    "AB_AZURE_KEY_VAULT_TENANT_ID",
    "AB_AZURE_KEY_VAULT_TAGS",
    "VAULT_ADDRESS",
    "VAULT_PREFIX",
)


def launcher_env(
    launcher: Mapping[str, Any], configmaps: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The launcher container's plain settings: its ConfigMap (envFrom, configMapKeyRef)
    and literal values. Secret references carry no plain value."""
    spec = ((launcher.get("spec") or {}).get("template") or {}).get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            env.update({str(k): str(v) for k, v in (configmaps.get(ref["name"]) or {}).items()})
    for entry in container.get("env") or []:
        if "value" in entry:
            env[str(entry["name"])] = "" if entry["value"] is None else str(entry["value"])
            continue
        ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref.get("key") in (configmaps.get(ref.get("name")) or {}):
            env[str(entry["name"])] = str(configmaps[ref["name"]][ref["key"]])
    return env


def init_env(launcher: Mapping[str, str]) -> list[dict[str, Any]]:
    """The init container's env, as the launcher with these settings builds it."""
    env: list[dict[str, Any]] = []
    for name in PLAIN:
        value = launcher.get(name, "")
        if name == "SECRET_STORE_GCP_REGION" and not value.strip():
            continue
        env.append({"name": name, "value": value})
    for refs in (SECRET_REFS, DATAPLANE_REFS):
        for variable, (name_setting, key_setting) in refs.items():
            secret = launcher.get(name_setting, "")
            key = launcher.get(key_setting, "")
            if secret.strip() and key.strip():
                env.append(
                    {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
                )
    return env


def init_container(launcher: Mapping[str, str]) -> dict[str, Any]:
    image = launcher.get("WORKLOAD_INIT_IMAGE") or "airbyte/workload-init-container"
    return {"name": INIT_CONTAINER, "image": image, "env": init_env(launcher)}
