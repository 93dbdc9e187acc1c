"""``airbox upgrade``: move a data plane to a new chart (and Kubernetes) version, with a preview.

First the plan (``upgrade_plan``) — the chart version, the rendered manifest's changes
(``helm get manifest`` against ``helm template`` of the new version with the same
settings), the images to pull, and whether the kind cluster must be re-created for a new
Kubernetes version — then, unless ``--dry-run``: the images are pulled before anything changes,
the cluster is re-created from the saved settings when Kubernetes moves (the state
directory is on the host and stays), and the install pipeline upgrades the release,
rolling back to the last good revision when the upgrade fails.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from airbox import runlog, versions
from airbox.cluster import commands
from airbox.cluster.runner import Runner
from airbox.errors import EXIT_OK, UsageError
from airbox.installed import Installed
from airbox.ops.session import Session
from airbox.ops.upgrade_plan import Plan, make_plan
from airbox.redact import REDACTOR
from airbox.timestamps import utc_stamp
from airbox.ui import Terminal

# A diff longer than this is cut (the full one is in the run log).
DIFF_LINES = 200


def render_plan(inst: Installed, plan: Plan) -> list[str]:
    s = inst.settings
    lines = [f"Upgrade plan for data plane {inst.name}:"]
    if plan.resuming:
        lines.append(
            f"  resuming:    the upgrade started {plan.resuming.get('at')} did not "
            "finish; this run finishes it"
        )
    if plan.unfinished:
        lines.append(
            f"  release:     {plan.unfinished} (an install or upgrade did not "
            "finish): it is rolled back to the last good revision, then upgraded"
        )
    chart = (
        f"{plan.chart_from} (unchanged)"
        if plan.chart_from == plan.chart_to
        else f"{plan.chart_from} -> {plan.chart_to}"
    )
    lines.append(f"  chart:       {versions.CHART_NAME} {chart}")
    if s.target.is_kind:
        if plan.reconfigure:
            lines.append(
                f"  kubernetes:  {plan.kubernetes_from} (unchanged); the kind cluster "
                f"{s.cluster_name} is re-created from the saved settings: "
                f"{plan.reconfigure} (the state directory {inst.state.root} stays)"
            )
        elif plan.recreate:
            lines.append(
                f"  kubernetes:  {plan.kubernetes_from or 'no cluster answers'} -> "
                f"{plan.kubernetes_to}: the "
                f"kind cluster {s.cluster_name} is re-created from the saved settings "
                f"(the state directory {inst.state.root} stays)"
            )
        else:
            lines.append(f"  kubernetes:  {plan.kubernetes_from} (unchanged)")
    lines.append(
        "  values:      "
        + (
            "changed (generated from the saved settings by this airbox)"
            if plan.values_changed
            else "unchanged"
        )
    )
    if plan.bundle is not None:
        lines.append(
            f"  bundle:      {plan.settings.bundle} (chart "
            f"{plan.bundle.chart_version}, {len(plan.bundle.items)} items, verified)"
        )
        lines.append(
            "  images to load from the bundle: " + (", ".join(plan.pulls) if plan.pulls else "none")
        )
    else:
        lines.append("  images to pull: " + (", ".join(plan.pulls) if plan.pulls else "none"))
    lines.append(
        f"  manifest:    {len(plan.changed)} changed, {len(plan.added)} added, "
        f"{len(plan.removed)} removed"
    )
    for title, keys in (
        ("changed", plan.changed),
        ("added", plan.added),
        ("removed", plan.removed),
    ):
        lines.extend(f"    {title}: {key}" for key in keys)
    if plan.diff:
        lines.append("")
        lines.extend(plan.diff[:DIFF_LINES])
        if len(plan.diff) > DIFF_LINES:
            lines.append(f"... {len(plan.diff) - DIFF_LINES} more lines in the run log")
    lines += ["", "Steps:"]
    steps = []
    if plan.bundle is not None:
        steps.append(
            f"load {len(plan.pulls)} image(s), the chart and the tools from the "
            "bundle (before anything changes)"
        )
    elif plan.pulls:
        steps.append(f"pull {len(plan.pulls)} image(s) on this machine (before anything changes)")
    if plan.recreate:
        steps.append(
            f"delete the kind cluster {s.cluster_name}, create it again with "
            f"Kubernetes {plan.kubernetes_to or plan.kubernetes_from}, re-apply the "
            "namespace and Secret"
        )
    steps.append(
        f"helm upgrade --install {s.release} ({versions.CHART_NAME} "
        f"{plan.chart_to})"
        + (
            f"; on failure, roll back to revision {plan.revision}"
            if plan.revision and not plan.recreate
            else ""
        )
    )
    steps.append("verify the launcher runs and authenticates")
    lines.extend(f"  {i}. {text}" for i, text in enumerate(steps, 1))
    return [REDACTOR.mask_all(line) for line in lines]


def upgrade_command(
    *,
    name: str | None,
    chart_version: str | None,
    chart: str | None,
    dry_run: bool,
    verbose: bool = False,
    out: IO[str] | None = None,
    bundle: Path | None = None,
) -> int:
    out = out or sys.stdout

    def given(_: Installed) -> None:
        if chart_version is not None and not chart_version.strip():
            raise UsageError("--chart-version is empty", hint="for example: --chart-version 1.8.1")

    # A dry run reads only: no lock, no run log.
    with Session.acting_on(
        name,
        "upgrade",
        "install it first: airbox install",
        needs_cluster=True,
        check=given,
        lock=not dry_run,
        log=not dry_run,
        verbose=verbose,
    ) as run:
        return _upgrade(run.inst, run.runner, chart_version, chart, dry_run, run.term, out, bundle)


def _upgrade(
    inst: Installed,
    runner: Runner,
    chart_version: str | None,
    chart: str | None,
    dry_run: bool,
    term: Terminal,
    out: IO[str],
    bundle: Path | None = None,
) -> int:
    plan = make_plan(inst, runner, chart_version, chart, bundle)
    runlog.logger().info("upgrade plan\n%s", "\n".join(plan.diff))
    if plan.nothing:
        out.write(
            f"Nothing to upgrade: data plane {inst.name} runs chart {plan.chart_from}"
            + (f" on Kubernetes {plan.kubernetes_from}" if plan.kubernetes_from else "")
            + ", as airbox would install it.\n"
        )
        return EXIT_OK
    out.write("\n".join(render_plan(inst, plan)) + "\n")
    if dry_run:
        out.write("Nothing was changed (dry run).\n")
        return EXIT_OK
    out.flush()
    apply_plan(inst, plan, term)
    kubernetes_from = plan.kubernetes_from or (plan.resuming or {}).get("kubernetesFrom")
    out.write(
        f"Upgraded data plane {inst.name}: chart {plan.chart_from} -> {plan.chart_to}"
        + (
            f", Kubernetes {kubernetes_from} -> {plan.kubernetes_to}"
            if plan.moves_kubernetes and kubernetes_from != plan.kubernetes_to
            else ""
        )
        + (f", kind cluster re-created ({plan.reconfigure})" if plan.reconfigure else "")
        + ".\n"
    )
    return EXIT_OK


# Upgrade's own steps; the install pipeline's follow (``step_names``).
OWN_STEPS = ("pull", "delete-cluster")


def step_names() -> list[str]:
    """Every step an upgrade may run, in order (what a plan does not need is skipped)."""
    from airbox.ops import install

    return [*OWN_STEPS, *(step.name for step in install.steps())]


def apply_plan(inst: Installed, plan: Plan, term: Terminal) -> None:
    """Pull, re-create the cluster if Kubernetes moves, then the install pipeline."""
    from airbox.cluster.dockerhost import DockerHost
    from airbox.cluster.toolchain import Toolchain
    from airbox.config.gather import save
    from airbox.ops import install
    from airbox.ops.pipeline import Progress

    settings = plan.settings
    if plan.bundle is not None:
        from airbox.ops import bundled

        docker = DockerHost.connect(timeout=60)
        with term.step(
            f"Load {len(plan.pulls)} image(s), the chart and the tools from the bundle"
        ) as line:

            def warn(text: str) -> None:
                with line.paused():
                    term.warn(text)

            line.update(
                ", ".join(
                    bundled.unpack(settings, plan.bundle, inst.state, docker, line.update, warn)
                )
            )
    elif plan.pulls:
        docker = DockerHost.connect(timeout=60)
        with term.step(f"Pull {len(plan.pulls)} new image(s)") as line:
            # As install pulls: in parallel, a private registry's with its credentials.
            install.Pulls(
                docker,
                plan.pulls,
                registry=settings.images,
                pinned={**install.PINNED, **plan.pinned},
            ).wait(line)
    # From here on the saved settings name the new version, and progress.json records
    # the upgrade until it has finished: a re-run of `airbox upgrade` finishes the job after
    # a failure, a Ctrl-C or a SIGTERM, even with the cluster half re-created (no release
    # to read) or the release left pending by Helm.
    progress = Progress(inst.state.progress)
    record = dict(plan.resuming or {})
    record.setdefault("at", utc_stamp())
    record.setdefault("chartFrom", plan.chart_from)
    record.setdefault("kubernetesFrom", plan.kubernetes_from)
    record.update(chartTo=plan.chart_to, kubernetesTo=plan.kubernetes_to or plan.kubernetes_from)
    progress.set("upgrade", record)
    save(inst.state, plan.answers)
    tools = Toolchain(allow_download=False, offline=plan.bundle is not None)
    runner = Runner(tools, echo=term.debug if term.verbose else None)
    if plan.recreate:
        with term.step(
            f"Delete the kind cluster {settings.cluster_name} (Kubernetes {plan.kubernetes_from})"
        ) as line:
            runner.run(
                commands.kind_delete(settings, inst.state.kubeconfig),
                timeout=300,
                error=f"deleting the kind cluster {settings.cluster_name} failed",
            )
            line.update("deleted; the state directory stays")
    ctx = install.Context(
        settings,
        plan.answers,
        inst.state,
        install.Generated(inst.state.root),
        term,
        install.Options(assume_yes=True, verbose=term.verbose, preflight=False),
        runner=runner,
        tools=tools,
        bundle=plan.bundle,
    )
    install.run_install(ctx)
    progress.set("upgrade", {})
