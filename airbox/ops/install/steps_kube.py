"""Steps that put the data plane's objects into Kubernetes: its namespace, the Secret,
the job pods' proxy policy and the local object store."""

from __future__ import annotations

import json

from airbox.cluster import commands
from airbox.errors import ToolError
from airbox.fsutil import read_json
from airbox.ops.install.context import Context
from airbox.ops.install.generate import (
    RESTART_LAUNCHER,
    apply_documents,
    save_store_pair,
    saved_store_pair,
    settle_store_credentials,
)
from airbox.ops.pipeline import Progress, Step
from airbox.redact import REDACTOR
from airbox.render import jobproxy, manifests
from airbox.ui import StepLine


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
            check=False,
            timeout=30,
        )
        return "exists" if result.ok else None

    def run(self, ctx: Context, line: StepLine) -> None:
        result = ctx.runner.run(
            commands.kubectl_apply_stdin(ctx.kube),
            stdin=apply_documents(manifests.namespace_manifest(ctx.settings)),
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
            PROGRESS_KEY, {"name": jobproxy.object_name(ctx.settings)} if applied else {}
        )

    def applies(self, ctx: Context) -> bool:
        return jobproxy.wanted(ctx.settings) or (not ctx.options.dry_run and self._applied(ctx))

    def describe(self, ctx: Context) -> str:
        if jobproxy.wanted(ctx.settings):
            return self.title
        return "Remove the job pods' proxy policy (no proxy any more)"

    def commands(self, ctx: Context) -> list[list[str]]:
        name = jobproxy.object_name(ctx.settings)
        if not jobproxy.wanted(ctx.settings):
            return [
                ctx.kube.kubectl("delete", resource, name, "--ignore-not-found")
                for resource in (jobproxy.BINDING_RESOURCE, jobproxy.POLICY_RESOURCE)
            ]
        return [
            ctx.kube.kubectl("get", "--raw", f"/apis/{jobproxy.API_VERSION}"),
            commands.kubectl_apply_stdin(ctx.kube),
        ]

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
            ctx.kube.kubectl(
                "--namespace",
                ns,
                "rollout",
                "status",
                f"deployment/{manifests.LOCAL_STORE}",
                "--timeout=180s",
            ),
            ctx.kube.kubectl(
                "--namespace", ns, "wait", "--for=condition=complete", job, "--timeout=180s"
            ),
        ]

    def commands(self, ctx: Context) -> list[list[str]]:
        return self._argv(ctx)

    def _running_pair(self, ctx: Context) -> str | None:
        """The fingerprint of the pair the store's pod template is marked with; "" for a
        store without the mark (an older airbox made it), None when there is no store."""
        result = ctx.runner.run(
            ctx.kube.kubectl(
                "--namespace",
                ctx.settings.namespace,
                "get",
                "deployment",
                manifests.LOCAL_STORE,
                "-o",
                "json",
            ),
            check=False,
            timeout=30,
        )
        if not result.ok:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise ToolError(
                f"reading the deployment {manifests.LOCAL_STORE} failed",
                command=REDACTOR.mask_argv(result.argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )
        template = (json.loads(result.stdout or "{}").get("spec") or {}).get("template") or {}
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        return str(annotations.get(manifests.STORE_CREDENTIALS_ANNOTATION) or "")

    def run(self, ctx: Context, line: StepLine) -> None:
        delete, apply, rollout, wait = self._argv(ctx)
        pair = saved_store_pair(ctx.state)
        running = self._running_pair(ctx)
        if (
            pair is not None
            and running is not None
            and running != (manifests.credentials_fingerprint(*pair))
        ):
            # MinIO reads its pair only when it starts, the launcher too: both restart
            # (the store first). Recorded, so an interrupted run still restarts the
            # launcher next time.
            save_store_pair(ctx.state, pair, **{RESTART_LAUNCHER: True})
            line.update("the store's credentials changed: restarting it")
        ctx.runner.run(delete, timeout=120, error="removing the old bucket Job failed")
        ctx.runner.run(
            apply,
            stdin=ctx.files.local_store.read_text(encoding="utf-8"),
            timeout=60,
            error="applying the local object store failed",
        )
        line.update(f"waiting for {manifests.LOCAL_STORE} to be ready")
        hint = (
            f"`airbox status --name {ctx.settings.name}` shows the pod's problem. A "
            "cluster created before airbox ran the store lacks the data directory "
            f"({manifests.LOCAL_STORE_NODE_PATH}): re-create it with `kind delete cluster "
            f"--name {ctx.settings.cluster_name}`, then `airbox install` again"
        )
        ctx.runner.run(
            rollout, timeout=200, error="the local object store did not start", hint=hint
        )
        line.update(f"creating the bucket {manifests.LOCAL_STORE_BUCKET}")
        ctx.runner.run(wait, timeout=200, error="creating the storage bucket failed", hint=hint)
        self._restart_launcher_if_due(ctx, line)
        line.update(
            f"{manifests.local_store_endpoint(ctx.settings)}, bucket "
            f"{manifests.LOCAL_STORE_BUCKET}, data in {ctx.state.storage_data}"
        )

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
        result = ctx.runner.run(
            ctx.kube.kubectl(
                "--namespace",
                ctx.settings.namespace,
                "rollout",
                "restart",
                f"deployment/{deployment}",
            ),
            check=False,
            timeout=60,
        )
        if not result.ok and not ("NotFound" in result.stderr or "not found" in result.stderr):
            raise ToolError(
                "restarting the launcher with the store's new credentials failed",
                command=REDACTOR.mask_argv(result.argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )
        if result.ok:
            line.update(f"restarted the launcher (deployment/{deployment}) with them")
        pair = saved_store_pair(ctx.state)
        if pair is not None:
            save_store_pair(ctx.state, pair)
