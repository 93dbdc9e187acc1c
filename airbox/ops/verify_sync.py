"""One run of ``airbox verify``: the throwaway connectors, the sync, its pods, the clean-up.

Without ``--connection``: a throwaway source (faker, a handful of records), destination
(dev-null) and connection in a workspace routed to the data plane's region, one sync,
then all three deleted (unless ``--keep``). With ``--connection``: one sync of that
connection. Meanwhile the job's pods are watched in this data plane's namespace
(Airbyte's workload launcher labels them ``airbyte=job-pod,job_id=<id>``): a job that
succeeds without a pod here ran on another data plane.

Everything airbox creates is named ``airbox-verify-<data plane>-{faker,dev-null,
connection}``: a run removes what an earlier, killed run left behind by exactly those
names (never by prefix: ``dp``'s prefix is also ``dp-eu``'s), and a Ctrl-C (or SIGTERM/SIGHUP, which
``airbox.signals`` raises as a KeyboardInterrupt) cancels the job (``DELETE /jobs/{id}``)
and removes what this run created before exiting (130, or 143/129). What ``--keep``
keeps is named ``airbox-kept-<data plane>-<UTC time>-…`` instead, outside those names, so
no later run deletes it.

Creating the connection is slow the first time: the control plane discovers the source's
schema before it answers, and that discover is a job on the workspace's data plane — this
one — which first pulls the connector's image (``ConnectionsController
.publicCreateConnection`` → ``SourceService.getSourceSchema`` → a synchronous discover job).
So that call gets minutes, not the usual read timeout, and when it fails without a clear
"no" (a timeout, a lost answer, a 5xx) the connection is looked up by its name before
anything is cleaned up: the control plane may have made it after all.

Job states are the platform's (``JobStatus.kt``): only ``succeeded``, ``failed`` and
``cancelled`` end a job; ``incomplete`` means an attempt failed and the job retries.

The public API facts (airbytehq/airbyte-platform's published spec and controllers):
``POST /sources`` / ``/destinations`` take ``definitionId`` or a connector name in
``configuration.sourceType``/``destinationType`` — but dev-null is missing from the
server's name map, so its definition id is looked up in the workspace's definitions
(``GET /workspaces/{id}/definitions/destinations``); deletes answer 204; ``POST /jobs
{"connectionId", "jobType": "sync"}`` answers the job (``jobId``, ``status``: pending,
queued, running, incomplete, failed, succeeded, cancelled) and carries no failure reason.
"""

from __future__ import annotations

import datetime
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.cluster import kube
from airbox.controlplane.api import AirbyteApi
from airbox.errors import AirboxError, ControlPlaneError, UsageError
from airbox.installed import Installed
from airbox.ops import hydration
from airbox.ops.routing import Region, resolve, routed_here
from airbox.redact import REDACTOR
from airbox.shown import shown
from airbox.signals import Terminated

if TYPE_CHECKING:
    from airbox.cluster.runner import Runner
    from airbox.ui import Terminal

VERIFY_VERSION = 1
PREFIX = "airbox-verify-"
KEPT_PREFIX = "airbox-kept-"
FAKER_REPOSITORY = "airbyte/source-faker"
DEV_NULL_REPOSITORY = "airbyte/destination-dev-null"
JOB_POD_SELECTOR = "airbyte=job-pod"
# The states that end a job (airbyte-platform JobStatus.kt TERMINAL_STATUSES); anything
# else — pending, queued, running, incomplete (an attempt failed, the job retries) — is
# polled on, and cancelled on an interrupt.
FINAL = ("succeeded", "failed", "cancelled")
# Creating the connection waits for the control plane's discover in this data plane (the
# first one pulls the connector's image): at most this long, and never past --timeout.
CONNECTION_TIMEOUT = 600.0
DISCOVERING = (
    "discovering the source's schema in this data plane — the first time pulls the connector image"
)
# Polling: the first look after a second, then 1.5 times longer each time, at most 10 s.
FIRST_POLL, POLL_FACTOR, MAX_POLL = 1.0, 1.5, 10.0
# kinds in the order they are deleted: the connection holds the other two.
KINDS = ("connections", "sources", "destinations")


# What a run creates, by the end of its name.
PARTS = ("faker", "dev-null", "connection")


def owned_prefix(name: str) -> str:
    """The start of the names airbox verify gives what it creates for data plane ``name``."""
    return f"{PREFIX}{name}-"


def owned_names(name: str) -> frozenset[str]:
    """The exact names of what a run for data plane ``name`` creates: the clean-up of
    leftovers matches these, not the prefix, which data plane ``name-eu``'s objects also
    start with (another verify may be running there: the lock is per data plane). No
    other plane's name is among them: ``<name>-<part>`` = ``<other>-<part'>`` would need a
    part that ends with ``-<part'>``, and none does."""
    return frozenset(owned_prefix(name) + part for part in PARTS)


def kept_prefix(name: str, when: datetime.datetime) -> str:
    """The names of what ``--keep`` keeps: outside ``owned_prefix``, so a later run's
    clean-up of leftovers never deletes what the user asked to keep; dated, so two kept
    sets are told apart."""
    return f"{KEPT_PREFIX}{name}-{when.astimezone(datetime.timezone.utc):%Y%m%d-%H%M%S}-"


@dataclass
class Outcome:
    """The result, as ``--json`` prints it."""

    result: str = "failed"  # passed | failed | timeout | elsewhere | interrupted
    reason: str = ""
    region: dict[str, Any] | None = None
    workspace: dict[str, Any] | None = None
    connection_id: str | None = None
    job_id: int | None = None
    status: str | None = None
    pods: dict[str, str] = field(default_factory=dict)  # name -> last phase seen
    created: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    leftovers: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": VERIFY_VERSION,
            "result": self.result,
            "reason": REDACTOR.mask_all(self.reason),
            "region": self.region,
            "workspace": self.workspace,
            "connectionId": self.connection_id,
            "jobId": self.job_id,
            "status": self.status,
            "pods": [{"name": k, "phase": v} for k, v in self.pods.items()],
            "created": self.created,
            "removed": self.removed,
            "leftoversRemoved": self.leftovers,
            "seconds": round(self.seconds, 1),
        }


@contextmanager
def _cleanup_signals(tell: Callable[[str], None], *, interrupted: bool) -> Iterator[None]:
    """The signals during verify's clean-up.

    SIGHUP is ignored: the terminal went away, nobody asked to stop, and the clean-up
    should finish. Ctrl-C and SIGTERM are the user's: the first (when the run was not
    already interrupted) is acknowledged and the clean-up goes on; the next one stops it
    (a control plane that does not answer must not hold the user hostage), and
    ``Verifier.clean_up`` then says what is left.
    """
    asked = [interrupted]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if asked[0]:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(signum)
        asked[0] = True
        tell(
            "finishing the clean-up; Ctrl-C again stops it (the next `airbox verify` "
            "removes what is left)"
        )

    try:
        old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class Verifier:
    """One run of ``airbox verify``; ``sleep`` and ``clock`` exist for tests.

    ``say``: progress (the log only, with ``--json``); ``term``: the live line while the
    control plane discovers (None with ``--json``); ``tell``: what the user must read
    whatever the output format (what is left behind, a job not cancelled).
    """

    def __init__(
        self,
        inst: Installed,
        api: AirbyteApi,
        runner: Runner,
        *,
        say: Callable[[str], None],
        tell: Callable[[str], None] | None = None,
        term: Terminal | None = None,
        timeout: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        keep: bool = False,
    ) -> None:
        self.inst = inst
        self.api = api
        self.runner = runner
        self.say = say
        self.tell = tell or say
        self.term = term
        self.sleep = sleep
        self.clock = clock
        self.timeout = timeout
        self.deadline = clock() + timeout
        self.outcome = Outcome()
        self.prefix = owned_prefix(inst.name)
        self.owned = owned_names(inst.name)
        # What this run creates is named for clean-up, or (--keep) to be left alone.
        self.names = (
            kept_prefix(inst.name, datetime.datetime.now(datetime.timezone.utc))
            if keep
            else self.prefix
        )
        # Each job pod's init container must get the secrets manager's credentials.
        self.hydration = hydration.PodCheck(
            inst.settings.secrets_manager,
            lambda: hydration.read_secret_keys(runner, inst.kube, inst.settings.namespace),
        )

    # ------------------------------------------------------------ the workspace

    def pick_workspace(self, region: Region, wanted: str | None) -> dict[str, Any]:
        workspaces = self.api.workspaces()
        if wanted:
            found, unknown = resolve([wanted], workspaces)
            if unknown:
                raise UsageError(
                    f"no workspace named {wanted!r} is visible to the application",
                    hint="see `airbox workspaces` for the ones it can see",
                )
            workspace = found[0]
            if not routed_here(workspace, region):
                raise UsageError(
                    f"workspace {shown(workspace.get('name'))} uses region "
                    f"{workspace.get('dataResidency')}, not {region.name}: its syncs would "
                    "not run on this data plane",
                    hint=f"route it first: airbox workspaces --name {self.inst.name} --assign "
                    f"{shown(workspace.get('workspaceId'))}",
                )
            return workspace
        here = sorted(
            (w for w in workspaces if routed_here(w, region)),
            key=lambda w: str(w.get("name")).casefold(),
        )
        if not here:
            raise AirboxError(
                f"no workspace uses region {region.name}: no sync can run on this data plane",
                hint=f"route one first: airbox workspaces --name {self.inst.name} --assign "
                "<workspace>",
            )
        return here[0]

    def remove_leftovers(self, workspace_id: str) -> None:
        """What an earlier run (killed before its clean-up) left, found by its names."""
        for kind in KINDS:
            for item in self.api.list_actors(kind, workspace_id):
                name = str(item.get("name") or "")
                if name not in self.owned:
                    continue
                item_id = str(item.get(_id_key(kind)))
                self.say(f"removing {kind[:-1]} {name} left by an earlier run")
                if self.api.delete_actor(kind, item_id):
                    self.outcome.leftovers.append({"kind": kind[:-1], "id": item_id, "name": name})

    def definition(self, workspace_id: str, kind: str, repository: str) -> str | None:
        try:
            definitions = self.api.definitions(workspace_id, kind)
        except ControlPlaneError as exc:
            runlog.logger().warning("definitions not listed: %s", exc.message)
            return None
        return next(
            (
                str(d.get("id"))
                for d in definitions
                if d.get("dockerRepository") == repository and d.get("id")
            ),
            None,
        )

    def create_throwaway(self, workspace_id: str) -> str | None:
        """Source, destination and connection; returns the connection id, or None when
        the connection could not be made (the outcome says why)."""
        source_body: dict[str, Any] = {
            "name": self.names + PARTS[0],
            "workspaceId": workspace_id,
            "configuration": {
                "sourceType": "faker",
                "count": 10,
                "seed": 1,
                "records_per_slice": 10,
                "always_updated": False,
            },
        }
        faker = self.definition(workspace_id, "sources", FAKER_REPOSITORY)
        if faker:
            source_body["definitionId"] = faker
        source = self.api.create_actor("sources", source_body)
        self._created("sources", str(source["sourceId"]), source_body["name"])

        dev_null = self.definition(workspace_id, "destinations", DEV_NULL_REPOSITORY)
        if dev_null is None:
            raise ControlPlaneError(
                f"the workspace offers no {DEV_NULL_REPOSITORY} destination",
                hint="run `airbox verify --connection <id>` with a connection of your own",
            )
        destination_body: dict[str, Any] = {
            "name": self.names + PARTS[1],
            "workspaceId": workspace_id,
            "definitionId": dev_null,
            "configuration": {
                "destinationType": "dev-null",
                "test_destination": {"test_destination_type": "SILENT"},
            },
        }
        destination = self.api.create_actor("destinations", destination_body)
        self._created("destinations", str(destination["destinationId"]), destination_body["name"])

        connection_body: dict[str, Any] = {
            "name": self.names + PARTS[2],
            "sourceId": source["sourceId"],
            "destinationId": destination["destinationId"],
            "schedule": {"scheduleType": "manual"},
        }
        return self.create_connection(workspace_id, connection_body)

    def create_connection(self, workspace_id: str, body: dict[str, Any]) -> str | None:
        """``POST /connections``, which waits for a discover in this data plane."""
        budget = max(1.0, min(CONNECTION_TIMEOUT, self.deadline - self.clock()))
        began = self.clock()
        try:
            with self._waiting(f"creating the connection {body['name']}", DISCOVERING):
                connection = self.api.create_connection(body, read_timeout=budget)
        except ControlPlaneError as exc:
            if exc.status is not None and exc.status < 500:
                raise  # a clear "no": nothing was made
            # A timeout, a lost answer or a 5xx: the control plane may have made it
            # anyway (it goes on after the client gives up). Find it before anything
            # is cleaned up, so the clean-up removes it too.
            found = self._find_connection(workspace_id, body)
            timed_out = exc.status is None and self.clock() - began >= budget - 1.0
            if timed_out:
                self.outcome.result = "timeout"
                self.outcome.reason = (
                    f"the control plane did not create the connection within {budget:.0f} s: "
                    f"it was {DISCOVERING}"
                    + (
                        "; it made the connection after all (removed with the rest)"
                        if found
                        else "; if it still makes it, the next `airbox verify` removes it"
                    )
                )
                return None
            detail = " ".join(exc.details)
            if exc.status is not None and "connector" in detail.lower():
                # The server's answer when the discover job failed (SourceService
                # .getSourceSchema: "Something went wrong in the connector").
                self.outcome.result = "failed"
                self.outcome.reason = (
                    "the source's discover failed in this data plane (the control plane runs "
                    "it here before it creates a connection): "
                    + (detail.removeprefix("detail: ") or exc.message)
                )
                return None
            raise ControlPlaneError(
                exc.message,
                url=exc.url,
                status=exc.status,
                details=exc.details,
                hint=(
                    "the control plane discovers the source's schema in this data plane "
                    "before it creates a connection: if that failed, `airbox logs --name "
                    f"{self.inst.name}` shows the launcher's view; otherwise "
                    + (exc.hint or "run the command again")
                ),
            ) from None
        self._created("connections", str(connection["connectionId"]), body["name"])
        return str(connection["connectionId"])

    def _find_connection(self, workspace_id: str, body: dict[str, Any]) -> bool:
        """The connection ``body`` asked for, if the control plane made it after all
        (recorded as created); False when it is not there or cannot be looked up."""
        try:
            listed = self.api.list_actors("connections", workspace_id)
        except ControlPlaneError as exc:
            self.tell(
                f"could not look for the connection {body['name']} ({exc.message}); "
                "if the control plane made it, the next `airbox verify` removes it"
            )
            return False
        for item in listed:
            if (
                item.get("name") == body["name"]
                and item.get("connectionId")
                and (item.get("sourceId") in (None, body["sourceId"]))
            ):
                self.tell(f"the control plane made the connection {body['name']} after all")
                self._created("connections", str(item["connectionId"]), body["name"])
                return True
        return False

    @contextmanager
    def _waiting(self, title: str, status: str) -> Iterator[None]:
        """A live line (elapsed seconds ticking) for a call that may take minutes."""
        if self.term is None:
            self.say(f"{title}: {status}")
            yield
            return
        with self.term.step(title) as line:
            line.update(status)
            yield

    def _created(self, kind: str, item_id: str, name: str) -> None:
        self.outcome.created.append({"kind": kind[:-1], "id": item_id, "name": name})
        runlog.logger().info("created %s %s (%s)", kind[:-1], name, item_id)
        self.say(f"created {kind[:-1]} {name}")

    def finish(self, *, keep: bool, interrupted: bool) -> list[str]:
        """After the run, however it ended: cancel a job that is not over, then (unless
        ``keep``) delete what this run created. Returns what the user must know about
        the job. A second Ctrl-C/SIGTERM stops this; SIGHUP does not."""
        with _cleanup_signals(self.tell, interrupted=interrupted):
            notes = self.cancel()
            if not keep:
                self.clean_up()
        return notes

    def clean_up(self) -> None:
        """Delete what this run created, connection first. Raises only a Ctrl-C/SIGTERM
        (after saying what is left and that the next run removes it)."""
        order = {kind[:-1]: i for i, kind in enumerate(KINDS)}
        try:
            for item in sorted(self.outcome.created, key=lambda i: order[i["kind"]]):
                if item in self.outcome.removed:
                    continue
                try:
                    self.api.delete_actor(item["kind"] + "s", item["id"])
                except ControlPlaneError as exc:
                    runlog.logger().warning(
                        "could not delete %s %s: %s", item["kind"], item["id"], exc.message
                    )
                    self.tell(
                        f"could not delete {item['kind']} {item['name']} "
                        f"({exc.message}); the next `airbox verify --name "
                        f"{self.inst.name}` removes it"
                    )
                    continue
                self.outcome.removed.append(item)
                self.say(f"deleted {item['kind']} {item['name']}")
        except KeyboardInterrupt:
            left = sorted(
                (i for i in self.outcome.created if i not in self.outcome.removed),
                key=lambda i: order[i["kind"]],
            )
            if left:
                self.tell(
                    "clean-up stopped; left on the control plane (as far as airbox "
                    "knows): "
                    + ", ".join(f"{i['kind']} {i['name']} ({i['id']})" for i in left)
                    + f"; the next `airbox verify --name {self.inst.name}` removes them "
                    "(or delete them in Airbyte)"
                )
            raise

    # ---------------------------------------------------------------- the job

    def run_job(self, connection_id: str) -> None:
        outcome = self.outcome
        outcome.connection_id = connection_id
        job = self.api.start_job(connection_id)
        outcome.job_id = int(job["jobId"])
        outcome.status = str(job.get("status") or "")
        self.say(f"sync job {outcome.job_id} started ({outcome.status})")
        delay = FIRST_POLL
        # A Ctrl-C or an error anywhere in here reaches verify_command, which cancels
        # the job (Verifier.finish).
        while outcome.status not in FINAL:
            if self.clock() + delay > self.deadline:
                outcome.result = "timeout"
                outcome.reason = (
                    f"job {outcome.job_id} did not finish within "
                    f"{self.timeout:g} s (last status: {outcome.status})"
                )
                self.cancel()
                return
            self.sleep(delay)
            delay = min(delay * POLL_FACTOR, MAX_POLL)
            status = str(self.api.get_job(outcome.job_id).get("status") or "")
            if status != outcome.status:
                self.say(
                    f"job {outcome.job_id}: {status}"
                    + (
                        " (an attempt failed; the platform retries the job)"
                        if status == "incomplete"
                        else ""
                    )
                )
            outcome.status = status
            self.watch_pods()
        self.watch_pods()

    def cancel(self) -> list[str]:
        """Cancel the job unless it is over (best effort); what happened, for the user."""
        job_id = self.outcome.job_id
        if job_id is None or self.outcome.status in FINAL:
            return []
        try:
            answer = self.api.cancel_job(job_id)
        except ControlPlaneError as exc:
            note = (
                f"could not cancel job {job_id} ({exc.message}): it may still run; "
                "cancel it in Airbyte (the connection's Job History)"
            )
            self.tell(note)
            return [note]
        except KeyboardInterrupt:
            self.tell(
                f"job {job_id} was not cancelled: it may still run; cancel it in "
                "Airbyte (the connection's Job History)"
            )
            raise
        self.outcome.status = str((answer or {}).get("status") or "cancelled")
        self.say(f"cancelled job {job_id}")
        return [f"job {job_id} was cancelled"]

    def watch_pods(self) -> None:
        """The job's pods in this data plane's namespace; new ones and new phases said."""
        job_id = self.outcome.job_id
        selector = f"{JOB_POD_SELECTOR},job_id={job_id}"
        try:
            pods = kube.pods(self.runner, self.inst.kube, self.inst.settings.namespace, selector)
        except (AirboxError, ValueError) as exc:
            runlog.logger().warning("job pods not listed: %s", exc)
            return
        for pod in pods:
            name = str((pod.get("metadata") or {}).get("name"))
            phase = str((pod.get("status") or {}).get("phase") or "Unknown")
            if self.outcome.pods.get(name) != phase:
                self.say(
                    f"pod {name} {phase} in namespace {self.inst.settings.namespace} "
                    "(this data plane)"
                )
            for line in self.hydration.check(pod):
                self.say(line)
            self.outcome.pods[name] = phase

    def judge(self) -> None:
        outcome = self.outcome
        name, namespace = self.inst.name, self.inst.settings.namespace
        if outcome.result == "timeout":
            return
        if self.hydration.problems:
            outcome.result = "failed"
            outcome.reason = "; ".join(self.hydration.problems)
            return
        if outcome.status == "succeeded" and outcome.pods:
            outcome.result = "passed"
            outcome.reason = (
                f"job {outcome.job_id} succeeded and ran in namespace "
                f"{namespace} of data plane {name} (" + ", ".join(outcome.pods) + ")"
            )
        elif outcome.status == "succeeded":
            outcome.result = "elsewhere"
            outcome.reason = (
                f"job {outcome.job_id} succeeded, but none of its pods ran in "
                f"namespace {namespace}: it ran on another data plane (is "
                "another data plane registered in this region, or the "
                "workspace routed elsewhere?)"
            )
        else:
            outcome.result = "failed"
            why = self.api.job_failure(self.inst.settings.control_plane.url, outcome.job_id or 0)
            outcome.reason = f"job {outcome.job_id} {outcome.status}" + (f": {why}" if why else "")


def _id_key(kind: str) -> str:
    return {"connections": "connectionId", "sources": "sourceId", "destinations": "destinationId"}[
        kind
    ]
