"""What ``airbox upgrade`` would change, read and never written: the ``Plan``.

The chart version, the rendered manifest's changes (``helm get manifest`` against ``helm
template`` of the new version with the same settings), the images to pull, whether the
kind cluster must be re-created (a new Kubernetes version, or a kind config a running
cluster cannot take), and the record of an upgrade that did not finish. ``upgrade`` shows
the plan and applies it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from airbox import versions
from airbox.cluster import commands
from airbox.cluster.runner import Runner
from airbox.config.answers import dump_yaml
from airbox.config.settings import Settings
from airbox.errors import ClusterError, UsageError
from airbox.fsutil import PUBLIC_FILE, atomic_write
from airbox.installed import Installed
from airbox.render import manifests

if TYPE_CHECKING:
    from airbox.offline.manifest import Manifest


@dataclass
class Plan:
    settings: Settings
    answers: dict[str, Any]
    chart_from: str | None
    chart_to: str
    kubernetes_from: str | None = None
    kubernetes_to: str | None = None
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    pulls: list[str] = field(default_factory=list)
    # Of ``pulls``: the image -> the reference pulled by digest and tagged with its name
    # (the node image from a private registry, for a re-created cluster).
    pinned: dict[str, str] = field(default_factory=dict)
    revision: int | None = None
    values_changed: bool = False
    # The release's newest revision is not "deployed" (pending-upgrade, failed, ...): an
    # install or upgrade did not finish.
    unfinished: str | None = None
    # The record of an earlier `airbox upgrade` that was stopped or failed (progress.json).
    resuming: dict[str, Any] | None = None
    # Offline: the bundle the chart, images and tools come from (nothing is pulled).
    bundle: Manifest | None = None
    # Why the kind cluster must be made again with the same Kubernetes (its kind config
    # changed in a way a running cluster cannot take), or None.
    reconfigure: str | None = None

    @property
    def moves_kubernetes(self) -> bool:
        return self.kubernetes_to is not None and self.kubernetes_from != self.kubernetes_to

    @property
    def recreate(self) -> bool:
        return self.moves_kubernetes or self.reconfigure is not None

    @property
    def nothing(self) -> bool:
        # Not the manifest diff: `helm template` renders what a first install would
        # (revision 1, IsInstall), so it never quite matches a deployed release.
        return (
            self.chart_from == self.chart_to
            and not self.recreate
            and not self.values_changed
            and not self.unfinished
            and not self.resuming
        )


def _objects(text: str) -> dict[str, dict[str, Any]]:
    """Rendered documents by ``Kind/name``."""
    found: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text or ""):
        if isinstance(doc, dict) and doc.get("kind"):
            name = (doc.get("metadata") or {}).get("name") or ""
            found[f"{doc['kind']}/{name}"] = doc
    return found


def manifest_diff(old_text: str, new_text: str, plan: Plan) -> None:
    old, new = _objects(old_text), _objects(new_text)
    plan.added = sorted(set(new) - set(old))
    plan.removed = sorted(set(old) - set(new))
    for key in sorted(set(old) | set(new)):
        before = yaml.safe_dump(old[key], sort_keys=True) if key in old else ""
        after = yaml.safe_dump(new[key], sort_keys=True) if key in new else ""
        if before == after:
            continue
        if key in old and key in new:
            plan.changed.append(key)
        plan.diff.extend(
            difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                f"{key} (now)",
                f"{key} (after)",
                lineterm="",
                n=2,
            )
        )


def _images_in(text: str) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str) and value not in found:
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for doc in yaml.safe_load_all(text or ""):
        walk(doc)
    return found


def _current_release(runner: Runner, inst: Installed) -> dict[str, Any] | None:
    result = runner.run(commands.helm_status(inst.kube, inst.settings), check=False, timeout=30)
    if not result.ok:
        return None
    data: dict[str, Any] = json.loads(result.stdout or "{}")
    return data


def _running_kubernetes(runner: Runner, inst: Installed) -> str | None:
    """The kubelet version of the cluster's nodes; None when no cluster answers."""
    result = runner.run(inst.kube.kubectl("get", "nodes", "-o", "json"), check=False, timeout=30)
    if not result.ok:
        return None
    items = json.loads(result.stdout or "{}").get("items", [])
    kubelets = sorted(
        {
            str(((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")
            for n in items
        }
        - {""}
    )
    return kubelets[0] if kubelets else None


def make_plan(
    inst: Installed,
    runner: Runner,
    chart_version: str | None,
    chart_source: str | None,
    bundle: Path | None = None,
) -> Plan:
    """Everything the upgrade would change; reads, never writes."""
    with tempfile.TemporaryDirectory(prefix="airbox-upgrade-") as tmp:
        return _make_plan(inst, runner, chart_version, chart_source, bundle, Path(tmp))


def _make_plan(
    inst: Installed,
    runner: Runner,
    chart_version: str | None,
    chart_source: str | None,
    bundle: Path | None,
    tmp: Path,
) -> Plan:
    from airbox.cluster.dockerhost import DockerHost

    answers = copy.deepcopy(inst.answers)
    chart = dict(answers.get("chart") or {})
    chart["version"] = chart_version or versions.CHART_VERSION
    if chart_source:
        local = Path(chart_source).expanduser()
        chart["source"] = str(local.absolute()) if local.exists() else chart_source
    answers["chart"] = chart
    # Offline (--bundle, or the bundle the data plane was installed from): the bundle's
    # chart, verified, unpacked for this plan into a temporary directory.
    offline = (
        bundle.expanduser().absolute()
        if bundle is not None
        else (Path(inst.settings.bundle) if inst.settings.bundle else None)
    )
    manifest: Manifest | None = None
    render_chart: str | None = None
    if offline is not None:
        from airbox.offline import archive

        if chart_source:
            raise UsageError(
                "--chart cannot go with a bundle: the bundle carries the chart",
                hint="leave --chart out",
            )
        answers["bundle"] = str(offline)
        unpacked = archive.unpack(offline, into=tmp, docker=None, kinds=("chart",))
        manifest = unpacked.manifest
        render_chart = str(unpacked.chart) if unpacked.chart is not None else None
    settings = Settings.from_answers(answers)
    # The saved registration's data plane credentials are not in the answers.
    settings = _with_credentials(settings, inst)
    if manifest is not None:
        from airbox.ops import bundled

        settings = bundled.apply(
            settings, answers, manifest, inst.state, chart_version=chart_version
        )
    resuming = in_flight(inst)
    release = _current_release(runner, inst)
    if release is None and resuming is None:
        raise ClusterError(
            f"the Helm release {inst.settings.release} is not installed",
            hint=f"airbox install --name {inst.name}",
        )
    if release is None:
        # An upgrade stopped while re-creating the cluster: no release to read yet.
        assert resuming is not None
        plan = Plan(settings, answers, resuming.get("chartFrom"), settings.chart.version)
    else:
        meta = (release.get("chart") or {}).get("metadata") or {}
        plan = Plan(
            settings,
            answers,
            meta.get("version"),
            settings.chart.version,
            revision=release.get("version"),
        )
        status = str((release.get("info") or {}).get("status") or "")
        if status != "deployed":
            plan.unfinished = f"revision {plan.revision} is {status or 'in no known state'}"
            # What runs is the last good revision (a rollback goes back to it).
            good = _last_good(runner, inst)
            if good is not None:
                plan.revision, plan.chart_from = good
    plan.resuming = resuming
    plan.bundle = manifest
    if resuming is not None and resuming.get("chartFrom"):
        plan.chart_from = str(resuming["chartFrom"])
    docker = DockerHost.connect(timeout=60) if settings.target.is_kind else None
    if docker is not None:
        cgroup_v1 = str(docker.info().get("CgroupVersion") or "2") == "1"
        plan.kubernetes_from = _running_kubernetes(runner, inst)
        pinned = versions.pinned_kubernetes(cgroup_v1=cgroup_v1)
        # Only forward: a cgroup v1 host pins an older node than a cluster may already run.
        if plan.kubernetes_from is None or versions.older(plan.kubernetes_from, pinned):
            plan.kubernetes_to = pinned
        plan.reconfigure = _kind_config_change(runner, inst, settings, plan)
    current = (
        ""
        if release is None
        else runner.run(
            inst.kube.helm("get", "manifest", settings.release, "--namespace", settings.namespace),
            timeout=60,
            error="reading the release's manifest failed",
        ).stdout
    )
    values = tmp / "values.yaml"
    atomic_write(values, dump_yaml(manifests.helm_values(settings)), mode=PUBLIC_FILE)
    rendering = (
        settings
        if render_chart is None
        else dataclasses.replace(
            settings, chart=dataclasses.replace(settings.chart, source=render_chart)
        )
    )
    rendered = runner.run(
        commands.helm_template(inst.kube, rendering, values),
        timeout=180,
        error=f"rendering chart {settings.chart.version} failed",
        hint="check --chart-version (and --chart) and your network",
    )
    manifest_diff(current, rendered.stdout, plan)
    if release is None:
        plan.values_changed = True
    else:
        deployed = runner.run(
            commands.helm_get_values(inst.kube, settings),
            timeout=60,
            error="reading the release's values failed",
        )
        plan.values_changed = (
            json.loads(deployed.stdout or "null") or {}
        ) != manifests.helm_values(settings)
    if docker is not None and manifest is not None:
        from airbox.offline.manifest import local_name
        from airbox.ops import bundled

        # Every image the install runs must be in the bundle (or in Docker already).
        problems = bundled.compatibility(
            settings, manifest, chart_version=chart_version, docker=docker, cgroup_v1=cgroup_v1
        )
        if problems:
            from airbox.errors import InvalidSettings

            raise InvalidSettings(problems, source=f"the bundle {offline}")
        plan.pulls = [
            local_name(ref) for ref in manifest.images() if not docker.has_image(local_name(ref))
        ]
    elif docker is not None:
        from airbox.config import chart as chartinfo

        # What install preloads (the chart's appVersion and image overrides), then any
        # other image the new manifests name.
        app_version = chartinfo.app_version(settings.chart.version, settings.chart.source)
        wanted = chartinfo.images(manifests.helm_values(settings), app_version)
        wanted += [i for i in _images_in(rendered.stdout) if i not in wanted]
        plan.pulls = [image for image in wanted if not docker.has_image(image)]
        from airbox.ops import install

        if plan.recreate and install.pulls_node(settings):
            # The new node image from the registry, before the old cluster is deleted.
            ref, tag = install.node_pull(settings, cgroup_v1)
            if not install.has_pinned(docker, tag, ref):
                plan.pulls.insert(0, tag)
                plan.pinned[tag] = ref
    return plan


def _kind_config_change(
    runner: Runner, inst: Installed, settings: Settings, plan: Plan
) -> str | None:
    """A running cluster made without what the settings now need from kind's config: a
    proxy needs the MutatingAdmissionPolicy API (feature gate and runtime config), which
    only a new cluster gets."""
    from airbox.ops import jobproxy as ops
    from airbox.render import jobproxy

    if plan.moves_kubernetes or plan.kubernetes_from is None or not jobproxy.wanted(settings):
        return None
    if ops.served_api(runner, inst.kube) is not None:
        return None
    return (
        f"the proxy needs the {jobproxy.FEATURE_GATE} API, which the cluster was "
        "created without (kind's featureGates and runtimeConfig)"
    )


def _last_good(runner: Runner, inst: Installed) -> tuple[int, str] | None:
    """The newest revision that was deployed, and its chart version."""
    result = runner.run(commands.helm_history(inst.kube, inst.settings), check=False, timeout=60)
    try:
        history = json.loads(result.stdout or "[]") if result.ok else []
    except ValueError:
        return None
    good = [
        h for h in history if isinstance(h, dict) and h.get("status") in ("deployed", "superseded")
    ]
    if not good:
        return None
    chart = str(good[-1].get("chart") or "")
    return int(good[-1]["revision"]), chart.removeprefix(f"{versions.CHART_NAME}-")


def in_flight(inst: Installed) -> dict[str, Any] | None:
    """The record an `airbox upgrade` keeps in progress.json until it has finished."""
    from airbox.ops.pipeline import Progress

    found = Progress(inst.state.progress).load().get("upgrade")
    return found if isinstance(found, dict) and found else None


def _with_credentials(settings: Settings, inst: Installed) -> Settings:
    from airbox.controlplane.registration import with_saved_credentials

    return with_saved_credentials(settings, inst.state)
