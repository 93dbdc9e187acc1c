"""What airbox hands to Kubernetes, Helm and kind, pinned by exact value per section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airbox.config.settings import Settings
from airbox.render import manifests
from tests.answers_factory import SECRETS, answers

S = "airbyte-config-secrets"
DP = {"DATAPLANE_CLIENT_ID": SECRETS["dp_id"], "DATAPLANE_CLIENT_SECRET": SECRETS["dp_secret"]}
DP_VALUES = {
    "secretName": S,
    "clientIdSecretName": S,
    "clientIdSecretKey": "DATAPLANE_CLIENT_ID",
    "clientSecretSecretName": S,
    "clientSecretSecretKey": "DATAPLANE_CLIENT_SECRET",
}


def _settings(tmp_path: Path, sm: str = "vault", st: str = "default", **kw: Any) -> Settings:
    return Settings.from_answers(answers(sm, st, directory=tmp_path, **kw))


def _sa_json(tmp_path: Path) -> str:
    return (tmp_path / "sa.json").read_text()


# Per secrets manager: (the Secret's keys beyond the data plane's, the values' section).
def _sm_expected(sm: str, tmp_path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    return {
        "aws-keys": (
            {
                "AWS_SECRET_MANAGER_ACCESS_KEY_ID": SECRETS["sm_access"],
                "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY": SECRETS["sm_secret"],
            },
            {
                "type": "AWS_SECRET_MANAGER",
                "secretName": S,
                "awsSecretManager": {
                    "region": "us-west-2",
                    "authenticationType": "credentials",
                    "accessKeyIdSecretKey": "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
                    "secretAccessKeySecretKey": "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
                    "kmsArn": "arn:aws:kms:us-west-2:123456789012:key/abc",
                    "tags": [{"key": "team", "value": "data"}],
                },
            },
        ),
        "aws-instance-profile": (
            # The chart references the keys whatever the type: present, empty.
            {"AWS_SECRET_MANAGER_ACCESS_KEY_ID": "", "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY": ""},
            {
                "type": "AWS_SECRET_MANAGER",
                "secretName": S,
                "awsSecretManager": {
                    "region": "us-west-2",
                    "authenticationType": "instanceProfile",
                    "accessKeyIdSecretKey": "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
                    "secretAccessKeySecretKey": "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
                },
            },
        ),
        "google": (
            {"SECRET_STORE_GCP_CREDENTIALS": _sa_json(tmp_path)},
            {
                "type": "GOOGLE_SECRET_MANAGER",
                "secretName": S,
                "googleSecretManager": {
                    "projectId": "my-project",
                    "region": "us-central1",
                    "credentialsSecretKey": "SECRET_STORE_GCP_CREDENTIALS",
                },
            },
        ),
        "azure-key-vault": (
            {
                "AB_AZURE_KEY_VAULT_CLIENT_ID": SECRETS["akv_id"],
                "AB_AZURE_KEY_VAULT_CLIENT_SECRET": SECRETS["akv_secret"],
            },
            {
                "type": "AZURE_KEY_VAULT",
                "secretName": S,
                "azureKeyVault": {
                    "tenantId": "00000000-0000-0000-0000-000000000001",
                    "vaultUrl": "https://my-vault.vault.azure.net/",
                    "clientIdSecretKey": "AB_AZURE_KEY_VAULT_CLIENT_ID",
                    "clientSecretSecretKey": "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
                },
            },
        ),
        "vault": (
            {"VAULT_AUTH_TOKEN": SECRETS["vault"]},
            {
                "type": "VAULT",
                "secretName": S,
                "vault": {
                    "address": "https://vault.example.com:8200",
                    "prefix": "airbyte/",
                    "authTokenSecretKey": "VAULT_AUTH_TOKEN",
                },
            },
        ),
    }[sm]


def _st_expected(st: str, tmp_path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    four = dict.fromkeys(("log", "state", "workloadOutput", "activityPayload"), "bkt")
    cases: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
        "default": ({}, {"secretName": "dp1-airbyte-data-plane-secrets"}),
        "s3-keys": (
            {
                "AWS_ACCESS_KEY_ID": SECRETS["s3_access"],
                "AWS_SECRET_ACCESS_KEY": SECRETS["s3_secret"],
            },
            {
                "secretName": S,
                "type": "s3",
                "bucket": four,
                "s3": {
                    "region": "us-west-2",
                    "authenticationType": "credentials",
                    "accessKeyIdSecretKey": "AWS_ACCESS_KEY_ID",
                    "secretAccessKeySecretKey": "AWS_SECRET_ACCESS_KEY",
                },
            },
        ),
        "s3-instance-profile": (
            {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
            {
                "secretName": S,
                "type": "s3",
                # Uses left out fall back to the first bucket given.
                "bucket": {
                    "log": "logs",
                    "state": "state",
                    "workloadOutput": "logs",
                    "activityPayload": "logs",
                },
                "s3": {
                    "region": "us-west-2",
                    "authenticationType": "instanceProfile",
                    "accessKeyIdSecretKey": "AWS_ACCESS_KEY_ID",
                    "secretAccessKeySecretKey": "AWS_SECRET_ACCESS_KEY",
                },
            },
        ),
        "gcs": (
            # The key file also under its file name: the launcher mounts it as gcp.json.
            {
                "GOOGLE_APPLICATION_CREDENTIALS_JSON": _sa_json(tmp_path),
                "gcp.json": _sa_json(tmp_path),
            },
            {
                "secretName": S,
                "type": "gcs",
                "bucket": four,
                "gcs": {
                    "projectId": "my-project",
                    "credentialsJsonSecretKey": "GOOGLE_APPLICATION_CREDENTIALS_JSON",
                },
            },
        ),
        "azure": (
            {"AZURE_STORAGE_CONNECTION_STRING": SECRETS["azure_conn"]},
            {
                "secretName": S,
                "type": "azure",
                "bucket": dict.fromkeys(
                    ("log", "state", "workloadOutput", "activityPayload"), "container"
                ),
                "azure": {"connectionStringSecretKey": "AZURE_STORAGE_CONNECTION_STRING"},
            },
        ),
    }
    return cases[st]


def _refs(*pairs: tuple[str, str, str]) -> list[dict[str, str]]:
    return [
        entry
        for name_setting, key_setting, key in pairs
        for entry in ({"name": name_setting, "value": S}, {"name": key_setting, "value": key})
    ]


# The workload launcher's settings naming the Secret and key of each credential its job
# pods' init container gets (airbyte-platform workload-launcher application.yml).
JOB_POD_REFS: dict[str, list[dict[str, str]]] = {
    "aws-keys": _refs(
        (
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME",
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_KEY",
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
        ),
        (
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_NAME",
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY",
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
        ),
    ),
    # Keyless: the init container uses the AWS default credentials chain.
    "aws-instance-profile": [],
    "google": _refs(
        (
            "SECRET_STORE_GCP_SECRET_NAME",
            "SECRET_STORE_GCP_SECRET_KEY",
            "SECRET_STORE_GCP_CREDENTIALS",
        )
    ),
    "azure-key-vault": _refs(
        (
            "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME",
            "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY",
            "AB_AZURE_KEY_VAULT_CLIENT_ID",
        ),
        (
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME",
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY",
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
        ),
    ),
    "vault": _refs(("VAULT_AUTH_TOKEN_REF_NAME", "VAULT_AUTH_TOKEN_REF_KEY", "VAULT_AUTH_TOKEN")),
}


@pytest.mark.parametrize(
    "sm", ["aws-keys", "aws-instance-profile", "google", "azure-key-vault", "vault"]
)
def test_secret_and_values_per_secrets_manager(tmp_path: Path, sm: str) -> None:
    settings = _settings(tmp_path, sm)
    sm_data, sm_values = _sm_expected(sm, tmp_path)
    assert manifests.secret_data(settings) == {**DP, **sm_data}
    launcher = {}
    if JOB_POD_REFS[sm]:
        # The launcher hands the credentials to its job pods only from these settings
        # (the chart renders none of them); Key Vault tags too have no chart value.
        launcher = {
            "workloadLauncher": {
                "extraEnv": JOB_POD_REFS[sm]
                + (
                    [{"name": "AB_AZURE_KEY_VAULT_TAGS", "value": "team=data,env=prod"}]
                    if sm == "azure-key-vault"
                    else []
                )
            }
        }
    values = manifests.helm_values(settings)
    # Storage has its own test (the default one is airbox's local store).
    values.pop("storage")
    assert values == {
        **launcher,
        "airbyteUrl": "https://cloud.airbyte.com",
        "edition": "cloud",
        "secretName": S,
        "dataPlane": DP_VALUES,
        "secretsManager": sm_values,
        "workloads": {"namespace": "airbyte", "containerOrchestrator": {"secretName": S}},
    }


@pytest.mark.parametrize("st", ["s3-keys", "s3-instance-profile", "gcs", "azure"])
def test_secret_and_values_per_storage(tmp_path: Path, st: str) -> None:
    settings = _settings(tmp_path, "vault", st)
    st_data, st_values = _st_expected(st, tmp_path)
    assert manifests.secret_data(settings) == {
        **DP,
        "VAULT_AUTH_TOKEN": SECRETS["vault"],
        **st_data,
    }
    values = manifests.helm_values(settings)
    assert values["storage"] == st_values
    launcher = values["workloadLauncher"]
    assert launcher.pop("extraEnv") == JOB_POD_REFS["vault"]
    if st == "gcs":
        assert launcher == {
            "volumes": [
                {
                    "name": "airbox-gcp-creds",
                    "secret": {"secretName": S, "items": [{"key": "gcp.json", "path": "gcp.json"}]},
                }
            ],
            "volumeMounts": [
                {"name": "airbox-gcp-creds", "mountPath": "/secrets/gcp-creds", "readOnly": True}
            ],
        }
    else:
        assert launcher == {}


def test_user_launcher_entries_are_kept_and_airbox_adds_only_what_they_do_not_name(
    tmp_path: Path,
) -> None:
    a = answers("vault", "gcs", directory=tmp_path)
    mine = {"name": "airbox-gcp-creds", "emptyDir": {}}
    other = {"name": "cache", "emptyDir": {}}
    a["values"] = {"workloadLauncher": {"volumes": [mine, other]}}
    values = manifests.helm_values(Settings.from_answers(a))
    assert values["workloadLauncher"]["volumes"] == [mine, other]


def test_a_users_entry_for_a_launcher_credential_setting_wins(tmp_path: Path) -> None:
    """The *_REF_* settings name a Secret and a key, hold no secret: a values: entry of one
    is accepted (not taken for a credential) and replaces airbox's."""
    from airbox.config.settings import validate

    a = answers("vault", directory=tmp_path)
    mine = {"name": "VAULT_AUTH_TOKEN_REF_NAME", "value": "vault-token-elsewhere"}
    a["values"] = {"workloadLauncher": {"extraEnv": [mine]}}
    assert validate(a) == []
    values = manifests.helm_values(Settings.from_answers(a))
    assert values["workloadLauncher"]["extraEnv"] == [
        mine,
        {"name": "VAULT_AUTH_TOKEN_REF_KEY", "value": "VAULT_AUTH_TOKEN"},
    ]


def test_enterprise_license_key_and_url(tmp_path: Path) -> None:
    settings = _settings(tmp_path, edition="enterprise")
    data = manifests.secret_data(settings)
    assert data["AIRBYTE_LICENSE_KEY"] == SECRETS["license"]
    values = manifests.helm_values(settings)
    assert values["airbyteUrl"] == "https://airbyte.example.com"
    assert values["edition"] == "enterprise"
    assert values["enterprise"] == {"secretName": S, "licenseKeySecretKey": "AIRBYTE_LICENSE_KEY"}


def _secret_key_refs(node: Any) -> list[str]:
    if not isinstance(node, dict):
        return []
    found = [value for key, value in node.items() if key.endswith("SecretKey")]
    for value in node.values():
        found.extend(_secret_key_refs(value))
    return found


def test_every_reference_in_the_values_names_a_key_of_the_secret(tmp_path: Path) -> None:
    for sm in ("aws-keys", "google", "azure-key-vault", "vault"):
        for st in ("s3-keys", "gcs", "azure"):
            settings = _settings(tmp_path, sm, st, edition="enterprise")
            data = manifests.secret_data(settings)
            refs = _secret_key_refs(manifests.helm_values(settings))
            assert refs and all(ref in data for ref in refs), (sm, st, refs)


def test_secret_manifest_is_a_string_data_secret_in_the_namespace(tmp_path: Path) -> None:
    a = answers("vault", directory=tmp_path)
    a["namespace"] = "dp-ns"
    settings = Settings.from_answers(a)
    data = manifests.secret_data(settings)
    assert manifests.secret_manifest(settings, data) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": S,
            "namespace": "dp-ns",
            "labels": {
                "app.kubernetes.io/managed-by": "airbox",
                "airbox.airbyte.io/data-plane": "dp1",
            },
        },
        "type": "Opaque",
        "stringData": data,
    }
    assert manifests.namespace_manifest(settings) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "dp-ns", "labels": {"app.kubernetes.io/managed-by": "airbox"}},
    }
    # Job pods run in the release namespace (the chart's Role covers only that one).
    assert manifests.helm_values(settings)["workloads"]["namespace"] == "dp-ns"


def test_dry_run_placeholders_before_registration(tmp_path: Path) -> None:
    a = answers("vault", directory=tmp_path)
    del a["dataPlane"]
    a["registration"] = {"clientId": "app-client-id-123", "clientSecret": "app-secret-4567890"}
    settings = Settings.from_answers(a)
    assert manifests.secret_data(settings, placeholder_credentials=True) == {
        "DATAPLANE_CLIENT_ID": "<issued at registration>",
        "DATAPLANE_CLIENT_SECRET": "<issued at registration>",
        "VAULT_AUTH_TOKEN": SECRETS["vault"],
    }
    assert manifests.secret_data(settings) == {"VAULT_AUTH_TOKEN": SECRETS["vault"]}


def test_user_values_override_airbox_values(tmp_path: Path) -> None:
    a = answers("vault", directory=tmp_path)
    a["values"] = {"workloads": {"namespace": "elsewhere"}, "extra": {"a": 1}}
    values = manifests.helm_values(Settings.from_answers(a))
    assert values["workloads"] == {
        "namespace": "elsewhere",
        "containerOrchestrator": {"secretName": S},
    }
    assert values["extra"] == {"a": 1}


@pytest.mark.parametrize("cgroup_v1", [False, True])
def test_kind_config_binds_the_api_server_to_loopback(tmp_path: Path, cgroup_v1: bool) -> None:
    from airbox import versions

    settings = _settings(tmp_path)
    assert manifests.kind_config(settings, cgroup_v1=cgroup_v1) == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": "airbox-dp1",
        "nodes": [
            {
                "role": "control-plane",
                "image": versions.node_image(cgroup_v1=cgroup_v1),
                "labels": {"airbox.airbyte.io/data-plane": "dp1"},
            }
        ],
        "networking": {"apiServerAddress": "127.0.0.1"},
    }


def test_instance_profile_keeps_given_access_keys_out_of_the_secret(tmp_path: Path) -> None:
    a = answers("aws-keys", "s3-keys", directory=tmp_path)
    a["secretsManager"]["awsSecretManager"]["authenticationType"] = "instanceProfile"
    a["storage"]["s3"]["authenticationType"] = "instanceProfile"
    data = manifests.secret_data(Settings.from_answers(a))
    for key in (
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert data[key] == "", key


def test_default_storage_is_the_local_store_reading_airbox_secret(tmp_path: Path) -> None:
    storage = manifests.helm_values(_settings(tmp_path))["storage"]
    assert storage["secretName"] == S
    assert storage["type"] == "minio"
    assert storage["minio"]["accessKeyIdSecretKey"] == "AWS_ACCESS_KEY_ID"
    assert storage["minio"]["secretAccessKeySecretKey"] == "AWS_SECRET_ACCESS_KEY"


def test_the_local_store_values_and_secret_exactly(tmp_path: Path) -> None:
    a = answers("vault", directory=tmp_path)
    a["namespace"] = "dp-ns"
    settings = Settings.from_answers(a)
    here = f"(in Secret {S})"
    # The chart's own Secret is rendered from accessKeyId/secretAccessKey: never the
    # well-known minio/minio123, only a note where the real ones are.
    assert manifests.helm_values(settings)["storage"] == {
        "secretName": S,
        "type": "minio",
        "bucket": dict.fromkeys(
            ("log", "state", "workloadOutput", "activityPayload"), "airbyte-storage"
        ),
        "minio": {
            "endpoint": "http://airbox-minio.dp-ns:9000",
            "accessKeyIdSecretKey": "AWS_ACCESS_KEY_ID",
            "secretAccessKeySecretKey": "AWS_SECRET_ACCESS_KEY",
            "accessKeyId": here,
            "secretAccessKey": here,
        },
    }
    pair = ("airbox-0123456789abcdef", "f" * 48)
    assert manifests.secret_data(settings, local_credentials=pair) == {
        **DP,
        "VAULT_AUTH_TOKEN": SECRETS["vault"],
        "AWS_ACCESS_KEY_ID": pair[0],
        "AWS_SECRET_ACCESS_KEY": pair[1],
    }


def test_the_local_stores_pod_template_carries_its_pairs_fingerprint(tmp_path: Path) -> None:
    """MinIO reads its pair at start only: a new pair must change the template (a restart),
    and the mark must tell pairs apart without revealing them."""
    settings = _settings(tmp_path)

    def mark(pair: tuple[str, str]) -> str:
        [store] = [
            d
            for d in manifests.local_store_manifests(settings, pair=pair)
            if d["kind"] == "Deployment"
        ]
        annotations = store["spec"]["template"]["metadata"]["annotations"]
        assert list(annotations) == [manifests.STORE_CREDENTIALS_ANNOTATION]
        return str(annotations[manifests.STORE_CREDENTIALS_ANNOTATION])

    first = ("airbox-0123456789abcdef", "a" * 48)
    assert mark(first) == manifests.credentials_fingerprint(*first) == mark(first)
    assert mark(("airbox-0123456789abcdef", "b" * 48)) != mark(first)
    assert mark(("airbox-fedcba9876543210", "a" * 48)) != mark(first)
    assert first[0] not in mark(first) and first[1] not in mark(first)
