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
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from airbox import versions
from airbox.errors import DockerError
from airbox.fsutil import read_json
from airbox.ops.preflight.facts import (
    DockerFacts,
    Endpoints,
    HostFacts,
    Subject,
    SystemFacts,
    bounded,
    daemon_is_local,
    docker_problem,
    kubeconfig_files,
)
from airbox.ops.preflight.http_probes import (
    HttpAnswer,
    RegistryLogin,
    login_registry,
    probe_http,
    proxied,
)
from airbox.ops.preflight.imds import IMDS_WITHIN, POD_HOPS, ImdsFacts, imds_facts, looks_like_ec2
from airbox.ops.preflight.report import (
    DNS_FIX,
    Report,
    Result,
    Verdict,
    failed,
    passed,
    skipped,
    warned,
)
from airbox.paths import StateDir

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

DEADLINE = 9.0

_VERSION = re.compile(r"(\d+)\.(\d+)")


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
                answer = bounded(lambda: probe_http(url, timeout), 2 * timeout + 0.5)
                future.set_result(answer or HttpAnswer(url, error="timeout"))
            except BaseException as exc:
                # Never leave the checks waiting on this URL blocked.
                future.set_exception(exc)
        return future.result()

    def docker(self) -> DockerFacts | DockerError:
        return self.facts.docker()

    def imds(self) -> ImdsFacts | None:
        """The metadata service's answers (None: none answered), within a few seconds.

        A metadata service that answered, then got stuck beyond every timeout, is a hop
        limit unknown, never "none answered"."""
        seen: dict[str, str] = {}
        found = bounded(lambda: imds_facts(self.environ, timeout=1.0, within=IMDS_WITHIN,
                                           seen=seen), IMDS_WITHIN + 1.5)
        if found is None and seen.get("answered"):
            return ImdsFacts(seen.get("instance_id"), seen.get("region"), None,
                             "the metadata service answered, then it or the EC2 API did not "
                             f"finish within {IMDS_WITHIN + 1.5:g} s")
        return found


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[Probe], Verdict]
    # "kind": only when airbox makes the kind cluster; "existing": only for an
    # existing cluster; "any": always.
    scope: Literal["kind", "existing", "any"] = "any"




def _no_docker(error: DockerError | None = None) -> str:
    where = "docker.access" if error is not None and docker_problem(error) == "access" \
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
        if docker_problem(docker) == "access":
            return skipped("not checked: this user may not use the Docker socket "
                           "(see docker.access)")
        return failed(docker.message, docker.hint or "start Docker: sudo systemctl start docker")
    where = "Docker Desktop" if docker.desktop else docker.endpoint
    return passed(f"Docker {docker.version} answers at {where}")


def check_docker_access(p: Probe) -> Verdict:
    docker = p.docker()
    if isinstance(docker, DockerError):
        if docker_problem(docker) == "access":
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
        return f"this machine cannot resolve {urlsplit(answer.url).hostname}: {DNS_FIX}"
    if answer.error == "tls":
        return ("if a proxy inspects TLS, point SSL_CERT_FILE at a bundle that includes its "
                "CA certificate; otherwise check the system's CA certificates and the clock")
    if answer.error == "proxy":
        return "check HTTPS_PROXY / HTTP_PROXY (host, port, credentials) and NO_PROXY"
    proxy = (" (the proxy from HTTPS_PROXY is used)" if proxied(answer.url, p.environ)
             else "; behind a proxy, set HTTPS_PROXY (and NO_PROXY for local addresses)")
    return f"allow outbound HTTPS from this machine to {host}{proxy}"


def _reach(p: Probe, url: str, what: str) -> Verdict:
    return _reach_answer(p, p.http(url), what)


def _reach_answer(p: Probe, answer: HttpAnswer, what: str) -> Verdict:
    url = answer.url
    host = answer.host
    if answer.status is not None:
        took = f"{(answer.received - answer.sent) * 1000:.0f} ms"
        via = " through the proxy" if proxied(url, p.environ) else ""
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


def check_tools(p: Probe) -> Verdict:
    """kind (for a kind cluster), helm and kubectl: set, on PATH, already downloaded, or
    downloadable (the host of the pinned download answers). Without this, a machine that
    has none and cannot reach the download host fails in the middle of the install."""
    from airbox.cluster import toolchain

    tools = [t for t in toolchain.TOOLS if t != "kind" or p.subject.is_kind]
    found: list[str] = []
    fetch: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    for tool in tools:
        var = f"AIRBOX_{tool.upper()}"
        override = p.environ.get(var)
        if override:
            path = os.path.expanduser(override)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found.append(f"{tool} ({var})")
            else:
                problems.append((f"{var}={override} is not an executable file",
                                 f"point {var} at the {tool} binary, or unset it"))
            continue
        where = p.facts.tool(tool)
        if where is not None:
            found.append(where)
            continue
        if p.subject.bundle:
            # Offline: the bundle's binary, never a download.
            problem = _bundled_tool(p.subject.bundle, tool)
            if problem is None:
                found.append(f"{tool} (from the bundle)")
            else:
                problems.append((f"{tool} is not installed and {problem}",
                                 f"install {tool} and set {var} to its path, or use a bundle "
                                 "this airbox made (`airbox bundle create`)"))
            continue
        os_name, arch = toolchain.platform_key()
        try:
            spec = versions.download_for(tool, os_name, arch)
        except KeyError:
            problems.append((f"{tool} is not installed and airbox has no download of it for "
                             f"{os_name}/{arch}",
                             f"install {tool} and set {var} to its path"))
            continue
        fetch.append((tool, toolchain.source_url(spec.url, p.environ)))
    for tool, url in fetch:
        answer = p.http(url)
        if answer.status is None or answer.status >= 500:
            host = urlsplit(url).hostname
            problems.append((f"{tool} is not installed and its download host {host} cannot be "
                             "reached", _egress_fix(answer, p) + f", or install {tool} and "
                             f"set AIRBOX_{tool.upper()} to its path"))
        else:
            found.append(f"{tool} (downloaded at install from {urlsplit(url).hostname})")
    if problems:
        return failed("; ".join(m for m, _ in problems), "; ".join(f for _, f in problems))
    return passed(", ".join(found))


def _bundled_tool(bundle: str, tool: str) -> str | None:
    """Why the bundle's ``tool`` cannot serve (None: it can, or the manifest cannot be
    read here: the install verifies the whole bundle before it changes anything)."""
    from pathlib import Path

    from airbox.cluster import toolchain

    try:
        from airbox.offline.archive import read_manifest

        manifest = read_manifest(Path(bundle))
    except Exception:
        return None
    item = next((i for i in manifest.items if i.kind == "binary" and i.name == tool), None)
    if item is None:
        return "the bundle has none"
    pinned = toolchain.pinned_binary_sha256(tool)
    if pinned is not None and item.sha256 != pinned:
        return f"the bundle's {tool} is not the one this airbox pins"
    return None


def check_control_plane(p: Probe) -> Verdict:
    return _reach(p, p.subject.control_plane_url, "the control plane")


def check_api(p: Probe) -> Verdict:
    if not p.subject.api_url:
        return skipped("not needed: airbox does not register a data plane in this run")
    return _reach(p, p.subject.api_url, "the Airbyte API")


def _from_bundle(p: Probe, what: str) -> Verdict | None:
    """With a bundle: ``what`` comes from it, nothing is asked of the network."""
    if not p.subject.bundle:
        return None
    return skipped(f"not needed: {what} from the bundle {p.subject.bundle}")


def check_helm_repo(p: Probe) -> Verdict:
    bundled = _from_bundle(p, "the chart comes")
    if bundled is not None:
        return bundled
    url = p.endpoints.helm_url(p.subject)
    if url is None:
        return skipped(f"not needed: the chart is the local file {p.subject.chart_source}")
    return _reach(p, url, "the Helm repository")


def check_registry(p: Probe) -> Verdict:
    bundled = _from_bundle(p, "every image comes")
    if bundled is not None:
        return bundled
    if p.subject.image_registry and not p.endpoints.registry:
        return _log_in(p, p.endpoints.registry_url(p.subject))
    # Docker Hub's /v2/ answers 401 to anonymous clients: that is reachable.
    return _reach(p, p.endpoints.registry_url(p.subject), "the image registry")


def _log_in(p: Probe, url: str) -> Verdict:
    """The private registry answers, and accepts the pull Secret's credentials."""
    subject = p.subject
    auth = subject.registry_auth
    timeout = p.endpoints.timeout
    login = bounded(lambda: login_registry(url, auth, timeout, subject.registry_ca),
                    4 * timeout + 0.5) or RegistryLogin(url, None,
                                                        answer=HttpAnswer(url, error="timeout"))
    if login.verdict is None:
        assert login.answer is not None
        reached = _reach_answer(p, login.answer, "the image registry")
        return reached
    host = urlsplit(url).netloc
    which = "images.pullSecret"
    if login.verdict == "accepted":
        return passed(f"the registry {host} accepted the credentials of {which} "
                      f"({login.detail} auth)")
    if login.verdict == "anonymous":
        return passed(f"the registry {host} answered" + (
            f" and asks for no credentials ({which} is not needed to log in)" if auth else
            " and lets anonymous clients in"))
    if login.verdict == "refused":
        return failed(f"the registry {host} refused the credentials of {which} "
                      f"({login.detail})",
                      f"check {which}.username/password (or dockerConfigJson) for {host}; "
                      "`docker login` with them shows the registry's own message")
    if login.verdict == "wanted":
        return failed(f"the registry {host} asks for credentials ({login.detail}) and "
                      f"{which} gives none",
                      f"set {which}: {{username, password}} (or dockerConfigJson) for {host}")
    return warned(f"the registry {host} answered in an unexpected way ({login.detail})",
                  f"check that {host} is a Docker registry (API v2: GET /v2/)")


DOCKER_PROXY_DROP_IN = "/etc/systemd/system/docker.service.d/http-proxy.conf"


def check_docker_proxy(p: Probe) -> Verdict:
    """airbox goes through a proxy; the daemon's pulls are the daemon's business, and a
    daemon without one cannot pull the node and data plane images."""
    from airbox.config.settings import without_password

    ours = {name: p.environ.get(name) or p.environ.get(name.lower()) or ""
            for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")}
    if not (ours["HTTPS_PROXY"] or ours["HTTP_PROXY"]):
        return skipped("not needed: airbox uses no proxy")
    bundled = _from_bundle(p, "every image comes")
    if bundled is not None:
        return bundled
    docker = p.docker()
    if isinstance(docker, DockerError):
        return skipped(_no_docker(docker))
    if docker.https_proxy or docker.http_proxy:
        shown = without_password(docker.https_proxy or docker.http_proxy)
        return passed(f"the Docker daemon pulls through the proxy {shown}")
    proxy = ours["HTTPS_PROXY"] or ours["HTTP_PROXY"]
    shown = without_password(proxy)
    if shown != proxy:  # the password stays out: the user types it in the file
        scheme, _, rest = shown.partition("://")
        user, _, host = rest.rpartition("@")
        shown = f"{scheme}://{user}:PASSWORD@{host}"
    finding = (f"airbox goes through the proxy {without_password(proxy)}, but the Docker "
               "daemon has no proxy: its image pulls (the kind node image, the data plane's "
               "images) go direct and fail where only the proxy reaches the internet")
    if docker.desktop:
        return warned(finding, "set the proxy in Docker Desktop > Settings > Resources > "
                               "Proxies, then run airbox again")
    environment = (f'Environment="HTTPS_PROXY={shown}" "HTTP_PROXY={shown}" '
                   '"NO_PROXY=localhost,127.0.0.1"')
    return warned(finding, f"give the daemon the proxy: write {DOCKER_PROXY_DROP_IN} with "
                           f"the two lines `[Service]` and `{environment}`"
                  + (" (PASSWORD: the proxy's password)" if "PASSWORD@" in shown else "")
                  + ", then `sudo systemctl daemon-reload && sudo systemctl restart docker` "
                    "(running containers stop; kind nodes come back). Not needed when "
                    "every image comes from a registry inside the network or a bundle")


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
        if answer.status is None:
            # Nothing answered: "no Date header" would blame the control plane's answer.
            return skipped(f"not checked: the control plane at {answer.host} could not be "
                           "reached (see Control plane reachable)")
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


def imds_fix(instance_id: str | None) -> str:
    return ("aws ec2 modify-instance-metadata-options --instance-id "
            f"{instance_id or '<instance-id>'} --http-put-response-hop-limit {POD_HOPS} "
            "--http-endpoint enabled")


def check_imds_hop_limit(p: Probe) -> Verdict:
    """Instance-profile credentials reach pods in kind only if IMDSv2 answers that far."""
    if not p.subject.instance_profile:
        return skipped("no instance-profile authentication is configured")
    found = p.imds()
    if found is None:
        ec2 = looks_like_ec2(p.environ)
        if ec2 is not None:
            # Disabled, or too slow to answer: either way pods would get no credentials.
            return warned(f"could not check: this machine looks like an EC2 instance ({ec2}),"
                          " but its instance metadata service did not answer; the instance "
                          "profile's credentials come from it", imds_fix(None))
        # Nothing answers and nothing says EC2: the setting cannot work on this machine,
        # so the install must not go on as if it could.
        return failed("not on AWS: no instance metadata service answered, and the instance "
                      "profile (authenticationType: instanceProfile) gets its credentials "
                      "only from one, on EC2",
                      "run airbox on the EC2 instance the IAM role is attached to, or sign in "
                      "with an IAM user's access keys: authenticationType: credentials with "
                      "accessKeyId and secretAccessKey")
    hops = (f"pods in the kind cluster are {POD_HOPS} network hops from the instance "
            "metadata service")
    if found.hop_limit is None:
        return warned(f"could not read the IMDSv2 hop limit: {found.why}; {hops}, and with a "
                      f"limit below {POD_HOPS} they get no credentials", imds_fix(
                          found.instance_id))
    if found.hop_limit < POD_HOPS:
        return failed(f"the IMDSv2 hop limit of {found.instance_id} is {found.hop_limit}; "
                      f"{hops}, so the data plane would get no instance-profile credentials",
                      imds_fix(found.instance_id))
    return passed(f"the IMDSv2 hop limit of {found.instance_id} is {found.hop_limit} "
                  f"(at least {POD_HOPS}: pods in kind reach the metadata service)")


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
    Check("tools", "kind, helm and kubectl available", check_tools),
    Check("network.control-plane", "Control plane reachable", check_control_plane),
    Check("network.api", "Airbyte API reachable", check_api),
    Check("network.helm-repo", "Helm chart source reachable", check_helm_repo),
    Check("network.registry", "Image registry reachable", check_registry, "kind"),
    Check("docker.proxy", "Docker daemon pulls through the proxy", check_docker_proxy, "kind"),
    Check("clock.skew", "Clock in sync with the control plane", check_clock),
    Check("aws.imds-hop-limit", "Instance metadata reachable from pods (IMDSv2 hop limit)",
          check_imds_hop_limit, "kind"),
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


def _start(check: Check, probe: Probe) -> concurrent.futures.Future[Result]:
    future: concurrent.futures.Future[Result] = concurrent.futures.Future()

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(_timed(check, probe))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, daemon=True, name=f"airbox-preflight-{check.id}").start()
    return future


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
    wait: Callable[[list[concurrent.futures.Future[Result]], float], object] | None = None,
) -> Report:
    """Run every check concurrently; return within ``deadline`` seconds whatever happens.

    ``wait(futures, deadline)`` returns when they are all done or the deadline has passed
    (``concurrent.futures.wait``); tests replace it to end the wait on an event instead of
    a clock.
    """
    environ = os.environ if environ is None else environ
    probe = Probe(subject, facts or SystemFacts(environ), endpoints or Endpoints.from_env(environ),
                  state, environ)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    started = time.monotonic()
    runnable = [c for c in CHECKS if _not_applicable(c, subject) is None]
    # Daemon threads, not a ThreadPoolExecutor: the interpreter joins a pool's workers at
    # exit, so a check stuck past every timeout would hold a Ctrl-C (or the end of the
    # run) until it returned. Abandoned at the deadline, a check's thread dies with us.
    futures = {c.id: _start(c, probe) for c in runnable}
    if wait is None:
        concurrent.futures.wait(futures.values(), timeout=deadline)
    else:
        wait(list(futures.values()), deadline)
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


