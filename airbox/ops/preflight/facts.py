"""What preflight looks at: the data plane to check (``Subject``), the URLs it probes
(``Endpoints``), and the machine (``HostFacts``; tests fake it), each bounded in time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from airbox import __version__, versions
from airbox.cluster.dockerhost import CONNECT_TIMEOUT, DockerHost, socket_candidates
from airbox.cluster.runner import child_environment
from airbox.config.settings import (
    CLOUD_URL,
    CLUSTER_PREFIX,
    DEFAULT_NAMESPACE,
    Images,
    Settings,
    default_api_url,
)
from airbox.errors import DockerError

# --------------------------------------------------------------------------- budget

# Each network probe: connect, then the response headers, each within this.
NETWORK_TIMEOUT = 3.0
# The whole run, whatever does not answer.
# The Docker API: connect (its own CONNECT_TIMEOUT) plus `info` and `version`.
DOCKER_BUDGET = CONNECT_TIMEOUT + 2.0
HELM_TIMEOUT = 5.0

HELM_REPO_INDEX = versions.CHART_REPO + "/index.yaml"
REGISTRY_URL = "https://registry-1.docker.io/v2/"
# Point the probes elsewhere: a mirror the install really uses, or a test server.
ENV_HELM_REPO_URL = "AIRBOX_PREFLIGHT_HELM_REPO_URL"
ENV_REGISTRY_URL = "AIRBOX_PREFLIGHT_REGISTRY_URL"
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


# ------------------------------------------------------------------------- subject


@dataclass(frozen=True)
class Subject:
    """What the checks are about: which data plane, where it runs, what it must reach."""

    name: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    control_plane_url: str = CLOUD_URL
    # Probed only when airbox will register the data plane through the public API.
    api_url: str | None = None
    kube_context: str | None = None
    kubeconfig: str | None = None
    chart_source: str | None = None
    image_registry: str | None = None
    # The answers' images.insecure: that registry speaks plain HTTP.
    image_registry_http: bool = False
    # The secrets manager or the storage authenticate with the VM's IAM role.
    instance_profile: bool = False
    # The private registry's pull credentials (username, password), checked with it.
    registry_auth: tuple[str, str] | None = field(default=None, repr=False)
    # The CA the private registry's certificate is checked with (images.caFile).
    registry_ca: str | None = None
    # An offline bundle: the images, chart and tools come from it, not the network.
    bundle: str | None = None

    @property
    def is_kind(self) -> bool:
        return self.kube_context is None

    @property
    def cluster_name(self) -> str | None:
        return CLUSTER_PREFIX + self.name if self.name else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Subject:
        registering = settings.data_plane is None and settings.registration is not None
        return cls(
            name=settings.name,
            namespace=settings.namespace,
            control_plane_url=settings.control_plane.url,
            api_url=settings.control_plane.api_url if registering else None,
            kube_context=settings.target.kube_context,
            kubeconfig=settings.target.kubeconfig,
            chart_source=settings.chart.source,
            image_registry=(settings.images.registry if settings.images is not None
                            else _image_registry(settings.values)),
            image_registry_http=settings.images is not None and settings.images.insecure,
            instance_profile=any(
                section.spec.section in ("awsSecretManager", "s3")
                and section.value("authenticationType") == "instanceProfile"
                for section in (settings.secrets_manager,
                                *([settings.storage.section] if settings.storage else []))),
            registry_auth=_registry_auth(settings.images),
            registry_ca=settings.images.ca_file if settings.images is not None else None,
            bundle=settings.bundle,
        )

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Subject:
        """Leniently: preflight needs a few fields, not a complete, valid answers file."""
        cp = _mapping(answers.get("controlPlane"))
        edition = str(cp.get("edition") or "cloud")
        url = str(cp.get("url") or CLOUD_URL).rstrip("/")
        registering = (not _mapping(answers.get("dataPlane")).get("clientId")
                       and bool(_mapping(answers.get("registration")).get("clientId")))
        api_url = str(cp.get("apiUrl") or default_api_url(edition, url)).rstrip("/")
        cluster = _mapping(answers.get("cluster"))
        chart = _mapping(answers.get("chart"))
        # A private registry (answers images) is where every image comes from.
        images = _mapping(answers.get("images"))
        name = answers.get("name")
        return cls(
            name=str(name) if name else None,
            namespace=str(answers.get("namespace") or DEFAULT_NAMESPACE),
            control_plane_url=url,
            api_url=api_url if registering else None,
            kube_context=cluster.get("kubeContext") or None,
            kubeconfig=cluster.get("kubeconfig") or None,
            chart_source=chart.get("source") or None,
            image_registry=(str(images["registry"]).strip("/") if images.get("registry")
                            else _image_registry(_mapping(answers.get("values")))),
            image_registry_http=bool(images.get("registry")) and images.get("insecure") is True,
            instance_profile=any(
                _mapping(_mapping(answers.get(root)).get(section)).get("authenticationType")
                == "instanceProfile"
                for root, section in (("secretsManager", "awsSecretManager"), ("storage", "s3"))),
            registry_auth=_registry_auth(_lenient_images(images)),
            registry_ca=str(images["caFile"]) if images.get("registry")
            and isinstance(images.get("caFile"), str) and images["caFile"] else None,
            bundle=(str(Path(str(answers["bundle"])).expanduser().absolute())
                    if isinstance(answers.get("bundle"), str) and answers["bundle"] else None),
        )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _lenient_images(section: Mapping[str, Any]) -> Images | None:
    """The answers' ``images`` as settings would read them; None when unusable."""
    from airbox.config.settings import _images

    try:
        return _images(section) if isinstance(section.get("registry"), str) else None
    except (TypeError, ValueError, AttributeError):
        return None


def _registry_auth(images: Images | None) -> tuple[str, str] | None:
    """The pull Secret's username and password, as the host's pulls use them."""
    from airbox.render.manifests import registry_auth

    try:
        auth = registry_auth(images)
    except (ValueError, TypeError, AttributeError):  # a Docker config validation refuses
        return None
    return (auth["username"], auth["password"]) if auth else None


def _image_registry(values: Mapping[str, Any]) -> str | None:
    # The chart pulls from Docker Hub unless values point image.registry at a mirror
    # (the chart reads no global.image.registry); then that mirror must be reachable.
    registry = _mapping(_mapping(dict(values)).get("image")).get("registry")
    return str(registry).strip("/") if registry else None


@dataclass(frozen=True)
class Endpoints:
    """The fixed URLs preflight probes, and how long each probe may take."""

    helm_repo: str | None = None
    registry: str | None = None
    timeout: float = NETWORK_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Endpoints:
        environ = os.environ if environ is None else environ
        return cls(environ.get(ENV_HELM_REPO_URL) or None, environ.get(ENV_REGISTRY_URL) or None)

    def helm_url(self, subject: Subject) -> str | None:
        """The chart's source to probe; None when the chart is a local file."""
        if self.helm_repo:
            return self.helm_repo
        source = subject.chart_source
        if not source:
            return HELM_REPO_INDEX
        if source.startswith(("http://", "https://")):
            return source
        if source.startswith("oci://"):
            return f"https://{urlsplit(source).netloc}/v2/"
        return None

    def registry_url(self, subject: Subject) -> str:
        if self.registry:
            return self.registry
        if subject.image_registry:
            host = subject.image_registry.split("/", 1)[0]
            scheme = "http" if subject.image_registry_http else "https"
            return f"{scheme}://{host}/v2/"
        return REGISTRY_URL


def docker_problem(error: DockerError) -> str:
    """Which check a connection error belongs to (dockerhost's classification)."""
    message = error.message.lower()
    if message.startswith("permission denied"):
        return "access"
    if message.startswith("docker is not installed"):
        return "missing"
    return "down"


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class DockerFacts:
    """The Docker daemon as `docker info` / `docker version` describe it."""

    version: str
    cpus: int
    memory: int  # bytes
    root_dir: str
    cgroup_version: str | None  # "1", "2" or None when unknown
    endpoint: str = "unix:///var/run/docker.sock"
    operating_system: str = ""
    # The daemon runs on this machine's kernel and disk (not remote, not a VM such as
    # Docker Desktop's): only then do /proc/sys and statvfs describe what it uses.
    local: bool = True
    # The proxy the daemon pulls through (`docker info`: HttpProxy, HttpsProxy, NoProxy;
    # the daemon shows a password as xxxxx), "" when none.
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""

    @property
    def desktop(self) -> bool:
        return "docker desktop" in self.operating_system.lower()


class HostFacts(Protocol):
    """What the checks need to know about this machine; faked in tests."""

    def docker_cli(self) -> str | None:
        """The path of the docker command, or None."""

    def docker(self) -> DockerFacts | DockerError:
        """The daemon's facts, or why it cannot be used (with the fix as the hint)."""

    def disk_free(self, path: str) -> int | None:
        """Bytes available to unprivileged users on the filesystem of ``path``."""

    def sysctl(self, key: str) -> int | None:
        """A kernel parameter such as fs.inotify.max_user_watches, or None."""

    def kind_nodes(self, cluster: str) -> list[str] | None:
        """Node containers of the kind cluster ``cluster``; None when Docker is unusable."""

    def helm_release_exists(self, subject: Subject) -> bool | None:
        """Whether the release exists in the existing cluster; None when unknown."""

    def kube_contexts(self, kubeconfig: str | None) -> list[str] | None:
        """Context names in the kubeconfig(s); None when there is no kubeconfig."""

    def tool(self, name: str) -> str | None:
        """Where kind/helm/kubectl is: already downloaded, or a compatible one on PATH;
        None when the install would have to download it."""


T = TypeVar("T")


def bounded(func: Callable[[], T], seconds: float) -> T | None:
    """``func()``, or None if it has not returned within ``seconds``.

    It runs in a daemon thread, so a call stuck beyond every timeout (a hung DNS
    resolver, a daemon that accepts and never answers) is abandoned and never keeps
    the process from exiting.
    """
    box: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(func())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name="airbox-preflight-probe")
    thread.start()
    thread.join(seconds)
    if errors:
        raise errors[0]
    return box[0] if box else None


def daemon_is_local(environ: Mapping[str, str], operating_system: str = "") -> bool:
    host = environ.get("DOCKER_HOST", "")
    return (sys.platform.startswith("linux")
            and (not host or host.startswith("unix://"))
            and "docker desktop" not in operating_system.lower())


class SystemFacts:
    """The real machine: the Docker SDK, /proc/sys, statvfs, kubeconfig files, helm."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()
        self._docker: DockerFacts | DockerError | None = None
        self._host: DockerHost | None = None

    def docker_cli(self) -> str | None:
        return shutil.which("docker")

    def tool(self, name: str) -> str | None:
        from airbox.cluster import toolchain

        pinned = toolchain.pinned_path(name)
        if pinned.is_file() and os.access(pinned, os.X_OK):
            return f"{name} (downloaded)"
        on_path = shutil.which(name, path=self._environ.get("PATH"))
        if on_path and toolchain._compatible(name, toolchain._version_of(name, on_path)):
            return f"{name} ({on_path})"
        return None

    def docker(self) -> DockerFacts | DockerError:
        # Several checks need the daemon at once: connect once, the others wait.
        with self._lock:
            if self._docker is None:
                answer = bounded(self._connect, DOCKER_BUDGET)
                self._docker = answer if answer is not None else DockerError(
                    f"the Docker daemon did not answer within {DOCKER_BUDGET:.0f}s",
                    hint="check it with `docker info`; restart it: sudo systemctl restart docker",
                )
            return self._docker

    def _connect(self) -> DockerFacts | DockerError:
        try:
            host = DockerHost.connect()
        except DockerError as exc:
            return self._elsewhere(exc)
        try:
            info = host.info()
            version = host.version()
        except Exception as exc:
            return DockerError(
                f"the Docker daemon answered, but `docker info` failed: {exc}",
                hint="check it with `docker info`; restart it: sudo systemctl restart docker",
            )
        self._host = host
        operating_system = str(info.get("OperatingSystem") or "")
        local = daemon_is_local(self._environ, operating_system)
        cgroup = str(info.get("CgroupVersion") or "") or None
        if cgroup is None and local:
            # Daemons older than API 1.40 do not say; the host's hierarchy is theirs.
            cgroup = "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"
        return DockerFacts(
            version=str(version.get("Version") or info.get("ServerVersion") or ""),
            cpus=int(info.get("NCPU") or 0),
            memory=int(info.get("MemTotal") or 0),
            root_dir=str(info.get("DockerRootDir") or ""),
            cgroup_version=cgroup,
            endpoint=self._environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock",
            operating_system=operating_system,
            local=local,
            http_proxy=str(info.get("HttpProxy") or ""),
            https_proxy=str(info.get("HttpsProxy") or ""),
            no_proxy=str(info.get("NoProxy") or ""),
        )

    def _elsewhere(self, error: DockerError) -> DockerError:
        """With no DOCKER_HOST, a daemon at another usual socket needs only DOCKER_HOST.

        airbox (the Docker SDK) reads DOCKER_HOST, not the docker CLI's contexts, so a
        rootless, Docker Desktop or Colima daemon is invisible to it until pointed at.
        """
        if self._environ.get("DOCKER_HOST") or docker_problem(error) == "access":
            return error
        for path in socket_candidates()[1:]:
            if Path(path).exists() and _answers_ping(path):
                return DockerError(
                    f"no Docker daemon at /var/run/docker.sock, but one answers at {path}",
                    hint=f"export DOCKER_HOST=unix://{path} (add it to your shell profile), "
                         "then run airbox again",
                )
        return error

    def disk_free(self, path: str) -> int | None:
        try:
            stat = os.statvfs(path)
        except OSError:
            return None
        return stat.f_bavail * stat.f_frsize

    def sysctl(self, key: str) -> int | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            return int(Path("/proc/sys", *key.split(".")).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kind_nodes(self, cluster: str) -> list[str] | None:
        if isinstance(self.docker(), DockerError) or self._host is None:
            return None
        host = self._host
        try:
            return bounded(
                lambda: host.containers_with_label(f"{KIND_CLUSTER_LABEL}={cluster}"),
                CONNECT_TIMEOUT)
        except Exception:  # the daemon went away between calls: cannot tell
            return None

    def helm_release_exists(self, subject: Subject) -> bool | None:
        from airbox.cluster.commands import Kube
        from airbox.cluster.toolchain import Toolchain
        from airbox.errors import AirboxError

        if not subject.name:
            return None
        try:
            helm = Toolchain(allow_download=False).resolve("helm")
        except AirboxError:
            return None
        argv = Kube(subject.kubeconfig, subject.kube_context).helm(
            "status", subject.name, "--namespace", subject.namespace, "-o", "json")
        try:
            done = subprocess.run([helm, *argv[1:]], capture_output=True, text=True,
                                  timeout=HELM_TIMEOUT, check=False, env=child_environment())
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0:
            return True
        return False if "not found" in done.stderr.lower() else None

    def kube_contexts(self, kubeconfig: str | None) -> list[str] | None:
        import yaml

        names: list[str] = []
        found = False
        for path in kubeconfig_files(kubeconfig, self._environ):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            found = True
            for entry in _mapping(data).get("contexts") or []:
                if isinstance(entry, dict) and entry.get("name"):
                    names.append(str(entry["name"]))
        return names if found else None


def _answers_ping(path: str, timeout: float = 2.0) -> bool:
    """Whether a Docker daemon answers ``GET /_ping`` on the unix socket ``path``."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status = sock.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status.startswith(b"HTTP/") and b" 200" in status


def kubeconfig_files(kubeconfig: str | None, environ: Mapping[str, str]) -> list[Path]:
    """The files kubectl would read: the given one, else $KUBECONFIG's, else ~/.kube/config."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [Path(p).expanduser() for p in listed]
    return [Path.home() / ".kube" / "config"]


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP probe: the status and Date header, or why nothing answered."""

    url: str
    status: int | None = None
    date: str | None = None
    sent: float = 0.0  # wall clock, seconds
    received: float = 0.0
    # When nothing answered: timeout, refused, dns, tls, proxy or error.
    error: str | None = None
    detail: str = ""

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc or self.url


def proxied(url: str, environ: Mapping[str, str]) -> bool:
    scheme = urlsplit(url).scheme
    names = ["HTTPS_PROXY", "https_proxy"] if scheme == "https" else ["HTTP_PROXY", "http_proxy"]
    names += ["ALL_PROXY", "all_proxy"]
    return any(environ.get(name) for name in names)


def probe_http(url: str, timeout: float) -> HttpAnswer:
    """GET ``url`` through the environment's proxies; read the headers, never the body."""
    import httpx

    sent = time.time()
    try:
        with httpx.Client(trust_env=True, timeout=httpx.Timeout(timeout), follow_redirects=False,
                          headers={"User-Agent": f"airbox/{__version__} preflight"}) as client, \
                client.stream("GET", url) as response:
            return HttpAnswer(url, response.status_code, response.headers.get("date"), sent,
                              time.time())
    except httpx.TimeoutException:
        return HttpAnswer(url, sent=sent, received=time.time(), error="timeout")
    except httpx.ProxyError as exc:
        return HttpAnswer(url, sent=sent, received=time.time(), error="proxy", detail=str(exc))
    except httpx.ConnectError as exc:
        text = str(exc)
        lowered = text.lower()
        if any(marker in lowered for marker in ("name or service not known", "name resolution",
                                                 "nodename nor servname", "getaddrinfo",
                                                 "no address associated")):
            kind = "dns"
        elif "refused" in lowered:
            kind = "refused"
        elif "ssl" in lowered or "certificate" in lowered:
            kind = "tls"
        else:
            kind = "error"
        return HttpAnswer(url, sent=sent, received=time.time(), error=kind, detail=text)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return HttpAnswer(url, sent=sent, received=time.time(), error="error", detail=str(exc))




@dataclass(frozen=True)
class RegistryLogin:
    """A registry's ``GET /v2/`` with the pull credentials (registry API v2 auth)."""

    url: str
    # "accepted", "refused" (the credentials), "anonymous" (no credentials needed),
    # "wanted" (it asks for credentials and none are given), "odd" (an answer that is
    # none of these); None when nothing answered (``answer`` says why).
    verdict: str | None
    detail: str = ""
    answer: HttpAnswer | None = None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service, ...})."""
    import re as _re

    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in _re.findall(r'([A-Za-z]+)="([^"]*)"', rest)}
    return scheme.lower(), params


def login_registry(url: str, auth: tuple[str, str] | None, timeout: float,
                   ca_file: str | None = None) -> RegistryLogin:
    """Log in to the registry at ``url`` (its ``/v2/``) as a pull would.

    The registry API v2 way (distribution's token auth spec): an anonymous ``GET /v2/``;
    a 401 names the scheme in ``WWW-Authenticate``. ``Basic``: the same request again with
    the credentials. ``Bearer realm=...,service=...``: a token from the realm (asked with
    the credentials as Basic auth, or anonymously without), then ``/v2/`` with it. The
    credentials never leave in the URL, and only to the registry and its realm.
    """
    import httpx

    sent = time.time()
    verify: Any = ca_file if ca_file else True
    try:
        with httpx.Client(trust_env=True, timeout=httpx.Timeout(timeout), verify=verify,
                          follow_redirects=False,
                          headers={"User-Agent": f"airbox/{__version__} preflight"}) as client:
            first = client.get(url)
            answer = HttpAnswer(url, first.status_code, first.headers.get("date"), sent,
                                time.time())
            if first.status_code == 200:
                return RegistryLogin(url, "anonymous", answer=answer)
            if first.status_code != 401:
                return RegistryLogin(url, "odd", f"HTTP {first.status_code}", answer)
            scheme, params = _challenge(first.headers.get("www-authenticate", ""))
            if scheme == "basic":
                if auth is None:
                    return RegistryLogin(url, "wanted", "Basic", answer)
                second = client.get(url, auth=auth)
            elif scheme == "bearer" and params.get("realm"):
                query = {k: v for k, v in params.items() if k in ("service", "scope")}
                token = client.get(params["realm"], params=query,
                                   auth=auth if auth is not None else None)
                if token.status_code in (401, 403):
                    return RegistryLogin(url, "refused" if auth else "wanted",
                                         f"its token service answered HTTP "
                                         f"{token.status_code}", answer)
                if token.status_code != 200:
                    return RegistryLogin(url, "odd", f"its token service answered HTTP "
                                                      f"{token.status_code}", answer)
                try:
                    body = token.json()
                    value = str(body.get("token") or body.get("access_token") or "")
                except (ValueError, AttributeError):
                    value = ""
                if not value:
                    return RegistryLogin(url, "odd", "its token service gave no token",
                                         answer)
                from airbox.redact import REDACTOR

                REDACTOR.add(value)
                second = client.get(url, headers={"Authorization": f"Bearer {value}"})
            else:
                return RegistryLogin(url, "odd", "HTTP 401 without a usable "
                                                 "WWW-Authenticate challenge", answer)
            if second.status_code == 200:
                return RegistryLogin(url, "accepted" if auth else "anonymous",
                                     scheme.capitalize(), answer)
            if second.status_code in (401, 403):
                return RegistryLogin(url, "refused" if auth else "wanted",
                                     f"HTTP {second.status_code}", answer)
            return RegistryLogin(url, "odd", f"HTTP {second.status_code}", answer)
    except (httpx.HTTPError, OSError, ValueError):
        # Why nothing answered: the plain probe classifies it (timeout, refused, dns...).
        return RegistryLogin(url, None, answer=probe_http(url, timeout))


# ------------------------------------------------------------------ AWS instance metadata

IMDS_URL_ENV = "AIRBOX_IMDS_URL"
EC2_URL_ENV = "AIRBOX_EC2_URL"
IMDS_URL = "http://169.254.169.254"
# The firmware's description of the machine (DMI): an EC2 instance's names Amazon EC2.
DMI_DIR_ENV = "AIRBOX_DMI_DIR"
DMI_DIR = "/sys/devices/virtual/dmi/id"
# Everything imds_facts asks (the metadata service, then the EC2 API) within this.
IMDS_WITHIN = 6.0
# The EC2 API's answer, at most.
EC2_TIMEOUT = 4.0
# Pods in the kind cluster are this many hops from the instance metadata service: the
# host forwards into Docker's bridge, the kind node into the pod's network.
POD_HOPS = 3


@dataclass(frozen=True)
class ImdsFacts:
    """This EC2 instance as its metadata service (IMDSv2) and the EC2 API describe it."""

    instance_id: str | None
    region: str | None
    # The IMDSv2 PUT response hop limit; None with ``why`` when it could not be read.
    hop_limit: int | None
    why: str | None = None


def looks_like_ec2(environ: Mapping[str, str]) -> str | None:
    """Why this machine looks like an EC2 instance (its firmware says so), or None.

    Nitro instances name ``Amazon EC2`` as their system and BIOS vendor, Xen ones carry
    ``amazon`` in their BIOS version.
    """
    root = Path(environ.get(DMI_DIR_ENV) or DMI_DIR)
    for name in ("sys_vendor", "board_vendor", "bios_vendor", "bios_version"):
        try:
            text = (root / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if "amazon" in text.lower():
            return f"its firmware says {text!r}"
    return None


def imds_facts(environ: Mapping[str, str], timeout: float = 1.0, *,
               within: float = IMDS_WITHIN,
               seen: dict[str, str] | None = None) -> ImdsFacts | None:
    """None when no metadata service answers the IMDSv2 token PUT (not on EC2).

    The hop limit is no metadata category: IMDS only enforces it (as the TTL of its
    answers). It is read from the EC2 API (DescribeInstances, ``metadataOptions``),
    signed with the instance profile's own temporary credentials, which come from IMDS;
    without ec2:DescribeInstances it stays unknown (``why``).

    Everything is asked within ``within`` seconds: what does not answer in time is a hop
    limit unknown (``why``), never "not on EC2" once the metadata service has answered
    (``seen`` gets what it said so far, for a caller that gives up waiting sooner).
    """
    import httpx

    from airbox.redact import REDACTOR

    deadline = time.monotonic() + within

    def left(most: float) -> float:
        return max(0.0, min(most, deadline - time.monotonic()))

    late = f"the metadata service and the EC2 API did not answer within {within:g} s"
    base = (environ.get(IMDS_URL_ENV) or IMDS_URL).rstrip("/")
    # Never through a proxy: the metadata service is link-local.
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        try:
            answer = http.put(f"{base}/latest/api/token",
                              headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                              timeout=left(timeout))
        except httpx.HTTPError:
            return None
        if answer.status_code != 200 or not answer.text:
            return None
        seen = {} if seen is None else seen
        seen["answered"] = "yes"
        token = answer.text.strip()
        REDACTOR.add(token)
        headers = {"X-aws-ec2-metadata-token": token}

        def meta(path: str) -> str | None:
            if not left(timeout):
                return None
            try:
                got = http.get(f"{base}/latest/meta-data/{path}", headers=headers,
                               timeout=left(timeout))
            except httpx.HTTPError:
                return None
            return got.text.strip() if got.status_code == 200 else None

        instance_id, region = meta("instance-id"), meta("placement/region")
        seen.update({k: v for k, v in (("instance_id", instance_id), ("region", region)) if v})
        role = (meta("iam/security-credentials/") or "").splitlines()
        if not instance_id or not region:
            return ImdsFacts(instance_id, region, None, late if not left(timeout) else
                             "the metadata service did not name the instance and its region")
        if not role:
            return ImdsFacts(instance_id, region, None, late if not left(timeout) else
                             "no instance profile (IAM role) is attached to this instance")
        raw = meta(f"iam/security-credentials/{role[0]}")
        try:
            import json

            creds = json.loads(raw or "")
            key_id, secret = str(creds["AccessKeyId"]), str(creds["SecretAccessKey"])
            session = str(creds.get("Token") or "")
        except (ValueError, KeyError, TypeError):
            return ImdsFacts(instance_id, region, None, late if not left(timeout) else
                             "the instance profile's credentials could not be read")
        REDACTOR.add(secret, session)
    if not left(EC2_TIMEOUT):
        return ImdsFacts(instance_id, region, None, late)
    hop_limit, why = _describe_hop_limit(environ, instance_id, region,
                                         (key_id, secret, session), left(EC2_TIMEOUT))
    return ImdsFacts(instance_id, region, hop_limit, why)


def _describe_hop_limit(environ: Mapping[str, str], instance_id: str, region: str,
                        creds: tuple[str, str, str],
                        timeout: float) -> tuple[int | None, str | None]:
    import re as _re

    import httpx

    url = (environ.get(EC2_URL_ENV) or f"https://ec2.{region}.amazonaws.com").rstrip("/")
    query = {"Action": "DescribeInstances", "InstanceId.1": instance_id,
             "Version": "2016-11-15"}
    headers = sigv4_headers("GET", url, query, region, "ec2", creds, time.time())
    try:
        # Like every other request airbox makes to the internet: through HTTPS_PROXY
        # unless NO_PROXY names the host (a VPC endpoint, say).
        with httpx.Client(timeout=timeout, trust_env=True, follow_redirects=False) as http:
            answer = http.get(url + "/", params=query, headers=headers)
    except httpx.TimeoutException:
        return None, f"the EC2 API did not answer within {timeout:.2g} s"
    except httpx.HTTPError as exc:
        return None, f"the EC2 API did not answer ({type(exc).__name__})"
    if answer.status_code != 200:
        code = _re.search(r"<Code>([^<]+)</Code>", answer.text)
        reason = code.group(1) if code else f"HTTP {answer.status_code}"
        return None, f"the EC2 API refused DescribeInstances ({reason}; the instance " \
                     "profile may lack ec2:DescribeInstances)"
    found = _re.search(r"<httpPutResponseHopLimit>(\d+)</httpPutResponseHopLimit>",
                       answer.text)
    if not found:
        return None, "the EC2 API's answer has no metadata options"
    return int(found.group(1)), None


def sigv4_headers(method: str, url: str, query: Mapping[str, str], region: str, service: str,
                  creds: tuple[str, str, str], now: float) -> dict[str, str]:
    """AWS Signature Version 4 headers for a request without a body."""
    import hashlib
    import hmac
    from urllib.parse import quote

    key_id, secret, session = creds
    parts = urlsplit(url)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = stamp[:8]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(query.items()))
    signed = {"host": parts.netloc, "x-amz-date": stamp}
    if session:
        signed["x-amz-security-token"] = session
    names = ";".join(sorted(signed))
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    request = "\n".join([method, parts.path or "/", canonical_query, canonical_headers, names,
                         hashlib.sha256(b"").hexdigest()])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(request.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Amz-Date": stamp,
               "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                                f"SignedHeaders={names}, Signature={signature}"}
    if session:
        headers["X-Amz-Security-Token"] = session
    return headers
