"""Answers for every secrets manager and storage choice, with recognisable secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

# Each secret is distinct and long enough that finding it anywhere is a real leak.
SECRETS = {
    "dp_id": "dp-client-id-5f1c2b7e",
    "dp_secret": "dp-client-secret-9a8b7c6d5e4f",
    "license": "license-key-0a1b2c3d4e5f",
    "sm_access": "AKIASMACCESSKEY00001",
    "sm_secret": "sm-secret-access-key-zyxwvu",
    "akv_id": "3f2a9c1e-7b6d-4e5f-8a9b-0c1d2e3f4a5b",
    "akv_secret": "akv-client-secret-33334444",
    "vault": "hvs.vault-token-55556666",
    "s3_access": "AKIAS3ACCESSKEY00002",
    "s3_secret": "s3-secret-access-key-tsrqpo",
    "azure_conn": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=azkey77778888",
    "gsa_private_key": "gsa-private-key-material-99990000",
}

SECRETS_MANAGERS = ["aws-keys", "aws-instance-profile", "google", "azure-key-vault", "vault"]
STORAGES = ["default", "s3-keys", "s3-instance-profile", "gcs", "azure"]


def service_account_file(directory: Path) -> Path:
    path = directory / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "my-project",
                "private_key_id": "abc",
                "private_key": "-----BEGIN PRIVATE KEY-----\n"
                + SECRETS["gsa_private_key"]
                + "\n-----END PRIVATE KEY-----\n",
                "client_email": "airbyte@my-project.iam.gserviceaccount.com",
            }
        )
    )
    return path


def secrets_manager(kind: str, sa: Path) -> dict[str, Any]:
    return {
        "aws-keys": {
            "type": "AWS_SECRET_MANAGER",
            "awsSecretManager": {
                "region": "us-west-2",
                "authenticationType": "credentials",
                "accessKeyId": SECRETS["sm_access"],
                "secretAccessKey": SECRETS["sm_secret"],
                "kmsArn": "arn:aws:kms:us-west-2:123456789012:key/abc",
                "tags": {"team": "data"},
            },
        },
        "aws-instance-profile": {
            "type": "AWS_SECRET_MANAGER",
            "awsSecretManager": {"region": "us-west-2", "authenticationType": "instanceProfile"},
        },
        "google": {
            "type": "GOOGLE_SECRET_MANAGER",
            "googleSecretManager": {
                "projectId": "my-project",
                "region": "us-central1",
                "credentialsJson": str(sa),
            },
        },
        "azure-key-vault": {
            "type": "AZURE_KEY_VAULT",
            "azureKeyVault": {
                "tenantId": "00000000-0000-0000-0000-000000000001",
                "vaultUrl": "https://my-vault.vault.azure.net/",
                "clientId": SECRETS["akv_id"],
                "clientSecret": SECRETS["akv_secret"],
                "tags": {"team": "data", "env": "prod"},
            },
        },
        "vault": {
            "type": "VAULT",
            "vault": {
                "address": "https://vault.example.com:8200",
                "prefix": "airbyte/",
                "authToken": SECRETS["vault"],
            },
        },
    }[kind]


def storage(kind: str, sa: Path) -> dict[str, Any] | None:
    return {
        "default": None,
        "s3-keys": {
            "type": "s3",
            "bucket": "bkt",
            "s3": {
                "region": "us-west-2",
                "authenticationType": "credentials",
                "accessKeyId": SECRETS["s3_access"],
                "secretAccessKey": SECRETS["s3_secret"],
            },
        },
        "s3-instance-profile": {
            "type": "s3",
            "bucket": {"log": "logs", "state": "state"},
            "s3": {"region": "us-west-2", "authenticationType": "instanceProfile"},
        },
        "gcs": {
            "type": "gcs",
            "bucket": "bkt",
            "gcs": {"projectId": "my-project", "credentialsJson": str(sa)},
        },
        "azure": {
            "type": "azure",
            "bucket": "container",
            "azure": {"connectionString": SECRETS["azure_conn"]},
        },
    }[kind]


def answers(
    sm: str = "vault",
    st: str = "default",
    *,
    directory: Path,
    edition: str = "cloud",
    name: str = "dp1",
) -> dict[str, Any]:
    sa = service_account_file(directory)
    data: dict[str, Any] = {
        "name": name,
        "dataPlane": {"clientId": SECRETS["dp_id"], "clientSecret": SECRETS["dp_secret"]},
        "secretsManager": secrets_manager(sm, sa),
    }
    if edition == "enterprise":
        data["controlPlane"] = {"edition": "enterprise", "url": "https://airbyte.example.com"}
        data["licenseKey"] = SECRETS["license"]
    st_data = storage(st, sa)
    if st_data is not None:
        data["storage"] = st_data
    return data


def write_answers(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def all_secret_values() -> list[str]:
    values = list(SECRETS.values())
    # The AccountKey part of the connection string alone must not leak either.
    values.append("azkey77778888")
    return values


def find_secrets(text: str) -> list[str]:
    return [value for value in all_secret_values() if value in text]
