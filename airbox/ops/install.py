"""``airbox install``: the generated files, the plan, and the steps that deploy it.

Order (``steps()``): preflight (run before the questions) → check the credentials and the
workspaces to route → register (if asked) → write manifests → pull images (in the
background) → kind cluster → its restart policy → pre-pull verify's connectors → load
images → namespace → Secret → local object store (without a ``storage`` section) → check
the chart against the Secret → ``helm upgrade --install`` → verify → route workspaces.
Each step looks at the real state first and does only what is missing, so a re-run after
a failure or a Ctrl-C finishes the job; a changed setting or chart version means an upgrade.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox import runlog, versions
from airbox.cluster import commands, kube
from airbox.cluster.commands import Kube
from airbox.cluster.dockerhost import NODE_RESTART_POLICY, DockerHost, host_uses_cgroup_v1
from airbox.cluster.runner import Runner
from airbox.cluster.toolchain import Toolchain
from airbox.config import chart
from airbox.config.answers import dump_yaml
from airbox.config.prompts import Prompter, Refusal
from airbox.config.settings import Images, Settings
from airbox.errors import AirboxError, ClusterError, ControlPlaneError, DockerError, ToolError
from airbox.fsutil import (
    PUBLIC_FILE,
    SECRET_FILE,
    atomic_write,
    ensure_private_dir,
    ensure_state_subdir,
    make_private_dirs,
    read_json,
    usable_dir,
    write_json,
)
from airbox.lock import dataplane_lock
from airbox.ops.pipeline import Progress, Step, execute, plan
from airbox.paths import (
    JOB_PROXY_FILE,
    KIND_CONFIG_FILE,
    PLAN_FILE,
    PULL_SECRET_FILE,
    REGISTRY_CA_FILE,
    REGISTRY_HOSTS_FILE,
    SECRET_MANIFEST_FILE,
    STORAGE_MANIFEST_FILE,
    VALUES_FILE,
    StateDir,
)
from airbox.redact import REDACTOR
from airbox.render import chartcheck, jobproxy, manifests, proxy
from airbox.ui import StepLine, Terminal

if TYPE_CHECKING:
    from airbox.offline.manifest import Manifest
    from airbox.ops.preflight.report import Report
    from airbox.ops.routing import Routing

DRY_RUN_DIR = "dry-run"
CREDENTIALS_WHAT = {"dataPlane": "The data plane's", "registration": "The Airbyte application's"}


@dataclass
class Options:
    dry_run: bool = False
    output_dir: Path | None = None
    assume_yes: bool = False
    ignore_preflight_failures: bool = False
    verbose: bool = False
    preload_images: bool = True
    # Questions may be asked (a terminal, and no --yes).
    interactive: bool = False
    # Move named workspaces that use another self-managed region without asking.
    force_route: bool = False
    # The interview could not check the data plane's credentials (no answer from the
    # control plane): check them before anything is built, as an unattended run does.
    recheck_credentials: bool = False
    # The preflight checks run (upgrade checked the machine when it planned: its preflight
    # step only makes sure Docker answers).
    preflight: bool = True


@dataclass(frozen=True)
class Generated:
    """Where the generated files are (the state directory, or --output-dir)."""

    directory: Path

    @property
    def values(self) -> Path:
        return self.directory / VALUES_FILE

    @property
    def secret(self) -> Path:
        return self.directory / SECRET_MANIFEST_FILE

    @property
    def kind_config(self) -> Path:
        return self.directory / KIND_CONFIG_FILE

    @property
    def plan(self) -> Path:
        return self.directory / PLAN_FILE

    @property
    def storage(self) -> Path:
        return self.directory / STORAGE_MANIFEST_FILE

    @property
    def pull_secret(self) -> Path:
        return self.directory / PULL_SECRET_FILE

    @property
    def registry_hosts(self) -> Path:
        return self.directory / REGISTRY_HOSTS_FILE

    @property
    def registry_ca(self) -> Path:
        return self.directory / REGISTRY_CA_FILE

    @property
    def job_proxy(self) -> Path:
        return self.directory / JOB_PROXY_FILE


@dataclass
class Context:
    settings: Settings
    answers: dict[str, Any]
    state: StateDir
    files: Generated
    term: Terminal
    options: Options
    runner: Runner = field(default_factory=Runner)
    tools: Toolchain | None = None
    prompter: Prompter | None = None
    _docker: DockerHost | None = None
    pulls: Pulls | None = None
    # The machine check made before the questions: the preflight step reuses it when it
    # checked the same data plane and control plane.
    early_preflight: Report | None = None
    # What the "route" step did, for the last screen.
    routing: Routing | None = None
    # The offline bundle's manifest (settings.bundle, checked): images, chart and tools
    # come from it.
    bundle: Manifest | None = None

    @property
    def kube(self) -> Kube:
        return commands.kube_for(self.settings, self.state.kubeconfig)

    @property
    def docker(self) -> DockerHost:
        if self._docker is None:
            self._docker = DockerHost.connect()
        return self._docker

    @property
    def registering(self) -> bool:
        return self.settings.data_plane is None and self.settings.registration is not None

    def images(self) -> list[str]:
        """What the chart will run: its appVersion and the image overrides in values."""
        if self.bundle is not None:
            from airbox.ops.bundled import images_needed

            return images_needed(self.settings, self.bundle)
        app_version = chart.app_version(self.settings.chart.version, self.settings.chart.source)
        found = chart.images(manifests.helm_values(self.settings), app_version)
        if self.settings.runs_local_store:
            # From the private registry when one is set: the name the store's pods use.
            found.append(manifests.from_registry(self.settings.images, versions.MINIO_IMAGE))
        return found


# ------------------------------------------------------------------------ generation


# In storage-credentials.json: a pair made because the saved one was missing or
# unreadable, not yet checked against the cluster's Secret (``settle_store_credentials``).
UNCONFIRMED = "unconfirmed"
# ... and the launcher is still to restart with a changed pair (``LocalStore``).
RESTART_LAUNCHER = "restartLauncher"


def _save_store_pair(state: StateDir, pair: tuple[str, str], **marks: Any) -> None:
    ensure_private_dir(state.root)
    write_json(state.storage_credentials,
               {"accessKeyId": pair[0], "secretAccessKey": pair[1], **marks}, mode=SECRET_FILE)


def _saved_store_pair(state: StateDir) -> tuple[str, str] | None:
    try:
        saved = read_json(state.storage_credentials)
    except (OSError, ValueError):
        return None
    if (isinstance(saved, dict) and isinstance(saved.get("accessKeyId"), str)
            and isinstance(saved.get("secretAccessKey"), str) and saved["accessKeyId"]
            and saved["secretAccessKey"]):
        return str(saved["accessKeyId"]), str(saved["secretAccessKey"])
    return None


def local_store_credentials(state: StateDir, *, dry_run: bool) -> tuple[str, str]:
    """The local store's access key id and secret: generated once per install and kept
    (0600) so that re-runs and a re-created cluster find the data they wrote. A dry run
    generates a pair it does not keep.

    A pair made because the saved one is missing or unreadable is kept marked
    ``unconfirmed``: the store may still run with the old one, which install's Secret
    step reads back from the cluster (``settle_store_credentials``) before anything
    uses the new one.
    """
    import secrets

    if not dry_run:
        saved = _saved_store_pair(state)
        if saved is not None:
            return saved
    # Hex only: the pair also travels inside a URL (mc's MC_HOST_<alias>).
    pair = ("airbox-" + secrets.token_hex(8), secrets.token_hex(24))
    if not dry_run:
        why = "unreadable" if state.storage_credentials.exists() else "missing"
        _save_store_pair(state, pair, **{UNCONFIRMED: why})
    return pair


def _cluster_store_pair(ctx: Context) -> tuple[str, str] | None:
    """The pair the cluster's Secret gives the data plane's pods; None when there is no
    Secret (a new cluster or namespace) or it holds no pair."""
    import base64

    argv = ctx.kube.kubectl("--namespace", ctx.settings.namespace, "get", "secret",
                            manifests.SECRET_NAME, "-o", "json")
    # Its data are secrets airbox does not know yet: never logged.
    result = ctx.runner.run(argv, check=False, timeout=30, secret_output=True)
    if not result.ok:
        if "NotFound" in result.stderr or "not found" in result.stderr:
            return None
        raise ClusterError(
            "the local object store's saved credentials are missing or unreadable, and "
            f"the Secret {manifests.SECRET_NAME} that holds the ones it runs with could "
            "not be read",
            details=[REDACTOR.mask_all(result.stderr.strip()[-300:])],
            hint=f"`airbox status --name {ctx.settings.name}` shows what is wrong with the "
                 "cluster; then run `airbox install` again (it reads them back)")
    try:
        data = json.loads(result.stdout or "{}").get("data") or {}
        pair = tuple(base64.b64decode(str(data[key])).decode()
                     for key in (manifests.STORAGE_ACCESS_KEY_KEY,
                                 manifests.STORAGE_SECRET_KEY_KEY))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    REDACTOR.add(*pair)
    return (pair[0], pair[1]) if all(pair) else None


def settle_store_credentials(ctx: Context, line: StepLine) -> None:
    """Before the Secret is applied: a store pair made because the saved one was missing
    or unreadable must not replace the one the store runs with. When the cluster's Secret
    holds a pair, that one is restored (and the generated files written again with it);
    only without one does the new pair stand."""
    try:
        saved = read_json(ctx.state.storage_credentials)
    except (OSError, ValueError):
        return
    if not (isinstance(saved, dict) and saved.get(UNCONFIRMED)):
        return
    live = _cluster_store_pair(ctx)
    pair = live or _saved_store_pair(ctx.state)
    if pair is None:
        return
    _save_store_pair(ctx.state, pair)
    why = f"{ctx.state.storage_credentials} was {saved[UNCONFIRMED]}"
    if live is None:
        runlog.logger().warning("local store: new credentials (%s, no Secret holds any)", why)
        return
    write_generated(ctx.settings, ctx.files, dry_run=False, cgroup_v1=_cgroup_v1(ctx),
                    state=ctx.state)
    with line.paused():
        ctx.term.warn(f"{why}: the local object store's credentials were read back from the "
                      f"Secret {manifests.SECRET_NAME} (the store keeps running with them)")


def write_generated(
    settings: Settings, files: Generated, *, dry_run: bool, cgroup_v1: bool = False,
    state: StateDir | None = None,
) -> dict[str, str]:
    """Write values.yaml, secrets.yaml (0600), kind-config.yaml and, when airbox runs the
    object store, storage.yaml; return the Secret data."""
    state = state or StateDir.for_name(settings.name)
    local = settings.runs_local_store
    credentials = local_store_credentials(state, dry_run=dry_run) if local else None
    data = manifests.secret_data(settings, placeholder_credentials=dry_run,
                                 local_credentials=credentials)
    REDACTOR.add(*proxy.secret_values(data))
    # Created 0700 when missing; an existing directory (an --output-dir) keeps its mode.
    make_private_dirs(files.directory)
    secret = f"the Secret {manifests.SECRET_NAME} (secrets.yaml)"
    hosts, ca = _write_registry_files(settings, files)
    atomic_write(files.values, _headed(
        f"Helm values of data plane {settings.name} (chart airbyte-data-plane), written by "
        f"airbox. No credentials here: they are in {secret}.",
        _explain_placeholders(dump_yaml(manifests.helm_values(settings)))), mode=PUBLIC_FILE)
    atomic_write(files.secret, _headed(
        f"The Kubernetes Secret {manifests.SECRET_NAME} of data plane {settings.name}, "
        "written by airbox: every credential it uses. Keep this file private (0600).",
        dump_yaml(manifests.secret_manifest(settings, data))), mode=SECRET_FILE)
    if settings.target.is_kind:
        store_dir = str(state.storage_data) if local else None
        atomic_write(files.kind_config, _headed(
            f"kind cluster {settings.cluster_name} of data plane {settings.name}, written by "
            "airbox (node image, API on 127.0.0.1"
            + (", the local object store's host directory" if local else "")
            + "). No credentials here.",
            dump_yaml(manifests.kind_config(settings, cgroup_v1=cgroup_v1,
                                            store_dir=store_dir, registry_hosts=hosts,
                                            registry_ca=ca))),
            mode=PUBLIC_FILE)
    if jobproxy.wanted(settings):
        atomic_write(files.job_proxy, _headed(
            f"The MutatingAdmissionPolicy and binding that give the job pods of data plane "
            f"{settings.name} (label airbyte=job-pod) the proxy settings, as references to "
            f"keys of {secret}. No credentials here. Applied as "
            f"{jobproxy.API_VERSION}; a cluster that serves {jobproxy.GROUP}/v1 gets v1.",
            jobproxy.dump(jobproxy.for_settings(settings))), mode=PUBLIC_FILE)
    else:
        files.job_proxy.unlink(missing_ok=True)
    if local:
        atomic_write(files.storage, _headed(
            f"The local object store (MinIO) of data plane {settings.name}, run by airbox "
            f"because no storage is configured. Its credentials are in {secret}.",
            _apply_documents(*manifests.local_store_manifests(
                settings, uid=os.getuid(), gid=os.getgid(), pair=credentials))),
            mode=PUBLIC_FILE)
    else:
        files.storage.unlink(missing_ok=True)
    return data


def _write_registry_files(settings: Settings, files: Generated) -> tuple[str | None, str | None]:
    """With a private registry: its pull Secret (0600), containerd's hosts.toml and a copy
    of its CA for the kind node; return the paths of the last two (or None)."""
    pull = manifests.pull_secret_manifest(settings)
    if pull is not None and settings.images is not None:
        REDACTOR.add(*manifests.pull_secret_values(settings.images))
        atomic_write(files.pull_secret, _headed(
            f"The Kubernetes Secret {manifests.PULL_SECRET_NAME} of data plane "
            f"{settings.name}, written by airbox: the credentials of the registry "
            f"{settings.images.registry}. Keep this file private (0600).",
            dump_yaml(pull)), mode=SECRET_FILE)
    else:
        files.pull_secret.unlink(missing_ok=True)
    hosts = ca = None
    images = settings.images
    if images is not None and settings.target.is_kind:
        atomic_write(files.registry_hosts, "# containerd's settings for the registry "
                     f"{images.registry}, mounted into the kind node by airbox.\n"
                     + manifests.registry_hosts_toml(images), mode=PUBLIC_FILE)
        hosts = str(files.registry_hosts.absolute())
    else:
        files.registry_hosts.unlink(missing_ok=True)
    if images is not None and images.ca_file and settings.target.is_kind:
        atomic_write(files.registry_ca, Path(images.ca_file).expanduser().read_text(
            encoding="utf-8"), mode=PUBLIC_FILE)
        ca = str(files.registry_ca.absolute())
    else:
        files.registry_ca.unlink(missing_ok=True)
    return hosts, ca


def _headed(comment: str, text: str) -> str:
    """``text`` under a comment saying what the file is and where its secrets live."""
    import textwrap

    return "".join(f"# {line}\n" for line in textwrap.wrap(comment, 88)) + text


def _explain_placeholders(values: str) -> str:
    """A comment over each "(in Secret …)" value: it reads like a credential, and is not."""
    lines: list[str] = []
    explained = False
    for line in values.splitlines(keepends=True):
        if line.lstrip().startswith("accessKeyId: " + manifests.NOT_HERE) and not explained:
            indent = line[:len(line) - len(line.lstrip())]
            lines.append(f"{indent}# Not the keys (they are in the Secret): a placeholder, so "
                         "the chart's own copy never holds its well-known default keys.\n")
            explained = True
        lines.append(line)
    return "".join(lines)


def _apply_documents(*docs: dict[str, Any]) -> str:
    return "".join("---\n" + dump_yaml(doc) for doc in docs)


# ----------------------------------------------------------------------------- steps


class Preflight(Step[Context]):
    name = "preflight"
    title = "Check the machine"

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.options.preflight:
            from airbox.ops.preflight.command import install_check

            install_check(ctx.settings, ctx.state, ctx.term, line,
                          ignore_failures=ctx.options.ignore_preflight_failures,
                          assume_yes=ctx.options.assume_yes, prompter=ctx.prompter,
                          early=ctx.early_preflight)
            return
        if ctx.settings.target.is_kind:
            ctx.docker.version()
        line.update("Docker is reachable")


class CheckCredentials(Step[Context]):
    """Before anything is built: the control plane accepts the data plane's credentials.

    On a terminal the interview checked them as they were typed (and asked again); here
    the unattended run (--yes, no terminal) exits 4 instead of failing at its last step.
    """

    name = "check-credentials"
    title = "Check the data plane's credentials with the control plane"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.data_plane is not None and (
            not ctx.options.interactive or ctx.options.recheck_credentials)

    def commands(self, ctx: Context) -> list[list[str]]:
        return [["http", "POST", f"{ctx.settings.control_plane.url}/api/v1/dataplanes/token"]]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.controlplane.credentials import require_data_plane

        credentials = ctx.settings.data_plane
        assert credentials is not None
        found = require_data_plane(ctx.settings.control_plane.url, credentials.client_id,
                                   credentials.client_secret)
        line.update(found)
        if found.startswith("not checked"):
            # Still no answer: go on (preflight reported the control plane), but say so.
            line.warn(found)


class CheckWorkspaces(Step[Context]):
    """Before anything is built: the workspaces named exist (a typo is exit 2, no change).

    Only reads; the routing itself is the last step, once the data plane runs.
    """

    name = "check-workspaces"
    title = "Check the workspaces to route"

    def applies(self, ctx: Context) -> bool:
        return bool(ctx.settings.workspaces) and ctx.settings.registration is not None

    def commands(self, ctx: Context) -> list[list[str]]:
        return [["http", "GET", f"{ctx.settings.control_plane.api_url}/workspaces"
                                "?limit=100&offset=0"]]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.ops.workspaces import install_check

        install_check(ctx.settings, ctx.state, line,
                      interactive=ctx.options.interactive and ctx.prompter is not None,
                      force=ctx.options.force_route)


class Register(Step[Context]):
    name = "register"
    title = "Register the data plane with the control plane"

    def applies(self, ctx: Context) -> bool:
        # A run shows the step even when it has nothing to do (it says why); the plan
        # lists it only when it will register.
        return ctx.registering or not ctx.options.dry_run

    def commands(self, ctx: Context) -> list[list[str]]:
        api = ctx.settings.control_plane.api_url
        return [
            ["http", "POST", f"{api}/applications/token"],
            ["http", "GET", f"{api}/organizations"],
            ["http", "GET", f"{api}/regions?organizationId=<organization>"],
            ["http", "POST", f"{api}/regions", "(only if the region does not exist)"],
            ["http", "GET", f"{api}/dataplanes?regionIds=<region>"],
            ["http", "POST", f"{api}/dataplanes", "(only if not registered yet)"],
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        """After it, ``ctx.settings.data_plane`` is set: registered (once), or given."""
        from airbox.controlplane import registration

        settings = ctx.settings
        if settings.registration is None or settings.data_plane is not None:
            line.skip("not needed: the data plane's own credentials are given")
            return
        prompter = ctx.prompter if ctx.options.interactive else None
        with registration.api_for(settings, ctx.state) as api:
            record = registration.ensure_registered(
                settings, ctx.state, api, say=line.update, warn=ctx.term.warn,
                prompter=prompter, paused=line.paused)
        ctx.settings = dataclasses.replace(
            settings, data_plane=registration.record_credentials(record))


class WriteManifests(Step[Context]):
    name = "manifests"
    title = "Generate the Secret, Helm values and cluster config"

    def commands(self, ctx: Context) -> list[list[str]]:
        return []

    def run(self, ctx: Context, line: StepLine) -> None:
        write_generated(ctx.settings, ctx.files, dry_run=False, cgroup_v1=_cgroup_v1(ctx),
                        state=ctx.state)
        if ctx.settings.runs_local_store:
            # Before kind mounts it: a directory Docker creates for a mount is root's.
            ensure_state_subdir(ctx.state.storage_data)
        line.update(f"written to {ctx.files.directory}")


def _cgroup_v1(ctx: Context) -> bool:
    if not ctx.settings.target.is_kind:
        return False
    # The daemon's view counts (Docker Desktop runs a VM with its own kernel).
    cgroup_v1 = str(ctx.docker.info().get("CgroupVersion") or "2") == "1"
    return cgroup_v1


def preloads(ctx: Context) -> bool:
    """The images go into the kind node from the host (pulled, or from the bundle: with
    no registry, the node cannot pull them itself)."""
    return ctx.settings.target.is_kind and (ctx.options.preload_images
                                             or ctx.bundle is not None)


def pulls_node(settings: Settings) -> bool:
    """The kind node image comes from the private registry (pulled by airbox on the host,
    whether or not the data plane's images are preloaded): kind itself would pull it from
    Docker Hub, which a VM whose only registry is the private one cannot reach."""
    return settings.target.is_kind and settings.images is not None and not settings.bundle


def node_pull(settings: Settings, cgroup_v1: bool) -> tuple[str, str]:
    """The pinned node image as the registry serves it, by digest
    (``<registry>/kindest/node@sha256:...``), and the tag kind's config names
    (``manifests.kind_config``)."""
    name, _, digest = versions.node_image(cgroup_v1=cgroup_v1).partition("@")
    repository = name.rsplit(":", 1)[0]
    return f"{manifests.from_registry(settings.images, repository)}@{digest}", name


def _node_cgroup_v1(ctx: Context) -> bool:
    # A dry run contacts no Docker (as plan_dry_run writes the kind config).
    return host_uses_cgroup_v1() if ctx.options.dry_run else _cgroup_v1(ctx)


def has_pinned(docker: DockerHost, image: str, pinned: str) -> bool:
    """Docker has ``image`` and it is the pinned one: pulled by the pin's digest from
    whichever registry (a repository digest names the manifest's content)."""
    digest = pinned.partition("@")[2]
    return any(d.endswith("@" + digest) for d in docker.repo_digests(image))


class PullImages(Step[Context]):
    """Starts the pulls in the background; ``LoadImages`` waits for them (``Cluster`` for
    the node image's, from a private registry). With an offline bundle: loads its images
    into Docker, unpacks its chart and places its tools."""

    name = "images"
    title = "Pull the data plane images (in the background)"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx) or pulls_node(ctx.settings)

    def _node(self, ctx: Context) -> tuple[str, str] | None:
        return node_pull(ctx.settings, _node_cgroup_v1(ctx)) if pulls_node(ctx.settings) \
            else None

    def _wanted(self, ctx: Context) -> list[str]:
        return ctx.images() if preloads(ctx) else []

    def describe(self, ctx: Context) -> str:
        if ctx.bundle is not None:
            return "Load the images, chart and tools from the offline bundle"
        return self.title

    def commands(self, ctx: Context) -> list[list[str]]:
        argv: list[list[str]] = []
        if ctx.bundle is not None:
            from airbox.offline.manifest import local_name
            from airbox.ops.bundled import unpack_dir

            # Read from the file as a stream by airbox, with the Docker API for images.
            bundle = str(ctx.settings.bundle)
            for item in ctx.bundle.items:
                if item.kind in ("chart", "binary"):
                    argv.append(["tar", "-xf", bundle, item.path, "-C",
                                 str(unpack_dir(ctx.state))])
                else:
                    argv.append(["docker", "load", "--input", f"{bundle}:{item.path}",
                                 f"(unless Docker has {local_name(item.name)})"])
            return argv
        node = self._node(ctx)
        if node is not None:
            argv += [["docker", "pull", node[0]], ["docker", "tag", node[0], node[1]]]
        for image in self._wanted(ctx):
            pinned = PINNED.get(image)
            if pinned:
                argv += [["docker", "pull", pinned], ["docker", "tag", pinned, image]]
            else:
                argv.append(["docker", "pull", image])
        return argv

    def done(self, ctx: Context) -> str | None:
        if ctx.bundle is not None:
            from airbox.ops.bundled import unpacked

            return unpacked(ctx.settings, ctx.bundle, ctx.state, ctx.docker)
        node = self._node(ctx)
        if node is not None and not has_pinned(ctx.docker, node[1], node[0]):
            return None
        missing = [image for image in self._wanted(ctx) if not ctx.docker.has_image(image)]
        return None if missing else "already present"

    def run(self, ctx: Context, line: StepLine) -> None:
        docker = ctx.docker
        if ctx.bundle is not None:
            from airbox.ops.bundled import unpack

            def warn(text: str) -> None:
                with line.paused():
                    ctx.term.warn(text)

            line.update(", ".join(unpack(ctx.settings, ctx.bundle, ctx.state, docker,
                                         line.update, warn)))
            return
        images = [image for image in self._wanted(ctx) if not docker.has_image(image)]
        pinned = dict(PINNED)
        node = self._node(ctx)
        if node is not None and not has_pinned(docker, node[1], node[0]):
            # First: the cluster step waits for this one.
            images.insert(0, node[1])
            pinned[node[1]] = node[0]
        ctx.pulls = Pulls(docker, images, registry=ctx.settings.images, pinned=pinned)
        line.update(f"pulling {len(images)} image(s) while the cluster is created")


# Images pulled by digest, then tagged with the name the pods use.
PINNED = {versions.MINIO_IMAGE: versions.MINIO_IMAGE_PINNED}


class Pulls:
    """Image pulls on daemon threads: a Ctrl-C must not wait for a pull to finish
    (executor threads would hold the interpreter's exit until they are done)."""

    def __init__(self, docker: DockerHost, images: list[str],
                 registry: Images | None = None,
                 pinned: Mapping[str, str] = PINNED) -> None:
        # The private registry's credentials go with its images' pulls (in the API call
        # to the daemon: never in argv or ~/.docker/config.json).
        self._registry = registry.registry + "/" if registry is not None else None
        self._auth = manifests.registry_auth(registry)
        # image -> the reference pulled by digest, then tagged with the image's name.
        self._pinned = dict(pinned)
        self.errors: dict[str, BaseException] = {}
        self.progress: dict[str, str] = {}
        self._threads = {image: threading.Thread(target=self._pull, args=(docker, image),
                                                 daemon=True)
                         for image in images}
        for thread in self._threads.values():
            thread.start()

    def _pull(self, docker: DockerHost, image: str) -> None:
        log = runlog.logger()
        try:
            pinned = self._pinned.get(image)
            ref = pinned or image
            auth = self._auth if self._registry and ref.startswith(self._registry) else None
            try:
                docker.pull(ref, lambda msg: self.progress.__setitem__(image, msg), auth=auth)
            except DockerError as exc:
                if pinned and _DIGEST_REFUSED.search(exc.message):
                    raise not_the_pinned_image(pinned, image) from None
                raise
            if pinned:
                # The pin is the trust anchor: tag only what the daemon recorded under
                # the pinned digest (a mirror serving another image for it is refused).
                if pinned not in docker.repo_digests(pinned):
                    raise not_the_pinned_image(pinned, image)
                docker.tag(pinned, image)
            log.info("pulled %s", ref)
        except BaseException as exc:  # reported by wait(), in the main thread
            self.errors[image] = exc

    def wait(self, line: StepLine, only: str | None = None) -> None:
        """Wait (interruptibly) for every pull, or for the pull of ``only``; raise the
        first failure."""
        for image, thread in self._threads.items():
            if only is not None and image != only:
                continue
            while thread.is_alive():
                thread.join(timeout=0.5)
                busy = [msg for msg in self.progress.values() if "complete" not in msg.lower()]
                if busy:
                    line.update(busy[-1])
        failed = [exc for image, exc in self.errors.items() if only in (None, image)]
        if failed:
            raise failed[0]


# What the daemon answers when a registry serves another manifest than the digest asked
# (moby distribution/pull_v2.go: "manifest verification failed for digest"; containerd's
# image store: "digest mismatch").
_DIGEST_REFUSED = re.compile(r"verification failed for digest|digest mismatch|"
                             r"unexpected digest", re.IGNORECASE)


def not_the_pinned_image(pinned: str, image: str) -> ClusterError:
    # Exit 5 (ClusterError): the cluster cannot be built from what the registry serves;
    # not 3, as nothing about this machine is wrong, nor 4, which is the control plane's.
    registry = pinned.split("/", 1)[0]
    return ClusterError(
        f"the registry {registry} does not serve the image airbox pins for {image}: "
        f"{pinned} is another image there",
        hint="mirror the image by its digest (copy it with its manifest, e.g. "
             "`crane copy` or `skopeo copy --all`, not rebuilt or re-pushed by tag), "
             "then run the command again",
    )


class Cluster(Step[Context]):
    name = "cluster"
    title = "Create the kind cluster"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.target.is_kind

    def describe(self, ctx: Context) -> str:
        return f"Create the kind cluster {ctx.settings.cluster_name}"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kind_create(ctx.settings, ctx.files.kind_config, ctx.state.kubeconfig)]

    def _exists(self, ctx: Context) -> bool:
        result = ctx.runner.run(commands.kind_get_clusters(), timeout=30)
        return ctx.settings.cluster_name in result.stdout.split()

    def run(self, ctx: Context, line: StepLine) -> None:
        settings = ctx.settings
        if self._exists(ctx):
            node = ctx.docker.container(settings.node_container)
            if node.status == "missing":
                # kind knows the cluster, Docker no node: the API check below decides.
                runlog.logger().warning("node container %s not found", settings.node_container)
            elif node.status != "running":
                line.update(f"starting the stopped node container {settings.node_container}")
                ctx.docker.start(settings.node_container)
            if not ctx.state.kubeconfig.is_file():
                ctx.runner.run(commands.kind_export_kubeconfig(settings, ctx.state.kubeconfig))
            wait_for_api(ctx, line)
            line.skip("exists, reused")
            return
        if ctx.pulls is not None and pulls_node(settings):
            # kind must find the node image (pulled from the registry) in Docker.
            line.update("waiting for the node image's pull")
            ctx.pulls.wait(line, only=node_pull(settings, _cgroup_v1(ctx))[1])
        line.update("creating the node (the first time takes a few minutes)")
        try:
            ctx.runner.run(
                commands.kind_create(settings, ctx.files.kind_config, ctx.state.kubeconfig),
                timeout=600,
                on_line=lambda text: line.update(text.strip(" •✓✗")) if text.strip() else None,
                error=f"creating the kind cluster {settings.cluster_name} failed",
                hint="see the kind output above; common causes are too little memory, "
                     "inotify limits (run `airbox preflight`) and Docker subnet clashes",
            )
        except (ToolError, KeyboardInterrupt):
            # Like kind itself: never leave a half-built cluster behind.
            ctx.runner.run(commands.kind_delete(settings, ctx.state.kubeconfig), check=False,
                           timeout=120)
            raise
        ctx.state.kubeconfig.chmod(SECRET_FILE)


class NodeRestartPolicy(Step[Context]):
    """The node container comes back after a reboot or a Docker restart.

    kind starts it with ``on-failure:1``; ``unless-stopped`` (set through the Docker SDK)
    lives with the container wherever Docker runs, needs no root-owned unit file, and
    still respects a deliberate ``docker stop``.
    """

    name = "node-restart"
    title = "Keep the node running across reboots"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.target.is_kind

    def commands(self, ctx: Context) -> list[list[str]]:
        return [["docker", "update", "--restart", NODE_RESTART_POLICY,
                 ctx.settings.node_container]]

    def done(self, ctx: Context) -> str | None:
        node = ctx.docker.container(ctx.settings.node_container)
        if node.status == "missing":
            # kind said the cluster exists, Docker has no node: nothing to keep running.
            raise ClusterError(
                f"the kind cluster {ctx.settings.cluster_name} has no node container "
                f"({ctx.settings.node_container} does not exist in Docker)",
                hint="the cluster cannot run without it: `airbox uninstall --keep-state`, "
                     "then `airbox install` again")
        return f"restart policy already {node.restart_policy}" if node.comes_back else None

    def run(self, ctx: Context, line: StepLine) -> None:
        ctx.docker.set_restart_policy(ctx.settings.node_container)
        line.update(f"{ctx.settings.node_container}: restart policy {NODE_RESTART_POLICY}")


def wait_for_api(ctx: Context, line: StepLine, timeout: float = 120) -> None:
    """Poll the API server with backoff until it answers (after a node restart)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        result = ctx.runner.run(ctx.kube.kubectl("get", "--raw", "/readyz"), check=False,
                                timeout=15)
        if result.ok:
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the Kubernetes API of {ctx.settings.cluster_name} did not become ready",
                details=[result.stderr.strip()[-300:]],
                hint="check the node container with `docker logs "
                     f"{ctx.settings.node_container}`; `airbox status` explains more",
            )
        line.update("waiting for the Kubernetes API")
        time.sleep(delay)
        delay = min(delay * 2, 5)


class ConnectorImages(Step[Context]):
    """Start pulling verify's connectors inside the node, and go on at once.

    The first ``airbox verify`` otherwise waits for them: creating its connection makes
    the control plane run a discover in this data plane, whose pod pulls source-faker
    first (minutes on a slow line). The pulls run in the node's containerd (``docker
    exec -d <node> crictl pull``), in parallel with the rest of the install and after
    it; nothing waits for them and nothing fails because of them. The tags are the
    workspace's definitions' when the application's credentials can read them quickly,
    else the ones airbox pins (``versions.VERIFY_CONNECTORS``).
    """

    name = "connector-images"
    title = "Pre-pull verify's connector images in the node (in the background)"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx)

    def describe(self, ctx: Context) -> str:
        if ctx.bundle is not None:
            return "Load the bundle's connector images into the node"
        return self.title

    def _bundled(self, ctx: Context) -> list[str]:
        from airbox.offline.manifest import local_name

        assert ctx.bundle is not None
        return [local_name(ref) for ref in ctx.bundle.images("connector")]

    def commands(self, ctx: Context) -> list[list[str]]:
        if ctx.bundle is not None:
            refs = self._bundled(ctx)
            return [commands.kind_load(ctx.settings, refs)] if refs else []
        images = ctx.settings.images
        refs = [connector_ref(repository, tag, images)
                for repository, tag in versions.VERIFY_CONNECTORS.items()]
        if images is not None and images.has_credentials:
            return [*(["docker", "pull", ref] for ref in refs),
                    commands.kind_load(ctx.settings, refs)]
        return [["docker", "exec", "-d", ctx.settings.node_container, "crictl", "pull", ref]
                for ref in refs]

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.bundle is not None:
            # Offline, no sync can pull its connector: they go in now, from Docker (kind
            # skips those the node has).
            from airbox.ops.bundled import load_into_node

            refs = self._bundled(ctx)
            load_into_node(ctx.runner, ctx.settings, refs)
            line.update(", ".join(refs) if refs else "the bundle carries no connector")
            return
        # A daemon thread: the definitions lookup may take a few seconds, and the install
        # must not wait for it (nor for the pulls, which run in the node).
        threading.Thread(target=prepull_connectors, args=(ctx,), daemon=True).start()
        line.update("source-faker and destination-dev-null, pulled inside the node while "
                    "the install goes on")


def connector_ref(repository: str, tag: str, images: Images | None = None) -> str:
    """The reference the node's containerd pulls (and the launcher's pods name): from
    the private registry when one is set (the launcher's JOB_KUBE_CONNECTOR_IMAGE_REGISTRY
    puts it in front of the definition's repository)."""
    if images is not None:
        return manifests.from_registry(images, f"{repository}:{tag}")
    return f"docker.io/{repository}:{tag}"


def connector_tags(ctx: Context) -> dict[str, str]:
    """verify's connectors and their tags: the workspace's definitions' (asked with short
    timeouts, never retried) when the application's credentials are at hand, else the
    pinned ones."""
    tags = dict(versions.VERIFY_CONNECTORS)
    reg = ctx.settings.registration
    if reg is None:
        return tags
    from airbox.controlplane.api import NO_RETRY, AirbyteApi, Timeouts

    try:
        with AirbyteApi(ctx.settings.control_plane.api_url, reg.client_id, reg.client_secret,
                        token_cache=ctx.state.token, timeout=Timeouts(connect=3.0, read=5.0),
                        retries=NO_RETRY) as api:
            visible = api.workspaces()
            wanted = [w for w in visible if w.get("name") in ctx.settings.workspaces
                      or w.get("workspaceId") in ctx.settings.workspaces] or visible
            if not wanted:
                return tags
            workspace_id = str(wanted[0].get("workspaceId"))
            for kind in ("sources", "destinations"):
                for definition in api.definitions(workspace_id, kind):
                    repository = definition.get("dockerRepository")
                    tag = definition.get("dockerImageTag")
                    if repository in tags and isinstance(tag, str) and tag:
                        tags[str(repository)] = tag
    except Exception as exc:  # best effort: the pinned tags serve as well
        runlog.logger().info("connector tags from the definitions unavailable (%s): "
                             "using airbox's pinned ones", exc)
    return tags


def prepull_connectors(ctx: Context) -> None:
    """Start the pulls (``docker exec -d``); never raises: at worst verify pulls later."""
    log = runlog.logger()
    images = ctx.settings.images
    try:
        docker = DockerHost.connect()
        for repository, tag in connector_tags(ctx).items():
            ref = connector_ref(repository, tag, images)
            if images is not None and images.has_credentials:
                # The node's containerd has no credentials of its own (pods pull with the
                # pull Secret), and crictl takes them only in its argv: the host's Docker
                # pulls with them (in the API call), then kind loads the image in.
                docker.pull(ref, auth=manifests.registry_auth(images))
                ctx.runner.run(commands.kind_load(ctx.settings, [ref]), timeout=900,
                               error=f"loading {ref} into the node failed")
                log.info("pulled %s and loaded it into the node %s", ref,
                         ctx.settings.node_container)
                continue
            docker.exec_detached(ctx.settings.node_container, ["crictl", "pull", ref])
            log.info("pulling %s inside the node %s", ref, ctx.settings.node_container)
    except Exception as exc:
        log.warning("the connector images were not pre-pulled (%s): the first verify "
                    "pulls them", exc)


class LoadImages(Step[Context]):
    name = "load-images"
    title = "Load the images into the cluster"

    def applies(self, ctx: Context) -> bool:
        return preloads(ctx)

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kind_load(ctx.settings, ctx.images())]

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.pulls is not None:
            line.update("waiting for the image pulls to finish")
            ctx.pulls.wait(line)
        ctx.runner.run(commands.kind_load(ctx.settings, ctx.images()), timeout=900,
                       error="loading the images into the kind node failed")


class Namespace(Step[Context]):
    name = "namespace"
    title = "Create the namespace"

    def describe(self, ctx: Context) -> str:
        return f"Create the namespace {ctx.settings.namespace}"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kubectl_apply_stdin(ctx.kube)]

    def done(self, ctx: Context) -> str | None:
        # A namespace that exists is left as it is: only one airbox creates carries its
        # label, which is what lets uninstall remove it (and never someone else's).
        result = ctx.runner.run(
            ctx.kube.kubectl("get", "namespace", ctx.settings.namespace, "-o", "name"),
            check=False, timeout=30)
        return "exists" if result.ok else None

    def run(self, ctx: Context, line: StepLine) -> None:
        result = ctx.runner.run(
            commands.kubectl_apply_stdin(ctx.kube),
            stdin=_apply_documents(manifests.namespace_manifest(ctx.settings)),
            error=f"creating the namespace {ctx.settings.namespace} failed",
        )
        line.update(result.stdout.strip())


class SecretStep(Step[Context]):
    name = "secret"
    title = f"Apply the Secret {manifests.SECRET_NAME}"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.kubectl_apply_stdin(ctx.kube, ctx.settings.namespace)]

    def run(self, ctx: Context, line: StepLine) -> None:
        if ctx.settings.runs_local_store:
            settle_store_credentials(ctx, line)
        # The manifest travels on stdin, never in argv or a world-readable file.
        text = ctx.files.secret.read_text(encoding="utf-8")
        if ctx.files.pull_secret.exists():
            # The registry's pull Secret, in the same apply (before any pod pulls).
            text += "---\n" + ctx.files.pull_secret.read_text(encoding="utf-8")
        result = ctx.runner.run(
            commands.kubectl_apply_stdin(ctx.kube, ctx.settings.namespace),
            stdin=text,
            error=f"applying the Secret {manifests.SECRET_NAME} failed",
        )
        line.update(result.stdout.strip())


class JobProxy(Step[Context]):
    """The proxy reaches the job pods: the launcher gives them a fixed environment, so a
    MutatingAdmissionPolicy adds the proxy variables (from the Secret) to every pod it
    starts (``airbox.render.jobproxy``). Without a proxy, removes the objects an earlier
    install applied."""

    name = "job-proxy"
    title = "Give the job pods the proxy (MutatingAdmissionPolicy)"

    def _applied(self, ctx: Context) -> bool:
        from airbox.ops.jobproxy import PROGRESS_KEY

        return bool(Progress(ctx.state.progress).load().get(PROGRESS_KEY))

    def _record(self, ctx: Context, applied: bool) -> None:
        from airbox.ops.jobproxy import PROGRESS_KEY

        Progress(ctx.state.progress).set(
            PROGRESS_KEY, {"name": jobproxy.object_name(ctx.settings)} if applied else {})

    def applies(self, ctx: Context) -> bool:
        return jobproxy.wanted(ctx.settings) or (not ctx.options.dry_run
                                                 and self._applied(ctx))

    def describe(self, ctx: Context) -> str:
        if jobproxy.wanted(ctx.settings):
            return self.title
        return "Remove the job pods' proxy policy (no proxy any more)"

    def commands(self, ctx: Context) -> list[list[str]]:
        name = jobproxy.object_name(ctx.settings)
        if not jobproxy.wanted(ctx.settings):
            return [ctx.kube.kubectl("delete", resource, name, "--ignore-not-found")
                    for resource in (jobproxy.BINDING_RESOURCE, jobproxy.POLICY_RESOURCE)]
        return [ctx.kube.kubectl("get", "--raw", f"/apis/{jobproxy.API_VERSION}"),
                commands.kubectl_apply_stdin(ctx.kube)]

    def done(self, ctx: Context) -> str | None:
        from airbox.ops import jobproxy as ops

        live = ops.live_objects(ctx.runner, ctx.kube, ctx.settings)
        if not jobproxy.wanted(ctx.settings):
            if live is None or (live["policy"] is None and live["binding"] is None):
                self._record(ctx, applied=False)
                return "nothing to remove"
            return None
        if live is not None and ops.as_rendered(live, ctx.settings):
            self._record(ctx, applied=True)
            return f"{jobproxy.object_name(ctx.settings)} already applied"
        return None

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.ops import jobproxy as ops

        if not jobproxy.wanted(ctx.settings):
            ops.remove(ctx.runner, ctx.kube, ctx.settings)
            self._record(ctx, applied=False)
            line.update(f"removed {jobproxy.object_name(ctx.settings)}")
            return
        api = ops.served_api(ctx.runner, ctx.kube)
        if api is None:
            raise ops.missing_api(ctx.settings)
        # Recorded first: an interrupted apply still leaves a record to clean up after.
        self._record(ctx, applied=True)
        line.update(ops.apply(ctx.runner, ctx.kube, ctx.settings, api).replace("\n", "; "))


class LocalStore(Step[Context]):
    """The object store the data plane writes its job logs and state to, when no storage
    is configured: MinIO in the cluster, its data in a host directory, its bucket made."""

    name = "storage"
    title = "Run the local object store (MinIO)"

    def applies(self, ctx: Context) -> bool:
        return ctx.settings.runs_local_store

    def _argv(self, ctx: Context) -> list[list[str]]:
        ns = ctx.settings.namespace
        job = f"job/{manifests.LOCAL_STORE_JOB}"
        return [
            # A Job's pod template cannot change: the bucket Job is made anew each time
            # (making a bucket that exists is a no-op).
            ctx.kube.kubectl("--namespace", ns, "delete", job, "--ignore-not-found"),
            commands.kubectl_apply_stdin(ctx.kube, ns),
            ctx.kube.kubectl("--namespace", ns, "rollout", "status",
                             f"deployment/{manifests.LOCAL_STORE}", "--timeout=180s"),
            ctx.kube.kubectl("--namespace", ns, "wait", "--for=condition=complete", job,
                             "--timeout=180s"),
        ]

    def commands(self, ctx: Context) -> list[list[str]]:
        return self._argv(ctx)

    def _running_pair(self, ctx: Context) -> str | None:
        """The fingerprint of the pair the store's pod template is marked with; "" for a
        store without the mark (an older airbox made it), None when there is no store."""
        result = ctx.runner.run(
            ctx.kube.kubectl("--namespace", ctx.settings.namespace, "get", "deployment",
                             manifests.LOCAL_STORE, "-o", "json"),
            check=False, timeout=30)
        if not result.ok:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise ToolError(f"reading the deployment {manifests.LOCAL_STORE} failed",
                            command=REDACTOR.mask_argv(result.argv),
                            returncode=result.returncode,
                            output_tail=REDACTOR.mask_all(result.stderr[-2000:]))
        template = (json.loads(result.stdout or "{}").get("spec") or {}).get("template") or {}
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        return str(annotations.get(manifests.STORE_CREDENTIALS_ANNOTATION) or "")

    def run(self, ctx: Context, line: StepLine) -> None:
        delete, apply, rollout, wait = self._argv(ctx)
        pair = _saved_store_pair(ctx.state)
        running = self._running_pair(ctx)
        if pair is not None and running is not None and running != (
                manifests.credentials_fingerprint(*pair)):
            # MinIO reads its pair only when it starts, the launcher too: both restart
            # (the store first). Recorded, so an interrupted run still restarts the
            # launcher next time.
            _save_store_pair(ctx.state, pair, **{RESTART_LAUNCHER: True})
            line.update("the store's credentials changed: restarting it")
        ctx.runner.run(delete, timeout=120, error="removing the old bucket Job failed")
        ctx.runner.run(apply, stdin=ctx.files.storage.read_text(encoding="utf-8"),
                       timeout=60, error="applying the local object store failed")
        line.update(f"waiting for {manifests.LOCAL_STORE} to be ready")
        hint = (f"`airbox status --name {ctx.settings.name}` shows the pod's problem. A "
                "cluster created before airbox ran the store lacks the data directory "
                f"({manifests.LOCAL_STORE_NODE_PATH}): re-create it with `kind delete cluster "
                f"--name {ctx.settings.cluster_name}`, then `airbox install` again")
        ctx.runner.run(rollout, timeout=200, error="the local object store did not start",
                       hint=hint)
        line.update(f"creating the bucket {manifests.LOCAL_STORE_BUCKET}")
        ctx.runner.run(wait, timeout=200, error="creating the storage bucket failed",
                       hint=hint)
        self._restart_launcher_if_due(ctx, line)
        line.update(f"{manifests.local_store_endpoint(ctx.settings)}, bucket "
                    f"{manifests.LOCAL_STORE_BUCKET}, data in {ctx.state.storage_data}")


    def _restart_launcher_if_due(self, ctx: Context, line: StepLine) -> None:
        """The launcher started with the store's old pair: restarted, now the store runs
        with the new one (a first install has no launcher yet)."""
        try:
            due = bool(read_json(ctx.state.storage_credentials).get(RESTART_LAUNCHER))
        except (OSError, ValueError, AttributeError):
            return
        if not due:
            return
        deployment = commands.deployment_name(ctx.settings)
        result = ctx.runner.run(ctx.kube.kubectl(
            "--namespace", ctx.settings.namespace, "rollout", "restart",
            f"deployment/{deployment}"), check=False, timeout=60)
        if not result.ok and not ("NotFound" in result.stderr
                                  or "not found" in result.stderr):
            raise ToolError("restarting the launcher with the store's new credentials failed",
                            command=REDACTOR.mask_argv(result.argv),
                            returncode=result.returncode,
                            output_tail=REDACTOR.mask_all(result.stderr[-2000:]))
        if result.ok:
            line.update(f"restarted the launcher (deployment/{deployment}) with them")
        pair = _saved_store_pair(ctx.state)
        if pair is not None:
            _save_store_pair(ctx.state, pair)


class CheckChart(Step[Context]):
    name = "check-chart"
    title = "Check that the chart's pods find every Secret key, ConfigMap key and file"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.helm_template(ctx.kube, ctx.settings, ctx.files.values)]

    def run(self, ctx: Context, line: StepLine) -> None:
        result = ctx.runner.run(
            commands.helm_template(ctx.kube, ctx.settings, ctx.files.values),
            timeout=180,
            error="rendering the chart failed",
            hint="check chart.version / --chart and the values: overrides",
        )
        import yaml

        secret = yaml.safe_load(ctx.files.secret.read_text(encoding="utf-8"))
        docs = chartcheck.parse_manifests(result.stdout)
        problems = chartcheck.pod_problems(docs, secret)
        deployment = commands.deployment_name(ctx.settings)
        if deployment not in chartcheck.deployments(docs):
            problems.append(f"the chart renders no Deployment {deployment!r} (it renders "
                            f"{', '.join(chartcheck.deployments(docs)) or 'none'})")
        if problems:
            raise ClusterError(
                "the chart's pods would not start or would miss what they read",
                details=problems,
                hint="remove the conflicting values: overrides, or report this as a bug",
            )
        unexpected = [image for image in chartcheck.images(docs) if image not in ctx.images()]
        if unexpected and ctx.settings.target.is_kind and ctx.options.preload_images:
            # Not fatal: the node pulls them itself, only later.
            runlog.logger().warning("images not preloaded: %s", ", ".join(unexpected))
        line.update("every secret, config and file reference resolves")


class Release(Step[Context]):
    name = "release"
    title = "Install the data plane with Helm"

    def describe(self, ctx: Context) -> str:
        return (f"helm upgrade --install {ctx.settings.release} "
                f"({versions.CHART_NAME} {ctx.settings.chart.version})")

    def commands(self, ctx: Context) -> list[list[str]]:
        return [commands.helm_upgrade(ctx.kube, ctx.settings, ctx.files.values)]

    def run(self, ctx: Context, line: StepLine) -> None:
        previous = recover_pending(ctx, line)
        argv = commands.helm_upgrade(ctx.kube, ctx.settings, ctx.files.values)
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(ctx, line, stop), daemon=True)
        watcher.start()
        try:
            ctx.runner.run(argv, timeout=11 * 60, error="helm upgrade --install failed")
        except ToolError as exc:
            stop.set()
            error = _explain_release_failure(ctx, exc)
            error.details.extend(_roll_back(ctx, line, previous))
            raise error from None
        finally:
            stop.set()
            watcher.join(timeout=5)


def _roll_back(ctx: Context, line: StepLine, previous: int | None) -> list[str]:
    """After a failed upgrade, go back to the last good revision (after the diagnosis)."""
    if previous is None:
        return ["the failed first install is left in place so `airbox status` and "
                "`airbox logs` can show why; the next `airbox install` replaces it"]
    line.update(f"rolling back to revision {previous}")
    result = ctx.runner.run(commands.helm_rollback(ctx.kube, ctx.settings, previous),
                            check=False, timeout=360)
    if result.ok:
        return [f"rolled back to revision {previous}: the previous settings run again"]
    return [f"rolling back to revision {previous} failed too: {result.stderr.strip()[-200:]}"]


def recover_pending(ctx: Context, line: StepLine) -> int | None:
    """Clear a release Helm left "pending-*" (an interrupted run), like abctl does.

    Returns the newest revision that was deployed, to roll back to if the upgrade fails.
    """
    result = ctx.runner.run(commands.helm_history(ctx.kube, ctx.settings), check=False,
                            timeout=60)
    if not result.ok:
        return None  # no release yet
    try:
        history = json.loads(result.stdout or "[]")
    except ValueError:
        return None
    good = [int(h["revision"]) for h in history if h.get("status") in ("deployed", "superseded")]
    last_good = good[-1] if good else None
    status = str(history[-1].get("status", "")) if history else ""
    if not status.startswith("pending"):
        return last_good
    runlog.logger().warning("release %s is stuck in %s", ctx.settings.release, status)
    if last_good is not None:
        line.update(f"release stuck in {status}; rolling back to revision {last_good}")
        ctx.runner.run(commands.helm_rollback(ctx.kube, ctx.settings, last_good), timeout=360,
                       error="rolling back the stuck release failed")
        return last_good
    line.update(f"release stuck in {status}; removing the unfinished install")
    ctx.runner.run(commands.helm_uninstall(ctx.kube, ctx.settings), timeout=360,
                   error="removing the stuck release failed")
    return None


def _watch(ctx: Context, line: StepLine, stop: threading.Event) -> None:
    """While Helm waits, say what the cluster is doing (polling with backoff)."""
    delay = 1.0
    while not stop.wait(delay):
        try:
            pod_list = kube.pods(ctx.runner, ctx.kube, ctx.settings.namespace,
                                 kube.release_selector(ctx.settings.release, ctx.settings.values))
            events = kube.warning_events(ctx.runner, ctx.kube, ctx.settings.namespace)
            line.update(kube.activity(pod_list, events))
        except (AirboxError, ValueError):
            pass
        delay = min(delay * 1.5, 5.0)


def _explain_release_failure(ctx: Context, exc: ToolError) -> ClusterError:
    details = list(exc.details)
    hint = "fix the cause, then run `airbox install` again (it resumes); `airbox status` explains"
    try:
        pod_list = kube.pods(ctx.runner, ctx.kube, ctx.settings.namespace,
                             kube.release_selector(ctx.settings.release, ctx.settings.values))
        for pod in pod_list:
            health = kube.pod_health(pod)
            if health.problem:
                details.append(f"pod {health.name}: {health.problem}")
                if health.image_problem and ctx.bundle is not None:
                    hint = ("an image is not in the kind node and nothing can be pulled "
                            "offline: make the bundle with it (the same values: image "
                            "overrides), `airbox bundle load` it, then re-run")
                elif health.image_problem:
                    hint = ("the data plane image could not be pulled: check egress to Docker "
                            "Hub (registry-1.docker.io) and its rate limit, then re-run")
                elif "CreateContainerConfig" in health.problem:
                    hint = "a Secret key is missing; re-run `airbox install` to re-apply it"
                elif "CrashLoopBackOff" in health.problem:
                    hint = ("the launcher keeps crashing: read `airbox logs`, fix the settings "
                            "it complains about, then re-run `airbox install`")
        for event in kube.warning_events(ctx.runner, ctx.kube, ctx.settings.namespace)[-3:]:
            details.append(f"event {event.get('reason')}: {event.get('message')}")
    except (AirboxError, ValueError):
        pass
    error = ClusterError(exc.message, details=details, hint=hint)
    return error


class Verify(Step[Context]):
    name = "verify"
    title = "Verify the data plane is running and authenticated"

    def commands(self, ctx: Context) -> list[list[str]]:
        return [
            commands.kubectl_rollout_status(ctx.kube, ctx.settings),
            commands.kubectl_launcher_logs(ctx.kube, ctx.settings),
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        ctx.runner.run(commands.kubectl_rollout_status(ctx.kube, ctx.settings),
                       timeout=150, error="the data plane deployment is not available")
        result = ctx.runner.run(commands.kubectl_launcher_logs(ctx.kube, ctx.settings),
                                timeout=60, check=False)
        failures = [text for text in result.stdout.splitlines()
                    if any(marker in text.lower() for marker in kube.AUTH_FAILURE_MARKERS)]
        if failures:
            raise ControlPlaneError(
                "the data plane runs but the control plane rejects its credentials",
                details=[REDACTOR.mask_all(text) for text in failures[-3:]],
                hint="check the data plane's client id and secret (`airbox install "
                     "--reconfigure` asks for them again; DATAPLANE_CLIENT_ID/"
                     "DATAPLANE_CLIENT_SECRET or dataPlane.clientId/clientSecret in an answers "
                     "file override the saved ones), the control plane URL, and that the data "
                     "plane is enabled in Airbyte; then re-run",
            )
        line.update("launcher available, no authentication errors in its logs")


class Route(Step[Context]):
    name = "route"
    title = "Route workspaces to the data plane's region"

    def commands(self, ctx: Context) -> list[list[str]]:
        if ctx.settings.registration is None:
            return []
        api = ctx.settings.control_plane.api_url
        return [
            ["http", "GET", f"{api}/workspaces?limit=100&offset=0"],
            *(["http", "PATCH", f"{api}/workspaces/<{w}>", '{"regionId": "<region>"}',
               "(only if not routed yet)"] for w in ctx.settings.workspaces),
        ]

    def run(self, ctx: Context, line: StepLine) -> None:
        from airbox.ops.workspaces import install_route

        interactive = ctx.options.interactive and ctx.prompter is not None
        ctx.routing = install_route(ctx.settings, ctx.state, line,
                                    prompter=ctx.prompter if interactive else None,
                                    force=ctx.options.force_route)


def steps() -> list[Step[Context]]:
    return [
        Preflight(),
        CheckCredentials(),
        CheckWorkspaces(),
        Register(),
        WriteManifests(),
        PullImages(),
        Cluster(),
        NodeRestartPolicy(),
        ConnectorImages(),
        LoadImages(),
        Namespace(),
        SecretStep(),
        JobProxy(),
        LocalStore(),
        CheckChart(),
        Release(),
        Verify(),
        Route(),
    ]


# --------------------------------------------------------------------------- entry


def plan_dry_run(ctx: Context) -> list[dict[str, Any]]:
    """Write the generated files and plan.json; run nothing, contact nothing."""
    write_generated(ctx.settings, ctx.files, dry_run=True, cgroup_v1=host_uses_cgroup_v1(),
                    state=ctx.state)
    planned = plan(steps(), ctx)
    write_json(ctx.files.plan, planned, mode=PUBLIC_FILE)
    return planned


def render_plan(planned: list[dict[str, Any]]) -> str:
    lines = []
    for index, entry in enumerate(planned, 1):
        lines.append(f"{index:2}. {entry['title']}  [{entry['step']}]")
        for argv in entry["commands"]:
            lines.append("      " + REDACTOR.mask(shlex.join(argv)))
    return "\n".join(lines)


def next_steps(ctx: Context) -> list[str]:
    settings = ctx.settings
    kubeconfig = ctx.kube.kubeconfig
    lines = [f"Data plane {settings.name} is installed and running."]
    if kubeconfig:
        lines.append(f"  kubeconfig: {kubeconfig}")
        lines.append(f"  try:        kubectl --kubeconfig {kubeconfig} -n "
                     f"{settings.namespace} get pods")
    lines.append(f"  health:     airbox status --name {settings.name}")
    lines.append(f"  logs:       airbox logs --name {settings.name}")
    if ctx.routing is not None:
        from airbox.controlplane.registration import saved_registration
        from airbox.ops.workspaces import last_screen

        record = saved_registration(ctx.state) or {}
        lines.extend(last_screen(ctx.routing, settings.name, record.get("dataplaneId")))
    return lines


def run_install(ctx: Context) -> None:
    progress = Progress(ctx.state.progress)
    progress.set("chart", {"version": ctx.settings.chart.version})
    execute(steps(), ctx, ctx.term, progress)
    progress.set("installed", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def install_command(
    *,
    answers_file: Path | None,
    flags: dict[str, Any],
    assume_yes: bool,
    verbose: bool,
    dry_run: bool,
    output_dir: Path | None,
    ignore_preflight_failures: bool,
    preload_images: bool,
    interactive: bool,
    term: Terminal | None = None,
    force_route: bool = False,
    reconfigure: bool = False,
) -> int:
    from airbox.config.gather import Inputs, forget_kept, gather, save

    term = term or Terminal(verbose=verbose)
    bundle_flag = str(flags.get("bundle") or "")
    checked: dict[str, Manifest] = {}
    if bundle_flag and not dry_run:
        # Every byte of the bundle, before anything else: a damaged one is exit 2 naming
        # the item, with nothing created (no state directory, no question asked).
        checked[bundle_flag] = _check_bundle(Path(bundle_flag), term)
    options = Options(dry_run, output_dir, assume_yes, ignore_preflight_failures, verbose,
                      preload_images, interactive, force_route)
    prompter = Prompter() if interactive else None
    early: dict[str, Any] = {}

    def preflight_first(known: dict[str, Any]) -> None:
        # The machine check takes about a second: before the questions, so a machine that
        # cannot work is found before anything is typed (a dry run checks nothing).
        from airbox.installed import use_proxy_answers

        # The interview's credential checks go through the proxy too.
        use_proxy_answers(known)
        if dry_run:
            return
        from airbox.ops.preflight.command import before_questions

        early["report"] = before_questions(
            known, term=term, ignore_failures=ignore_preflight_failures,
            assume_yes=assume_yes, prompter=prompter)

    check = None
    unchecked: dict[str, str] = {}
    if interactive:
        from airbox.controlplane.credentials import check_answers_why

        def check(root: str, answers: Mapping[str, Any]) -> Refusal | None:
            refusal, why = check_answers_why(root, answers)
            if why is None:
                unchecked.pop(root, None)
                return refusal
            unchecked[root] = why
            # Saying nothing would read as "accepted": the user must know, and when.
            later = ("when airbox registers the data plane" if root == "registration"
                     else "again when the install starts")
            assert prompter is not None
            prompter.note(f"! {CREDENTIALS_WHAT[root]} credentials not checked: {why}. "
                          f"airbox checks them {later}, before it builds anything",
                          style="fg:ansiyellow")
            return None
    answers, settings = gather(
        Inputs(answers_file, flags, interactive, reconfigure=reconfigure, review=interactive),
        prompter=prompter, check_credentials=check, say=term.info,
        before_questions=preflight_first)
    if "dataPlane" in unchecked:
        options = dataclasses.replace(options, recheck_credentials=True)
    from airbox.installed import use_proxy

    use_proxy(settings)
    state = StateDir.for_name(settings.name)
    manifest: Manifest | None = None
    if settings.bundle is not None:
        from airbox.ops import bundled

        path = Path(settings.bundle)
        manifest = (checked.get(bundle_flag) or (
            bundled.read(path, full=False) if dry_run else _check_bundle(path, term)))
        settings = bundled.apply(settings, answers, manifest, state,
                                 chart_version=flags.get("chart_version"))
    if dry_run:
        files = Generated(dry_run_dir(state, output_dir))
        ctx = Context(settings, answers, state, files, term, options, bundle=manifest)
        planned = plan_dry_run(ctx)
        term.print(f"Plan for data plane {settings.name} "
                   + (f"(kind cluster {settings.cluster_name}):" if settings.target.is_kind
                      else f"(existing cluster, context {settings.target.kube_context}):"))
        term.print(render_plan(planned))
        term.info(f"Wrote {', '.join(p.name for p in _written(files))} to {files.directory}")
        term.info("Nothing was installed (dry run).")
        return 0

    ensure_private_dir(state.root)
    # One command at a time changes a data plane (a second install would delete this
    # one's half-made cluster, or register a second data plane of the same name).
    with dataplane_lock(state, "install"):
        runlog.start(state.logs, "install")
        runlog.logger().info("airbox install %s", settings.name)
        save(state, answers)
        forget_kept()
        # Offline, nothing is downloaded: the tools come from the bundle (or are there).
        tools = Toolchain(offline=manifest is not None)
        runner = Runner(tools, echo=term.debug if verbose else None)
        ctx = Context(settings, answers, state, Generated(state.root), term, options,
                      runner=runner, tools=tools, prompter=prompter, bundle=manifest,
                      early_preflight=early.get("report"))
        run_install(ctx)
    for text in next_steps(ctx):
        term.print(text)
    routed = ctx.routing is not None and bool(ctx.routing.workspaces)
    if interactive and routed and ctx.prompter is not None and ctx.prompter.confirm(
            "Run a test sync through the data plane now (airbox verify: a throwaway "
            "faker → dev-null connection, deleted afterwards)?", default=False):
        from airbox.ops.verify import verify_command

        return verify_command(name=settings.name, workspace=None, connection=None, keep=False,
                              timeout="15m", as_json=False, verbose=verbose, term=term)
    return 0


def _check_bundle(path: Path, term: Terminal) -> Manifest:
    """The bundle verified (a streaming pass over every byte, with progress)."""
    from airbox.ops import bundled

    with term.step(f"Check the offline bundle {path}") as line:
        manifest = bundled.read(path.expanduser().absolute(), full=True,
                                progress=line.update)
        line.update(f"{len(manifest.items)} items intact (chart {manifest.chart_version}, "
                    f"kind {manifest.kind_version})")
    return manifest


def dry_run_dir(state: StateDir, output_dir: Path | None) -> Path:
    """Where a dry run writes: ``--output-dir``, else the state directory — but never over
    the files an installed data plane runs from (its own ``dry-run/`` folder then)."""
    if output_dir is not None:
        return usable_dir(output_dir.absolute(), "--output-dir")
    if state.exists():
        return (state.root / DRY_RUN_DIR).absolute()
    return state.root.absolute()


def _written(files: Generated) -> list[Path]:
    written = (files.values, files.secret, files.pull_secret, files.kind_config,
               files.registry_hosts, files.registry_ca, files.storage, files.job_proxy,
               files.plan)
    return [p for p in written if p.exists()]
