"""The one description of a data plane, and the rules it must satisfy.

Input arrives as a mapping shaped like the answers file (see
``assets/answers.schema.json``). ``validate`` lists every problem at once;
``Settings.from_answers`` turns a valid mapping into typed settings. The tables
``SECRETS_MANAGERS`` and ``STORAGES`` say, per type, which fields exist, which are
required, which are secret and under which key each secret lives in the generated
Kubernetes Secret: validation, prompts and manifest generation all read them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airbox.errors import Problem

CLOUD_URL = "https://cloud.airbyte.com"
CLOUD_API_URL = "https://api.airbyte.com/v1"
DEFAULT_NAMESPACE = "airbyte"
CHART_VERSION = "1.8.1"

# kind names the node container "<cluster>-control-plane" and uses it as the node's
# host name: that must stay a DNS label (63 characters), so with the "airbox-" prefix
# the data plane name has 63 - len("airbox-") - len("-control-plane") = 42 to spare.
CLUSTER_PREFIX = "airbox-"
NODE_SUFFIX = "-control-plane"
MAX_NAME_LENGTH = 63 - len(CLUSTER_PREFIX) - len(NODE_SUFFIX)

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# Long-term keys start with AKIA, temporary (STS) ones with ASIA; both are 20 characters.
_AWS_ACCESS_KEY_ID = re.compile(r"^A[KS]IA[A-Z0-9]{16}$")


# --------------------------------------------------------------------------- tables


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
        FieldSpec("region", "AWS region", kind="aws-region",
                  where="the region code at the top right of the AWS console, e.g. us-west-2"),
        _AUTH,
        FieldSpec("accessKeyId", "AWS access key id", kind="aws-key-id", when=when,
                  secret_key=access_key_id, values_ref="accessKeyIdSecretKey", visible=True,
                  where="IAM console > Users > the user > Security credentials "
                        "(20 characters, starts with AKIA)"),
        FieldSpec("secretAccessKey", "AWS secret access key", when=when,
                  secret_key=secret_access_key, values_ref="secretAccessKeySecretKey",
                  where="shown once, when the access key was created (IAM console)"),
    )


SECRETS_MANAGERS: dict[str, TypeSpec] = {
    "AWS_SECRET_MANAGER": TypeSpec(
        "AWS_SECRET_MANAGER",
        "awsSecretManager",
        "AWS Secrets Manager",
        (
            *_aws_fields("AWS_SECRET_MANAGER_ACCESS_KEY_ID",
                         "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"),
            FieldSpec("kmsArn", "KMS key ARN (optional)", required=False,
                      where="KMS console > Customer managed keys > the key's ARN"),
            FieldSpec("tags", "Tags for new secrets (optional)", kind="tags", required=False),
        ),
    ),
    "GOOGLE_SECRET_MANAGER": TypeSpec(
        "GOOGLE_SECRET_MANAGER",
        "googleSecretManager",
        "Google Secret Manager",
        (
            FieldSpec("projectId", "Google Cloud project id",
                      where="the project picker at the top of the Google Cloud console"),
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
            FieldSpec("tenantId", "Azure tenant id", kind="uuid",
                      where="Microsoft Entra ID > Overview > Tenant ID"),
            FieldSpec("vaultUrl", "Key Vault URL", kind="url",
                      where="the key vault's Overview > Vault URI"),
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
            FieldSpec("tags", "Tags for new secrets (optional)", kind="tags", required=False),
        ),
    ),
    "VAULT": TypeSpec(
        "VAULT",
        "vault",
        "HashiCorp Vault",
        (
            FieldSpec("address", "Vault address", kind="vault-address",
                      where="what VAULT_ADDR is set to, e.g. https://vault.example.com:8200"),
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

STORAGES: dict[str, TypeSpec] = {
    "s3": TypeSpec(
        "s3",
        "s3",
        "Amazon S3",
        _aws_fields("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ),
    "gcs": TypeSpec(
        "gcs",
        "gcs",
        "Google Cloud Storage",
        (
            FieldSpec("projectId", "Google Cloud project id",
                      where="the project picker at the top of the Google Cloud console"),
            FieldSpec(
                "credentialsJson",
                "Path to the service account key (JSON)",
                kind="json-file",
                secret_key="GOOGLE_APPLICATION_CREDENTIALS_JSON",
                values_ref="credentialsJsonSecretKey",
                where="IAM & Admin > Service accounts > the account > Keys > Add key (JSON), "
                      "copied to this machine",
            ),
        ),
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
    ),
    # An S3-compatible store the user already runs (MinIO, Ceph, ...), by its endpoint.
    "minio": TypeSpec(
        "minio",
        "minio",
        "S3-compatible store (MinIO and the like) at an endpoint",
        (
            FieldSpec("endpoint", "Endpoint URL (e.g. http://minio.internal:9000)", kind="url"),
            FieldSpec("accessKeyId", "Access key id", secret_key="AWS_ACCESS_KEY_ID",
                      values_ref="accessKeyIdSecretKey", visible=True),
            FieldSpec("secretAccessKey", "Secret access key",
                      secret_key="AWS_SECRET_ACCESS_KEY", values_ref="secretAccessKeySecretKey"),
        ),
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


def key_file_paths() -> list[tuple[str, ...]]:
    """Paths of the service account key fields: a path (public) or the key itself (secret)."""
    return [(root, spec.section, fspec.key)
            for specs, root in ((SECRETS_MANAGERS, "secretsManager"), (STORAGES, "storage"))
            for spec in specs.values() for fspec in spec.fields if fspec.kind == "json-file"]


def secret_paths() -> list[tuple[str, ...]]:
    """Paths (tuples of keys) of every secret value the answers can hold."""
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


def hidden_paths() -> list[tuple[str, ...]]:
    """The secret values typed hidden (passwords, tokens, keys): never written to the
    answers kept from an interrupted interview. Identifiers among the secrets (client
    ids, access key ids) are typed in the clear and are kept."""
    paths: list[tuple[str, ...]] = [(root, "clientSecret")
                                    for root in ("dataPlane", "registration")]
    paths.append(("licenseKey",))
    paths.extend(PULL_SECRET_PATHS)
    for specs, root in ((SECRETS_MANAGERS, "secretsManager"), (STORAGES, "storage")):
        for spec in specs.values():
            for fspec in spec.fields:
                if fspec.masked:
                    paths.append((root, spec.section, fspec.key))
    return paths


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ControlPlane:
    edition: str
    url: str
    api_url: str


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Registration:
    client_id: str
    client_secret: str
    organization_id: str | None
    region: str | None


@dataclass(frozen=True)
class Section:
    """A configured secrets manager or storage: its type and its section's values."""

    spec: TypeSpec
    options: Mapping[str, Any]

    @property
    def type(self) -> str:
        return self.spec.type

    def value(self, key: str) -> Any:
        fspec = self.spec.field(key)
        value = self.options.get(key)
        if value in (None, "") and fspec.default is not None:
            return fspec.default
        return value


@dataclass(frozen=True)
class Storage:
    section: Section
    buckets: Mapping[str, str]


@dataclass(frozen=True)
class ChartRef:
    version: str
    # A local chart directory/archive or a URL; None means the public Helm repository.
    source: str | None = None


@dataclass(frozen=True)
class Target:
    """Where the data plane runs: a kind cluster airbox owns, or an existing cluster."""

    kube_context: str | None = None
    kubeconfig: str | None = None

    @property
    def is_kind(self) -> bool:
        return self.kube_context is None


@dataclass(frozen=True)
class Images:
    """A private registry or mirror every image is pulled from (answers ``images``)."""

    # host[:port][/path]: images are <registry>/<repository>:<tag>.
    registry: str
    username: str | None = None
    password: str | None = None
    # A whole Docker config ({"auths": {...}}) given instead of username/password.
    docker_config_json: str | None = None
    ca_file: str | None = None
    insecure: bool = False

    @property
    def host(self) -> str:
        """The registry's host[:port]: what containerd and Docker authenticate against."""
        return self.registry.split("/", 1)[0]

    @property
    def has_credentials(self) -> bool:
        return bool(self.password or self.docker_config_json)


@dataclass(frozen=True)
class Network:
    """An HTTP proxy every outbound call goes through (answers ``network``, or
    HTTPS_PROXY/HTTP_PROXY/NO_PROXY at install time). A proxy URL may carry
    ``user:password@``: the password is a secret."""

    https_proxy: str | None = None
    http_proxy: str | None = None
    # What the user gave, before airbox adds what must stay inside (render/proxy.py).
    no_proxy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    name: str
    namespace: str
    control_plane: ControlPlane
    data_plane: ClientCredentials | None
    registration: Registration | None
    license_key: str | None
    secrets_manager: Section
    storage: Storage | None
    chart: ChartRef
    values: Mapping[str, Any] = field(default_factory=dict)
    target: Target = field(default_factory=Target)
    # Workspaces (names or ids) to route to this data plane's region.
    workspaces: tuple[str, ...] = ()
    # A private registry or mirror; None: the public registries.
    images: Images | None = None
    # An HTTP proxy for every outbound call; None: direct.
    network: Network | None = None
    # An offline bundle (airbox bundle create) the images, chart and tools come from,
    # instead of the network; an absolute path.
    bundle: str | None = None

    @property
    def release(self) -> str:
        return self.name

    @property
    def cluster_name(self) -> str:
        return CLUSTER_PREFIX + self.name

    @property
    def node_container(self) -> str:
        return self.cluster_name + NODE_SUFFIX

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Settings:
        """Build settings from answers that ``validate`` accepted."""
        cp = _mapping(answers.get("controlPlane"))
        edition = cp.get("edition") or "cloud"
        url = (cp.get("url") or CLOUD_URL).rstrip("/")
        api_url = (cp.get("apiUrl") or default_api_url(edition, url)).rstrip("/")

        dp = _mapping(answers.get("dataPlane"))
        data_plane = (
            ClientCredentials(str(dp["clientId"]), str(dp["clientSecret"]))
            if dp.get("clientId") and dp.get("clientSecret")
            else None
        )
        reg = _mapping(answers.get("registration"))
        registration = (
            Registration(
                str(reg["clientId"]),
                str(reg["clientSecret"]),
                reg.get("organizationId") or None,
                reg.get("region") or None,
            )
            if reg.get("clientId") and reg.get("clientSecret")
            else None
        )

        sm = answers["secretsManager"]
        sm_spec = SECRETS_MANAGERS[sm["type"]]
        secrets_manager = Section(sm_spec, dict(sm.get(sm_spec.section) or {}))

        storage = None
        st = _mapping(answers.get("storage"))
        if st.get("type"):
            st_spec = STORAGES[st["type"]]
            storage = Storage(Section(st_spec, dict(st.get(st_spec.section) or {})),
                              normalize_buckets(st.get("bucket")))

        chart = _mapping(answers.get("chart"))
        cluster = _mapping(answers.get("cluster"))
        return cls(
            name=answers["name"],
            namespace=answers.get("namespace") or DEFAULT_NAMESPACE,
            control_plane=ControlPlane(edition, url, api_url),
            data_plane=data_plane,
            registration=registration,
            license_key=answers.get("licenseKey") or None,
            secrets_manager=secrets_manager,
            storage=storage,
            chart=ChartRef(str(chart.get("version") or CHART_VERSION), chart.get("source")),
            values=dict(answers.get("values") or {}),
            target=Target(cluster.get("kubeContext") or None, cluster.get("kubeconfig") or None),
            workspaces=tuple(str(w).strip() for w in answers.get("workspaces") or ()
                             if str(w).strip()),
            images=_images(_mapping(answers.get("images"))),
            network=network_from(_mapping(answers.get("network"))),
            bundle=(str(Path(str(answers["bundle"])).expanduser().absolute())
                    if answers.get("bundle") else None),
        )


def _images(section: Mapping[str, Any]) -> Images | None:
    if not section.get("registry"):
        return None
    pull = _mapping(section.get("pullSecret"))
    return Images(
        registry=str(section["registry"]).rstrip("/"),
        username=str(pull["username"]) if pull.get("username") else None,
        password=str(pull["password"]) if pull.get("password") else None,
        docker_config_json=str(pull["dockerConfigJson"]).strip()
        if pull.get("dockerConfigJson") else None,
        ca_file=str(section["caFile"]) if section.get("caFile") else None,
        insecure=section.get("insecure") is True,
    )


def network_from(section: Mapping[str, Any]) -> Network | None:
    https = str(section.get("httpsProxy") or "").strip() or None
    http = str(section.get("httpProxy") or "").strip() or None
    if https is None and http is None:
        return None
    return Network(https, http, tuple(no_proxy_entries(section.get("noProxy"))))


def no_proxy_entries(value: Any) -> list[str]:
    """``noProxy`` as a list: a comma-separated string (as NO_PROXY is) or a list."""
    items = value.split(",") if isinstance(value, str) else (
        [str(v) for v in value] if isinstance(value, list) else [])
    return [item.strip() for item in items if item.strip()]


def proxy_passwords(*urls: str | None) -> list[str]:
    """The passwords in proxy URLs, as written and percent-decoded."""
    from urllib.parse import unquote

    found: list[str] = []
    for url in urls:
        if not url:
            continue
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if not password:
            # An unparseable URL may still hold user:password@: mask what sits there.
            match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:([^/@]+)@", url)
            password = match.group(1) if match else None
        if password:
            found += [password, unquote(password)]
    return list(dict.fromkeys(found))


def default_api_url(edition: str, url: str) -> str:
    if edition == "enterprise":
        return url.rstrip("/") + "/api/public/v1"
    return CLOUD_API_URL


def normalize_buckets(bucket: Any) -> dict[str, str]:
    """``bucket`` may be one name for all four uses, or a mapping with some of them.

    Uses left out fall back to the first one given, so one bucket serves them all.
    """
    if isinstance(bucket, str):
        return dict.fromkeys(BUCKET_KEYS, bucket)
    given = {k: str(v) for k, v in (bucket or {}).items() if v}
    first = next(iter(given.values()), "")
    return {key: given.get(key, first) for key in BUCKET_KEYS}


# --------------------------------------------------------------------------- checks


def is_dns_label(value: str, max_length: int = 63) -> bool:
    return len(value) <= max_length and bool(_DNS_LABEL.match(value))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(value: Any, *, allow_http: str = "loopback") -> str | None:
    """Why ``value`` is not an acceptable URL, or None.

    ``allow_http``: "loopback" (http:// only for 127.0.0.0/8, ::1 and localhost),
    "any" or "never".
    """
    if not isinstance(value, str) or not value:
        return "must be a URL such as https://example.com"
    shown = repr(without_userinfo(value))
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # an invalid port or IPv6 literal
        return f"{shown} is not an http(s) URL"
    if parts.scheme not in ("http", "https") or not hostname:
        return f"{shown} is not an http(s) URL"
    if parts.username or parts.password:
        return f"{shown} must not carry credentials in the URL"
    if parts.scheme == "http":
        loopback = is_loopback_host(hostname)
        if allow_http == "never" or (allow_http == "loopback" and not loopback):
            return f"{shown} must use https:// (http:// is accepted only for loopback hosts)"
    return None


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: safe to echo back."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@\s]*@", lambda m: (m.group(1) or "")
                  + "***@", url, count=1)


def without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` dropped (the user kept)."""
    from urllib.parse import urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return without_userinfo(url)
    # The host follows the last '@' (as urlsplit reads it): a password may hold one.
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}@{host}"))


# How an inline key is named in messages: its content is a credential, never echoed.
INLINE_KEY = "the service account key given as JSON"


def inline_service_account(value: Any) -> str | None:
    """The key's JSON text when ``value`` is the key itself (pasted JSON, or a mapping an
    answers file parsed), None when it is a path."""
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return value.strip()
    return None


def load_service_account(value: Any) -> tuple[str | None, str | None]:
    """A Google service account key, from its file's path or its JSON: (content, problem).

    A problem never quotes the key: an OS error on a pasted key would repeat its fields.
    """
    content = inline_service_account(value)
    if content is not None:
        source = INLINE_KEY
    else:
        path = source = str(value)
        file = Path(path).expanduser()
        try:
            content = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, f"file {path} does not exist"
        except IsADirectoryError:
            return None, f"{path} is a directory, not a key file"
        except UnicodeDecodeError:
            return None, f"{path} is not a text (JSON) file"
        except OSError as exc:
            # Only the reason: the OS error repeats the path, which may be a mistyped key.
            return None, f"cannot read {path}: {exc.strerror or type(exc).__name__}"
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return None, f"{source} is not valid JSON ({exc.msg}, line {exc.lineno})"
    if not isinstance(data, dict) or data.get("type") != "service_account":
        return None, (f"{source} is not a service account key "
                      "(its \"type\" is not service_account)")
    missing = [k for k in ("project_id", "private_key", "client_email") if not data.get(k)]
    if missing:
        return None, f"{source} lacks {', '.join(missing)}"
    return content, None


Check = Callable[[Any], str | None]


def _mapping(value: Any) -> dict[str, Any]:
    """A section as a mapping; a wrongly typed one is reported by the schema check."""
    return value if isinstance(value, dict) else {}


def _nonempty(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def validate(answers: Mapping[str, Any], *, require_credentials: bool = True) -> list[Problem]:
    """Every problem with ``answers``; an empty list means ``from_answers`` will work.

    ``require_credentials``: a dry run may go without data plane credentials when
    registration credentials are given (registration happens at install time).
    """
    problems: list[Problem] = []

    def add(path: str, message: str, fix: str | None = None, *, missing: bool = False) -> None:
        problems.append(Problem(path, message, fix, missing))

    name = answers.get("name")
    if not _nonempty(name):
        add("name", "is required", "choose a name such as us-west-1-dp (lowercase, digits, -)",
            missing=True)
    elif not isinstance(name, str) or not is_dns_label(name, MAX_NAME_LENGTH):
        add(
            "name",
            f"{name!r} is not a valid data plane name",
            f"use at most {MAX_NAME_LENGTH} lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )

    namespace = answers.get("namespace")
    if _nonempty(namespace) and (not isinstance(namespace, str) or not is_dns_label(namespace)):
        add("namespace", f"{namespace!r} is not a valid Kubernetes namespace",
            "use lowercase letters, digits and '-' (at most 63)")

    cp = _mapping(answers.get("controlPlane"))
    edition = cp.get("edition") or "cloud"
    if edition not in ("cloud", "enterprise"):
        add("controlPlane.edition", f"{edition!r} is not an edition",
            "use cloud (Enterprise Flex) or enterprise (self-managed control plane)")
    if edition == "enterprise" and not _nonempty(cp.get("url")):
        add("controlPlane.url", "is required for a self-managed control plane",
            "set it to your Airbyte URL, e.g. https://airbyte.example.com", missing=True)
    for key in ("url", "apiUrl"):
        if _nonempty(cp.get(key)):
            problem = url_problem(cp[key])
            if problem:
                add(f"controlPlane.{key}", problem, "use https://host[/path]")

    dp = _mapping(answers.get("dataPlane"))
    reg = _mapping(answers.get("registration"))
    has_dp = _nonempty(dp.get("clientId")) or _nonempty(dp.get("clientSecret"))
    has_reg = _nonempty(reg.get("clientId")) or _nonempty(reg.get("clientSecret"))
    if has_dp:
        for key in ("clientId", "clientSecret"):
            if not _nonempty(dp.get(key)):
                add(f"dataPlane.{key}", "is required with the other data plane credential",
                    "give both clientId and clientSecret of the registered data plane "
                    "(or set DATAPLANE_CLIENT_ID / DATAPLANE_CLIENT_SECRET)", missing=True)
    if has_reg:
        for key in ("clientId", "clientSecret"):
            if not _nonempty(reg.get(key)):
                add(f"registration.{key}", "is required to register a data plane",
                    "give the Airbyte application's client id and secret "
                    "(or set AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET)", missing=True)
        org = reg.get("organizationId")
        if _nonempty(org) and not is_uuid(str(org)):
            add("registration.organizationId", f"{org!r} is not a UUID",
                "copy the organization id from Airbyte's Settings > Organization")
        region = reg.get("region")
        if _nonempty(region) and not (is_uuid(str(region)) or _REGION_NAME.match(str(region))):
            add("registration.region", f"{region!r} is not a region name or id",
                "use letters, digits, '-', '_', '.' or spaces (at most 63), or a region UUID")
    if require_credentials and not has_dp and not has_reg:
        add("dataPlane", "no credentials given",
            "give dataPlane.clientId/clientSecret of a registered data plane, or "
            "registration credentials (AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET) "
            "so airbox registers one", missing=True)

    if edition == "enterprise" and not _nonempty(answers.get("licenseKey")):
        add("licenseKey", "is required for a self-managed (enterprise) control plane",
            "set licenseKey (for example to ${AIRBYTE_LICENSE_KEY})", missing=True)

    sm = _mapping(answers.get("secretsManager"))
    sm_type = sm.get("type")
    if not _nonempty(sm_type):
        add("secretsManager.type", "is required",
            "one of " + ", ".join(SECRETS_MANAGERS) + " — the control plane's secrets manager",
            missing=True)
    elif sm_type not in SECRETS_MANAGERS:
        add("secretsManager.type", f"{sm_type!r} is not a supported secrets manager",
            "use one of " + ", ".join(SECRETS_MANAGERS))
    else:
        _check_section(SECRETS_MANAGERS[sm_type], sm, "secretsManager", add)

    st = _mapping(answers.get("storage"))
    st_type = st.get("type")
    if not _nonempty(st_type):
        # Without a storage section airbox runs a store next to the data plane (MinIO in
        # the kind cluster). A self-managed control plane reads the job logs the data
        # plane writes from its own storage, so there the logs must go to that storage;
        # an existing cluster has no host directory airbox could keep the data in.
        # Missing, not wrong: on a terminal the storage question asks for it.
        if edition == "enterprise":
            add("storage", "is required with a self-managed (enterprise) control plane",
                "set storage to the bucket(s) your control plane uses (storage.type s3, gcs, "
                "azure, or minio with its endpoint): the control plane reads each sync's "
                "logs from there, and a store inside this VM is out of its reach",
                missing=True)
        elif _nonempty(_mapping(answers.get("cluster")).get("kubeContext")):
            add("storage", "is required when installing into an existing cluster",
                "set storage (s3, gcs, azure, or minio with its endpoint): airbox runs a "
                "local store only in the kind cluster it creates", missing=True)
    elif _nonempty(st_type):
        if st_type not in STORAGES:
            add("storage.type", f"{st_type!r} is not a supported storage type",
                "use one of " + ", ".join(STORAGES) + ", or leave storage out")
        else:
            _check_section(STORAGES[st_type], st, "storage", add)
            bucket = st.get("bucket")
            buckets = normalize_buckets(bucket) if isinstance(bucket, (str, dict)) else {}
            if not any(buckets.values()):
                add("storage.bucket", "is required",
                    "name the bucket(s): bucket: {log: ..., state: ..., workloadOutput: ...}",
                    missing=True)
            if isinstance(bucket, dict):
                for key in bucket:
                    if key not in BUCKET_KEYS:
                        add(f"storage.bucket.{key}", "is not a bucket use",
                            "use " + ", ".join(BUCKET_KEYS))
            named = ({"": bucket} if isinstance(bucket, str)
                     else {f".{k}": v for k, v in bucket.items() if k in BUCKET_KEYS}
                     if isinstance(bucket, dict) else {})
            for suffix, value in named.items():
                bad = bucket_problem(str(st_type), str(value)) if _nonempty(value) else None
                if bad:
                    add(f"storage.bucket{suffix}", *bad)

    chart = _mapping(answers.get("chart"))
    version = chart.get("version")
    if _nonempty(version) and not _SEMVER.match(str(version)):
        add("chart.version", f"{version!r} is not a chart version", "use a version like 1.8.1")
    source = chart.get("source")
    if _nonempty(source):
        src = str(source)
        if "://" in src:
            problem = url_problem(src, allow_http="any")
            if problem and not src.startswith("oci://"):
                add("chart.source", problem, "give a chart archive URL or a local path")
        elif not Path(src).expanduser().exists():
            add("chart.source", f"{src} does not exist",
                "give the path of a chart directory or .tgz archive")

    values = answers.get("values")
    if values is not None and not isinstance(values, dict):
        add("values", "must be a mapping of Helm values")
    elif isinstance(values, dict):
        problems.extend(values_problems(values))

    problems.extend(weak_secret_problems(answers))

    workspaces = answers.get("workspaces")
    if workspaces is not None:
        if not isinstance(workspaces, list) or not all(
                isinstance(w, str) and w.strip() for w in workspaces):
            add("workspaces", "must be a list of workspace names or ids",
                "for example: workspaces: [analytics-eu]")
        elif not has_reg and not has_dp:
            pass  # reported above: no credentials at all
        elif not has_reg:
            add("workspaces", "routing workspaces needs the Airbyte application's credentials",
                "set AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET (registration.clientId/"
                "clientSecret), or route them in Airbyte: Settings › Workspace › General › "
                "Region")

    images = answers.get("images")
    if images is not None:
        problems.extend(images_problems(images))
    problems.extend(bundle_problems(answers))

    network = answers.get("network")
    if network is not None:
        problems.extend(network_problems(network))

    cluster = _mapping(answers.get("cluster"))
    kubeconfig = cluster.get("kubeconfig")
    if _nonempty(kubeconfig) and not Path(str(kubeconfig)).expanduser().is_file():
        add("cluster.kubeconfig", f"{kubeconfig} does not exist", "give an existing kubeconfig")
    if _nonempty(kubeconfig) and not _nonempty(cluster.get("kubeContext")):
        add("cluster.kubeContext", "is required with a kubeconfig",
            "name the context to use (kubectl config get-contexts)")
    return problems


def bundle_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """``bundle``: an existing file, for the kind cluster airbox makes, and not combined
    with the sources it replaces (a chart source, a registry)."""
    bundle = answers.get("bundle")
    if not _nonempty(bundle):
        return []
    found: list[Problem] = []
    if not isinstance(bundle, str):
        return [Problem("bundle", "must be the path of a bundle file",
                        "bundle: /srv/airbox-bundle.tar (made by `airbox bundle create`)")]
    path = Path(bundle).expanduser()
    if not path.is_file():
        found.append(Problem("bundle", f"{bundle} does not exist" if not path.exists()
                             else f"{bundle} is not a file",
                             "give the file `airbox bundle create` wrote (--bundle FILE)"))
    if _nonempty(_mapping(answers.get("cluster")).get("kubeContext")):
        found.append(Problem("bundle", "works only with the kind cluster airbox creates",
                             "for an existing cluster, push the images to your registry and "
                             "set images.registry instead"))
    if _nonempty(_mapping(answers.get("chart")).get("source")):
        found.append(Problem("chart.source", "cannot be given with a bundle: the bundle "
                             "carries the chart", "leave chart.source (--chart) out"))
    if _nonempty(_mapping(answers.get("images")).get("registry")):
        found.append(Problem("images.registry", "cannot be given with a bundle: the bundle "
                             "carries every image the install needs",
                             "leave images out, or install from the registry without --bundle"))
    return found


# host[:port] then optional /path segments, as image references name a registry.
_REGISTRY = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*/?$")
_IMAGES_KEYS = ("registry", "pullSecret", "caFile", "insecure")
_PULL_KEYS = ("username", "password", "dockerConfigJson")


def images_problems(images: Any) -> list[Problem]:
    """What is wrong with the ``images`` section (a private registry or mirror)."""
    found: list[Problem] = []

    def add(path: str, message: str, fix: str | None = None, *, missing: bool = False) -> None:
        found.append(Problem(path, message, fix, missing))

    if not isinstance(images, dict):
        add("images", "must be a mapping", "images: {registry: registry.example.com/mirror}")
        return found
    for key in images:
        if key not in _IMAGES_KEYS:
            add(f"images.{key}", "is not a field of images", "use " + ", ".join(_IMAGES_KEYS))
    registry = images.get("registry")
    if not _nonempty(registry):
        add("images.registry", "is required with images",
            "name the registry (and path) images come from, e.g. "
            "registry.corp.example/airbyte-mirror", missing=True)
    elif not isinstance(registry, str) or "://" in registry or not _REGISTRY.match(registry):
        add("images.registry", f"{registry!r} is not a registry",
            "give host[:port][/path] without a scheme, e.g. registry.corp.example/airbyte-mirror")
    insecure = images.get("insecure")
    if insecure is not None and not isinstance(insecure, bool):
        add("images.insecure", "must be true or false",
            "true only for a registry that speaks plain HTTP")
    ca_file = images.get("caFile")
    if _nonempty(ca_file):
        path = Path(str(ca_file)).expanduser()
        if not path.is_file():
            add("images.caFile", f"{ca_file} does not exist",
                "give the path of the PEM file of the CA that signed the registry's certificate")
        elif "-----BEGIN CERTIFICATE-----" not in path.read_text(encoding="utf-8",
                                                                 errors="replace"):
            add("images.caFile", f"{ca_file} is not a PEM certificate",
                "give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)")
        if insecure is True:
            add("images.insecure", "cannot be combined with caFile",
                "plain HTTP has no certificate: drop caFile, or drop insecure to use TLS")
    pull = images.get("pullSecret")
    if pull is None:
        return found
    if not isinstance(pull, dict):
        add("images.pullSecret", "must be a mapping",
            "pullSecret: {username: ..., password: ${REGISTRY_PASSWORD}}")
        return found
    for key in pull:
        if key not in _PULL_KEYS:
            add(f"images.pullSecret.{key}", "is not a field of pullSecret",
                "use username and password, or dockerConfigJson")
    given = {key for key in _PULL_KEYS if _nonempty(pull.get(key))}
    if "dockerConfigJson" in given:
        if given & {"username", "password"}:
            add("images.pullSecret", "gives both dockerConfigJson and username/password",
                "keep one of them")
        text = pull["dockerConfigJson"]
        try:
            config = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            config = None
        # Never echo it: it holds the password.
        if not isinstance(config, dict) or not isinstance(config.get("auths"), dict):
            add("images.pullSecret.dockerConfigJson",
                "is not a Docker config (JSON with an \"auths\" mapping)",
                "give the content of a ~/.docker/config.json, e.g. ${REGISTRY_DOCKER_CONFIG}")
    else:
        for key in ("username", "password"):
            if key not in given:
                add(f"images.pullSecret.{key}", "is required with the other registry "
                    "credential", "give username and password (or dockerConfigJson)",
                    missing=True)
            elif not isinstance(pull[key], (str, int)):
                add(f"images.pullSecret.{key}", "must be a string")
        if "username" in given and ":" in str(pull["username"]):
            add("images.pullSecret.username", "cannot contain ':'",
                "registries take user:password; a ':' in the user name breaks it")
    return found


_NETWORK_KEYS = ("httpsProxy", "httpProxy", "noProxy")
# A NO_PROXY entry: *, a host or domain (with an optional leading dot or *.), an IPv4/IPv6
# address or CIDR range, each with an optional :port.
_NO_PROXY_ENTRY = re.compile(r"^(\*|(\*?\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?(/\d{1,3})?"
                             r"(:\d{1,5})?|\[?[0-9A-Fa-f:.]+\]?(/\d{1,3})?)$")


def proxy_url_problem(value: Any) -> str | None:
    """Why ``value`` is not a proxy URL (http(s)://[user:password@]host[:port]), or None.
    Never echoes the password."""
    if not isinstance(value, str) or not value.strip():
        return "must be a URL such as http://proxy.example.com:3128"
    shown = repr(without_userinfo(value))
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return f"{shown} has an invalid port (a number from 1 to 65535)"
    if parts.scheme not in ("http", "https"):
        return f"{shown} is not an http:// or https:// URL"
    if not host:
        return f"{shown} has no host"
    if port == 0:
        return f"{shown} has an invalid port (a number from 1 to 65535)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{shown} has a path; a proxy is only scheme, host and port"
    return None


def network_problems(network: Any) -> list[Problem]:
    """What is wrong with the ``network`` section (an HTTP proxy)."""
    from airbox.redact import MIN_SECRET_LENGTH

    found: list[Problem] = []
    fix = "give http://[user:password@]host[:port], e.g. http://proxy.corp.example:3128"
    if not isinstance(network, dict):
        return [Problem("network", "must be a mapping",
                        "network: {httpsProxy: http://proxy.corp.example:3128}")]
    for key in network:
        if key not in _NETWORK_KEYS:
            found.append(Problem(f"network.{key}", "is not a field of network",
                                 "use " + ", ".join(_NETWORK_KEYS)))
    given = [key for key in ("httpsProxy", "httpProxy") if _nonempty(network.get(key))]
    if not given:
        found.append(Problem("network.httpsProxy", "is required with network",
                             "give the proxy, e.g. httpsProxy: http://proxy.corp.example:3128"))
    for key in given:
        value = network[key]
        problem = proxy_url_problem(value)
        if problem:
            found.append(Problem(f"network.{key}", problem, fix))
            continue
        for password in proxy_passwords(value)[:1]:
            if len(password) < MIN_SECRET_LENGTH:
                found.append(Problem(
                    f"network.{key}",
                    f"has a password shorter than {MIN_SECRET_LENGTH} characters: airbox "
                    "could not keep it out of its output", "use the real credential"))
    no_proxy = network.get("noProxy")
    if no_proxy is not None:
        if not isinstance(no_proxy, (str, list)) or (isinstance(no_proxy, list) and not all(
                isinstance(item, str) for item in no_proxy)):
            found.append(Problem("network.noProxy", "must be a comma-separated string or a "
                                 "list of hosts", "e.g. noProxy: .corp.example,10.0.0.0/8"))
        else:
            bad = [entry for entry in no_proxy_entries(no_proxy)
                   if not _NO_PROXY_ENTRY.match(entry)]
            if bad:
                found.append(Problem("network.noProxy", "has entries that are not hosts, "
                                     "domains or address ranges: " + ", ".join(map(repr, bad)),
                                     "e.g. noProxy: .corp.example,10.0.0.0/8,db.internal"))
    return found


def weak_secret_problems(answers: Mapping[str, Any]) -> list[Problem]:
    """Secrets too short to be masked safely. Masking replaces a known secret wherever it
    appears, so a value like ``root`` (a Vault dev token) would also match ``/root/...``
    and every ordinary word containing it; refusing it is the only choice that neither
    leaks it nor mangles paths and tool output."""
    from airbox.redact import MIN_SECRET_LENGTH

    found: list[Problem] = []
    for path in secret_paths():
        node: Any = answers
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            node = str(node)
        if isinstance(node, str) and 0 < len(node) < MIN_SECRET_LENGTH:
            found.append(Problem(
                ".".join(path),
                f"is too short to be a credential (fewer than {MIN_SECRET_LENGTH} "
                "characters): airbox could not keep it out of its output",
                "use the real credential"
                + (" (a Vault dev server: start it with a longer -dev-root-token-id)"
                   if path[-1] == "authToken" else "")))
    return found


def _check_section(
    spec: TypeSpec,
    parent: Mapping[str, Any],
    root: str,
    add: Callable[..., None],
) -> None:
    section = parent.get(spec.section) or {}
    where = f"{root}.{spec.section}"
    if not isinstance(section, dict):
        add(where, "must be a mapping")
        return
    known = {f.key for f in spec.fields}
    for key in section:
        if key not in known:
            add(f"{where}.{key}", "is not a field of " + spec.label,
                "use " + ", ".join(sorted(known)))
    for fspec in spec.fields:
        value = section.get(fspec.key)
        path = f"{where}.{fspec.key}"
        if not _nonempty(value):
            if fspec.required and fspec.applies(section):
                add(path, f"is required for {spec.label}", fspec.help or None, missing=True)
            continue
        found = field_problem(fspec, value)
        if found is not None:
            add(path, *found)


def field_problem(fspec: FieldSpec, value: Any) -> tuple[str, str | None] | None:
    """(message, fix) when ``value`` does not fit the field, else None.

    Shared by the answers-file check and the prompts, so a value typed and a value
    written are held to the same rules. Secret values are never echoed back.
    """
    shown = "the value" if fspec.masked else repr(value)
    if fspec.kind == "choice" and value not in fspec.choices:
        return f"{value!r} is not one of " + ", ".join(fspec.choices), None
    if fspec.kind == "url":
        problem = url_problem(value, allow_http="any")
        return (problem, "use https://host") if problem else None
    if fspec.kind == "vault-address":
        problem = url_problem(value, allow_http="any")
        if problem:
            return problem, "use the address VAULT_ADDR holds, e.g. https://vault.example.com:8200"
        if urlsplit(str(value)).path.rstrip("/") not in ("",):
            return (f"{value!r} has a path; the Vault address is only scheme, host and port",
                    "drop the path (e.g. /v1/...): https://vault.example.com:8200")
        return None
    if fspec.kind == "aws-region" and not _AWS_REGION.match(str(value)):
        return f"{value!r} is not an AWS region", "use a region such as us-west-2"
    if fspec.kind == "aws-key-id" and not _AWS_ACCESS_KEY_ID.match(str(value)):
        return (f"{shown} is not an AWS access key id",
                "it is 20 capital letters and digits starting with AKIA (or ASIA for "
                "temporary keys), e.g. AKIAIOSFODNN7EXAMPLE")
    if fspec.kind == "uuid" and not is_uuid(str(value)):
        return (f"{shown} is not an id of the form 00000000-0000-0000-0000-000000000000",
                "copy it from the Azure portal: " + (fspec.where or fspec.label))
    if fspec.kind == "tags" and not (
        isinstance(value, dict) and all(isinstance(k, str) for k in value)
    ):
        return "must be a mapping of tag names to values", "e.g. tags: {team: data}"
    if fspec.kind == "tags":
        # The platform reads tags as "key=value,key=value": a comma or "=" inside a tag,
        # or an empty one, would stop the launcher at start-up.
        for key, tag in value.items():
            text = "" if tag is None else str(tag)
            if not key.strip() or not text.strip() or any(
                    c in part for part in (key, text) for c in ",="):
                return (f"the tag {key}: {text!r} cannot be passed on",
                        "use a non-empty name and value without ',' or '='")
    if fspec.kind == "json-file":
        _, problem = load_service_account(value)
        return (problem, "give the path of a Google service account key file, or the key's "
                         "JSON itself") if problem else None
    if fspec.kind in ("text", "aws-key-id", "uuid") and not isinstance(value, (str, int)):
        return "must be a string", None
    return None


_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_AZURE_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


def bucket_problem(storage_type: str, name: str) -> tuple[str, str] | None:
    """(message, fix) when ``name`` cannot be a bucket (container, for Azure) of that type.

    The rules are the providers' naming rules, checked here so a typo such as
    ``Acme_Airbyte`` is caught before the data plane fails its first sync.
    """
    if storage_type == "s3":
        ok = (bool(_S3_BUCKET.match(name)) and ".." not in name
              and not re.match(r"^\d+\.\d+\.\d+\.\d+$", name)
              and not name.startswith("xn--"))
        rule = ("S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting "
                "and ending with a letter or digit")
    elif storage_type == "gcs":
        parts_ok = all(0 < len(part) <= 63 for part in name.split("."))
        ok = bool(_GCS_BUCKET.match(name)) and parts_ok and not name.startswith("goog") and (
            len(name) <= 63 or "." in name)
        rule = ("Cloud Storage bucket names are 3-63 lowercase letters, digits, '-', '_' and "
                "'.', starting and ending with a letter or digit")
    elif storage_type == "azure":
        ok = bool(_AZURE_CONTAINER.match(name))
        rule = ("Azure container names are 3-63 lowercase letters, digits and single '-', "
                "starting and ending with a letter or digit")
    else:
        return None
    if ok:
        return None
    return f"{name!r} is not a valid name", rule


def values_problems(values: Mapping[Any, Any]) -> list[Problem]:
    """What is wrong with the ``values:`` overrides: keys Helm cannot take (not strings),
    and credentials — found by key name (``apiKey``, ``password`` …), by an env-style
    ``{name: X_SECRET, value: …}`` entry, or by content (a known secret, a credential's
    shape, a URL with a password), at any depth, through lists too."""
    problems: list[Problem] = []
    for path in _non_string_keys(values, "values"):
        problems.append(Problem(path, "has a key that is not a string",
                                "quote the key (Helm values keys are strings)"))
    for path in _credential_paths(values, "values"):
        problems.append(Problem(
            path, "looks like a credential in plain Helm values",
            "credentials belong in their section (dataPlane, secretsManager, storage, "
            "licenseKey) so they reach the cluster in a Secret, not in values.yaml"))
    return problems


def _non_string_keys(data: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                found.append(f"{path}.{key!r}")
                continue
            found.extend(_non_string_keys(value, f"{path}.{key}"))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_non_string_keys(item, f"{path}[{index}]"))
    return found


def _is_scalar_value(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""


def _credential_paths(data: Any, path: str) -> list[str]:
    from airbox.redact import is_secret_key, looks_like_credential

    found: list[str] = []
    if isinstance(data, dict):
        # An environment entry names its secret in "name", not in the key of its value.
        env_name = data.get("name")
        env_secret = isinstance(env_name, str) and is_secret_key(env_name)
        for key, value in data.items():
            where = f"{path}.{key}"
            if isinstance(value, (dict, list)):
                found.extend(_credential_paths(value, where))
            elif _is_scalar_value(value) and (
                    (isinstance(key, str) and is_secret_key(key))
                    or (env_secret and key == "value")
                    or looks_like_credential(str(value))):
                found.append(where)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            where = f"{path}[{index}]"
            if isinstance(item, (dict, list)):
                found.extend(_credential_paths(item, where))
            elif _is_scalar_value(item) and looks_like_credential(str(item)):
                found.append(where)
    return found
