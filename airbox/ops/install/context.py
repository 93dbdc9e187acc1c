"""What every install step works with: the options, where the generated files go, and
the run's typed ``Context``. Depends only downward (settings, paths, the cluster tools)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox import versions
from airbox.cluster import commands
from airbox.cluster.commands import Kube
from airbox.cluster.dockerhost import DockerHost
from airbox.cluster.runner import Runner
from airbox.cluster.toolchain import Toolchain
from airbox.config import chart
from airbox.config.prompts import Prompter
from airbox.config.settings import Settings
from airbox.ops.install.pulls import Pulls
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
from airbox.render import manifests, registry
from airbox.ui import Terminal

if TYPE_CHECKING:
    from airbox.offline.manifest import Manifest
    from airbox.ops.preflight.report import Report
    from airbox.ops.routing import Routing


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
    def local_store(self) -> Path:
        """The local object store's manifests (storage.yaml), when airbox runs it."""
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
            found.append(registry.from_registry(self.settings.images, versions.MINIO_IMAGE))
        return found
