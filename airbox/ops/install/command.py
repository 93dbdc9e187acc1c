"""``airbox install``: the steps in order, the dry run's plan, the run and its last
screen."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox import runlog
from airbox.cluster.dockerhost import host_uses_cgroup_v1
from airbox.cluster.runner import Runner
from airbox.cluster.toolchain import Toolchain
from airbox.config.prompts import Prompter, Refusal
from airbox.fsutil import PUBLIC_FILE, ensure_private_dir, usable_dir, write_json
from airbox.lock import dataplane_lock
from airbox.ops.install.context import Context, Generated, Options
from airbox.ops.install.generate import write_generated
from airbox.ops.install.steps_cluster import (
    Cluster,
    ConnectorImages,
    LoadImages,
    NodeRestartPolicy,
    PullImages,
    WriteManifests,
)
from airbox.ops.install.steps_controlplane import (
    CheckCredentials,
    CheckWorkspaces,
    Preflight,
    Register,
    Route,
)
from airbox.ops.install.steps_kube import JobProxy, LocalStore, Namespace, SecretStep
from airbox.ops.install.steps_release import CheckChart, Release, Verify
from airbox.ops.pipeline import Progress, Step, execute, plan
from airbox.paths import StateDir
from airbox.redact import REDACTOR
from airbox.timestamps import utc_stamp
from airbox.ui import Terminal

if TYPE_CHECKING:
    from airbox.offline.manifest import Manifest


DRY_RUN_DIR = "dry-run"
CREDENTIALS_WHAT = {"dataPlane": "The data plane's", "registration": "The Airbyte application's"}


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


def plan_dry_run(ctx: Context) -> list[dict[str, Any]]:
    """Write the generated files and plan.json; run nothing, contact nothing."""
    write_generated(
        ctx.settings, ctx.files, dry_run=True, cgroup_v1=host_uses_cgroup_v1(), state=ctx.state
    )
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
        lines.append(
            f"  try:        kubectl --kubeconfig {kubeconfig} -n {settings.namespace} get pods"
        )
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
    progress.set("installed", utc_stamp())


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
    options = Options(
        dry_run,
        output_dir,
        assume_yes,
        ignore_preflight_failures,
        verbose,
        preload_images,
        interactive,
        force_route,
    )
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
            known,
            term=term,
            ignore_failures=ignore_preflight_failures,
            assume_yes=assume_yes,
            prompter=prompter,
        )

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
            later = (
                "when airbox registers the data plane"
                if root == "registration"
                else "again when the install starts"
            )
            assert prompter is not None
            prompter.note(
                f"! {CREDENTIALS_WHAT[root]} credentials not checked: {why}. "
                f"airbox checks them {later}, before it builds anything",
                style="fg:ansiyellow",
            )
            return None

    answers, settings = gather(
        Inputs(answers_file, flags, interactive, reconfigure=reconfigure, review=interactive),
        prompter=prompter,
        check_credentials=check,
        say=term.info,
        before_questions=preflight_first,
    )
    if "dataPlane" in unchecked:
        options = dataclasses.replace(options, recheck_credentials=True)
    from airbox.installed import use_proxy

    use_proxy(settings)
    state = StateDir.for_name(settings.name)
    manifest: Manifest | None = None
    if settings.bundle is not None:
        from airbox.ops import bundled

        path = Path(settings.bundle)
        manifest = checked.get(bundle_flag) or (
            bundled.read(path, full=False) if dry_run else _check_bundle(path, term)
        )
        settings = bundled.apply(
            settings, answers, manifest, state, chart_version=flags.get("chart_version")
        )
    if dry_run:
        files = Generated(dry_run_dir(state, output_dir))
        ctx = Context(settings, answers, state, files, term, options, bundle=manifest)
        planned = plan_dry_run(ctx)
        term.print(
            f"Plan for data plane {settings.name} "
            + (
                f"(kind cluster {settings.cluster_name}):"
                if settings.target.is_kind
                else f"(existing cluster, context {settings.target.kube_context}):"
            )
        )
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
        ctx = Context(
            settings,
            answers,
            state,
            Generated(state.root),
            term,
            options,
            runner=runner,
            tools=tools,
            prompter=prompter,
            bundle=manifest,
            early_preflight=early.get("report"),
        )
        run_install(ctx)
    for text in next_steps(ctx):
        term.print(text)
    routed = ctx.routing is not None and bool(ctx.routing.workspaces)
    if (
        interactive
        and routed
        and ctx.prompter is not None
        and ctx.prompter.confirm(
            "Run a test sync through the data plane now (airbox verify: a throwaway "
            "faker → dev-null connection, deleted afterwards)?",
            default=False,
        )
    ):
        from airbox.ops.verify import verify_command

        return verify_command(
            name=settings.name,
            workspace=None,
            connection=None,
            keep=False,
            timeout="15m",
            as_json=False,
            verbose=verbose,
            term=term,
        )
    return 0


def _check_bundle(path: Path, term: Terminal) -> Manifest:
    """The bundle verified (a streaming pass over every byte, with progress)."""
    from airbox.ops import bundled

    with term.step(f"Check the offline bundle {path}") as line:
        manifest = bundled.read(path.expanduser().absolute(), full=True, progress=line.update)
        line.update(
            f"{len(manifest.items)} items intact (chart {manifest.chart_version}, "
            f"kind {manifest.kind_version})"
        )
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
    written = (
        files.values,
        files.secret,
        files.pull_secret,
        files.kind_config,
        files.registry_hosts,
        files.registry_ca,
        files.local_store,
        files.job_proxy,
        files.plan,
    )
    return [p for p in written if p.exists()]
