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

Here: the table of checks (``CHECKS``), the checks of names and contexts, and the run.
The checks of the machine are ``machine_checks``'s, of what it reaches
``network_checks``'s; what a check is given, ``probe``'s.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from airbox.errors import DockerError
from airbox.fsutil import read_json
from airbox.ops.preflight.facts import Endpoints, HostFacts, Subject, SystemFacts, kubeconfig_files
from airbox.ops.preflight.machine_checks import (
    CPU_FLOOR,
    CPU_MINIMUM,
    DISK_FLOOR,
    DISK_MINIMUM,
    INOTIFY_CONF,
    MEMORY_FLOOR,
    MEMORY_MINIMUM,
    MEMORY_RECOMMENDED,
    GiB,
    check_cgroup,
    check_cpu,
    check_disk,
    check_docker_access,
    check_docker_cli,
    check_docker_daemon,
    check_docker_version,
    check_inotify,
    check_memory,
    no_docker,
)
from airbox.ops.preflight.network_checks import (
    check_api,
    check_clock,
    check_control_plane,
    check_docker_proxy,
    check_helm_repo,
    check_imds_hop_limit,
    check_registry,
    check_tools,
    clock_verdict,
)
from airbox.ops.preflight.probe import Probe
from airbox.ops.preflight.report import Report, Result, Verdict, failed, passed, skipped, warned
from airbox.paths import StateDir
from airbox.timestamps import utc_stamp

DEADLINE = 9.0

# The catalogue: every check by name (the table below runs them), what a check is given,
# the run, and the thresholds and clock rule the tests address through this module.
__all__ = [
    "CHECKS",
    "CPU_FLOOR",
    "CPU_MINIMUM",
    "DEADLINE",
    "DISK_FLOOR",
    "DISK_MINIMUM",
    "INOTIFY_CONF",
    "MEMORY_FLOOR",
    "MEMORY_MINIMUM",
    "MEMORY_RECOMMENDED",
    "Check",
    "GiB",
    "Probe",
    "check_api",
    "check_cgroup",
    "check_clock",
    "check_cluster_name",
    "check_control_plane",
    "check_cpu",
    "check_disk",
    "check_docker_access",
    "check_docker_cli",
    "check_docker_daemon",
    "check_docker_proxy",
    "check_docker_version",
    "check_helm_repo",
    "check_imds_hop_limit",
    "check_inotify",
    "check_kube_context",
    "check_memory",
    "check_registry",
    "check_release_name",
    "check_tools",
    "clock_verdict",
    "run_checks",
]


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[Probe], Verdict]
    # "kind": only when airbox makes the kind cluster; "existing": only for an
    # existing cluster; "any": always.
    scope: Literal["kind", "existing", "any"] = "any"


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
        return skipped(no_docker(docker if isinstance(docker, DockerError) else None))
    if not nodes:
        return passed(f"no kind cluster named {cluster} exists yet")
    if _airbox_made(p.state, "cluster"):
        return passed(f"the kind cluster {cluster} exists and airbox made it: install reuses it")
    return failed(
        f"a kind cluster named {cluster} already exists and airbox has no record of making it",
        "pick another data plane name (--name), or, if it is a leftover, remove it: "
        f"kind delete cluster --name {cluster}",
    )


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
        return passed(
            f"the Helm release {subject.name} exists and airbox made it: install upgrades it"
        )
    return failed(
        f"a Helm release named {subject.name} already exists in {where} and airbox "
        "has no record of making it",
        "pick another data plane name (--name), or, if it is a leftover, remove it: "
        f"helm uninstall {subject.name} --namespace {subject.namespace} "
        f"--kube-context {subject.kube_context}",
    )


def check_kube_context(p: Probe) -> Verdict:
    subject = p.subject
    files = ", ".join(str(f) for f in kubeconfig_files(subject.kubeconfig, p.environ))
    contexts = p.facts.kube_contexts(subject.kubeconfig)
    if contexts is None:
        return failed(
            f"no kubeconfig to read at {files}",
            "give the cluster's kubeconfig with cluster.kubeconfig / --kubeconfig, "
            "or set KUBECONFIG",
        )
    if subject.kube_context not in contexts:
        return failed(
            f"the context {subject.kube_context} is not in {files}",
            "list the contexts with `kubectl config get-contexts` and use one of "
            "them as --kube-context (with --kubeconfig if it lives elsewhere)",
        )
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
    Check(
        "aws.imds-hop-limit",
        "Instance metadata reachable from pods (IMDSv2 hop limit)",
        check_imds_hop_limit,
        "kind",
    ),
    Check("name.cluster", "kind cluster name free", check_cluster_name, "kind"),
    Check("name.release", "Helm release name free", check_release_name, "existing"),
    Check("kube.context", "Kubernetes context exists", check_kube_context, "existing"),
)


def _not_applicable(check: Check, subject: Subject) -> str | None:
    if check.scope == "kind" and not subject.is_kind:
        return (
            f"not needed: installing into the existing cluster {subject.kube_context}, "
            "not a kind cluster on this machine"
        )
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
        verdict = warned(
            f"could not check: {type(exc).__name__}: {exc}",
            "run `airbox preflight` again; report it if it repeats",
        )
    return Result(
        check.id,
        check.title,
        verdict.outcome,
        verdict.finding,
        verdict.fix,
        time.monotonic() - started,
    )


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
    probe = Probe(
        subject,
        facts or SystemFacts(environ),
        endpoints or Endpoints.from_env(environ),
        state,
        environ,
    )
    started_at = utc_stamp()
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
            results.append(
                Result(
                    check.id,
                    check.title,
                    "warn",
                    f"did not finish within the {deadline:.0f}s preflight deadline",
                    "run `airbox preflight` again; if it repeats, something on this machine "
                    "(DNS, the Docker daemon, a proxy) is not answering",
                    deadline,
                )
            )
    return Report(subject, results, started_at, time.monotonic() - started)
