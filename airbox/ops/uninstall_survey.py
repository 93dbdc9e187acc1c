"""What ``airbox uninstall`` finds before it asks: each thing airbox made (the release,
the cluster or, in an existing cluster, the Secret, the proxy policy and the namespace;
the registration; the state directory), whether it still exists, and the notes and
commands for what it will not or cannot remove."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airbox.cluster import commands, kube
from airbox.cluster.runner import Runner
from airbox.errors import AirboxError, ToolError
from airbox.installed import Identified, not_found, why
from airbox.redact import REDACTOR
from airbox.render.manifests import MANAGED_BY_LABEL, SECRET_NAME

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost

# An item exists (True), is gone (False), or could not be checked (None: try anyway).
Exists = bool | None


@dataclass
class Item:
    key: str  # release | cluster | secret | namespace | registration | state
    what: str
    manual: str  # how to remove it by hand
    exists: Exists = True
    note: str = ""

    def listing(self) -> str:
        text = self.what
        if self.exists is None:
            text += f" (could not check: {self.note})" if self.note else " (could not check)"
        elif self.note:
            text += f" ({self.note})"
        return text


@dataclass
class Plan:
    items: list[Item]
    # Said before the question: what stays and why (not airbox's, or not asked for).
    notes: list[str] = field(default_factory=list)

    def present(self) -> list[Item]:
        return [i for i in self.items if i.exists is not False]


# ------------------------------------------------------------------------------ survey


class Survey:
    """What of the data plane exists now, each looked at with one read-only command."""

    def __init__(self, inst: Identified, runner: Runner) -> None:
        self.inst = inst
        self.runner = runner
        self.settings = inst.settings
        self.kube = inst.kube

    def cluster(self) -> tuple[Exists, str]:
        if not self.runner.available("kind"):
            # No kind (an offline VM whose first install stopped before downloading it):
            # Docker answers the same question by kind's own label.
            try:
                nodes = docker_host().kind_nodes(self.settings.cluster_name)
            except AirboxError as exc:
                return None, why(exc)
            return bool(nodes), ""
        try:
            result = self.runner.run(commands.kind_get_clusters(), timeout=30)
        except AirboxError as exc:
            return None, why(exc)
        return self.settings.cluster_name in result.stdout.split(), ""

    def release(self) -> tuple[Exists, str]:
        if not self.runner.available("helm"):
            return None, "helm is not installed"
        result = self.runner.run(
            commands.helm_status(self.kube, self.settings), timeout=30, check=False
        )
        if result.ok:
            return True, ""
        if "release: not found" in result.stderr:
            return False, ""
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return None, REDACTOR.mask_all(lines[-1] if lines else "helm status failed")

    def secret(self) -> tuple[Exists, str]:
        try:
            kube.get_json(
                self.runner,
                self.kube,
                "--namespace",
                self.settings.namespace,
                "get",
                "secret",
                SECRET_NAME,
            )
        except ToolError as exc:
            return (False, "") if not_found(exc) else (None, why(exc))
        except (AirboxError, ValueError) as exc:
            return None, why(exc)
        return True, ""

    def namespace(self) -> tuple[Exists, str]:
        """Whether airbox may delete the namespace: its own, and holding nothing else."""
        ns = self.settings.namespace
        try:
            data = kube.get_json(self.runner, self.kube, "get", "namespace", ns)
        except ToolError as exc:
            return (False, "") if not_found(exc) else (None, why(exc))
        except (AirboxError, ValueError) as exc:
            return None, why(exc)
        labels = (data.get("metadata") or {}).get("labels") or {}
        key, value = next(iter(MANAGED_BY_LABEL.items()))
        if labels.get(key) != value:
            return False, f"namespace {ns} was not created by airbox: left in place"
        others = self._foreign(ns)
        if others:
            return False, (
                f"namespace {ns} also holds what airbox did not install "
                f"({', '.join(others[:5])}): left in place"
            )
        return True, ""

    def _foreign(self, ns: str) -> list[str]:
        """Deployments and Helm releases in ``ns`` that are not this data plane's."""
        release = self.settings.release
        try:
            data = kube.get_json(
                self.runner, self.kube, "--namespace", ns, "get", "deployments,secrets"
            )
        except (AirboxError, ValueError):
            # Unknown contents: deleting the namespace could take someone else's work.
            return ["(its contents could not be listed)"]
        found = []
        for obj in data.get("items", []):
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            if (
                obj.get("kind") == "Deployment"
                and labels.get("app.kubernetes.io/instance") != release
            ):
                found.append(f"deployment {meta.get('name')}")
            elif (
                obj.get("kind") == "Secret"
                and labels.get("owner") == "helm"
                and labels.get("name") not in (None, release)
            ):
                found.append(f"Helm release {labels.get('name')}")
        return sorted(set(found))

    def job_proxy(self) -> tuple[Exists, str]:
        """The cluster-scoped policy and binding that gave job pods the proxy."""
        from airbox.ops.jobproxy import live_objects

        try:
            live = live_objects(self.runner, self.kube, self.settings)
        except AirboxError as exc:
            return None, why(exc)
        return live is not None and any(live.values()), ""

    def registration(self) -> tuple[Exists, str]:
        from airbox.controlplane.registration import registration_file

        return registration_file(self.inst.state).is_file(), ""


def docker_host() -> DockerHost:
    from airbox.cluster.dockerhost import DockerHost

    return DockerHost.connect(timeout=30)


def _nothing(*_: object) -> tuple[Exists, str]:
    return False, ""


def survey(inst: Identified, runner: Runner, *, deregister: bool, keep_state: bool) -> Plan:
    import concurrent.futures

    from airbox.installed import install_stopped

    settings = inst.settings
    look = Survey(inst, runner)
    kube_args = _kube_flags(inst)
    ns = settings.namespace
    items: list[Item] = []
    notes: list[str] = []
    # A first install that never got a cluster put nothing in one: nothing there to look
    # at, so no helm or kubectl is needed (nor downloaded) to remove it.
    unbuilt = install_stopped(inst.state) is not None
    found: dict[str, tuple[Exists, str]] = {}
    if settings.target.is_kind:
        # The cluster first: the release lives in it, and is looked at only when it is
        # there (kind's cleanup after a failed create may still have left a node).
        found["cluster"] = look.cluster()
        if found["cluster"][0] and not _made_cluster(inst):
            # The install stopped before creating it (preflight found the name taken):
            # someone else's cluster, never airbox's to delete.
            notes.append(
                f"a kind cluster named {settings.cluster_name} exists, but airbox "
                "did not create it: left in place"
            )
            found["cluster"] = (False, "")
        if found["cluster"][0] is False or unbuilt or not inst.state.kubeconfig.is_file():
            found["release"] = (False, "")
        else:
            found["release"] = look.release()
    else:
        probes: dict[str, Callable[[], tuple[Exists, str]]] = {
            "release": look.release,
            "secret": look.secret,
            "namespace": look.namespace,
            "job-proxy": look.job_proxy,
        }
        if unbuilt:
            probes = dict.fromkeys(probes, _nothing)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(probes)) as pool:
            futures = {key: pool.submit(probe) for key, probe in probes.items()}
            found = {key: future.result() for key, future in futures.items()}

    release_exists, release_note = found["release"]
    if settings.target.is_kind:
        cluster_exists, cluster_note = found["cluster"]
        if release_exists is None:
            # Unreachable (a stopped node) or no helm: deleting the cluster removes the
            # release anyway.
            release_exists, release_note = False, ""
    items.append(
        Item(
            "release",
            f"Helm release {settings.release} in namespace {ns}",
            f"helm uninstall {settings.release} --namespace {ns}{kube_args['helm']}",
            release_exists,
            release_note,
        )
    )
    if settings.target.is_kind:
        items.append(
            Item(
                "cluster",
                f"kind cluster {settings.cluster_name} (and everything in it)",
                f"kind delete cluster --name {settings.cluster_name}",
                cluster_exists,
                cluster_note,
            )
        )
    else:
        secret_exists, secret_note = found["secret"]
        items.append(
            Item(
                "secret",
                f"Secret {SECRET_NAME} in namespace {ns}",
                f"kubectl{kube_args['kubectl']} --namespace {ns} delete secret {SECRET_NAME}",
                secret_exists,
                secret_note,
            )
        )
        from airbox.ops.jobproxy import manual_removal
        from airbox.render.jobproxy import object_name

        proxy_exists, proxy_note = found["job-proxy"]
        items.append(
            Item(
                "job-proxy",
                f"MutatingAdmissionPolicy and binding "
                f"{object_name(settings)} (cluster-scoped: the job "
                "pods' proxy)",
                manual_removal(inst.kube, settings),
                proxy_exists,
                proxy_note,
            )
        )
        ns_exists, ns_note = found["namespace"]
        if ns_exists is False and ns_note:
            notes.append(ns_note)
            ns_note = ""
        items.append(
            Item(
                "namespace",
                f"namespace {ns}",
                f"kubectl{kube_args['kubectl']} delete namespace {ns}",
                ns_exists,
                ns_note,
            )
        )
        notes.append(f"the cluster of context {settings.target.kube_context} itself is not touched")

    registered, _ = look.registration()
    record = _record(inst)
    if deregister:
        what = (
            f"registration of data plane {record.get('name') or settings.name} "
            f"({record.get('dataplaneId') or 'unfinished'}) with the control plane"
        )
        items.append(
            Item(
                "registration",
                what,
                f"delete data plane {settings.name} in Airbyte (Settings > "
                "Data planes), or run `airbox uninstall --deregister` again with "
                "AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET set",
                registered,
            )
        )
        if not registered:
            notes.append("the data plane was not registered by airbox: nothing to deregister")
        elif record.get("regionName") or record.get("regionId"):
            region = f"{record.get('regionName') or '?'} ({record.get('regionId') or '?'})"
            made = (
                ", which airbox created for this data plane," if record.get("regionCreated") else ""
            )
            notes.append(
                f"the region {region}{made} stays in Airbyte (other data planes and "
                "workspaces may use it): delete it there if nothing else does"
            )
    elif registered and record.get("dataplaneId"):
        notes.append(
            f"data plane {settings.name} ({record['dataplaneId']}) stays registered "
            "with the control plane"
            + ("" if keep_state else ", and its credentials go with the local state")
            + ": add --deregister to delete it there too"
        )
    if keep_state:
        notes.append(f"the local state {inst.state.root} is kept (--keep-state)")
    else:
        items.append(
            Item(
                "state",
                f"local state {inst.state.root} (settings, credentials, generated files, logs)",
                f"rm -rf {inst.state.root}",
            )
        )
    return Plan(items, notes)


def _made_cluster(inst: Identified) -> bool:
    """Whether an airbox install of this data plane got as far as creating its cluster."""
    from airbox.ops.pipeline import Progress

    # Without any record (a state from before progress.json) it is taken to be airbox's.
    return (
        inst.state.kubeconfig.is_file()
        or not inst.state.progress.is_file()
        or "cluster" in Progress(inst.state.progress).load()["steps"]
    )


def _record(inst: Identified) -> dict[str, object]:
    from airbox.controlplane.registration import registration_file
    from airbox.fsutil import read_json

    try:
        data = read_json(registration_file(inst.state))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _kube_flags(inst: Identified) -> dict[str, str]:
    """The --kubeconfig/--context part of the commands shown for removal by hand."""
    import shlex

    k = inst.kube
    return {
        tool: "".join(" " + shlex.quote(arg) for arg in argv[1:])
        for tool, argv in (("kubectl", k.kubectl()), ("helm", k.helm()))
    }
