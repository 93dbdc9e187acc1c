"""Installing from an offline bundle: what install, upgrade and ``bundle load`` take from it.

The bundle (``airbox bundle create``, ``airbox/offline/``) replaces the network: the
images are loaded into Docker from it (then into the kind node, as pulled ones are), the
chart is unpacked into the data plane's state directory (``bundle/charts/``) and
installed from there like a local ``chart.source``, and the pinned kind/helm/kubectl are
placed where the toolchain looks (``$AIRBOX_HOME/bin``), each checked against the SHA-256
this airbox pins. Only the control plane is contacted.

Before anything changes, the bundle is verified (every byte) and matched against what
this airbox runs: the kind version and node image it pins, the chart version asked for
(the bundle's is used when none is: a bundle is made for one chart version), and every
image the install needs (the chart's appVersion, the values' image overrides, the local
object store's image).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox import runlog, versions
from airbox.config.settings import ChartRef, Settings
from airbox.errors import InvalidSettings, Problem
from airbox.offline.manifest import local_name
from airbox.paths import StateDir

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost
    from airbox.offline.manifest import Manifest

# Under the data plane's state directory: the unpacked chart and binaries.
UNPACK_DIR = "bundle"


def unpack_dir(state: StateDir) -> Path:
    return state.root / UNPACK_DIR


def read(path: Path, *, full: bool, progress: Callable[[str], None] | None = None) -> Manifest:
    """The bundle's manifest; ``full``: every member checked too (a streaming pass).

    A damaged bundle is ``BundleDamaged`` (exit 2) naming the item."""
    from airbox.offline import archive

    return archive.verify(path, progress) if full else archive.read_manifest(path)


def chart_path(manifest: Manifest, state: StateDir) -> Path | None:
    item = next((i for i in manifest.items if i.kind == "chart"), None)
    return None if item is None else unpack_dir(state) / "charts" / Path(item.path).name


def node_image(cgroup_v1: bool) -> str:
    """The node image kind runs: the pinned one, by the name a load gives it."""
    return local_name(versions.node_image(cgroup_v1=cgroup_v1))


def images_needed(settings: Settings, manifest: Manifest) -> list[str]:
    """What the install runs from the bundle's chart (its appVersion, the values' image
    overrides) and, when airbox runs it, the local object store."""
    from airbox.config import chart
    from airbox.render import manifests

    found = chart.images(manifests.helm_values(settings), manifest.app_version)
    if settings.runs_local_store:
        found.append(versions.MINIO_IMAGE)
    return found


def apply(
    settings: Settings,
    answers: dict[str, Any],
    manifest: Manifest,
    state: StateDir,
    *,
    chart_version: str | None,
) -> Settings:
    """The settings with the bundle's chart (its version saved in ``answers``); exit 2
    listing every reason the bundle cannot serve them."""
    problems = compatibility(settings, manifest, chart_version=chart_version)
    if problems:
        raise InvalidSettings(problems, source=f"the bundle {settings.bundle}")
    found = chart_path(manifest, state)
    assert found is not None  # compatibility() requires a chart
    answers.setdefault("chart", {})["version"] = manifest.chart_version
    return dataclasses.replace(settings, chart=ChartRef(manifest.chart_version, str(found)))


def compatibility(
    settings: Settings,
    manifest: Manifest,
    *,
    chart_version: str | None,
    docker: DockerHost | None = None,
    cgroup_v1: bool | None = None,
) -> list[Problem]:
    """Why this bundle cannot install these settings with this airbox (both sides named)."""
    from airbox.cluster.dockerhost import host_uses_cgroup_v1

    problems: list[Problem] = []
    make = "make one with this airbox: `airbox bundle create` on a connected machine"
    if manifest.kind_version != versions.KIND_VERSION:
        problems.append(
            Problem(
                "bundle",
                f"it carries kind {manifest.kind_version}; this airbox runs kind "
                f"{versions.KIND_VERSION}",
                make,
            )
        )
    if cgroup_v1 is None:
        cgroup_v1 = host_uses_cgroup_v1()
    wanted = node_image(cgroup_v1)
    if local_name(manifest.node_image) != wanted:
        problems.append(
            Problem(
                "bundle",
                f"it carries the node image {local_name(manifest.node_image)}; "
                f"this airbox runs {wanted} on this machine (cgroup "
                f"v{1 if cgroup_v1 else 2})",
                make + " of the same cgroup version",
            )
        )
    if not any(item.kind == "chart" for item in manifest.items):
        problems.append(Problem("bundle", f"it carries no {versions.CHART_NAME} chart", make))
    if chart_version and chart_version != manifest.chart_version:
        problems.append(
            Problem(
                "chart.version",
                f"{chart_version} was asked for; the bundle carries chart {manifest.chart_version}",
                "leave the chart version out (the bundle's is installed), or make a bundle "
                f"of {chart_version}: `airbox bundle create --chart-version {chart_version}`",
            )
        )
    carried = {local_name(ref) for ref in manifest.images()}
    missing = [
        ref
        for ref in images_needed(settings, manifest)
        if ref not in carried and not (docker is not None and docker.has_image(ref))
    ]
    if missing:
        problems.append(
            Problem(
                "bundle",
                "it lacks images the data plane runs: " + ", ".join(missing),
                "make the bundle with the same values (image overrides), or leave them out",
            )
        )
    return problems


# --------------------------------------------------------------------------- the steps


def unpacked(
    settings: Settings, manifest: Manifest, state: StateDir, docker: DockerHost
) -> str | None:
    """Why unpacking is not needed (every image in Docker, the chart and the tools in
    place); None when it is."""
    found = chart_path(manifest, state)
    if found is None or not found.is_file():
        return None
    if any(not docker.has_image(local_name(ref)) for ref in manifest.images()):
        return None
    if any(_tool_due(item.name, item.sha256) for item in manifest.items if item.kind == "binary"):
        return None
    return "every image in Docker, the chart and the tools in place"


def _tool_due(tool: str, sha256: str) -> bool:
    """The bundle's ``tool`` is still to be placed (not overridden, not placed yet)."""
    from airbox.cluster import toolchain

    if os.environ.get(f"AIRBOX_{tool.upper()}"):
        return False
    pinned = toolchain.pinned_binary_sha256(tool)
    if pinned is not None and pinned != sha256:
        return False  # refused (said when it was unpacked): never placed
    return not toolchain.pinned_path(tool).is_file()


def unpack(
    settings: Settings,
    manifest: Manifest,
    state: StateDir,
    docker: DockerHost,
    progress: Callable[[str], None],
    warn: Callable[[str], None],
) -> list[str]:
    """Load the images Docker lacks, unpack the chart, place the tools; what was done.

    A re-run after an interruption finishes the job (what is in place is skipped)."""
    from airbox.cluster import toolchain
    from airbox.offline import archive

    assert settings.bundle is not None
    before = {ref for ref in manifest.images() if docker.has_image(local_name(ref))}
    result = archive.unpack(
        Path(settings.bundle), into=unpack_dir(state), docker=docker, progress=progress
    )
    loaded = [ref for ref in manifest.images() if ref not in before]
    done = [
        f"{len(loaded)} image(s) loaded into Docker" if loaded else "every image already in Docker"
    ]
    sha = {item.name: item.sha256 for item in manifest.items if item.kind == "binary"}
    placed: list[str] = []
    for tool, path in sorted(result.binaries.items()):
        if os.environ.get(f"AIRBOX_{tool.upper()}"):
            runlog.logger().info("bundle: %s not placed, AIRBOX_%s is set", tool, tool.upper())
            continue
        pinned = toolchain.pinned_binary_sha256(tool)
        if pinned is not None and pinned != sha[tool]:
            # Made with an AIRBOX_<TOOL> override, or by another airbox: not the binary
            # this airbox verified when it downloaded it.
            warn(
                f"the bundle's {tool} is not the {tool} this airbox pins (its SHA-256 is "
                f"{sha[tool][:12]}…, the pin {pinned[:12]}…): not used"
            )
            continue
        if toolchain.pinned_path(tool).is_file():
            continue
        toolchain.place(tool, path, sha[tool])
        placed.append(tool)
    if placed:
        done.append("placed " + ", ".join(placed))
    done.append(f"chart {manifest.chart_name} {manifest.chart_version}")
    return done


def load_into_node(runner: Any, settings: Settings, refs: list[str]) -> None:
    """``kind load docker-image``: the images, from Docker into the kind node."""
    from airbox.cluster import commands

    if refs:
        runner.run(
            commands.kind_load(settings, refs),
            timeout=900,
            error="loading the bundle's images into the kind node failed",
        )


# ------------------------------------------------------------------------ bundle load


def load_command(path: Path, *, name: str | None, verbose: bool = False, term: Any = None) -> int:
    """``airbox bundle load FILE``: a bundle's images into an installed data plane's kind
    node (Docker first, then ``kind load``): the way to add a connector offline."""
    from airbox.cluster.dockerhost import DockerHost
    from airbox.errors import UsageError
    from airbox.installed import Installed
    from airbox.offline import archive
    from airbox.ops.session import Session

    def kind_only(inst: Installed) -> None:
        if not inst.settings.target.is_kind:
            raise UsageError(
                f"data plane {inst.name} runs in the existing cluster "
                f"{inst.settings.target.kube_context}: airbox loads images only into the kind "
                "cluster it makes",
                hint="push the images to the registry that cluster pulls from",
            )

    path = path.expanduser().absolute()
    with Session.acting_on(
        name,
        "bundle load",
        "install it first: airbox install --bundle FILE",
        needs_cluster=True,
        check=kind_only,
        verbose=verbose,
        term=term,
    ) as run:
        inst, term = run.inst, run.term
        docker = DockerHost.connect(timeout=60)
        kinds = ("image", "connector")
        with term.step(f"Load the images of {path} into Docker") as line:
            # Every byte checked first: a damaged bundle changes nothing (exit 2).
            result = archive.unpack(
                path, into=unpack_dir(inst.state), docker=docker, progress=line.update, kinds=kinds
            )
            refs = [local_name(ref) for ref in result.manifest.images(*kinds)]
            line.update(f"{len(refs)} image(s) in Docker")
        with term.step(f"Load them into the node {inst.settings.node_container}") as line:
            load_into_node(run.runner, inst.settings, refs)
            line.update(", ".join(refs) if refs else "the bundle carries no image to load")
    connectors = [local_name(ref) for ref in result.manifest.images("connector")]
    term.print(
        f"Loaded into data plane {inst.name}: {len(refs)} image(s)"
        + (f"; connectors: {', '.join(connectors)}" if connectors else "")
        + "."
    )
    return 0
