"""What preflight looks at: the data plane to check (``Subject``), the URLs it probes
(``Endpoints``), and the machine (``HostFacts``; tests fake it), each bounded in time.
The HTTP probes are ``http_probes``'s; the look at AWS ``imds``'s."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from airbox import versions
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
            image_registry=(
                settings.images.registry
                if settings.images is not None
                else _image_registry(settings.values)
            ),
            image_registry_http=settings.images is not None and settings.images.insecure,
            instance_profile=any(
                section.spec.section in ("awsSecretManager", "s3")
                and section.value("authenticationType") == "instanceProfile"
                for section in settings.sections
            ),
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
        registering = not _mapping(answers.get("dataPlane")).get("clientId") and bool(
            _mapping(answers.get("registration")).get("clientId")
        )
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
            image_registry=(
                str(images["registry"]).strip("/")
                if images.get("registry")
                else _image_registry(_mapping(answers.get("values")))
            ),
            image_registry_http=bool(images.get("registry")) and images.get("insecure") is True,
            instance_profile=any(
                _mapping(_mapping(answers.get(root)).get(section)).get("authenticationType")
                == "instanceProfile"
                for root, section in (("secretsManager", "awsSecretManager"), ("storage", "s3"))
            ),
            registry_auth=_registry_auth(_lenient_images(images)),
            registry_ca=str(images["caFile"])
            if images.get("registry") and isinstance(images.get("caFile"), str) and images["caFile"]
            else None,
            bundle=(
                str(Path(str(answers["bundle"])).expanduser().absolute())
                if isinstance(answers.get("bundle"), str) and answers["bundle"]
                else None
            ),
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
    from airbox.render.registry import registry_auth

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
    return (
        sys.platform.startswith("linux")
        and (not host or host.startswith("unix://"))
        and "docker desktop" not in operating_system.lower()
    )


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
                self._docker = (
                    answer
                    if answer is not None
                    else DockerError(
                        f"the Docker daemon did not answer within {DOCKER_BUDGET:.0f}s",
                        hint="check it with `docker info`; "
                        "restart it: sudo systemctl restart docker",
                    )
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
                CONNECT_TIMEOUT,
            )
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
            "status", subject.name, "--namespace", subject.namespace, "-o", "json"
        )
        try:
            done = subprocess.run(
                [helm, *argv[1:]],
                capture_output=True,
                text=True,
                timeout=HELM_TIMEOUT,
                check=False,
                env=child_environment(),
            )
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
