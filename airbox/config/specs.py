"""The answers' per-type tables: one row per secrets manager and storage type.

Each ``TypeSpec`` says which fields its answers section has, which are required, the
rule each value follows (``kind``, applied by ``rules.field_problem``), which are secret
and under which key each secret lives in the generated Kubernetes Secret, how each goes
into the Helm values, and how a prompt asks for it. The section's parse
(``config/validate.py``: the mapping becomes a typed ``settings.Section`` or every
problem), its rendering (``Section.secret_data``/``helm_values``/``launcher_env``), the
prompts and the per-type part of ``assets/answers.schema.json`` (``with_type_schemas``,
checked equal to the committed file by tests/test_answers_schema.py) all read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """One field of a secrets-manager or storage section."""

    key: str
    label: str
    # "text", "url", "aws-region", "aws-key-id", "uuid", "choice", "tags",
    # "json-file" (a path to a JSON file)
    kind: str = "text"
    required: bool = True
    # Only required (and only asked for) when another field has this value.
    when: tuple[str, str] | None = None
    choices: tuple[str, ...] = ()
    default: str | None = None
    # Where a secret goes: its key in the generated Secret, and the chart value that
    # names that key. A field without ``secret_key`` is a plain chart value.
    secret_key: str | None = None
    values_ref: str | None = None
    help: str = ""
    # One line under the question: where in Airbyte or the cloud console the value is.
    where: str = ""
    # A secret that is still typed in the clear (an identifier, not a password: the
    # user must see a typo in an access key id).
    visible: bool = False
    # Its description in the answers-file schema (editors show it); a secret without
    # one is described as a secret.
    doc: str = ""
    # A plain field the chart has no value for: the launcher's environment variable
    # taking it instead (tags as "key=value,key=value").
    launcher_env: str | None = None
    # A secret the launcher also mounts as a file: the Secret holds it a second time
    # under this key (the file's name).
    file_key: str | None = None

    @property
    def secret(self) -> bool:
        return self.secret_key is not None

    @property
    def masked(self) -> bool:
        """Typed hidden and shown masked: a secret that is not an identifier."""
        return self.secret and not self.visible and self.kind != "json-file"

    def applies(self, section: Mapping[str, Any]) -> bool:
        if self.when is None:
            return True
        other, wanted = self.when
        return str(section.get(other) or _default_of(self.when[0], section)) == wanted


def _default_of(key: str, section: Mapping[str, Any]) -> str:
    # Only authenticationType has a default that other fields depend on.
    return "credentials" if key == "authenticationType" else ""


@dataclass(frozen=True)
class TypeSpec:
    """A secrets manager or storage type: its answers section and its fields."""

    type: str
    section: str
    label: str
    fields: tuple[FieldSpec, ...]
    # Its section's description in the answers-file schema.
    doc: str = ""
    # Storage: the rule for a bucket's name (None: the store's own, unchecked).
    bucket: FieldSpec | None = None
    # Chart values the chart would otherwise fill with a default credential: they get
    # a note saying where the credential is instead.
    placeholders: tuple[str, ...] = ()

    def field(self, key: str) -> FieldSpec:
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(key)


_AUTH = FieldSpec(
    "authenticationType",
    "How airbox signs in to AWS",
    kind="choice",
    choices=("credentials", "instanceProfile"),
    default="credentials",
    required=False,
    help="instanceProfile uses the VM's IAM role instead of access keys",
    doc="credentials (access keys) or instanceProfile (the VM's IAM role)",
    where="access keys of an IAM user, or the IAM role attached to this VM "
    "(EC2 console > the instance > Security)",
)

# Plain words for the choices above (the YAML values stay as the chart names them).
CHOICE_LABELS: dict[str, str] = {
    "credentials": "Access keys (an IAM user's access key id and secret)",
    "instanceProfile": "This VM's IAM role (instance profile): no keys",
}


def _aws_fields(access_key_id: str, secret_access_key: str) -> tuple[FieldSpec, ...]:
    """Region, authentication and the access keys (only with credentials), as AWS has them."""
    when = ("authenticationType", "credentials")
    return (
        FieldSpec(
            "region",
            "AWS region",
            kind="aws-region",
            where="the region code at the top right of the AWS console, e.g. us-west-2",
        ),
        _AUTH,
        FieldSpec(
            "accessKeyId",
            "AWS access key id",
            kind="aws-key-id",
            when=when,
            secret_key=access_key_id,
            values_ref="accessKeyIdSecretKey",
            visible=True,
            where="IAM console > Users > the user > Security credentials "
            "(20 characters, starts with AKIA)",
        ),
        FieldSpec(
            "secretAccessKey",
            "AWS secret access key",
            when=when,
            secret_key=secret_access_key,
            values_ref="secretAccessKeySecretKey",
            where="shown once, when the access key was created (IAM console)",
        ),
    )


SECRETS_MANAGERS: dict[str, TypeSpec] = {
    "AWS_SECRET_MANAGER": TypeSpec(
        "AWS_SECRET_MANAGER",
        "awsSecretManager",
        "AWS Secrets Manager",
        (
            *_aws_fields(
                "AWS_SECRET_MANAGER_ACCESS_KEY_ID", "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"
            ),
            FieldSpec(
                "kmsArn",
                "KMS key ARN (optional)",
                required=False,
                where="KMS console > Customer managed keys > the key's ARN",
            ),
            FieldSpec("tags", "Tags for new secrets (optional)", kind="tags", required=False),
        ),
    ),
    "GOOGLE_SECRET_MANAGER": TypeSpec(
        "GOOGLE_SECRET_MANAGER",
        "googleSecretManager",
        "Google Secret Manager",
        (
            FieldSpec(
                "projectId",
                "Google Cloud project id",
                where="the project picker at the top of the Google Cloud console",
            ),
            FieldSpec("region", "Region (optional, for regional secrets)", required=False),
            FieldSpec(
                "credentialsJson",
                "Path to the service account key (JSON)",
                kind="json-file",
                secret_key="SECRET_STORE_GCP_CREDENTIALS",
                values_ref="credentialsSecretKey",
                where="IAM & Admin > Service accounts > the account > Keys > Add key (JSON), "
                "copied to this machine",
            ),
        ),
    ),
    "AZURE_KEY_VAULT": TypeSpec(
        "AZURE_KEY_VAULT",
        "azureKeyVault",
        "Azure Key Vault",
        (
            FieldSpec(
                "tenantId",
                "Azure tenant id",
                kind="uuid",
                where="Microsoft Entra ID > Overview > Tenant ID",
            ),
            FieldSpec(
                "vaultUrl",
                "Key Vault URL",
                kind="url",
                where="the key vault's Overview > Vault URI",
            ),
            FieldSpec(
                "clientId",
                "Azure client id",
                kind="uuid",
                secret_key="AB_AZURE_KEY_VAULT_CLIENT_ID",
                values_ref="clientIdSecretKey",
                visible=True,
                where="Entra ID > App registrations > the app > Application (client) ID",
            ),
            FieldSpec(
                "clientSecret",
                "Azure client secret",
                secret_key="AB_AZURE_KEY_VAULT_CLIENT_SECRET",
                values_ref="clientSecretSecretKey",
                where="the app registration > Certificates & secrets (shown once)",
            ),
            # The chart has no value for them: the launcher reads this variable
            # (airbyte.secret.store.azure.tags) and hands it to job pods.
            FieldSpec(
                "tags",
                "Tags for new secrets (optional)",
                kind="tags",
                required=False,
                launcher_env="AB_AZURE_KEY_VAULT_TAGS",
            ),
        ),
    ),
    "VAULT": TypeSpec(
        "VAULT",
        "vault",
        "HashiCorp Vault",
        (
            FieldSpec(
                "address",
                "Vault address",
                kind="vault-address",
                where="what VAULT_ADDR is set to, e.g. https://vault.example.com:8200",
            ),
            FieldSpec("prefix", "Path prefix (optional)", required=False),
            FieldSpec(
                "authToken",
                "Vault token",
                secret_key="VAULT_AUTH_TOKEN",
                values_ref="authTokenSecretKey",
                where="`vault token create` with a policy for the prefix (starts with hvs.)",
            ),
        ),
    ),
}

# GCS: the chart sets GOOGLE_APPLICATION_CREDENTIALS to this file (storage.gcs.
# credentialsJsonPath's default) in the launcher, and the launcher mounts the Secret
# workloads.containerOrchestrator.secretName at CONTAINER_ORCHESTRATOR_SECRET_MOUNT_PATH
# (default /secrets/gcp-creds) in its job pods: the Secret holds the key file under the
# file's name too (render/manifests.py mounts it in the launcher at the same path).
GCP_CREDENTIALS_KEY = "gcp.json"


def _bucket(kind: str) -> FieldSpec:
    """A storage type's bucket names: the provider's naming rule (``rules.field_problem``)."""
    return FieldSpec("bucket", "Bucket", kind=kind)


STORAGES: dict[str, TypeSpec] = {
    "s3": TypeSpec(
        "s3",
        "s3",
        "Amazon S3",
        _aws_fields("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        bucket=_bucket("s3-bucket"),
    ),
    "gcs": TypeSpec(
        "gcs",
        "gcs",
        "Google Cloud Storage",
        (
            FieldSpec(
                "projectId",
                "Google Cloud project id",
                where="the project picker at the top of the Google Cloud console",
            ),
            FieldSpec(
                "credentialsJson",
                "Path to the service account key (JSON)",
                kind="json-file",
                secret_key="GOOGLE_APPLICATION_CREDENTIALS_JSON",
                values_ref="credentialsJsonSecretKey",
                file_key=GCP_CREDENTIALS_KEY,
                where="IAM & Admin > Service accounts > the account > Keys > Add key (JSON), "
                "copied to this machine",
            ),
        ),
        bucket=_bucket("gcs-bucket"),
    ),
    "azure": TypeSpec(
        "azure",
        "azure",
        "Azure Blob Storage",
        (
            FieldSpec(
                "connectionString",
                "Storage account connection string",
                secret_key="AZURE_STORAGE_CONNECTION_STRING",
                values_ref="connectionStringSecretKey",
                where="the storage account > Security + networking > Access keys",
            ),
        ),
        bucket=_bucket("azure-container"),
    ),
    # An S3-compatible store the user already runs (MinIO, Ceph, ...), by its endpoint.
    "minio": TypeSpec(
        "minio",
        "minio",
        "S3-compatible store (MinIO and the like) at an endpoint",
        (
            FieldSpec(
                "endpoint",
                "Endpoint URL (e.g. http://minio.internal:9000)",
                kind="url",
                doc="e.g. http://minio.internal:9000",
            ),
            FieldSpec(
                "accessKeyId",
                "Access key id",
                secret_key="AWS_ACCESS_KEY_ID",
                values_ref="accessKeyIdSecretKey",
                visible=True,
            ),
            FieldSpec(
                "secretAccessKey",
                "Secret access key",
                secret_key="AWS_SECRET_ACCESS_KEY",
                values_ref="secretAccessKeySecretKey",
            ),
        ),
        doc="An S3-compatible store you run (MinIO, Ceph, ...), reachable from the data "
        "plane's pods.",
        # The chart also renders its own Secret from these, defaulting to
        # minio/minio123: the note keeps that copy from holding a well-known credential.
        placeholders=("accessKeyId", "secretAccessKey"),
    ),
}

BUCKET_KEYS = ("log", "state", "workloadOutput", "activityPayload")

# Secrets outside the per-type tables: (answers path, key in the generated Secret).
DATA_PLANE_CLIENT_ID_KEY = "DATAPLANE_CLIENT_ID"
DATA_PLANE_CLIENT_SECRET_KEY = "DATAPLANE_CLIENT_SECRET"
LICENSE_KEY_KEY = "AIRBYTE_LICENSE_KEY"


# The private registry's credentials (answers ``images.pullSecret``): secrets.
PULL_SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("images", "pullSecret", "password"),
    ("images", "pullSecret", "dockerConfigJson"),
)


def _key_file_paths() -> list[tuple[str, ...]]:
    return [
        (root, spec.section, fspec.key)
        for specs, root in ((SECRETS_MANAGERS, "secretsManager"), (STORAGES, "storage"))
        for spec in specs.values()
        for fspec in spec.fields
        if fspec.kind == "json-file"
    ]


def _secret_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [
        ("dataPlane", "clientSecret"),
        ("dataPlane", "clientId"),
        ("registration", "clientSecret"),
        ("licenseKey",),
        *PULL_SECRET_PATHS,
    ]
    for specs, root in ((SECRETS_MANAGERS, "secretsManager"), (STORAGES, "storage")):
        for spec in specs.values():
            for fspec in spec.fields:
                if fspec.secret and fspec.kind != "json-file":
                    paths.append((root, spec.section, fspec.key))
    return paths


def _hidden_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [
        (root, "clientSecret") for root in ("dataPlane", "registration")
    ]
    paths.append(("licenseKey",))
    paths.extend(PULL_SECRET_PATHS)
    for specs, root in ((SECRETS_MANAGERS, "secretsManager"), (STORAGES, "storage")):
        for spec in specs.values():
            for fspec in spec.fields:
                if fspec.masked:
                    paths.append((root, spec.section, fspec.key))
    return paths


# Read off the tables once: the tables are constants.
_KEY_FILE_PATHS = tuple(_key_file_paths())
_SECRET_PATHS = tuple(_secret_paths())
_HIDDEN_PATHS = tuple(_hidden_paths())


def key_file_paths() -> list[tuple[str, ...]]:
    """Paths of the service account key fields: a path (public) or the key itself (secret)."""
    return list(_KEY_FILE_PATHS)


def secret_paths() -> list[tuple[str, ...]]:
    """Paths (tuples of keys) of every secret value the answers can hold."""
    return list(_SECRET_PATHS)


def hidden_paths() -> list[tuple[str, ...]]:
    """The secret values typed hidden (passwords, tokens, keys): never written to the
    answers kept from an interrupted interview. Identifiers among the secrets (client
    ids, access key ids) are typed in the clear and are kept."""
    return list(_HIDDEN_PATHS)


# ----------------------------------------------------------- the answers-file schema

SECRET_DOC = "secret: keep it out of the file with ${VAR}"
# A field's JSON schema by its kind; every other kind is a string.
_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "tags": {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
        "description": "tag name -> value",
    },
    "json-file": {
        "type": ["string", "object"],
        "description": "A service account key: the path of its JSON file, or the JSON itself.",
    },
}
_BUCKET_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: {"type": "string"} for key in BUCKET_KEYS},
        },
    ],
    "description": "One bucket for every use, or one per use; uses left out take the first "
    "bucket given.",
    # What ``answers.schema_problems`` says when neither form fits.
    "errorMessage": "must be a bucket name or a mapping of uses to names",
}


def field_schema(fspec: FieldSpec) -> dict[str, Any]:
    found: dict[str, Any] = (
        {"enum": list(fspec.choices)}
        if fspec.kind == "choice"
        else dict(_KIND_SCHEMAS.get(fspec.kind, {"type": "string"}))
    )
    doc = fspec.doc or found.get("description") or (SECRET_DOC if fspec.secret else "")
    if doc:
        found["description"] = doc
    return found


def type_schema(spec: TypeSpec) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if spec.doc:
        found["description"] = spec.doc
    found["properties"] = {fspec.key: field_schema(fspec) for fspec in spec.fields}
    return found


def with_type_schemas(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` (the answers file's) with the ``secretsManager`` and ``storage`` sections'
    properties generated from the tables: the types, each type's fields, the buckets.
    ``scripts/answers_schema.py`` writes it; a test checks the committed file equals it."""
    import copy

    found = copy.deepcopy(dict(schema))
    for root, specs, extra in (
        ("secretsManager", SECRETS_MANAGERS, {}),
        ("storage", STORAGES, {"bucket": _BUCKET_SCHEMA}),
    ):
        found["properties"][root]["properties"] = {
            "type": {"enum": list(specs)},
            **copy.deepcopy(extra),
            **{spec.section: type_schema(spec) for spec in specs.values()},
        }
    return found
