"""Preflight: is this machine ready for a data plane, and if not, what exactly to do.

Every check has a stable id, a title, an outcome and a one-line finding; a warning or
a failure also carries the fix. Outcomes:

``pass``
    fine.
``warn``
    works, but below what Airbyte recommends or likely to hurt later.
``fail``
    the install would fail or the data plane could not run; ``install`` stops
    (exit 3) unless the user confirms ``--ignore-preflight-failures``.
``skip``
    does not apply here (an existing cluster, no name given) or could not be
    measured (the Docker daemon is on another machine).

Checks run concurrently. Everything that can block — the Docker API, HTTP probes,
``helm`` — has its own timeout and runs in a thread the run can abandon, and the
run as a whole has a deadline, so preflight answers within ``DEADLINE`` seconds
even when hosts do not answer at all.

Host facts come through ``HostFacts`` (tests fake the machine) and the probed URLs
through ``Endpoints`` and ``Subject`` (tests point them at local servers).
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import getpass
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from airbox import __version__, versions
from airbox.dockerhost import CONNECT_TIMEOUT, DockerHost, socket_candidates
from airbox.errors import DockerError, InvalidSettings, PreflightFailed, Problem
from airbox.fsutil import PUBLIC_FILE, read_json, write_json
from airbox.paths import StateDir
from airbox.settings import (
    CLOUD_URL,
    CLUSTER_PREFIX,
    DEFAULT_NAMESPACE,
    MAX_NAME_LENGTH,
    Settings,
    default_api_url,
    is_dns_label,
    url_problem,
)

if TYPE_CHECKING:
    from airbox.install import Context
    from airbox.ui import StepLine, Terminal

Outcome = Literal["pass", "warn", "fail", "skip"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "warn", "fail", "skip")
SCHEMA_VERSION = 1

GiB = 1024**3

# ----------------------------------------------------------------------- thresholds
#
# Airbyte documents 8 CPU / 16 GB as the minimum for a data plane VM and 24 GB as the
# recommendation: below that, warn. The floor (fail) is what one sync needs at all:
# the kind node's control plane (kubeadm documents 2 CPUs and ~1.7 GB as the least
# for a control-plane node), the workload launcher (a JVM, ~1 GB) and one sync's job pods
# (orchestrator, source and destination, 1-2 GB together). Below 2 CPU / 4 GB the
# first sync's pods stay Pending or get OOM-killed, so an install would only look
# healthy.
CPU_FLOOR = 2
CPU_MINIMUM = 8
# Docker reports the kernel's MemTotal, which is 3-6 % below the size a VM is sold
# with (firmware and kernel reservations): a "16 GB" VM shows about 15.5 GiB. The
# memory thresholds carry that slack so a VM of the documented size passes.
MEMORY_FLOOR = int(3.5 * GiB)  # a 4 GB machine
MEMORY_MINIMUM = 15 * GiB  # a 16 GB machine
MEMORY_RECOMMENDED = 23 * GiB  # a 24 GB machine
# Where Docker keeps its data also holds the kind node's containerd store, so every
# data plane image is there twice (pulled on the host, then `kind load`ed): the node
# image (~1 GB), the data plane images (~3 GB) twice, plus a connector pair per
# sync (0.5-2 GB each). Below 10 GiB the first sync cannot pull its connectors, and
# the kubelet starts evicting pods when its filesystem drops under 10-15 % free.
# 30 GiB leaves room for a dozen connector images, logs and upgrades.
DISK_FLOOR = 10 * GiB
DISK_MINIMUM = 30 * GiB
# Docker 20.10 is the first release with cgroup v2 support, and the oldest that any
# supported distribution still ships (Debian 11/12's docker.io).
MIN_DOCKER = (20, 10)
# kind's known-issues page: the defaults (8192 watches, 128 instances on many
# distributions) run out with a Kubernetes node's many watchers: "too many open files".
INOTIFY_WANTED = {
    "fs.inotify.max_user_watches": 524288,
    "fs.inotify.max_user_instances": 512,
}
INOTIFY_CONF = "/etc/sysctl.d/99-airbox-inotify.conf"
# The data plane authenticates with short-lived OAuth tokens and signs AWS requests
# (Secrets Manager, S3) with SigV4, which AWS rejects beyond 5 minutes of skew. An
# HTTP Date header has 1 s resolution, so 30 s is well beyond measuring error but
# already enough to make token lifetimes look odd.
SKEW_WARN = 30.0
SKEW_FAIL = 300.0

# --------------------------------------------------------------------------- budget

# Each network probe: connect, then the response headers, each within this.
NETWORK_TIMEOUT = 3.0
# The whole run, whatever does not answer.
DEADLINE = 9.0
# The Docker API: connect (its own CONNECT_TIMEOUT) plus `info` and `version`.
DOCKER_BUDGET = CONNECT_TIMEOUT + 2.0
HELM_TIMEOUT = 5.0

HELM_REPO_INDEX = versions.CHART_REPO + "/index.yaml"
REGISTRY_URL = "https://registry-1.docker.io/v2/"
# Point the probes elsewhere: a mirror the install really uses, or a test server.
ENV_HELM_REPO_URL = "AIRBOX_PREFLIGHT_HELM_REPO_URL"
ENV_REGISTRY_URL = "AIRBOX_PREFLIGHT_REGISTRY_URL"
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"

_VERSION = re.compile(r"(\d+)\.(\d+)")


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
            image_registry=_image_registry(settings.values),
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
        name = answers.get("name")
        return cls(
            name=str(name) if name else None,
            namespace=str(answers.get("namespace") or DEFAULT_NAMESPACE),
            control_plane_url=url,
            api_url=api_url if registering else None,
            kube_context=cluster.get("kubeContext") or None,
            kubeconfig=cluster.get("kubeconfig") or None,
            chart_source=chart.get("source") or None,
            image_registry=_image_registry(_mapping(answers.get("values"))),
        )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _image_registry(values: Mapping[str, Any]) -> str | None:
    # The chart pulls from Docker Hub unless values point global.image.registry at a
    # mirror; then that mirror is what must be reachable.
    registry = _mapping(_mapping(_mapping(dict(values)).get("global")).get("image")).get(
        "registry")
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
            return f"https://{host}/v2/"
        return REGISTRY_URL


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


T = TypeVar("T")


def _bounded(func: Callable[[], T], seconds: float) -> T | None:
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

    def docker(self) -> DockerFacts | DockerError:
        # Several checks need the daemon at once: connect once, the others wait.
        with self._lock:
            if self._docker is None:
                answer = _bounded(self._connect, DOCKER_BUDGET)
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
        )

    def _elsewhere(self, error: DockerError) -> DockerError:
        """With no DOCKER_HOST, a daemon at another usual socket needs only DOCKER_HOST.

        airbox (the Docker SDK) reads DOCKER_HOST, not the docker CLI's contexts, so a
        rootless, Docker Desktop or Colima daemon is invisible to it until pointed at.
        """
        if self._environ.get("DOCKER_HOST") or _docker_problem(error) == "access":
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
            return _bounded(
                lambda: host.containers_with_label(f"{KIND_CLUSTER_LABEL}={cluster}"),
                CONNECT_TIMEOUT)
        except Exception:  # the daemon went away between calls: cannot tell
            return None

    def helm_release_exists(self, subject: Subject) -> bool | None:
        from airbox.commands import Kube
        from airbox.errors import AirboxError
        from airbox.toolchain import Toolchain

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
                                  timeout=HELM_TIMEOUT, check=False)
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


def _proxied(url: str, environ: Mapping[str, str]) -> bool:
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


# -------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    finding: str
    fix: str | None = None


def passed(finding: str) -> Verdict:
    return Verdict("pass", finding)


def warned(finding: str, fix: str) -> Verdict:
    return Verdict("warn", finding, fix)


def failed(finding: str, fix: str) -> Verdict:
    return Verdict("fail", finding, fix)


def skipped(finding: str) -> Verdict:
    return Verdict("skip", finding)


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    outcome: Outcome
    finding: str
    fix: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "outcome": self.outcome,
                "finding": self.finding, "fix": self.fix, "seconds": round(self.seconds, 3)}


@dataclass
class Report:
    subject: Subject
    results: list[Result]
    started_at: str
    seconds: float

    def by_outcome(self, outcome: Outcome) -> list[Result]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def failures(self) -> list[Result]:
        return self.by_outcome("fail")

    @property
    def warnings(self) -> list[Result]:
        return self.by_outcome("warn")

    @property
    def outcome(self) -> Outcome:
        if self.failures:
            return "fail"
        return "warn" if self.warnings else "pass"

    def result(self, check_id: str) -> Result:
        return next(r for r in self.results if r.id == check_id)

    def to_json(self) -> dict[str, Any]:
        """The documented, stable shape of ``preflight.json`` and ``--json``."""
        subject = self.subject
        target: dict[str, Any] = (
            {"type": "kind", "cluster": subject.cluster_name} if subject.is_kind
            else {"type": "existing", "context": subject.kube_context,
                  "kubeconfig": subject.kubeconfig}
        )
        return {
            "schemaVersion": SCHEMA_VERSION,
            "airboxVersion": __version__,
            "name": subject.name,
            "target": target,
            "controlPlaneUrl": subject.control_plane_url,
            "startedAt": self.started_at,
            "seconds": round(self.seconds, 3),
            "outcome": self.outcome,
            "counts": {o: len(self.by_outcome(o)) for o in OUTCOMES},
            "checks": [r.to_json() for r in self.results],
        }


# --------------------------------------------------------------------------- checks


@dataclass
class Probe:
    """One run's inputs, and the HTTP answers shared between checks."""

    subject: Subject
    facts: HostFacts
    endpoints: Endpoints
    state: StateDir | None
    environ: Mapping[str, str]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: dict[str, concurrent.futures.Future[HttpAnswer]] = field(default_factory=dict)

    def http(self, url: str) -> HttpAnswer:
        """Probe ``url`` once per run; the clock check reuses the control plane's answer."""
        with self._lock:
            future = self._http.get(url)
            owner = future is None
            if future is None:
                future = concurrent.futures.Future()
                self._http[url] = future
        if owner:
            timeout = self.endpoints.timeout
            try:
                # Connect and headers each have the timeout; allow both, then give up.
                answer = _bounded(lambda: probe_http(url, timeout), 2 * timeout + 0.5)
                future.set_result(answer or HttpAnswer(url, error="timeout"))
            except BaseException as exc:
                # Never leave the checks waiting on this URL blocked.
                future.set_exception(exc)
        return future.result()

    def docker(self) -> DockerFacts | DockerError:
        return self.facts.docker()


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[Probe], Verdict]
    # "kind": only when airbox makes the kind cluster; "existing": only for an
    # existing cluster; "any": always.
    scope: Literal["kind", "existing", "any"] = "any"


def _docker_problem(error: DockerError) -> str:
    """Which check a connection error belongs to (dockerhost's classification)."""
    message = error.message.lower()
    if message.startswith("permission denied"):
        return "access"
    if message.startswith("docker is not installed"):
        return "missing"
    return "down"


def _no_docker(error: DockerError | None = None) -> str:
    where = "docker.access" if error is not None and _docker_problem(error) == "access" \
        else "docker.daemon"
    return f"not checked: Docker is not usable (see {where})"


def check_docker_cli(p: Probe) -> Verdict:
    path = p.facts.docker_cli()
    if path:
        return passed(f"docker is {path}")
    return failed("the docker command is not on PATH; kind runs it to create the cluster",
                  "install Docker Engine with its CLI (scripts/install.sh does it), "
                  "or add the directory holding docker to PATH")


def check_docker_daemon(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        if _docker_problem(docker) == "access":
            return skipped("not checked: this user may not use the Docker socket "
                           "(see docker.access)")
        return failed(docker.message, docker.hint or "start Docker: sudo systemctl start docker")
    where = "Docker Desktop" if docker.desktop else docker.endpoint
    return passed(f"Docker {docker.version} answers at {where}")


def check_docker_access(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        if _docker_problem(docker) == "access":
            return failed(docker.message,
                          docker.hint or "sudo usermod -aG docker $USER, then log in again")
        return skipped("not checked: no Docker daemon answered (see docker.daemon)")
    return passed(f"{_user()} can use the Docker daemon")


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # an arbitrary uid without a passwd entry (containers)
        return f"uid {os.getuid()}"


def parse_version(text: str) -> tuple[int, int] | None:
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_docker_version(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    version = parse_version(docker.version)
    minimum = ".".join(map(str, MIN_DOCKER))
    if version is None:
        return warned(f"the daemon did not report a version ({docker.version!r})",
                      f"make sure this is Docker Engine {minimum} or newer: docker version")
    if version < MIN_DOCKER:
        return failed(f"Docker {docker.version} is older than {minimum}",
                      f"upgrade Docker Engine to {minimum} or newer (your distribution's "
                      "docker package, or https://docs.docker.com/engine/install/)")
    return passed(f"Docker {docker.version} (at least {minimum})")


def _resize_fix(docker: DockerFacts, what: str) -> str:
    if docker.desktop:
        return f"raise the {what} limit in Docker Desktop > Settings > Resources"
    return f"give this machine more {what} (resize the VM), then run airbox again"


def check_cpu(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    cpus = docker.cpus
    if cpus < CPU_FLOOR:
        return failed(f"Docker sees {cpus} CPU; a data plane cannot run a sync on fewer "
                      f"than {CPU_FLOOR}", _resize_fix(docker, "CPU"))
    if cpus < CPU_MINIMUM:
        return warned(f"Docker sees {cpus} CPUs; Airbyte's minimum is {CPU_MINIMUM}: syncs will "
                      "be slow and few at a time", _resize_fix(docker, "CPU"))
    return passed(f"Docker sees {cpus} CPUs (minimum {CPU_MINIMUM})")


def _gib(value: int) -> str:
    return f"{value / GiB:.1f} GiB"


def check_memory(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    memory = docker.memory
    if memory < MEMORY_FLOOR:
        return failed(f"Docker sees {_gib(memory)} of memory; the kind node, the launcher and "
                      "one sync need at least 4 GB", _resize_fix(docker, "memory"))
    if memory < MEMORY_MINIMUM:
        return warned(f"Docker sees {_gib(memory)} of memory; Airbyte's minimum is 16 GB "
                      "(24 GB recommended): syncs may be OOM-killed",
                      _resize_fix(docker, "memory"))
    if memory < MEMORY_RECOMMENDED:
        return passed(f"Docker sees {_gib(memory)} of memory (minimum 16 GB; "
                      "Airbyte recommends 24 GB)")
    return passed(f"Docker sees {_gib(memory)} of memory (24 GB recommended)")


def check_disk(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    root = docker.root_dir or "/var/lib/docker"
    if not docker.local:
        return skipped(f"not measured: Docker keeps its data at {root} on another machine "
                       "or VM; make sure it has 30 GB free")
    free = p.facts.disk_free(root)
    if free is None:
        return skipped(f"not measured: cannot read the filesystem of {root} "
                       "(make sure it has 30 GB free: df -h)")
    fix = (f"free space on the filesystem of {root} (`docker system prune -a` removes unused "
           "images), or grow the disk")
    if free < DISK_FLOOR:
        return failed(f"{_gib(free)} free at {root}; images alone need {_gib(DISK_FLOOR)}", fix)
    if free < DISK_MINIMUM:
        return warned(f"{_gib(free)} free at {root}; below {_gib(DISK_MINIMUM)} connector images "
                      "and logs will fill it", fix)
    return passed(f"{_gib(free)} free at {root}")


def check_inotify(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerFacts) and not docker.local:
        return skipped("not checked: the Docker daemon runs on another kernel "
                       "(Docker Desktop or a remote DOCKER_HOST)")
    if isinstance(docker, DockerError) and not daemon_is_local(p.environ):
        return skipped("not checked: DOCKER_HOST points at another machine")
    values = {key: p.facts.sysctl(key) for key in INOTIFY_WANTED}
    if all(value is None for value in values.values()):
        return skipped("not checked: no /proc/sys/fs/inotify on this machine")
    low = {key: value for key, value in values.items()
           if value is not None and value < INOTIFY_WANTED[key]}
    shown = ", ".join(f"{key.rsplit('.', 1)[1]}={value}" for key, value in values.items())
    if not low:
        return passed(shown)
    wanted = " ".join(f"{key}={INOTIFY_WANTED[key]}" for key in low)
    lines = "\\n".join(f"{key} = {INOTIFY_WANTED[key]}" for key in low)
    return warned(
        f"{shown}; kind needs more (pods fail with \"too many open files\")",
        f"sudo sysctl -w {wanted} && printf '{lines}\\n' | sudo tee {INOTIFY_CONF} "
        "(the file keeps it across reboots)",
    )


def check_cgroup(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    if docker.cgroup_version == "2":
        return passed("cgroup v2")
    if docker.cgroup_version != "1":
        return skipped("not checked: the daemon does not report its cgroup version")
    fix = ("switch the host to cgroup v2: add systemd.unified_cgroup_hierarchy=1 to the kernel "
           "command line (RHEL: sudo grubby --update-kernel=ALL --args=...; Debian/Ubuntu: "
           "GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub) and reboot, or use "
           "a release with v2 by default (Ubuntu 22.04+, Debian 11+, RHEL 9+, Amazon Linux 2023)")
    # Kubernetes 1.35+ refuses cgroup v1; airbox then runs an older node image instead.
    older = versions.NODE_IMAGE_CGROUP_V1.split("@", 1)[0].rsplit(":", 1)[-1]
    return warned(f"the host uses cgroup v1, which Kubernetes 1.35+ refuses: airbox runs "
                  f"the kind node at Kubernetes {older} instead", fix)


def _egress_fix(answer: HttpAnswer, p: Probe) -> str:
    host = answer.host
    if answer.error == "dns":
        return f"this machine cannot resolve {urlsplit(answer.url).hostname}: check DNS " \
               "(/etc/resolv.conf) or, behind a proxy, set HTTPS_PROXY"
    if answer.error == "tls":
        return ("if a proxy inspects TLS, point SSL_CERT_FILE at a bundle that includes its "
                "CA certificate; otherwise check the system's CA certificates and the clock")
    if answer.error == "proxy":
        return "check HTTPS_PROXY / HTTP_PROXY (host, port, credentials) and NO_PROXY"
    proxy = (" (the proxy from HTTPS_PROXY is used)" if _proxied(answer.url, p.environ)
             else "; behind a proxy, set HTTPS_PROXY (and NO_PROXY for local addresses)")
    return f"allow outbound HTTPS from this machine to {host}{proxy}"


def _reach(p: Probe, url: str, what: str) -> Verdict:
    answer = p.http(url)
    host = answer.host
    if answer.status is not None:
        took = f"{(answer.received - answer.sent) * 1000:.0f} ms"
        via = " through the proxy" if _proxied(url, p.environ) else ""
        if answer.status == 407:
            return failed(f"the proxy wants credentials to reach {host} (HTTP 407)",
                          "put them in the proxy URL: HTTPS_PROXY=http://user:password@proxy:port")
        if answer.status in (502, 503, 504):
            return warned(f"{host} answered HTTP {answer.status}{via}: the service or a proxy "
                          "in between is failing", f"retry later; if it persists, check the "
                          f"proxy's access to {host}")
        return passed(f"{what} at {host} answered HTTP {answer.status} in {took}{via}")
    reasons = {
        "timeout": f"no answer from {host} within {p.endpoints.timeout:.0f}s",
        "refused": f"{host} refused the connection",
        "dns": f"cannot resolve {urlsplit(url).hostname}",
        "tls": f"the TLS handshake with {host} failed: {answer.detail}",
        "proxy": f"the proxy failed to reach {host}: {answer.detail}",
    }
    reason = reasons.get(answer.error or "", f"cannot reach {host}: {answer.detail}")
    return failed(reason, _egress_fix(answer, p))


def check_control_plane(p: Probe) -> Verdict:
    return _reach(p, p.subject.control_plane_url, "the control plane")


def check_api(p: Probe) -> Verdict:
    if not p.subject.api_url:
        return skipped("not needed: airbox does not register a data plane in this run")
    return _reach(p, p.subject.api_url, "the Airbyte API")


def check_helm_repo(p: Probe) -> Verdict:
    url = p.endpoints.helm_url(p.subject)
    if url is None:
        return skipped(f"not needed: the chart is the local file {p.subject.chart_source}")
    return _reach(p, url, "the Helm repository")


def check_registry(p: Probe) -> Verdict:
    # Docker Hub's /v2/ answers 401 to anonymous clients: that is reachable.
    return _reach(p, p.endpoints.registry_url(p.subject), "the image registry")


def clock_skew(answer: HttpAnswer) -> tuple[float, float] | None:
    """(skew, uncertainty) in seconds, positive when this machine is ahead; None if no Date."""
    if answer.status is None or not answer.date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(answer.date).timestamp()
    except (TypeError, ValueError):
        return None
    # The Date header is truncated to the second: the server's time was in
    # [date, date + 1). The request took (received - sent); the server stamped it
    # somewhere in between.
    local = (answer.sent + answer.received) / 2
    uncertainty = (answer.received - answer.sent) / 2 + 0.5
    return local - (server + 0.5), uncertainty


def check_clock(p: Probe) -> Verdict:
    answer = p.http(p.subject.control_plane_url)
    measured = clock_skew(answer)
    if measured is None:
        return skipped(f"not checked: no Date header from the control plane at {answer.host}")
    return clock_verdict(*measured)


def clock_verdict(skew: float, uncertainty: float) -> Verdict:
    """Only skew beyond the measuring uncertainty counts against the thresholds."""
    beyond = max(0.0, abs(skew) - uncertainty)
    direction = "ahead of" if skew > 0 else "behind"
    text = f"this machine's clock is {abs(skew):.0f}s {direction} the control plane's"
    fix = ("synchronise the clock: sudo timedatectl set-ntp true (or enable chronyd / "
           "systemd-timesyncd), then check with timedatectl")
    if beyond > SKEW_FAIL:
        return failed(f"{text}; tokens and AWS request signatures are rejected beyond "
                      f"{SKEW_FAIL:.0f}s", fix)
    if beyond > SKEW_WARN:
        return warned(f"{text}; keep it within {SKEW_WARN:.0f}s", fix)
    return passed(f"{text} (within {SKEW_WARN:.0f}s)")


def _airbox_made(state: StateDir | None, step: str) -> bool:
    """Whether an airbox install of this name reached ``step`` (so the object is ours).

    ``install`` saves the settings before preflight runs, so a state directory alone
    proves nothing; the progress record of the step that creates the object does.
    """
    if state is None:
        return False
    if step == "cluster" and state.kubeconfig.is_file():
        return True
    try:
        progress = read_json(state.progress)
    except (OSError, ValueError):
        return False
    steps = progress.get("steps") if isinstance(progress, dict) else None
    return isinstance(steps, dict) and step in steps


def check_cluster_name(p: Probe) -> Verdict:
    cluster = p.subject.cluster_name
    if cluster is None:
        return skipped("not checked: no data plane name given (--name)")
    nodes = p.facts.kind_nodes(cluster)
    if nodes is None:
        docker = p.docker()
        return skipped(_no_docker(docker if isinstance(docker, DockerError) else None))
    if not nodes:
        return passed(f"no kind cluster named {cluster} exists yet")
    if _airbox_made(p.state, "cluster"):
        return passed(f"the kind cluster {cluster} exists and airbox made it: install reuses it")
    return failed(f"a kind cluster named {cluster} already exists and airbox has no record "
                  "of making it",
                  "pick another data plane name (--name), or, if it is a leftover, remove it: "
                  f"kind delete cluster --name {cluster}")


def check_release_name(p: Probe) -> Verdict:
    subject = p.subject
    if not subject.name:
        return skipped("not checked: no data plane name given (--name)")
    exists = p.facts.helm_release_exists(subject)
    if exists is None:
        return skipped("not checked: helm is not installed here or the cluster did not answer")
    where = f"namespace {subject.namespace} of {subject.kube_context}"
    if not exists:
        return passed(f"no Helm release {subject.name} in {where}")
    if _airbox_made(p.state, "release"):
        return passed(f"the Helm release {subject.name} exists and airbox made it: "
                      "install upgrades it")
    return failed(f"a Helm release named {subject.name} already exists in {where} and airbox "
                  "has no record of making it",
                  "pick another data plane name (--name), or, if it is a leftover, remove it: "
                  f"helm uninstall {subject.name} --namespace {subject.namespace} "
                  f"--kube-context {subject.kube_context}")


def check_kube_context(p: Probe) -> Verdict:
    subject = p.subject
    files = ", ".join(str(f) for f in kubeconfig_files(subject.kubeconfig, p.environ))
    contexts = p.facts.kube_contexts(subject.kubeconfig)
    if contexts is None:
        return failed(f"no kubeconfig to read at {files}",
                      "give the cluster's kubeconfig with cluster.kubeconfig / --kubeconfig, "
                      "or set KUBECONFIG")
    if subject.kube_context not in contexts:
        return failed(f"the context {subject.kube_context} is not in {files}",
                      "list the contexts with `kubectl config get-contexts` and use one of "
                      "them as --kube-context (with --kubeconfig if it lives elsewhere)")
    return passed(f"the context {subject.kube_context} is in {files}")


CHECKS: tuple[Check, ...] = (
    Check("docker.cli", "Docker CLI installed", check_docker_cli, "kind"),
    Check("docker.daemon", "Docker daemon reachable", check_docker_daemon, "kind"),
    Check("docker.access", "Docker accessible to this user", check_docker_access, "kind"),
    Check("docker.version", "Docker version", check_docker_version, "kind"),
    Check("resources.cpu", "CPUs available to Docker", check_cpu, "kind"),
    Check("resources.memory", "Memory available to Docker", check_memory, "kind"),
    Check("resources.disk", "Free disk where Docker keeps its data", check_disk, "kind"),
    Check("kernel.inotify", "inotify limits", check_inotify, "kind"),
    Check("kernel.cgroup", "cgroup version", check_cgroup, "kind"),
    Check("network.control-plane", "Control plane reachable", check_control_plane),
    Check("network.api", "Airbyte API reachable", check_api),
    Check("network.helm-repo", "Helm chart source reachable", check_helm_repo),
    Check("network.registry", "Image registry reachable", check_registry, "kind"),
    Check("clock.skew", "Clock in sync with the control plane", check_clock),
    Check("name.cluster", "kind cluster name free", check_cluster_name, "kind"),
    Check("name.release", "Helm release name free", check_release_name, "existing"),
    Check("kube.context", "Kubernetes context exists", check_kube_context, "existing"),
)


def _not_applicable(check: Check, subject: Subject) -> str | None:
    if check.scope == "kind" and not subject.is_kind:
        return (f"not needed: installing into the existing cluster {subject.kube_context}, "
                "not a kind cluster on this machine")
    if check.scope == "existing" and subject.is_kind:
        return "not needed: airbox makes its own kind cluster"
    return None


def _timed(check: Check, probe: Probe) -> Result:
    started = time.monotonic()
    try:
        verdict = check.run(probe)
    except Exception as exc:  # a bug in a check must not hide the other results
        from airbox import runlog

        runlog.logger().exception("preflight check %s crashed", check.id)
        verdict = warned(f"could not check: {type(exc).__name__}: {exc}",
                         "run `airbox preflight` again; report it if it repeats")
    return Result(check.id, check.title, verdict.outcome, verdict.finding, verdict.fix,
                  time.monotonic() - started)


# ------------------------------------------------------------------------------ run


def run_checks(
    subject: Subject,
    *,
    facts: HostFacts | None = None,
    endpoints: Endpoints | None = None,
    state: StateDir | None = None,
    environ: Mapping[str, str] | None = None,
    deadline: float = DEADLINE,
) -> Report:
    """Run every check concurrently; return within ``deadline`` seconds whatever happens."""
    environ = os.environ if environ is None else environ
    probe = Probe(subject, facts or SystemFacts(environ), endpoints or Endpoints.from_env(environ),
                  state, environ)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    started = time.monotonic()
    runnable = [c for c in CHECKS if _not_applicable(c, subject) is None]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(runnable)),
                                                 thread_name_prefix="airbox-preflight")
    futures = {c.id: pool.submit(_timed, c, probe) for c in runnable}
    concurrent.futures.wait(futures.values(), timeout=deadline)
    # Whatever is still running is abandoned: its own timeouts end it soon after.
    pool.shutdown(wait=False, cancel_futures=True)
    results: list[Result] = []
    for check in CHECKS:
        reason = _not_applicable(check, subject)
        future = futures.get(check.id)
        if reason is not None or future is None:
            results.append(Result(check.id, check.title, "skip", reason or "not run"))
        elif future.done() and not future.cancelled():
            results.append(future.result())
        else:
            results.append(Result(
                check.id, check.title, "warn",
                f"did not finish within the {deadline:.0f}s preflight deadline",
                "run `airbox preflight` again; if it repeats, something on this machine "
                "(DNS, the Docker daemon, a proxy) is not answering", deadline))
    return Report(subject, results, started_at, time.monotonic() - started)


def subject_for(settings_or_name: Settings | Subject | str | None) -> Subject:
    """A Subject from settings, a saved data plane's name, or nothing (Cloud defaults)."""
    if isinstance(settings_or_name, Subject):
        return settings_or_name
    if isinstance(settings_or_name, Settings):
        return Subject.from_settings(settings_or_name)
    if settings_or_name is None:
        return Subject()
    from airbox.gather import load_saved

    state = StateDir.for_name(settings_or_name)
    answers = load_saved(state) if state.exists() else {}
    answers["name"] = settings_or_name
    return Subject.from_answers(answers)


def run_preflight(
    settings_or_name: Settings | Subject | str | None = None,
    *,
    facts: HostFacts | None = None,
    endpoints: Endpoints | None = None,
    state: StateDir | None = None,
    save: bool = True,
    environ: Mapping[str, str] | None = None,
    deadline: float = DEADLINE,
) -> Report:
    """Run the checks for a data plane and save them to its state directory if it has one."""
    subject = subject_for(settings_or_name)
    if state is None and subject.name:
        state = StateDir.for_name(subject.name)
    report = run_checks(subject, facts=facts, endpoints=endpoints, state=state,
                        environ=environ, deadline=deadline)
    if save and state is not None and state.root.is_dir():
        save_report(report, state)
    return report


def save_report(report: Report, state: StateDir) -> Path:
    # Nothing in a report is secret (URLs, sizes, versions): readable like values.yaml.
    return write_json(state.preflight, report.to_json(), mode=PUBLIC_FILE)


# --------------------------------------------------------------------------- output

SYMBOLS: dict[Outcome, tuple[str, str]] = {
    "pass": ("✓", "32"),
    "warn": ("!", "33"),
    "fail": ("✗", "31"),
    "skip": ("-", "2"),
}


def render(report: Report, *, color: bool = False) -> list[str]:
    """The results as lines: symbol, title, finding, and the fix under each problem."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    subject = report.subject
    where = (f"kind cluster {subject.cluster_name}" if subject.is_kind and subject.cluster_name
             else "a kind cluster" if subject.is_kind
             else f"the existing cluster {subject.kube_context}")
    name = f"data plane {subject.name}" if subject.name else "a data plane"
    lines = [f"Preflight for {name} in {where}, control plane {subject.control_plane_url}"]
    for result in report.results:
        symbol, code = SYMBOLS[result.outcome]
        text = f"{paint(symbol, code)} {result.title} — {result.finding}"
        lines.append(paint(text, "2") if result.outcome == "skip" else text)
        if result.fix and result.outcome in ("warn", "fail"):
            lines.append(f"    fix: {result.fix}")
    counts = {o: len(report.by_outcome(o)) for o in OUTCOMES}
    lines.append(f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed, "
                 f"{counts['skip']} skipped ({report.seconds:.1f}s)")
    return lines


def failure_details(report: Report) -> list[str]:
    return [f"{r.title} [{r.id}]: {r.finding} — fix: {r.fix}" for r in report.failures]


# ------------------------------------------------------------------------ commands


def subject_from_inputs(
    name: str | None,
    answers_file: Path | None,
    control_plane_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> Subject:
    """``airbox preflight``'s settings: saved < answers file < environment < flags.

    Only what preflight uses is checked (the name and the URL): the machine checks
    are worth running before the rest of the settings are ready.
    """
    from airbox import answers as sources
    from airbox.gather import load_saved, pick_name

    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    if answers_file is not None:
        merged = sources.load_answers_file(answers_file, environ)
    else:
        chosen = pick_name(name)
        if chosen and StateDir.for_name(chosen).exists():
            merged = load_saved(StateDir.for_name(chosen))
        if chosen:
            merged["name"] = chosen
    merged = sources.deep_merge(merged, sources.env_answers(environ))
    if name:
        merged["name"] = name
    if control_plane_url:
        sources.set_path(merged, ("controlPlane", "url"), control_plane_url)
    problems: list[Problem] = []
    chosen_name = merged.get("name")
    if chosen_name is not None and not (isinstance(chosen_name, str)
                                        and is_dns_label(chosen_name, MAX_NAME_LENGTH)):
        problems.append(Problem("name", f"{chosen_name!r} is not a valid data plane name",
                                f"use at most {MAX_NAME_LENGTH} lowercase letters, digits "
                                "and '-'"))
    url = sources.get_path(merged, ("controlPlane", "url"))
    if url:
        problem = url_problem(url)
        if problem:
            problems.append(Problem("controlPlane.url", problem, "use https://host[/path]"))
    if problems:
        raise InvalidSettings(problems, source=str(answers_file or "the flags"))
    return Subject.from_answers(merged)


def preflight_command(
    *,
    name: str | None,
    answers_file: Path | None,
    control_plane_url: str | None,
    as_json: bool,
    term: Terminal | None = None,
) -> int:
    """``airbox preflight``: 0 when nothing failed, 3 otherwise."""
    import json

    from airbox.errors import EXIT_OK, EXIT_PREFLIGHT
    from airbox.ui import Terminal

    term = term or Terminal()
    subject = subject_from_inputs(name, answers_file, control_plane_url)
    report = run_preflight(subject)
    if as_json:
        term.print(json.dumps(report.to_json(), indent=2))
    else:
        color = term.color and bool(getattr(term.out, "isatty", lambda: False)())
        for line in render(report, color=color):
            term.print(line)
        if report.failures:
            term.print("Fix the failures above, then run `airbox preflight` again.")
    return EXIT_PREFLIGHT if report.failures else EXIT_OK


def install_step(ctx: Context, line: StepLine) -> None:
    """The install pipeline's preflight step: check, save, report, stop on failures."""
    from airbox import runlog
    from airbox.fsutil import ensure_private_dir

    ensure_private_dir(ctx.state.root)
    report = run_preflight(ctx.settings, state=ctx.state)
    log = runlog.logger()
    for result in report.results:
        log.info("preflight %s %s: %s%s", result.outcome, result.id, result.finding,
                 f" (fix: {result.fix})" if result.fix else "")
    for result in report.warnings:
        ctx.term.warn(f"{result.title}: {result.finding}")
        ctx.term.detail(f"fix: {result.fix}")
    failures = report.failures
    counts = (f"{len(report.by_outcome('pass'))} passed, {len(report.warnings)} warnings, "
              f"{len(failures)} failed")
    line.update(counts)
    if not failures:
        return
    noun = "check" if len(failures) == 1 else "checks"
    details = failure_details(report)
    saved = f"results: {ctx.state.preflight}"
    if not ctx.options.ignore_preflight_failures:
        raise PreflightFailed(
            f"{len(failures)} preflight {noun} failed; nothing was installed",
            details=[*details, saved],
            hint="fix the problems above and run `airbox install` again (it resumes); "
                 "--ignore-preflight-failures continues anyway, at your own risk",
        )
    if ctx.options.assume_yes:
        # Confirmed on the command line (--yes): go on, but make it impossible to miss.
        ctx.term.warn(f"IGNORING {len(failures)} FAILED PREFLIGHT {noun.upper()} "
                      "(--ignore-preflight-failures --yes); the install may fail or the data "
                      "plane may not work:")
        for text in details:
            ctx.term.detail(text)
        log.warning("continuing despite failed preflight checks: %s", "; ".join(details))
        return
    if ctx.prompter is not None:
        ctx.term.warn(f"{len(failures)} preflight {noun} failed:")
        for text in details:
            ctx.term.detail(text)
        with line.paused():
            confirmed = ctx.prompter.confirm(
                "Continue anyway? The install may fail or the data plane may not work.",
                default=False)
        if confirmed:
            log.warning("continuing despite failed preflight checks (confirmed)")
            return
        raise PreflightFailed(
            f"stopped: {len(failures)} preflight {noun} failed",
            details=[*details, saved],
            hint="fix the problems above and run `airbox install` again",
        )
    raise PreflightFailed(
        f"{len(failures)} preflight {noun} failed and --ignore-preflight-failures needs "
        "confirmation",
        details=[*details, saved],
        hint="add --yes to confirm continuing without a terminal, or fix the problems above",
    )
