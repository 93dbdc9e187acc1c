"""Preflight: every threshold's boundaries with a fake machine, the network checks against
local servers (answering, refusing, never answering, skewed clocks, a proxy), the install
step's confirmation rules, and `airbox preflight` as a user runs it — against the real
Docker Engine when one runs here.

No test contacts an address outside 127.0.0.0/8: the control plane, Helm repository and
registry URLs all point at servers these tests start.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airbox.cluster.dockerhost import DockerHost
from airbox.errors import EXIT_PREFLIGHT, DockerError, PreflightFailed
from airbox.ops.preflight import checks as ck
from airbox.ops.preflight import command as pcmd
from airbox.ops.preflight import facts as fx
from airbox.ops.preflight import report as rp
from airbox.paths import StateDir
from airbox.ui import StepLine, Terminal
from tests.helpers import REPO, airbox_bin, airbox_env, default_signals

GiB = ck.GiB

# --------------------------------------------------------------------------- fakes


@dataclass
class FakeFacts:
    """A machine described by values; ``hang`` makes Docker answer only once it is set."""

    cli: str | None = "/usr/bin/docker"
    docker_facts: fx.DockerFacts | DockerError = field(
        default_factory=lambda: fx.DockerFacts(
            version="27.3.1",
            cpus=8,
            memory=32 * GiB,
            root_dir="/var/lib/docker",
            cgroup_version="2",
        )
    )
    free: int | None = 100 * GiB
    sysctls: dict[str, int | None] = field(
        default_factory=lambda: {
            "fs.inotify.max_user_watches": 524288,
            "fs.inotify.max_user_instances": 512,
        }
    )
    nodes: list[str] | None = field(default_factory=list)
    release: bool | None = False
    contexts: list[str] | None = None
    hang: threading.Event | None = None
    docker_calls: int = 0
    # Calls now waiting on ``hang`` (each check runs in its own thread).
    hanging: int = 0
    _count: threading.Lock = field(default_factory=threading.Lock)
    tools: dict[str, str] = field(
        default_factory=lambda: {
            t: f"{t} (/usr/local/bin/{t})" for t in ("kind", "helm", "kubectl")
        }
    )

    def tool(self, name: str) -> str | None:
        return self.tools.get(name)

    def docker_cli(self) -> str | None:
        return self.cli

    def docker(self) -> fx.DockerFacts | DockerError:
        self.docker_calls += 1
        if self.hang is not None:
            with self._count:
                self.hanging += 1
            self.hang.wait(120)
            with self._count:
                self.hanging -= 1
        return self.docker_facts

    def disk_free(self, path: str) -> int | None:
        return self.free

    def sysctl(self, key: str) -> int | None:
        return self.sysctls.get(key)

    def kind_nodes(self, cluster: str) -> list[str] | None:
        return self.nodes

    def helm_release_exists(self, subject: fx.Subject) -> bool | None:
        return self.release

    def kube_contexts(self, kubeconfig: str | None) -> list[str] | None:
        if self.contexts is not None:
            return self.contexts
        return fx.SystemFacts().kube_contexts(kubeconfig)


def docker_with(**changes: Any) -> fx.DockerFacts:
    base = fx.DockerFacts(
        version="27.3.1", cpus=8, memory=32 * GiB, root_dir="/var/lib/docker", cgroup_version="2"
    )
    return replace(base, **changes)


def probe(
    facts: FakeFacts | None = None,
    subject: fx.Subject | None = None,
    state: StateDir | None = None,
    environ: dict[str, str] | None = None,
) -> ck.Probe:
    return ck.Probe(
        subject or fx.Subject(name="dp"),
        facts or FakeFacts(),
        fx.Endpoints(),
        state,
        environ if environ is not None else {},
    )


# ------------------------------------------------------------------- local servers


@dataclass
class Behaviour:
    status: int = 200
    clock_offset: float = 0.0  # seconds added to the Date header
    requests: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        behaviour.requests.append(self.path)
        body = b"ok\n"
        self.send_response_only(behaviour.status)
        self.send_header(
            "Date", email.utils.formatdate(time.time() + behaviour.clock_offset, usegmt=True)
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour


@contextlib.contextmanager
def http_server(host: str = "127.0.0.1", **behaviour: Any) -> Iterator[tuple[str, Behaviour]]:
    server = _Server((host, 0), _Handler)
    server.behaviour = Behaviour(**behaviour)
    # A short poll interval: shutdown() waits for the next poll.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", server.behaviour
    finally:
        server.shutdown()
        server.server_close()


def loopback_socket(host: str) -> socket.socket:
    """A socket bound on ``host``; 127.0.0.1 where only that loopback address exists."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def never_accepts(host: str = "127.0.0.2") -> Iterator[str]:
    """A port that completes the TCP handshake (the kernel's backlog) but never answers."""
    sock = loopback_socket(host)
    host = sock.getsockname()[0]
    sock.listen(1)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/"
    finally:
        sock.close()


@contextlib.contextmanager
def accepts_and_stalls(host: str = "127.0.0.3") -> Iterator[str]:
    """A server that accepts connections, reads nothing and never writes a byte."""
    sock = loopback_socket(host)
    host = sock.getsockname()[0]
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()


def closed_port_url() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"


_PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "DOCKER_HOST",
    fx.ENV_HELM_REPO_URL,
    fx.ENV_REGISTRY_URL,
)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's proxy would route the local test servers' traffic elsewhere.
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def local_urls() -> Iterator[dict[str, str]]:
    """A control plane, Helm repository and registry (401, like Docker Hub), all local."""
    with (
        http_server() as (cp, _),
        http_server() as (helm, _),
        http_server(status=401) as (registry, _),
    ):
        yield {"control_plane": cp, "helm": helm + "/index.yaml", "registry": registry + "/v2/"}


def endpoints_for(urls: dict[str, str], timeout: float = fx.NETWORK_TIMEOUT) -> fx.Endpoints:
    return fx.Endpoints(urls["helm"], urls["registry"], timeout)


# ------------------------------------------------------------------ thresholds


@pytest.mark.parametrize(
    ("cpus", "outcome"),
    [
        (1, "fail"),
        (ck.CPU_FLOOR, "warn"),
        (ck.CPU_MINIMUM - 1, "warn"),
        (ck.CPU_MINIMUM, "pass"),
        (64, "pass"),
    ],
)
def test_cpu_boundaries(cpus: int, outcome: str) -> None:
    verdict = ck.check_cpu(probe(FakeFacts(docker_facts=docker_with(cpus=cpus))))
    assert verdict.outcome == outcome
    assert (verdict.fix is None) == (outcome == "pass")


@pytest.mark.parametrize(
    ("memory", "outcome"),
    [
        (ck.MEMORY_FLOOR - 1, "fail"),
        (ck.MEMORY_FLOOR, "warn"),
        (ck.MEMORY_MINIMUM - 1, "warn"),
        (ck.MEMORY_MINIMUM, "pass"),
        (ck.MEMORY_RECOMMENDED, "pass"),
    ],
)
def test_memory_boundaries(memory: int, outcome: str) -> None:
    verdict = ck.check_memory(probe(FakeFacts(docker_facts=docker_with(memory=memory))))
    assert verdict.outcome == outcome


def test_memory_slack_lets_vms_of_the_documented_sizes_pass() -> None:
    # What the kernel reports on a 4 GiB and a 16 GiB VM (about 4 % reserved).
    four = ck.check_memory(probe(FakeFacts(docker_facts=docker_with(memory=int(3.83 * GiB)))))
    sixteen = ck.check_memory(probe(FakeFacts(docker_facts=docker_with(memory=int(15.5 * GiB)))))
    assert four.outcome == "warn"
    assert sixteen.outcome == "pass"
    assert "24 GB" in sixteen.finding


def test_resource_fix_names_docker_desktop_when_it_runs_the_daemon() -> None:
    desktop = docker_with(cpus=4, operating_system="Docker Desktop", local=False)
    verdict = ck.check_cpu(probe(FakeFacts(docker_facts=desktop)))
    assert verdict.outcome == "warn"
    assert verdict.fix is not None and "Docker Desktop" in verdict.fix


@pytest.mark.parametrize(
    ("free", "outcome"),
    [
        (ck.DISK_FLOOR - 1, "fail"),
        (ck.DISK_FLOOR, "warn"),
        (ck.DISK_MINIMUM - 1, "warn"),
        (ck.DISK_MINIMUM, "pass"),
        (None, "skip"),
    ],
)
def test_disk_boundaries(free: int | None, outcome: str) -> None:
    verdict = ck.check_disk(probe(FakeFacts(free=free)))
    assert verdict.outcome == outcome
    if outcome in ("warn", "fail"):
        assert verdict.fix is not None and "docker system prune" in verdict.fix


def test_disk_of_a_remote_daemon_is_not_measured_here() -> None:
    facts = FakeFacts(docker_facts=docker_with(local=False), free=1)
    assert ck.check_disk(probe(facts)).outcome == "skip"


@pytest.mark.parametrize(
    ("version", "outcome"),
    [
        ("19.03.15", "fail"),
        ("20.9.9", "fail"),
        ("20.10.0", "pass"),
        ("20.10.24+dfsg1", "pass"),
        ("28.2.2", "pass"),
        ("", "warn"),
    ],
)
def test_docker_version_boundaries(version: str, outcome: str) -> None:
    verdict = ck.check_docker_version(probe(FakeFacts(docker_facts=docker_with(version=version))))
    assert verdict.outcome == outcome


@pytest.mark.parametrize(
    ("watches", "instances", "outcome", "named"),
    [
        (524288, 512, "pass", []),
        (524287, 512, "warn", ["max_user_watches"]),
        (524288, 511, "warn", ["max_user_instances"]),
        (8192, 128, "warn", ["max_user_watches", "max_user_instances"]),
        (1048576, 8192, "pass", []),
    ],
)
def test_inotify_boundaries(watches: int, instances: int, outcome: str, named: list[str]) -> None:
    facts = FakeFacts(
        sysctls={"fs.inotify.max_user_watches": watches, "fs.inotify.max_user_instances": instances}
    )
    verdict = ck.check_inotify(probe(facts))
    assert verdict.outcome == outcome
    if named:
        assert verdict.fix is not None
        assert "sudo sysctl -w" in verdict.fix and ck.INOTIFY_CONF in verdict.fix
        for key in ("max_user_watches", "max_user_instances"):
            # Only the low values are raised: a higher setting is never lowered.
            assert (f"fs.inotify.{key}=" in verdict.fix) == (key in named)


def test_inotify_skips_without_proc_or_for_a_remote_daemon() -> None:
    assert ck.check_inotify(probe(FakeFacts(sysctls={}))).outcome == "skip"
    remote = FakeFacts(
        docker_facts=docker_with(local=False), sysctls={"fs.inotify.max_user_watches": 1}
    )
    assert ck.check_inotify(probe(remote)).outcome == "skip"
    down = FakeFacts(docker_facts=DockerError("down"), sysctls={"fs.inotify.max_user_watches": 1})
    assert (
        ck.check_inotify(probe(down, environ={"DOCKER_HOST": "tcp://10.0.0.1:2376"})).outcome
        == "skip"
    )


def test_cgroup_v2_passes_and_v1_warns_naming_the_older_node() -> None:
    assert ck.check_cgroup(probe()).outcome == "pass"
    v1 = FakeFacts(docker_facts=docker_with(cgroup_version="1"))
    verdict = ck.check_cgroup(probe(v1))
    # Kubernetes 1.35+ refuses cgroup v1, so airbox falls back to an older node image.
    assert verdict.outcome == "warn"
    assert "Kubernetes v1.34.0" in verdict.finding
    assert verdict.fix is not None and "systemd.unified_cgroup_hierarchy=1" in verdict.fix
    unknown = FakeFacts(docker_facts=docker_with(cgroup_version=None))
    assert ck.check_cgroup(probe(unknown)).outcome == "skip"


@pytest.mark.parametrize(
    ("skew", "uncertainty", "outcome"),
    [
        (0.0, 0.5, "pass"),
        (30.0, 0.5, "pass"),
        (30.6, 0.5, "warn"),
        (-31.0, 0.5, "warn"),
        (300.4, 0.5, "warn"),
        (300.6, 0.5, "fail"),
        (-3600.0, 0.5, "fail"),
        # A slow answer widens the uncertainty: 40 s measured over a 25 s round trip is fine.
        (40.0, 13.0, "pass"),
    ],
)
def test_clock_boundaries(skew: float, uncertainty: float, outcome: str) -> None:
    verdict = ck.clock_verdict(skew, uncertainty)
    assert verdict.outcome == outcome
    assert ("ahead of" if skew > 0 else "behind") in verdict.finding


# ----------------------------------------------------------------- docker errors


def test_docker_cli_missing_fails_with_the_install_script_named() -> None:
    verdict = ck.check_docker_cli(probe(FakeFacts(cli=None)))
    assert verdict.outcome == "fail"
    assert verdict.fix is not None and "scripts/install.sh" in verdict.fix


def test_permission_denied_is_an_access_failure_with_the_usermod_fix() -> None:
    from airbox.cluster.dockerhost import _diagnose

    error = _diagnose(PermissionError(13, "Permission denied"), None)
    facts = FakeFacts(docker_facts=error)
    access = ck.check_docker_access(probe(facts))
    assert access.outcome == "fail"
    assert access.fix is not None and "sudo usermod -aG docker $USER" in access.fix
    assert "log out" in access.fix
    assert ck.check_docker_daemon(probe(facts)).outcome == "skip"
    for check in (
        ck.check_docker_version,
        ck.check_cpu,
        ck.check_memory,
        ck.check_disk,
        ck.check_cgroup,
    ):
        assert check(probe(facts)).outcome == "skip"


def test_a_stopped_daemon_fails_the_daemon_check_only() -> None:
    from airbox.cluster.dockerhost import _diagnose

    error = _diagnose(FileNotFoundError(2, "No such file or directory"), "unix:///nonexistent.sock")
    facts = FakeFacts(docker_facts=error)
    daemon = ck.check_docker_daemon(probe(facts))
    assert daemon.outcome == "fail"
    assert daemon.fix is not None and "DOCKER_HOST" in daemon.fix
    assert ck.check_docker_access(probe(facts)).outcome == "skip"


def test_a_daemon_at_another_usual_socket_is_pointed_at(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from airbox.cluster.dockerhost import _diagnose

    def no_default_daemon(cls: Any, timeout: int = 5) -> Any:
        raise _diagnose(FileNotFoundError(2, "No such file or directory"), None)

    # A unix socket answering like a Docker daemon (short path: sun_path is ~108 bytes).
    directory = Path(tempfile.mkdtemp(prefix="abx-", dir="/tmp"))
    path = directory / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    monkeypatch.setattr(DockerHost, "connect", classmethod(no_default_daemon))
    monkeypatch.setattr(fx, "socket_candidates", lambda: ["/var/run/docker.sock", str(path)])
    try:
        found = fx.SystemFacts({}).docker()
        # With DOCKER_HOST set, that is where the daemon must be: no guessing.
        given = fx.SystemFacts({"DOCKER_HOST": "unix:///nonexistent.sock"}).docker()
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)
    assert isinstance(found, DockerError)
    assert found.hint is not None and f"export DOCKER_HOST=unix://{path}" in found.hint
    verdict = ck.check_docker_daemon(probe(FakeFacts(docker_facts=found)))
    assert verdict.outcome == "fail" and str(path) in verdict.finding
    assert isinstance(given, DockerError) and "DOCKER_HOST=unix://" not in (given.hint or "")


# -------------------------------------------------------------------- name clash


def test_a_kind_cluster_airbox_did_not_make_fails(tmp_path: Path) -> None:
    state = StateDir.for_name("dp")
    facts = FakeFacts(nodes=["airbox-dp-control-plane"])
    verdict = ck.check_cluster_name(probe(facts, state=state))
    assert verdict.outcome == "fail"
    assert verdict.fix is not None and "kind delete cluster --name airbox-dp" in verdict.fix
    assert "--name" in verdict.fix
    # install saves the settings before preflight runs: that alone is no record.
    state.root.mkdir(parents=True)
    (state.root / "settings.yaml").write_text("name: dp\n")
    assert ck.check_cluster_name(probe(facts, state=state)).outcome == "fail"
    # A record of the cluster step (or the kubeconfig airbox wrote) makes it ours.
    (state.root / "progress.json").write_text(
        json.dumps({"steps": {"cluster": {"status": "done"}}})
    )
    assert ck.check_cluster_name(probe(facts, state=state)).outcome == "pass"


def test_cluster_name_free_or_unknown() -> None:
    assert ck.check_cluster_name(probe(FakeFacts(nodes=[]))).outcome == "pass"
    assert ck.check_cluster_name(probe(FakeFacts(nodes=None))).outcome == "skip"
    assert ck.check_cluster_name(probe(subject=fx.Subject())).outcome == "skip"


def test_a_helm_release_airbox_did_not_make_fails() -> None:
    subject = fx.Subject(name="dp", kube_context="prod")
    state = StateDir.for_name("dp")
    verdict = ck.check_release_name(probe(FakeFacts(release=True), subject, state))
    assert verdict.outcome == "fail"
    assert verdict.fix is not None and "helm uninstall dp --namespace airbyte" in verdict.fix
    state.root.mkdir(parents=True)
    (state.root / "progress.json").write_text(
        json.dumps({"steps": {"release": {"status": "done"}}})
    )
    assert ck.check_release_name(probe(FakeFacts(release=True), subject, state)).outcome == "pass"
    assert ck.check_release_name(probe(FakeFacts(release=False), subject)).outcome == "pass"
    assert ck.check_release_name(probe(FakeFacts(release=None), subject)).outcome == "skip"


def test_kube_context_must_exist_in_the_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncontexts:\n"
        "- name: prod\n  context: {cluster: prod, user: me}\n"
    )
    good = fx.Subject(name="dp", kube_context="prod", kubeconfig=str(kubeconfig))
    assert ck.check_kube_context(probe(subject=good)).outcome == "pass"
    wrong = replace(good, kube_context="staging")
    verdict = ck.check_kube_context(probe(subject=wrong))
    assert verdict.outcome == "fail"
    assert verdict.fix is not None and "kubectl config get-contexts" in verdict.fix
    missing = replace(good, kubeconfig=str(tmp_path / "nope"))
    assert ck.check_kube_context(probe(subject=missing)).outcome == "fail"


def test_an_existing_cluster_skips_every_docker_and_kind_check(
    local_urls: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("contexts:\n- name: prod\n")
    facts = FakeFacts(docker_facts=DockerError("must not be asked"))
    subject = fx.Subject(
        name="dp",
        kube_context="prod",
        kubeconfig=str(kubeconfig),
        control_plane_url=local_urls["control_plane"],
    )
    report = ck.run_checks(subject, facts=facts, endpoints=endpoints_for(local_urls))
    assert facts.docker_calls == 0
    for check in ck.CHECKS:
        result = report.result(check.id)
        if check.scope == "kind":
            assert result.outcome == "skip" and "existing cluster prod" in result.finding
    assert report.result("kube.context").outcome == "pass"
    assert report.result("name.release").outcome == "pass"
    assert report.failures == []


# ---------------------------------------------------------------------- network


def test_a_healthy_machine_passes_everything(local_urls: dict[str, str]) -> None:
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    report = ck.run_checks(subject, facts=FakeFacts(), endpoints=endpoints_for(local_urls))
    outcomes = {r.id: r.outcome for r in report.results}
    assert report.failures == [] and report.warnings == [], outcomes
    assert outcomes["network.registry"] == "pass"  # 401 means reachable
    assert "HTTP 401" in report.result("network.registry").finding
    assert outcomes["clock.skew"] == "pass"
    assert report.outcome == "pass"


def test_closed_port_fails_fast() -> None:
    url = closed_port_url()
    subject = fx.Subject(control_plane_url=url)
    # "refused", not "no answer within 2s": it did not wait for the timeout.
    report = ck.run_checks(
        subject, facts=FakeFacts(), endpoints=fx.Endpoints(url, url, timeout=2.0)
    )
    result = report.result("network.control-plane")
    assert result.outcome == "fail"
    assert "refused" in result.finding
    assert "within" not in result.finding
    assert result.fix is not None and "HTTPS_PROXY" in result.fix
    assert report.result("clock.skew").outcome == "skip"


@pytest.mark.parametrize("blackhole", [never_accepts, accepts_and_stalls])
def test_black_holed_hosts_fail_within_their_timeout(blackhole: Any) -> None:
    timeout = 1.0
    with blackhole() as url:
        subject = fx.Subject(control_plane_url=url)
        # A run deadline far beyond the probes' own: a probe that ignored its timeout
        # would end up "did not finish within the 60s preflight deadline", not a failure
        # naming its own 1 s timeout.
        report = ck.run_checks(
            subject,
            facts=FakeFacts(),
            endpoints=fx.Endpoints(url, url, timeout=timeout),
            deadline=60.0,
        )
    for check_id in ("network.control-plane", "network.helm-repo", "network.registry"):
        result = report.result(check_id)
        assert result.outcome == "fail", result
        assert "no answer from 127.0.0." in result.finding
        assert result.finding.endswith("within 1s")
        assert result.fix is not None and "allow outbound HTTPS" in result.fix


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [(0, "pass"), (-45, "warn"), (90, "warn"), (-600, "fail"), (3600, "fail")],
)
def test_clock_skew_against_a_local_server(
    offset: float, outcome: str, local_urls: dict[str, str]
) -> None:
    with http_server(clock_offset=offset) as (url, _):
        subject = fx.Subject(control_plane_url=url)
        report = ck.run_checks(subject, facts=FakeFacts(), endpoints=endpoints_for(local_urls))
    result = report.result("clock.skew")
    assert result.outcome == outcome, result
    # The server is ahead by ``offset``: this machine is behind it.
    if offset:
        assert ("behind" if offset > 0 else "ahead of") in result.finding
        # The Date header has 1 s resolution: the measured skew is within a second.
        match = re.search(r"clock is (\d+)s", result.finding)
        assert match is not None and abs(int(match.group(1)) - abs(offset)) <= 1
    if outcome != "pass":
        assert result.fix is not None and "timedatectl" in result.fix


def test_the_control_plane_is_probed_once_for_reachability_and_clock(
    local_urls: dict[str, str],
) -> None:
    with http_server() as (url, behaviour):
        ck.run_checks(
            fx.Subject(control_plane_url=url + "/"),
            facts=FakeFacts(),
            endpoints=endpoints_for(local_urls),
        )
    assert behaviour.requests == ["/"]


def test_proxies_from_the_environment_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # The target never resolves (.invalid): only the proxy can answer for it.
    with http_server() as (proxy, behaviour):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        target = "http://control-plane.invalid/"
        report = ck.run_checks(
            fx.Subject(control_plane_url=target),
            facts=FakeFacts(),
            endpoints=fx.Endpoints(target, target, timeout=2.0),
        )
    assert behaviour.requests and behaviour.requests[0] == target
    result = report.result("network.control-plane")
    assert result.outcome == "pass" and "through the proxy" in result.finding


def test_a_proxy_asking_for_credentials_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(status=407) as (proxy, _):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        target = "http://control-plane.invalid/"
        report = ck.run_checks(
            fx.Subject(control_plane_url=target),
            facts=FakeFacts(),
            endpoints=fx.Endpoints(target, target, timeout=2.0),
        )
    result = report.result("network.control-plane")
    assert result.outcome == "fail"
    assert result.fix is not None and "HTTPS_PROXY=http://user:password@" in result.fix


def test_a_failing_gateway_is_a_warning(local_urls: dict[str, str]) -> None:
    with http_server(status=503) as (url, _):
        report = ck.run_checks(
            fx.Subject(control_plane_url=url),
            facts=FakeFacts(),
            endpoints=endpoints_for(local_urls),
        )
    assert report.result("network.control-plane").outcome == "warn"


def test_the_api_is_probed_only_when_registering(local_urls: dict[str, str]) -> None:
    with http_server() as (api, behaviour):
        subject = fx.Subject(control_plane_url=local_urls["control_plane"], api_url=api + "/v1")
        report = ck.run_checks(subject, facts=FakeFacts(), endpoints=endpoints_for(local_urls))
        assert report.result("network.api").outcome == "pass"
        assert behaviour.requests == ["/v1"]
        report = ck.run_checks(
            replace(subject, api_url=None), facts=FakeFacts(), endpoints=endpoints_for(local_urls)
        )
    assert report.result("network.api").outcome == "skip"


def test_endpoints_follow_the_chart_source_and_image_registry() -> None:
    endpoints = fx.Endpoints()
    assert endpoints.helm_url(fx.Subject()) == fx.HELM_REPO_INDEX
    assert endpoints.helm_url(fx.Subject(chart_source="./chart.tgz")) is None
    assert (
        endpoints.helm_url(fx.Subject(chart_source="oci://mirror.example/charts/x"))
        == "https://mirror.example/v2/"
    )
    assert endpoints.registry_url(fx.Subject()) == fx.REGISTRY_URL
    assert (
        endpoints.registry_url(fx.Subject(image_registry="mirror.example/airbyte"))
        == "https://mirror.example/v2/"
    )
    env = fx.Endpoints.from_env(
        {
            fx.ENV_HELM_REPO_URL: "http://127.0.0.1:1/i.yaml",
            fx.ENV_REGISTRY_URL: "http://127.0.0.1:1/v2/",
        }
    )
    assert env.helm_url(fx.Subject(chart_source="./c.tgz")) == "http://127.0.0.1:1/i.yaml"
    assert env.registry_url(fx.Subject(image_registry="x")) == "http://127.0.0.1:1/v2/"


def test_a_local_chart_skips_the_helm_repository(local_urls: dict[str, str]) -> None:
    subject = fx.Subject(control_plane_url=local_urls["control_plane"], chart_source="./c.tgz")
    report = ck.run_checks(
        subject, facts=FakeFacts(), endpoints=fx.Endpoints(registry=local_urls["registry"])
    )
    assert report.result("network.helm-repo").outcome == "skip"


# ------------------------------------------------------------------ the run as a whole


def test_the_deadline_bounds_the_run_when_docker_hangs(local_urls: dict[str, str]) -> None:
    """Docker never answers (until the test ends): the run returning at all is the proof
    that the deadline bounds it; without one it would wait on the hung check forever."""
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    hang = threading.Event()
    facts = FakeFacts(hang=hang)
    try:
        report = ck.run_checks(
            subject, facts=facts, endpoints=endpoints_for(local_urls), deadline=1.0
        )
    finally:
        hang.set()
    daemon = report.result("docker.daemon")
    assert daemon.outcome == "warn"
    assert daemon.finding == "did not finish within the 1s preflight deadline"
    assert daemon.fix is not None and "run `airbox preflight` again" in daemon.fix


HUNG_CHECK = """
import signal, sys, threading
signal.signal(signal.SIGINT, signal.default_int_handler)
from airbox.ops.preflight import checks as ck, facts as fx

once = threading.Lock()

class Hung(fx.SystemFacts):
    def docker(self):
        if once.acquire(blocking=False):
            print("waiting", flush=True)
        threading.Event().wait()  # a daemon that never answers, and no timeout

ck.run_checks(fx.Subject(name="dp", control_plane_url=sys.argv[1]), facts=Hung({}),
              endpoints=fx.Endpoints(sys.argv[1], sys.argv[1]), deadline=3600)
"""


def test_a_check_stuck_for_ever_never_holds_a_ctrl_c(local_urls: dict[str, str]) -> None:
    """A Ctrl-C while a check is stuck ends the process: the check's thread must not be
    one the interpreter waits for at exit. It never returns here, so exiting at all (the
    generous timeout only keeps a broken build from hanging) is the proof."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HUNG_CHECK, local_urls["control_plane"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=airbox_env(),
        preexec_fn=default_signals,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "waiting\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err


def test_at_the_deadline_the_finished_checks_keep_their_results(local_urls: dict[str, str]) -> None:
    """The deadline's end is an event here, not a clock: the fake wait returns once every
    check has finished but those stuck on Docker, as a deadline passing would find them."""
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    hang = threading.Event()
    facts = FakeFacts(hang=hang)
    given: list[float] = []

    def wait_for_all_but_docker(futures: list[Any], deadline: float) -> None:
        given.append(deadline)
        limit = time.monotonic() + 60  # only a broken build gets here
        while time.monotonic() < limit:
            if facts.hanging and sum(not f.done() for f in futures) == facts.hanging:
                return
            time.sleep(0.01)
        raise AssertionError("the checks never settled")

    try:
        report = ck.run_checks(
            subject,
            facts=facts,
            endpoints=endpoints_for(local_urls),
            deadline=7.0,
            wait=wait_for_all_but_docker,
        )
    finally:
        hang.set()
    assert given == [7.0]
    daemon = report.result("docker.daemon")
    assert daemon.outcome == "warn"
    assert daemon.finding == "did not finish within the 7s preflight deadline"
    assert daemon.seconds == 7.0
    # The checks that answered in time are reported as usual.
    assert report.result("network.control-plane").outcome == "pass"
    assert report.result("network.registry").outcome == "pass"
    assert report.result("clock.skew").outcome == "pass"
    assert report.result("docker.cli").outcome == "pass"


def test_json_shape_is_stable(local_urls: dict[str, str]) -> None:
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    facts = FakeFacts(docker_facts=docker_with(cpus=4))
    data = ck.run_checks(subject, facts=facts, endpoints=endpoints_for(local_urls)).to_json()
    assert list(data) == [
        "schemaVersion",
        "airboxVersion",
        "name",
        "target",
        "controlPlaneUrl",
        "startedAt",
        "seconds",
        "outcome",
        "counts",
        "checks",
    ]
    assert data["schemaVersion"] == 1
    assert data["target"] == {"type": "kind", "cluster": "airbox-dp"}
    assert data["outcome"] == "warn"
    assert set(data["counts"]) == {"pass", "warn", "fail", "skip"}
    assert sum(data["counts"].values()) == len(ck.CHECKS)
    assert [c["id"] for c in data["checks"]] == [c.id for c in ck.CHECKS]
    for check in data["checks"]:
        assert list(check) == ["id", "title", "outcome", "finding", "fix", "seconds"]
        assert check["outcome"] in rp.OUTCOMES
        assert (check["fix"] is not None) == (check["outcome"] in ("warn", "fail"))
    json.dumps(data)


def test_render_marks_each_outcome_and_shows_fixes(local_urls: dict[str, str]) -> None:
    facts = FakeFacts(docker_facts=docker_with(cpus=1, memory=8 * GiB))
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    report = ck.run_checks(subject, facts=facts, endpoints=endpoints_for(local_urls))
    text = "\n".join(rp.render(report))
    assert "✗ CPUs available to Docker" in text
    assert "! Memory available to Docker" in text
    assert "✓ Docker daemon reachable" in text
    assert "- Helm release name free" in text
    assert text.count("    fix: ") == 2
    assert "1 failed" in text.splitlines()[-1]


def test_results_are_saved_only_where_a_state_directory_exists(local_urls: dict[str, str]) -> None:
    subject = fx.Subject(name="dp", control_plane_url=local_urls["control_plane"])
    state = StateDir.for_name("dp")
    pcmd.run_preflight(subject, facts=FakeFacts(), endpoints=endpoints_for(local_urls))
    assert not state.root.exists()
    state.root.mkdir(parents=True, mode=0o700)
    pcmd.run_preflight(subject, facts=FakeFacts(), endpoints=endpoints_for(local_urls))
    saved = json.loads(state.preflight.read_text())
    assert saved["name"] == "dp" and saved["outcome"] == "pass"
    assert stat.S_IMODE(state.preflight.stat().st_mode) == 0o644


def test_subject_from_answers_is_lenient_and_knows_when_airbox_registers() -> None:
    subject = fx.Subject.from_answers(
        {
            "name": "dp",
            "controlPlane": {"edition": "enterprise", "url": "https://airbyte.example.com/"},
            "registration": {"clientId": "x", "clientSecret": "y"},
            "cluster": {"kubeContext": "prod"},
            "values": {"image": {"registry": "mirror.example/"}},
        }
    )
    assert subject.control_plane_url == "https://airbyte.example.com"
    assert subject.api_url == "https://airbyte.example.com/api/public/v1"
    assert not subject.is_kind and subject.kube_context == "prod"
    assert subject.image_registry == "mirror.example"
    # The chart reads image.registry only: a global one changes nothing it pulls.
    assert (
        fx.Subject.from_answers(
            {"values": {"global": {"image": {"registry": "mirror.example"}}}}
        ).image_registry
        is None
    )
    assert fx.Subject.from_answers({}).control_plane_url == "https://cloud.airbyte.com"
    # A private registry (images) is probed where containerd will pull from: plain HTTP
    # only when the answers say insecure.
    endpoints = fx.Endpoints()
    for images, url in (
        (
            {"registry": "registry.corp.example:5443/mirror"},
            "https://registry.corp.example:5443/v2/",
        ),
        (
            {"registry": "registry.corp.example/mirror", "insecure": True},
            "http://registry.corp.example/v2/",
        ),
    ):
        subject = fx.Subject.from_answers(
            {"images": images, "values": {"image": {"registry": "other.example"}}}
        )
        assert endpoints.registry_url(subject) == url
    assert (
        fx.Subject.from_answers(
            {"dataPlane": {"clientId": "a"}, "registration": {"clientId": "b"}}
        ).api_url
        is None
    )


# -------------------------------------------------------------------- install step


def _report(*outcomes: str) -> rp.Report:
    results = [
        rp.Result(
            f"check.{i}",
            f"Check {i}",
            outcome,  # type: ignore[arg-type]
            f"finding {i}",
            None if outcome == "pass" else f"fix {i}",
        )
        for i, outcome in enumerate(outcomes)
    ]
    return rp.Report(fx.Subject(name="dp"), results, "2026-01-01T00:00:00Z", 0.1)


class _Prompter:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def confirm(self, message: str, *, default: bool = False) -> bool:
        self.asked.append(message)
        return self.answer


def _ctx(
    tmp_path: Path, *, ignore: bool = False, yes: bool = False, prompter: _Prompter | None = None
) -> tuple[Any, Any]:
    out = tmp_path / "out.txt"
    err = tmp_path / "err.txt"
    term = Terminal(out=out.open("w"), err=err.open("w"), interactive=False)
    options = SimpleNamespace(
        ignore_preflight_failures=ignore,
        assume_yes=yes,
        interactive=prompter is not None,
        preflight=True,
    )
    ctx = SimpleNamespace(
        settings=None,
        state=StateDir.for_name("dp"),
        term=term,
        options=options,
        prompter=prompter,
        early_preflight=None,
    )
    line = StepLine(term, "Check the machine")
    line.updates = []  # type: ignore[attr-defined]
    line.update = line.updates.append  # type: ignore[attr-defined, method-assign]
    return ctx, line


def _step(ctx: Any, line: Any) -> None:
    """The install's preflight step, as the install runs it."""
    from airbox.ops.install import Preflight

    Preflight().run(ctx, line)


def _stderr(ctx: Any) -> str:
    ctx.term.err.flush()
    return Path(ctx.term.err.name).read_text()


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(report: rp.Report) -> None:
        monkeypatch.setattr(pcmd, "run_preflight", lambda *a, **k: report)

    return use


def test_install_step_passes_and_prints_warnings(tmp_path: Path, canned: Any) -> None:
    canned(_report("pass", "warn", "skip"))
    ctx, line = _ctx(tmp_path)
    _step(ctx, line)
    err = _stderr(ctx)
    assert "Check 1: finding 1" in err and "fix: fix 1" in err
    assert line.updates == ["1 passed, 1 warning, 0 failed"]


def test_install_step_stops_on_failures_with_every_fix(tmp_path: Path, canned: Any) -> None:
    canned(_report("pass", "fail", "fail"))
    ctx, line = _ctx(tmp_path)
    with pytest.raises(PreflightFailed) as caught:
        _step(ctx, line)
    error = caught.value
    assert error.exit_code == EXIT_PREFLIGHT == 3
    assert "2 preflight checks failed" in error.message
    assert any("fix: fix 1" in d for d in error.details)
    assert any("fix: fix 2" in d for d in error.details)
    assert error.hint is not None and "--ignore-preflight-failures" in error.hint


def test_ignoring_failures_with_yes_proceeds_loudly(tmp_path: Path, canned: Any) -> None:
    canned(_report("fail"))
    ctx, line = _ctx(tmp_path, ignore=True, yes=True)
    _step(ctx, line)
    err = _stderr(ctx)
    assert "IGNORING 1 FAILED PREFLIGHT CHECK" in err
    assert "fix: fix 0" in err


@pytest.mark.parametrize("answer", [True, False])
def test_ignoring_failures_on_a_terminal_asks(tmp_path: Path, canned: Any, answer: bool) -> None:
    canned(_report("fail"))
    prompter = _Prompter(answer)
    ctx, line = _ctx(tmp_path, ignore=True, prompter=prompter)
    if answer:
        _step(ctx, line)
    else:
        with pytest.raises(PreflightFailed, match="stopped"):
            _step(ctx, line)
    assert len(prompter.asked) == 1 and "Continue anyway?" in prompter.asked[0]


class _Interrupting(_Prompter):
    def confirm(self, message: str, *, default: bool = False) -> bool:
        self.asked.append(message)
        raise KeyboardInterrupt


def test_ctrl_c_at_continue_anyway_before_the_questions_says_nothing_changed(
    tmp_path: Path, canned: Any
) -> None:
    # Before the questions nothing is installed yet: "what was done is kept" would mislead.
    from airbox.cli.errors import _interrupted_message
    from airbox.errors import InterviewInterrupted

    canned(_report("fail"))
    ctx, _ = _ctx(tmp_path, ignore=True)
    prompter = _Interrupting(True)
    with pytest.raises(InterviewInterrupted) as caught:
        pcmd.before_questions(
            {"name": "dp"}, term=ctx.term, ignore_failures=True, assume_yes=False, prompter=prompter
        )
    assert len(prompter.asked) == 1 and "Continue anyway?" in prompter.asked[0]
    assert _interrupted_message(caught.value) == (
        "Interrupted at the preflight question: nothing was installed or changed."
    )


def test_ignoring_failures_without_a_terminal_needs_yes(tmp_path: Path, canned: Any) -> None:
    canned(_report("fail"))
    ctx, line = _ctx(tmp_path, ignore=True)
    with pytest.raises(PreflightFailed) as caught:
        _step(ctx, line)
    assert caught.value.hint is not None and "--yes" in caught.value.hint


# ------------------------------------------------------------------ the command


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), "preflight", *args],
        capture_output=True,
        text=True,
        env=env or airbox_env(),
        timeout=timeout,
    )


def cli_env(urls: dict[str, str], **extra: str) -> dict[str, str]:
    return airbox_env(
        **{fx.ENV_HELM_REPO_URL: urls["helm"], fx.ENV_REGISTRY_URL: urls["registry"]}, **extra
    )


def _docker_reachable() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _docker_reachable(), reason="no Docker Engine reachable here")
def test_cli_json_reports_the_real_docker_engine(local_urls: dict[str, str]) -> None:
    result = run_cli(
        "--json", "--control-plane-url", local_urls["control_plane"], env=cli_env(local_urls)
    )
    data = json.loads(result.stdout)
    outcomes = {c["id"]: c["outcome"] for c in data["checks"]}
    for check_id in ("docker.cli", "docker.daemon", "docker.access", "docker.version"):
        assert outcomes[check_id] == "pass", data
    for check_id in (
        "network.control-plane",
        "network.helm-repo",
        "network.registry",
        "clock.skew",
    ):
        assert outcomes[check_id] == "pass", data
    assert data["controlPlaneUrl"] == local_urls["control_plane"]
    assert result.returncode == (EXIT_PREFLIGHT if data["counts"]["fail"] else 0)


def test_cli_with_a_dead_docker_host_exits_3_quickly_with_the_fix(
    local_urls: dict[str, str],
) -> None:
    # How quickly: scripts/bench_preflight.py (a dead socket is refused at once).
    result = run_cli(
        "--control-plane-url",
        local_urls["control_plane"],
        timeout=60,
        env=cli_env(local_urls, DOCKER_HOST="unix:///nonexistent.sock"),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "✗ Docker daemon reachable" in result.stdout
    assert "unix:///nonexistent.sock" in result.stdout
    assert "fix: start it: sudo systemctl start docker" in result.stdout
    assert "DOCKER_HOST" in result.stdout


def _can_drop_to_nobody() -> bool:
    socket_path = Path("/var/run/docker.sock")
    return (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("setpriv") is not None
        and socket_path.exists()
        and not socket_path.stat().st_mode & 0o006
        and _docker_reachable()
    )


@pytest.mark.skipif(
    not _can_drop_to_nobody(),
    reason="needs root, setpriv and a Docker socket closed to other users",
)
def test_cli_as_a_user_without_socket_access_gets_the_usermod_fix(
    local_urls: dict[str, str],
) -> None:
    import tempfile

    # pytest's own temporary directories are 0700: "nobody" needs a home it can reach.
    home = Path(tempfile.mkdtemp(prefix="airbox-nobody-", dir="/tmp"))
    try:
        home.chmod(0o777)
        env = cli_env(local_urls, HOME=str(home), AIRBOX_HOME=str(home / "airbox"))
        argv = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            airbox_bin(),
            "preflight",
            "--control-plane-url",
            local_urls["control_plane"],
        ]
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "✗ Docker accessible to this user — permission denied" in result.stdout
    assert "sudo usermod -aG docker $USER" in result.stdout
    assert "- Docker daemon reachable" in result.stdout


def test_cli_finishes_in_time_when_nothing_answers() -> None:
    with never_accepts() as silent, accepts_and_stalls() as stalls:
        env = airbox_env(
            **{
                fx.ENV_HELM_REPO_URL: stalls,
                fx.ENV_REGISTRY_URL: silent,
                "DOCKER_HOST": "unix:///nonexistent.sock",
            }
        )
        # It returns at all although nothing ever answers: every probe's own timeout and
        # the run's deadline end it (how soon: scripts/bench_preflight.py).
        result = run_cli("--json", "--control-plane-url", silent, env=env, timeout=90)
    assert result.returncode == 3
    data = json.loads(result.stdout)
    outcomes = {c["id"]: c["outcome"] for c in data["checks"]}
    assert outcomes["network.control-plane"] == outcomes["network.registry"] == "fail"
    assert outcomes["network.helm-repo"] == "fail"


def test_cli_saves_into_an_existing_state_directory(
    local_urls: dict[str, str], isolated: Path
) -> None:
    state = StateDir.for_name("dp")
    state.root.mkdir(parents=True, mode=0o700)
    result = run_cli(
        "--name",
        "dp",
        "--json",
        "--control-plane-url",
        local_urls["control_plane"],
        env=cli_env(local_urls, DOCKER_HOST="unix:///nonexistent.sock"),
    )
    assert result.returncode == 3
    saved = json.loads(state.preflight.read_text())
    assert saved["name"] == "dp"
    assert saved["checks"] == json.loads(result.stdout)["checks"]


def test_cli_answers_file_and_bad_input(tmp_path: Path, local_urls: dict[str, str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("contexts:\n- name: prod\n")
    answers = tmp_path / "dp.yaml"
    answers.write_text(
        f"name: dp\ncontrolPlane: {{url: {local_urls['control_plane']}}}\n"
        f"cluster: {{kubeContext: prod, kubeconfig: {kubeconfig}}}\n"
    )
    result = run_cli("--answers", str(answers), "--json", env=cli_env(local_urls))
    data = json.loads(result.stdout)
    assert data["target"] == {"type": "existing", "context": "prod", "kubeconfig": str(kubeconfig)}
    assert {c["id"]: c["outcome"] for c in data["checks"]}["kube.context"] == "pass"
    # http:// is only for loopback hosts; a bad name is bad input too: exit 2.
    bad = run_cli("--control-plane-url", "http://airbyte.example.com", env=cli_env(local_urls))
    assert bad.returncode == 2 and "https://" in bad.stderr
    assert run_cli("--name", "Not_A_Name", env=cli_env(local_urls)).returncode == 2
    unset = tmp_path / "unset.yaml"
    unset.write_text("name: ${AIRBOX_TEST_UNSET_VARIABLE}\n")
    result = run_cli("--answers", str(unset), env=cli_env(local_urls))
    assert result.returncode == 2 and "AIRBOX_TEST_UNSET_VARIABLE" in result.stderr


def test_cli_help_has_examples() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout and "airbox preflight --json" in result.stdout
    assert (
        "Check this machine"
        in subprocess.run(
            [airbox_bin(), "--help"], capture_output=True, text=True, env=airbox_env(), timeout=30
        ).stdout
    )


def test_system_facts_read_proc_and_statvfs() -> None:
    facts = fx.SystemFacts({})
    if os.path.exists("/proc/sys/fs/inotify/max_user_watches"):
        assert isinstance(facts.sysctl("fs.inotify.max_user_watches"), int)
    assert facts.sysctl("fs.no.such.key") is None
    assert (facts.disk_free("/") or 0) > 0
    assert facts.disk_free("/no/such/dir") is None


# ------------------------------------------------------------- one cause, said once


def test_cli_one_dns_outage_is_one_summarised_cause_and_the_clock_says_unreachable() -> None:
    # .invalid never resolves (RFC 6761): a machine whose DNS is down, without a network.
    env = airbox_env(
        **{
            fx.ENV_HELM_REPO_URL: "https://helm.invalid/index.yaml",
            fx.ENV_REGISTRY_URL: "https://registry.invalid/v2/",
        }
    )
    result = run_cli("--control-plane-url", "https://cp.invalid", env=env, timeout=90)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # Each check still shows its finding, but the DNS advice is given once, naming every
    # host that does not resolve.
    assert "✗ Control plane reachable — cannot resolve cp.invalid" in lines
    assert "✗ Image registry reachable — cannot resolve registry.invalid" in lines
    assert sum("check DNS" in line for line in lines) == 1, result.stdout
    summary = next(line for line in lines if line.startswith("✗ Name resolution — "))
    for host in ("cp.invalid", "helm.invalid", "registry.invalid"):
        assert host in summary
    assert "(one cause for the failures above)" in summary
    clock = next(line for line in lines if "Clock in sync" in line)
    assert clock == (
        "- Clock in sync with the control plane — not checked: the control plane "
        "at cp.invalid could not be reached (see Control plane reachable)"
    )


def test_install_step_counts_say_1_warning(tmp_path: Path, canned: Any) -> None:
    canned(_report("pass", "warn"))
    ctx, line = _ctx(tmp_path)
    _step(ctx, line)
    assert line.updates == ["1 passed, 1 warning, 0 failed"]
    assert rp.render(_report("pass", "warn"))[-1].startswith("1 passed, 1 warning, 0 failed, ")


def test_continue_anyway_is_asked_once_per_install(
    tmp_path: Path, canned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirmed before the questions, the same failures at the install's preflight step
    (re-run: the answers changed what is checked) are not asked about again, and the step
    ends with "!" naming them, not "✓"."""
    early = _report("pass", "fail")
    early.subject = fx.Subject(name="other")  # not reusable: the step runs preflight again
    monkeypatch.setattr(fx.Subject, "from_settings", staticmethod(lambda s: fx.Subject()))
    canned(_report("pass", "fail"))
    prompter = _Prompter(True)
    ctx, line = _ctx(tmp_path, ignore=True, prompter=prompter)
    ctx.early_preflight = early
    _step(ctx, line)
    assert prompter.asked == []
    line.finish(ok=True)
    err = _stderr(ctx)
    assert "! Check the machine (" in err
    assert "1 failed check overridden: check.1" in err
    assert "✓ Check the machine" not in err
    # A failure not confirmed before is still asked about.
    canned(_report("fail", "fail"))
    ctx, line = _ctx(tmp_path, ignore=True, prompter=prompter)
    ctx.early_preflight = early
    _step(ctx, line)
    assert len(prompter.asked) == 1


class _SlowPrompter(_Prompter):
    """A user who takes a while to answer: ``clock`` is advanced while the question is up."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__(True)
        self.clock = clock

    def confirm(self, message: str, *, default: bool = False) -> bool:
        self.clock[0] += 30.0
        return super().confirm(message, default=default)


def test_the_step_time_excludes_the_users_answer(
    tmp_path: Path, canned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    # The step line times itself with time.monotonic (airbox.ui imports the module).
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    canned(_report("fail"))
    ctx, _ = _ctx(tmp_path, ignore=True, prompter=_SlowPrompter(clock))
    line = StepLine(ctx.term, "Check the machine")
    _step(ctx, line)
    line.finish(ok=True)
    err = _stderr(ctx)
    assert "! Check the machine (0.0s): 1 failed check overridden: check.0" in err
