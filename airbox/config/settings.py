"""The one description of a data plane: typed settings built from valid answers.

Input arrives as a mapping shaped like the answers file (``assets/answers.schema.json``).
``Settings.parse`` checks and builds in one pass: the settings, or every problem at once
(``config/validate.py`` lists them section by section; the secrets manager and storage
become typed ``Section``s there, ``config/section.py``). ``Settings.from_answers`` builds
saved settings the same way without refusing them. The per-type tables live in
``config/specs.py``, the rules for single values in ``config/rules.py``; this module
re-exports both, so callers import from one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbox.config.rules import (
    _REGION_NAME,
    CLUSTER_PREFIX,
    INLINE_KEY,
    MAX_NAME_LENGTH,
    NODE_SUFFIX,
    _mapping,
    bucket_problem,
    field_problem,
    inline_service_account,
    is_dns_label,
    is_uuid,
    load_service_account,
    no_proxy_entries,
    normalize_buckets,
    proxy_passwords,
    url_problem,
    without_password,
)
from airbox.config.section import Section, secrets_manager_problems, storage_problems
from airbox.config.specs import (
    BUCKET_KEYS,
    CHOICE_LABELS,
    DATA_PLANE_CLIENT_ID_KEY,
    DATA_PLANE_CLIENT_SECRET_KEY,
    LICENSE_KEY_KEY,
    SECRETS_MANAGERS,
    STORAGES,
    FieldSpec,
    TypeSpec,
    hidden_paths,
    key_file_paths,
    secret_paths,
)
from airbox.config.validate import parse, validate
from airbox.config.validate_network import network_problems
from airbox.errors import Problem

# What other modules import from here (the tables and rules included).
__all__ = [
    "BUCKET_KEYS",
    "CHART_VERSION",
    "CHOICE_LABELS",
    "CLOUD_API_URL",
    "CLOUD_URL",
    "CLUSTER_PREFIX",
    "DATA_PLANE_CLIENT_ID_KEY",
    "DATA_PLANE_CLIENT_SECRET_KEY",
    "DEFAULT_NAMESPACE",
    "INLINE_KEY",
    "LICENSE_KEY_KEY",
    "MAX_NAME_LENGTH",
    "NODE_SUFFIX",
    "SECRETS_MANAGERS",
    "STORAGES",
    "_REGION_NAME",
    "ChartRef",
    "ClientCredentials",
    "ControlPlane",
    "FieldSpec",
    "Identity",
    "Images",
    "Network",
    "Registration",
    "Section",
    "Settings",
    "Target",
    "TypeSpec",
    "_images",
    "bucket_problem",
    "default_api_url",
    "field_problem",
    "hidden_paths",
    "inline_service_account",
    "is_dns_label",
    "is_uuid",
    "key_file_paths",
    "load_service_account",
    "network_from",
    "network_problems",
    "no_proxy_entries",
    "normalize_buckets",
    "proxy_passwords",
    "secret_paths",
    "url_problem",
    "validate",
    "without_password",
]

CLOUD_URL = "https://cloud.airbyte.com"
CLOUD_API_URL = "https://api.airbyte.com/v1"
DEFAULT_NAMESPACE = "airbyte"
CHART_VERSION = "1.8.1"

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
class Identity:
    """Which data plane it is and where it runs, without how it keeps its secrets and
    data (the secrets manager, the storage).

    All that finding and removing a data plane needs (uninstall, the support bundle), and
    all its name tells when its saved settings are unreadable (``Identity.named``):
    ``Settings`` adds the rest, so nothing has to invent a secrets manager to get here.
    """

    name: str
    namespace: str
    control_plane: ControlPlane
    data_plane: ClientCredentials | None
    registration: Registration | None
    license_key: str | None
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
    def named(cls, answers: Mapping[str, Any]) -> Identity:
        """What ``answers`` tell besides the secrets manager and storage: from the name
        alone (and the environment), a kind cluster ``airbox-<name>`` with the release in
        the default namespace."""
        return cls(**_identity(answers))


@dataclass(frozen=True, kw_only=True)
class Settings(Identity):
    """A data plane's whole settings: what ``install`` renders and every check reads."""

    secrets_manager: Section
    # None: airbox runs a local store (``runs_local_store``) or, in an existing cluster,
    # refused by the check.
    storage: Section | None

    @property
    def runs_local_store(self) -> bool:
        """Whether airbox runs the object store itself (MinIO in the kind cluster it made,
        its data on this host): no storage configured. The one place this is decided;
        validation (``storage_problems``) refuses no storage where such a store cannot
        serve (a self-managed control plane, an existing cluster)."""
        return self.storage is None and self.target.is_kind

    @property
    def sections(self) -> tuple[Section, ...]:
        """The typed sections: the secrets manager, then the storage when configured."""
        if self.storage is None:
            return (self.secrets_manager,)
        return (self.secrets_manager, self.storage)

    @classmethod
    def parse(
        cls, answers: Mapping[str, Any], *, require_credentials: bool = True
    ) -> tuple[Settings | None, list[Problem]]:
        """Check and build in one pass: (the settings, []) or (None, every problem)."""
        problems, secrets_manager, storage = parse(answers, require_credentials=require_credentials)
        if problems or secrets_manager is None:
            return None, problems
        return cls(**_identity(answers), secrets_manager=secrets_manager, storage=storage), []

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Settings:
        """Build settings from answers checked before (saved ones, a test's), without
        refusing them for what may have changed since (a key file moved): the same parse,
        its problems not held against them. Raises on answers no settings can come from
        (no secrets manager, a type airbox does not know)."""
        secrets_manager = secrets_manager_problems(answers).value
        if secrets_manager is None:
            raise KeyError("secretsManager")
        storage = storage_problems(answers).value
        if storage is None and _mapping(answers.get("storage")).get("type"):
            raise KeyError("storage")
        return cls(**_identity(answers), secrets_manager=secrets_manager, storage=storage)


def _identity(answers: Mapping[str, Any]) -> dict[str, Any]:
    """``Identity``'s fields from answers."""
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
    chart = _mapping(answers.get("chart"))
    cluster = _mapping(answers.get("cluster"))
    return dict(
        name=answers["name"],
        namespace=answers.get("namespace") or DEFAULT_NAMESPACE,
        control_plane=ControlPlane(edition, url, api_url),
        data_plane=data_plane,
        registration=registration,
        license_key=answers.get("licenseKey") or None,
        chart=ChartRef(str(chart.get("version") or CHART_VERSION), chart.get("source")),
        values=dict(answers.get("values") or {}),
        target=Target(cluster.get("kubeContext") or None, cluster.get("kubeconfig") or None),
        workspaces=tuple(str(w).strip() for w in answers.get("workspaces") or () if str(w).strip()),
        images=_images(_mapping(answers.get("images"))),
        network=network_from(_mapping(answers.get("network"))),
        bundle=(
            str(Path(str(answers["bundle"])).expanduser().absolute())
            if answers.get("bundle")
            else None
        ),
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
        if pull.get("dockerConfigJson")
        else None,
        ca_file=str(section["caFile"]) if section.get("caFile") else None,
        insecure=section.get("insecure") is True,
    )


def network_from(section: Mapping[str, Any]) -> Network | None:
    https = str(section.get("httpsProxy") or "").strip() or None
    http = str(section.get("httpProxy") or "").strip() or None
    if https is None and http is None:
        return None
    return Network(https, http, tuple(no_proxy_entries(section.get("noProxy"))))


def default_api_url(edition: str, url: str) -> str:
    if edition == "enterprise":
        return url.rstrip("/") + "/api/public/v1"
    return CLOUD_API_URL
