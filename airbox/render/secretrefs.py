"""How the secrets manager's credentials reach a job pod: what the platform reads, where
airbox puts it.

In a job pod only the init container hydrates connector secrets, and it reads the
secrets manager's credentials from its environment. The workload launcher never copies
its own credential values there: it hands each one over as a ``secretKeyRef`` built
from two of its settings, one naming the Secret and one the key, and leaves out a pair
with a blank half. Chart 1.8.1 renders none of those settings (Azure's under names the
launcher never reads), so airbox passes them itself (``workloadLauncher.extraEnv``),
naming its own Secret and the key it keeps each credential under.

The platform's side, airbytehq/airbyte-platform (the names are its own, typos included):
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airbox.config.settings import SECRETS_MANAGERS, Section

PLATFORM_SOURCES = (
    # The settings, under airbyte.secret.store.<manager>.*-ref-name / *-ref-key.
    "airbyte-workload-launcher/src/main/resources/application.yml",
    # secretPersistenceSecretsEnvMap: each pair becomes the init container's secretKeyRef.
    "airbyte-workload-launcher/src/main/kotlin/config/EnvVarConfigBeanFactory.kt",
)


@dataclass(frozen=True)
class CredentialRef:
    """One credential a job pod's init container needs from the secrets manager."""

    manager: str  # secretsManager.type
    field: str  # the answers field holding it; its Secret key is where airbox puts it
    variable: str  # what the init container reads (the launcher's EnvVarConstants)
    ref_name: str  # the launcher setting naming the Secret
    ref_key: str  # the launcher setting naming the key in it

    @property
    def secret_key(self) -> str:
        """The key of airbox's Secret holding the credential."""
        key = SECRETS_MANAGERS[self.manager].field(self.field).secret_key
        assert key is not None, self
        return key

    @property
    def manager_label(self) -> str:
        return SECRETS_MANAGERS[self.manager].label


# What the platform reads → where airbox puts it (the Secret key of ``field``).
CREDENTIAL_REFS: tuple[CredentialRef, ...] = (
    CredentialRef(
        "AWS_SECRET_MANAGER",
        "accessKeyId",
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME",
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_KEY",
    ),
    CredentialRef(
        "AWS_SECRET_MANAGER",
        "secretAccessKey",
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_NAME",
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY",
    ),
    CredentialRef(
        "GOOGLE_SECRET_MANAGER",
        "credentialsJson",
        "SECRET_STORE_GCP_CREDENTIALS",
        "SECRET_STORE_GCP_SECRET_NAME",
        "SECRET_STORE_GCP_SECRET_KEY",
    ),
    CredentialRef(
        "VAULT",
        "authToken",
        "VAULT_AUTH_TOKEN",
        "VAULT_AUTH_TOKEN_REF_NAME",
        "VAULT_AUTH_TOKEN_REF_KEY",
    ),
    # Sic: the launcher reads _REF_REF_KEY for the client id, and _REF_REF_NAME and
    # _REF_REF_KEY for the client secret.
    CredentialRef(
        "AZURE_KEY_VAULT",
        "clientId",
        "AB_AZURE_KEY_VAULT_CLIENT_ID",
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY",
    ),
    CredentialRef(
        "AZURE_KEY_VAULT",
        "clientSecret",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY",
    ),
)


def needed(section: Section) -> list[CredentialRef]:
    """The credentials job pods need for this secrets manager. None for keyless auth (an
    AWS instance profile): the init container then uses the default credentials chain."""
    return [
        ref
        for ref in CREDENTIAL_REFS
        if ref.manager == section.type and section.spec.field(ref.field).applies(section.options)
    ]


def launcher_env(section: Section, secret_name: str) -> list[dict[str, Any]]:
    """The launcher settings that hand this manager's credentials to its job pods."""
    env: list[dict[str, Any]] = []
    for ref in needed(section):
        env.append({"name": ref.ref_name, "value": secret_name})
        env.append({"name": ref.ref_key, "value": ref.secret_key})
    return env


def setting_names(refs: Iterable[CredentialRef] = CREDENTIAL_REFS) -> list[str]:
    """Every launcher setting of ``refs`` (the ``*_REF_*`` names)."""
    return [name for ref in refs for name in (ref.ref_name, ref.ref_key)]
