"""``airbox repair``: bring an installed data plane back to healthy, asking nothing.

The ways a data plane on one VM dies quietly, each fixed only when found: a stopped
node container (started), a node that would stay down after a reboot (restart policy),
kubeadm certificates expiring within 30 days (renewed in the node, the node restarted,
the kubeconfig exported again; the renewal is recorded in ``progress.json`` until the
API answers, so a run stopped or failing half-way leaves the rest to the next run), a
Secret edited or deleted by hand (re-applied from the saved state), a release Helm left
``pending-*`` (rolled back), a crash-looping launcher (restarted once). Then ``status``
judges: exit 0 when no check fails, else 1 with the reason. A second run finds nothing
to do.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from airbox import runlog
from airbox.cluster import commands, kube
from airbox.cluster.runner import Runner
from airbox.errors import EXIT_FAILURE, EXIT_OK, AirboxError, ClusterError
from airbox.fsutil import SECRET_FILE
from airbox.installed import Installed, unfinished_renewal
from airbox.ops.pipeline import Progress
from airbox.ops.session import Session
from airbox.redact import REDACTOR
from airbox.render import manifests
from airbox.timestamps import utc_stamp
from airbox.ui import StepLine, Terminal

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost

API_TIMEOUT = 180.0

# Repair's steps, in order. A renewal is seen through over four of them (certificates,
# node-restart, kubeconfig, api), recorded in progress.json until the API answers, so a
# run stopped anywhere in between leaves the rest to the next run.
STEPS = (
    "node",
    "restart-policy",
    "certificates",
    "node-restart",
    "kubeconfig",
    "api",
    "secret",
    "release",
    "launcher",
)
KIND_ONLY = frozenset({"node", "restart-policy", "certificates", "node-restart", "kubeconfig"})


def _utc_now() -> str:
    return utc_stamp()


@dataclass
class Repair:
    """One repair run: what it did, and why it had to stop (if it did)."""

    inst: Installed
    runner: Runner
    term: Terminal
    did: list[str] = field(default_factory=list)
    stopped: str | None = None
    hint: str | None = None
    _docker: DockerHost | None = None

    @property
    def name(self) -> str:
        return self.inst.name

    @contextmanager
    def step(self, title: str) -> Iterator[StepLine]:
        with self.term.step(title) as line:
            yield line

    def done(self, what: str) -> None:
        runlog.logger().info("repair: %s", what)
        self.did.append(what)

    # ------------------------------------------------------------------ the node

    def _host(self) -> DockerHost:
        from airbox.cluster.dockerhost import DockerHost

        if self._docker is None:
            self._docker = DockerHost.connect(timeout=120)
        return self._docker

    def node(self) -> bool:
        """Start the node container. False: it is gone, stop here."""
        settings = self.inst.settings
        container = settings.node_container
        with self.step(f"Check the node container {container}") as line:
            state = self._host().container(container)
            if state.status == "missing":
                # A failure, shown as one (✗): repair cannot make a cluster, install can.
                raise ClusterError(
                    f"the kind cluster {settings.cluster_name} no longer exists (its node "
                    f"container {container} is gone); repair cannot create a cluster",
                    hint=f"airbox install --name {self.name}  (creates it again from the "
                    "saved settings)",
                )
            if not state.running:
                line.update(f"starting the {state.status} node container")
                self._host().start(container)
                self.done(f"started the node container {container} (it was {state.status})")
            else:
                line.skip("running")
        return True

    def restart_policy(self) -> bool:
        from airbox.cluster.dockerhost import NODE_RESTART_POLICY

        container = self.inst.settings.node_container
        with self.step("Keep the node running across reboots") as line:
            before = self._host().container(container).restart_policy
            if self._host().set_restart_policy(container):
                self.done(
                    f"set the restart policy of {container} to {NODE_RESTART_POLICY} (was {before})"
                )
            else:
                line.skip(f"restart policy already {NODE_RESTART_POLICY}")
        return True

    def certificates(self) -> bool:
        """Renew certificates expiring within 30 days, recording that the rest is due."""
        from airbox.cluster import node as nodefs

        container = self.inst.settings.node_container
        with self.step("Check the cluster's certificates") as line:
            certs = nodefs.certificates(self._host(), container)
            now = dt.datetime.now(dt.timezone.utc)
            expiring = nodefs.leaves_expiring(certs, now)
            pending = self.renewal()
            if expiring:
                first = min(expiring, key=lambda c: c.expires)
                when = first.expires.strftime("%Y-%m-%d %H:%M UTC")
                line.update(f"{len(expiring)} expire by {when}: kubeadm certs renew all")
                # Recorded before renewing: the certificates on disk then look fine, and
                # only this record tells the next run (after a Ctrl-C, SIGTERM or failure
                # below) that the node restart and the kubeconfig export are still due.
                # Only a node start after this renewal makes the control plane use it.
                self.record_renewal(
                    {
                        "at": _utc_now(),
                        "first": when,
                        "nodeStartedAt": self._host().container(container).started_at,
                    }
                )
                nodefs.renew_certificates(self._host(), container)
                self.done(
                    f"renewed the cluster's certificates (the first expired or expiring {when})"
                )
            elif pending is not None:
                line.update(
                    f"renewed at {pending.get('at')} by an earlier repair that did not "
                    "finish: the node restart and kubeconfig refresh are due"
                )
                self.done(
                    "finished the certificate renewal an earlier repair started "
                    f"({pending.get('at')})"
                )
            else:
                first = min((c for c in certs if not c.authority), key=lambda c: c.expires)
                line.skip(f"valid until {first.expires.strftime('%Y-%m-%d')}")
        return True

    def node_restart(self) -> bool:
        """Restart the node after a renewal, unless it started since (a Docker restart
        airbox asked for completes even when airbox is stopped meanwhile)."""
        pending = self.renewal()
        if pending is None:
            return True
        container = self.inst.settings.node_container
        with self.step("Restart the node so the control plane uses the new certificates") as line:
            started = self._host().container(container).started_at
            if started and started != pending.get("nodeStartedAt"):
                line.skip(f"restarted since the renewal (at {started})")
                return True
            # The static pods (API server, etcd, ...) read their certificates at start:
            # restarting the node restarts them all, as kubeadm asks.
            line.update(f"restarting {container}")
            self._host().restart(container)
            self.done(
                f"restarted the node {container} so the control plane uses the renewed certificates"
            )
        return True

    def kubeconfig(self) -> bool:
        """Export the kubeconfig again after a renewal (its client certificate was renewed
        with the others, inside the node) or when it is missing."""
        settings = self.inst.settings
        kubeconfig = self.inst.state.kubeconfig
        if self.renewal() is None and kubeconfig.is_file():
            return True
        with self.step("Refresh the kubeconfig"):
            self.runner.run(
                commands.kind_export_kubeconfig(settings, kubeconfig),
                timeout=60,
                error="exporting the kind kubeconfig failed",
            )
            kubeconfig.chmod(SECRET_FILE)
            self.done(f"exported the kubeconfig again ({kubeconfig})")
        return True

    # ------------------------------------------------------------ the renewal record

    def renewal(self) -> dict[str, Any] | None:
        """The renewal an earlier (or this) run started and has not seen through."""
        return unfinished_renewal(self.inst.state)

    def record_renewal(self, value: dict[str, Any] | None) -> None:
        Progress(self.inst.state.progress).set("repair", {"renewal": value} if value else {})

    # ------------------------------------------------------------------- the API

    def wait_for_api(self) -> bool:
        with self.step("Wait for the Kubernetes API") as line:
            deadline = time.monotonic() + API_TIMEOUT
            delay = 0.5
            while True:
                result = self.runner.run(
                    self.inst.kube.kubectl("get", "--raw", "/readyz"), check=False, timeout=15
                )
                if result.ok:
                    line.update("ready")
                    if self.renewal() is not None and self.inst.settings.target.is_kind:
                        # Restarted, exported and answering with the new client
                        # certificate: the renewal is complete.
                        self.record_renewal(None)
                    return True
                if time.monotonic() > deadline:
                    last = result.stderr.strip().splitlines()[-1:] or ["no answer"]
                    self.stopped = (
                        f"the Kubernetes API did not answer within "
                        f"{API_TIMEOUT:.0f}s: {REDACTOR.mask_all(last[0])}"
                    )
                    self.hint = f"airbox support-bundle --name {self.name}"
                    return False
                line.update("waiting for the Kubernetes API")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # --------------------------------------------------------------- the release

    def secret(self) -> None:
        path = self.inst.state.secret_manifest
        with self.step(f"Re-apply the Secret {manifests.SECRET_NAME}") as line:
            if not path.is_file():
                line.skip(f"no saved Secret ({path}): `airbox install` writes it")
                return
            result = self.runner.run(
                commands.kubectl_apply_stdin(self.inst.kube, self.inst.settings.namespace),
                stdin=path.read_text(encoding="utf-8"),
                timeout=60,
                error=f"applying the Secret {manifests.SECRET_NAME} failed",
            )
            text = result.stdout.strip()
            if "unchanged" in text:
                line.skip("unchanged")
            else:
                self.done(f"re-applied the Secret {manifests.SECRET_NAME} from {path.name}")

    def release(self) -> None:
        settings = self.inst.settings
        with self.step(f"Check the Helm release {settings.release}") as line:
            result = self.runner.run(
                commands.helm_history(self.inst.kube, settings), check=False, timeout=60
            )
            if not result.ok:
                line.skip("not installed: `airbox install` installs it")
                return
            history = json.loads(result.stdout or "[]")
            status = str(history[-1].get("status", "")) if history else ""
            if not status.startswith("pending"):
                line.skip(status or "no revisions")
                return
            good = [
                int(h["revision"]) for h in history if h.get("status") in ("deployed", "superseded")
            ]
            if not good:
                line.skip(
                    f"{status} with no revision to roll back to: `airbox install` finishes it"
                )
                return
            line.update(f"stuck in {status}: rolling back to revision {good[-1]}")
            self.runner.run(
                commands.helm_rollback(self.inst.kube, settings, good[-1]),
                timeout=360,
                error="rolling back the stuck release failed",
            )
            self.done(f"rolled back the release stuck in {status} to revision {good[-1]}")

    def launcher(self) -> None:
        settings = self.inst.settings
        with self.step("Check the launcher") as line:
            pods = kube.pods(
                self.runner,
                self.inst.kube,
                settings.namespace,
                kube.release_selector(settings.release),
            )
            crashing = [h for h in map(kube.pod_health, pods) if h.trouble == "crash-loop"]
            if not crashing:
                line.skip("not crash-looping")
                return
            deployment = commands.deployment_name(settings)
            line.update(f"{crashing[0].name} keeps crashing: restarting it once")
            self.runner.run(
                self.inst.kube.kubectl(
                    "--namespace",
                    settings.namespace,
                    "rollout",
                    "restart",
                    f"deployment/{deployment}",
                ),
                timeout=60,
                error="restarting the launcher failed",
            )
            # Give the new pod its chance; a still-crashing one is for status to explain.
            self.runner.run(
                commands.kubectl_rollout_status(self.inst.kube, settings), timeout=150, check=False
            )
            self.done(f"restarted the crash-looping launcher (deployment/{deployment})")

    # ------------------------------------------------------------------- the run

    def steps(self) -> list[tuple[str, Callable[[], bool | None]]]:
        """This run's steps, in order (``STEPS``: their names)."""
        methods: dict[str, Callable[[], bool | None]] = {
            "node": self.node,
            "restart-policy": self.restart_policy,
            "certificates": self.certificates,
            "node-restart": self.node_restart,
            "kubeconfig": self.kubeconfig,
            "api": self.wait_for_api,
            "secret": self.secret,
            "release": self.release,
            "launcher": self.launcher,
        }
        kind = self.inst.settings.target.is_kind
        return [(name, methods[name]) for name in STEPS if kind or name not in KIND_ONLY]

    def run(self) -> None:
        try:
            for name, step in self.steps():
                runlog.logger().info("repair step %s", name)
                if step() is False:
                    return
        except AirboxError as exc:
            self.stopped = exc.message
            self.hint = exc.hint


def repair_command(*, name: str | None, verbose: bool = False, out: IO[str] | None = None) -> int:
    """``airbox repair``: 0 when healthy (or only warnings) after, 1 otherwise."""
    out = out or sys.stdout
    with Session.acting_on(
        name, "repair", "install it first: airbox install", needs_cluster=True, verbose=verbose
    ) as run:
        job = Repair(run.inst, run.runner, run.term)
        runlog.logger().info("airbox repair %s", run.name)
        job.run()
        return _report(job, out)


def _report(job: Repair, out: IO[str]) -> int:
    from airbox.ops.status import render, status_report

    inst = job.inst
    lines = (
        [f"Repaired data plane {inst.name}:"] + [f"  - {d}" for d in job.did]
        if job.did
        else [f"Nothing to repair on data plane {inst.name}."]
    )
    if job.stopped and not job.did:
        # Nothing was done because it could not be: say that, not "nothing to repair".
        lines = [f"Cannot repair data plane {inst.name}: {job.stopped}"]
        if job.hint:
            lines.append(f"  next: {job.hint}")
        out.write(REDACTOR.mask_all("\n".join(lines)) + "\n")
        runlog.logger().error("repair stopped: %s", job.stopped)
        return EXIT_FAILURE
    if job.stopped:
        lines += ["", f"Stopped: {job.stopped}"]
        if job.hint:
            lines.append(f"  next: {job.hint}")
        out.write(REDACTOR.mask_all("\n".join(lines)) + "\n")
        runlog.logger().error("repair stopped: %s", job.stopped)
        return EXIT_FAILURE
    report = status_report(inst, job.runner)
    failing = [c for c in report["checks"] if c["state"] == "fail"]
    lines += ["", *render(report)]
    out.write(REDACTOR.mask_all("\n".join(lines)) + "\n")
    out.flush()
    if failing:
        runlog.logger().error("still unhealthy: %s", report["reason"])
        return EXIT_FAILURE
    return EXIT_OK
