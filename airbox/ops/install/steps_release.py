"""Steps around the Helm release: check the chart against the Secret, install or upgrade
it (recovering a release Helm left pending, rolling back a failed upgrade), verify."""

from __future__ import annotations

import json
import threading

from airbox import runlog, versions
from airbox.cluster import commands, kube
from airbox.errors import AirboxError, ClusterError, ControlPlaneError, ToolError
from airbox.ops.install.context import Context
from airbox.ops.pipeline import Step
from airbox.redact import REDACTOR
from airbox.render import chartcheck
from airbox.ui import StepLine


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
            problems.append(
                f"the chart renders no Deployment {deployment!r} (it renders "
                f"{', '.join(chartcheck.deployments(docs)) or 'none'})"
            )
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
        return (
            f"helm upgrade --install {ctx.settings.release} "
            f"({versions.CHART_NAME} {ctx.settings.chart.version})"
        )

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
        return [
            "the failed first install is left in place so `airbox status` and "
            "`airbox logs` can show why; the next `airbox install` replaces it"
        ]
    line.update(f"rolling back to revision {previous}")
    result = ctx.runner.run(
        commands.helm_rollback(ctx.kube, ctx.settings, previous), check=False, timeout=360
    )
    if result.ok:
        return [f"rolled back to revision {previous}: the previous settings run again"]
    return [f"rolling back to revision {previous} failed too: {result.stderr.strip()[-200:]}"]


def recover_pending(ctx: Context, line: StepLine) -> int | None:
    """Clear a release Helm left "pending-*" (an interrupted run), like abctl does.

    Returns the newest revision that was deployed, to roll back to if the upgrade fails.
    """
    result = ctx.runner.run(commands.helm_history(ctx.kube, ctx.settings), check=False, timeout=60)
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
        ctx.runner.run(
            commands.helm_rollback(ctx.kube, ctx.settings, last_good),
            timeout=360,
            error="rolling back the stuck release failed",
        )
        return last_good
    line.update(f"release stuck in {status}; removing the unfinished install")
    ctx.runner.run(
        commands.helm_uninstall(ctx.kube, ctx.settings),
        timeout=360,
        error="removing the stuck release failed",
    )
    return None


def _watch(ctx: Context, line: StepLine, stop: threading.Event) -> None:
    """While Helm waits, say what the cluster is doing (polling with backoff)."""
    delay = 1.0
    while not stop.wait(delay):
        try:
            pod_list = kube.pods(
                ctx.runner,
                ctx.kube,
                ctx.settings.namespace,
                kube.release_selector(ctx.settings.release, ctx.settings.values),
            )
            events = kube.warning_events(ctx.runner, ctx.kube, ctx.settings.namespace)
            line.update(kube.activity(pod_list, events))
        except (AirboxError, ValueError):
            pass
        delay = min(delay * 1.5, 5.0)


def _explain_release_failure(ctx: Context, exc: ToolError) -> ClusterError:
    details = list(exc.details)
    hint = "fix the cause, then run `airbox install` again (it resumes); `airbox status` explains"
    try:
        pod_list = kube.pods(
            ctx.runner,
            ctx.kube,
            ctx.settings.namespace,
            kube.release_selector(ctx.settings.release, ctx.settings.values),
        )
        healths = [kube.pod_health(pod) for pod in pod_list]
        details += [f"pod {h.name}: {h.problem}" for h in healths if h.problem]
        # The hint follows the pod closest to the root cause, as status's verdict does.
        worst = kube.worst(healths)
        trouble = worst.trouble if worst is not None else None
        if trouble == "image" and ctx.bundle is not None:
            hint = (
                "an image is not in the kind node and nothing can be pulled "
                "offline: make the bundle with it (the same values: image "
                "overrides), `airbox bundle load` it, then re-run"
            )
        elif trouble == "image":
            hint = (
                "the data plane image could not be pulled: check egress to Docker "
                "Hub (registry-1.docker.io) and its rate limit, then re-run"
            )
        elif trouble == "config":
            hint = "a Secret key is missing; re-run `airbox install` to re-apply it"
        elif trouble == "crash-loop":
            hint = (
                "the launcher keeps crashing: read `airbox logs`, fix the settings "
                "it complains about, then re-run `airbox install`"
            )
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
        ctx.runner.run(
            commands.kubectl_rollout_status(ctx.kube, ctx.settings),
            timeout=150,
            error="the data plane deployment is not available",
        )
        result = ctx.runner.run(
            commands.kubectl_launcher_logs(ctx.kube, ctx.settings), timeout=60, check=False
        )
        failures = [
            text
            for text in result.stdout.splitlines()
            if any(marker in text.lower() for marker in kube.AUTH_FAILURE_MARKERS)
        ]
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
