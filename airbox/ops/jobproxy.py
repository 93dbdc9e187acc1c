"""The proxy in job pods, on the cluster: is the API served, are airbox's objects there
and as rendered, apply them, remove them. What the objects are: ``airbox.render.jobproxy``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airbox.cluster import commands
from airbox.cluster.commands import Kube
from airbox.cluster.runner import Runner
from airbox.config.settings import Identity, Settings
from airbox.errors import ClusterError, ToolError
from airbox.redact import REDACTOR
from airbox.render import jobproxy as render

if TYPE_CHECKING:
    from airbox.ops.status.report import Check

# progress.json: the names of the objects airbox applied, kept until it removes them
# (so an install after the proxy was removed knows there is something to take away).
PROGRESS_KEY = "jobProxy"
UNSERVED = "doesn't have a resource type"


def served_api(runner: Runner, kube: Kube) -> str | None:
    """The apiVersion (``group/version``) in which the cluster serves both kinds, or None."""
    for api in render.API_VERSIONS:
        result = runner.run(kube.kubectl("get", "--raw", f"/apis/{api}"), check=False, timeout=30)
        if not result.ok:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                continue
            raise ToolError(
                f"asking the cluster whether it serves {api} failed",
                command=REDACTOR.mask_argv(result.argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )
        try:
            names = {
                str(r.get("name")) for r in json.loads(result.stdout or "{}").get("resources") or []
            }
        except (ValueError, AttributeError):
            continue
        if {render.POLICY_RESOURCE, render.BINDING_RESOURCE} <= names:
            return api
    return None


def live_objects(
    runner: Runner, kube: Kube, settings: Identity
) -> dict[str, dict[str, Any] | None] | None:
    """The policy and binding as the cluster has them (None each when absent); None when
    the cluster does not serve the kinds at all."""
    name = render.object_name(settings)
    found: dict[str, dict[str, Any] | None] = {}
    for key, resource in (("policy", render.POLICY_RESOURCE), ("binding", render.BINDING_RESOURCE)):
        result = runner.run(
            kube.kubectl("get", resource, name, "-o", "json", "--ignore-not-found"),
            check=False,
            timeout=30,
        )
        if not result.ok:
            if UNSERVED in result.stderr:
                return None
            raise ToolError(
                f"reading the {resource} {name} failed",
                command=REDACTOR.mask_argv(result.argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )
        found[key] = json.loads(result.stdout) if result.stdout.strip() else None
    return found


def _covers(live: Any, want: Any) -> bool:
    """``live`` holds everything ``want`` says (the API server adds its defaults)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(
            k in live and _covers(live[k], v) for k, v in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(live, list)
            and len(live) == len(want)
            and all(_covers(a, b) for a, b in zip(live, want, strict=True))
        )
    return bool(live == want)


def as_rendered(live: dict[str, dict[str, Any] | None], settings: Settings) -> bool:
    policy, binding = render.for_settings(settings)
    return all(
        obj is not None
        and _covers(obj.get("spec"), want["spec"])
        and _covers((obj.get("metadata") or {}).get("labels"), want["metadata"]["labels"])
        for obj, want in ((live["policy"], policy), (live["binding"], binding))
    )


def missing_api(settings: Settings) -> ClusterError:
    """The cluster cannot carry the proxy into job pods: what to do about it."""
    what = (
        f"MutatingAdmissionPolicy ({render.GROUP}), which gives job pods the proxy "
        "(the workload launcher passes them no proxy settings)"
    )
    if settings.target.is_kind:
        return ClusterError(
            f"the kind cluster {settings.cluster_name} does not serve {what}: it was "
            f"created before the proxy was set, without the feature gate "
            f"{render.FEATURE_GATE}",
            hint=f"`airbox upgrade --name {settings.name}` re-creates the cluster with it "
            "(the state directory and the local object store's data stay)",
        )
    return ClusterError(
        f"the cluster of context {settings.target.kube_context} does not serve {what}",
        details=[
            f"Kubernetes 1.34 and 1.35: kube-apiserver needs --feature-gates="
            f"{render.FEATURE_GATE}=true and --runtime-config={render.API_VERSION}=true",
            "Kubernetes 1.36 and later serve it by default "
            f"({render.GROUP}/v1); before 1.34 there is no usable version",
        ],
        hint="have the cluster's administrator enable it, then run `airbox install` again",
    )


def apply(runner: Runner, kube: Kube, settings: Settings, api_version: str) -> str:
    result = runner.run(
        commands.kubectl_apply_stdin(kube),
        stdin=render.dump(render.for_settings(settings, api_version)),
        timeout=60,
        error="applying the job pods' proxy policy failed",
    )
    return result.stdout.strip()


def remove(runner: Runner, kube: Kube, settings: Identity) -> None:
    """The binding first: a policy without one acts on nothing."""
    name = render.object_name(settings)
    for resource in (render.BINDING_RESOURCE, render.POLICY_RESOURCE):
        result = runner.run(
            kube.kubectl("delete", resource, name, "--ignore-not-found"), check=False, timeout=60
        )
        if not result.ok and UNSERVED not in result.stderr:
            raise ToolError(
                f"deleting the {resource} {name} failed",
                command=REDACTOR.mask_argv(result.argv),
                returncode=result.returncode,
                output_tail=REDACTOR.mask_all(result.stderr[-2000:]),
            )


def manual_removal(kube: Kube, settings: Identity) -> str:
    import shlex

    name = render.object_name(settings)
    base = " ".join(shlex.quote(a) for a in kube.kubectl())
    return (
        f"{base} delete {render.BINDING_RESOURCE} {name}; "
        f"{base} delete {render.POLICY_RESOURCE} {name}"
    )


def judge(
    settings: Settings, live: dict[str, dict[str, Any] | None] | None, error: BaseException | None
) -> Check:
    """``airbox status``'s ``job-proxy``: with a proxy, do job pods get it (the API served,
    the policy and its binding there, as airbox renders them)? ``live``: what
    ``live_objects`` found, or ``error`` why it could not look."""
    from airbox.ops.status.report import Check

    if not render.wanted(settings):
        return Check("job-proxy", "skip", "no proxy: job pods reach the network directly")
    if error is not None:
        reason = error.message if isinstance(error, ToolError) else str(error)
        return Check("job-proxy", "skip", f"could not read the proxy policy: {reason}")
    name = render.object_name(settings)
    fix = f"airbox install --name {settings.name}  (applies them again)"
    if live is None:
        missing = missing_api(settings)
        return Check(
            "job-proxy",
            "fail",
            "job pods get no proxy: " + missing.message,
            list(missing.details),
            next=missing.hint,
        )
    absent = [
        f"{kind} {name} is missing"
        for kind, obj in (
            ("MutatingAdmissionPolicy", live["policy"]),
            ("MutatingAdmissionPolicyBinding", live["binding"]),
        )
        if obj is None
    ]
    if absent:
        return Check(
            "job-proxy",
            "fail",
            "job pods get no proxy: syncs cannot reach the "
            "control plane or their sources through it",
            absent,
            next=fix,
        )
    if not as_rendered(live, settings):
        return Check(
            "job-proxy",
            "warn",
            f"the proxy policy {name} differs from what "
            "airbox renders: job pods may not get the proxy",
            next=fix,
        )
    names = ", ".join(env for env, _ in render.env_entries())
    return Check("job-proxy", "ok", f"job pods get {names} from the Secret (policy {name})")
