"""The fake ``kubectl`` (v1.35): the commands airbox runs, on the clusters of ``k8s_cluster``.

Output is ``-o json`` or ``-o name`` (what airbox reads); a real format it never asks for
(tables, yaml, jsonpath, templates) says "not implemented" with exit 2 rather than answer
wrongly. Errors are worded as kubectl and the API server word them.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import sys
import time
from typing import Any

import yaml

from . import admission_model
from .k8s_cluster import (
    ADMISSION_GROUP,
    K8S_VERSION,
    Res,
    admission_served,
    admit_pod,
    delete_obj,
    get_obj,
    lookup_res,
    namespace_exists,
    owned_pods,
    put,
    res_for_kind,
    served_admission,
    sync_launcher_pods,
)
from .k8s_flags import B, Cmd, F, duration_seconds
from .k8s_state import (
    Ctx,
    Fail,
    Obj,
    Target,
    UsageError,
    connect,
    host_port,
    iso_nano,
    now,
    parse_time,
    pod_hash,
    resolve_target,
    wait_for,
)
from .k8s_status import all_objects, deployment_view, launcher_log_entries, pod_condition, pod_view

K8S_COMMIT = "66452049f3d692768c39c797b21b793dce80314e"
KUSTOMIZE_VERSION = "v5.7.1"
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
NOT_MODELLED = "error: fakek8s: kubectl {what} is not implemented (airbox never uses it)"
# kubectl's printers (k8s.io/cli-runtime pkg/genericclioptions/print_flags.go)
REAL_FORMATS = (
    "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
    "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
)


def kubectl_connect(ctx: Ctx, opts: Obj) -> tuple[Obj, str]:
    """The reachable cluster and the namespace to use, or kubectl's error."""
    target = resolve_target(ctx, opts["kubeconfig"], opts["context"])
    rec = connect(ctx, target)
    if rec is None:
        raise refused(target)
    return rec, opts["namespace"] or target.namespace


def refused(target: Target) -> Fail:
    hp = host_port(target.server)
    stamp = time.strftime("%m%d %H:%M:%S")
    lines = [
        f'E{stamp}.{i:06d}   {os.getpid()} memcache.go:265] "Unhandled Error" '
        f"err=\"couldn't get current server API group list: "
        f'Get \\"{target.server}/api?timeout=32s\\": '
        f'dial tcp {hp}: connect: connection refused"'
        for i in range(5)
    ]
    lines.append(
        f"The connection to the server {hp} was refused - did you specify the right host or port?"
    )
    return Fail("\n".join(lines))


def not_modelled(what: str) -> Fail:
    return Fail(NOT_MODELLED.format(what=what), 2)


# --------------------------------------------------------------------------------------------
# resource arguments, selectors, printers


def parse_targets(rec: Obj, args: list[str]) -> list[tuple[Res, list[str]]]:
    """kubectl's resource arguments: ``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME...``."""
    if not args:
        return []
    if "/" in args[0]:
        out: list[tuple[Res, list[str]]] = []
        for a in args:
            if "/" not in a:
                raise Fail(
                    "error: there is no need to specify a resource type as a separate "
                    "argument when passing arguments in resource/name form (e.g. 'kubectl "
                    "get resource/<resource_name>' instead of 'kubectl get resource "
                    "resource/<resource_name>'"
                )
            t, _, n = a.partition("/")
            res = lookup_res(rec, t)
            if out and out[-1][0] == res:
                out[-1][1].append(n)
            else:
                out.append((res, [n]))
        return out
    return [(lookup_res(rec, t), list(args[1:])) for t in args[0].split(",") if t]


def equality_terms(selector: str, kind: str) -> list[tuple[str, str]]:
    """``key=value[,key==value...]``: the selectors airbox passes (labels of a release or
    a job's pods, an event's type); set-based and != selectors are not modelled."""
    terms = []
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        m = re.fullmatch(r"([\w./-]+)\s*==?\s*([\w.-]*)", term)
        if not m:
            raise not_modelled(f"{kind} selector {term!r}")
        terms.append((m.group(1), m.group(2)))
    return terms


def field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def select(
    ctx: Ctx,
    rec: Obj,
    res: Res,
    ns: str | None,
    labels: str | None = None,
    fields: str | None = None,
) -> list[Obj]:
    label_terms = equality_terms(labels, "label") if labels else []
    field_terms = equality_terms(fields, "field") if fields else []
    items = [
        o
        for o in all_objects(ctx, rec)
        if o["kind"] == res.kind
        and (not res.namespaced or ns is None or o["metadata"].get("namespace") == ns)
        and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in label_terms)
        and all(field_value(o, k) == v for k, v in field_terms)
    ]
    if res.kind != "Event":  # the API server lists events in the order they were recorded
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return items


def not_found(res: Res, name: str) -> str:
    return f'Error from server (NotFound): {res.qualified} "{name}" not found'


def no_resources(ctx: Ctx, ns: str | None, res_list: list[Res]) -> None:
    if ns is None or not any(r.namespaced for r in res_list):
        ctx.err("No resources found")
    else:
        ctx.err(f"No resources found in {ns} namespace.")


def check_output_format(fmt: str) -> None:
    if fmt in ("", "json", "name"):
        return
    if fmt.split("=", 1)[0] in REAL_FORMATS.split(","):
        raise not_modelled("-o " + fmt.split("=", 1)[0])
    raise Fail(
        f'error: unable to match a printer suitable for the output format "{fmt}", '
        f"allowed formats are: {REAL_FORMATS}"
    )


def print_objects(ctx: Ctx, fmt: str, groups: list[tuple[Res, list[Obj]]], single: bool) -> None:
    items = [o for _, objs in groups for o in objs]
    if fmt == "json":
        data = items[0] if single and len(items) == 1 else as_list(items)
        ctx.out(json.dumps(data, indent=4))
    elif fmt == "name":
        for res, objs in groups:
            for o in objs:
                ctx.out(f"{res.prefix}/{o['metadata']['name']}")
    elif items:
        raise not_modelled("tables (get without -o)")


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# --------------------------------------------------------------------------------------------
# get, describe, logs


def kubectl_get(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if opts["raw"] is not None:
        return get_raw(ctx, opts, args)
    fmt = opts["output"] or ""
    check_output_format(fmt)
    rec, ns = kubectl_connect(ctx, opts)
    if not args:
        raise Fail(
            'You must specify the type of resource to get. Use "kubectl api-resources" for '
            "a complete list of supported resources.\n\nerror: Required resource not "
            'specified.\nUse "kubectl explain <resource>" for a detailed description of that '
            "resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples"
        )
    targets = parse_targets(rec, args)
    groups: list[tuple[Res, list[Obj]]] = []
    errors: list[str] = []
    named_request = any(names for _, names in targets)
    for res, names in targets:
        if not names:
            groups.append(
                (res, select(ctx, rec, res, ns, opts["selector"], opts["field-selector"]))
            )
            continue
        if opts["selector"]:
            raise Fail("error: when retrieving resources by name, label selectors are not allowed")
        pool = {o["metadata"]["name"]: o for o in select(ctx, rec, res, ns)}
        for n in names:
            if n not in pool and not opts["ignore-not-found"]:
                errors.append(not_found(res, n))
        groups.append((res, [pool[n] for n in names if n in pool]))
    total = sum(len(objs) for _, objs in groups)
    single = named_request and len(targets) == 1 and len(targets[0][1]) == 1
    if total or (fmt == "json" and not named_request):
        print_objects(ctx, fmt, groups, single)
    elif not named_request and not errors:
        no_resources(ctx, ns, [r for r, _ in groups])
    if errors:
        raise Fail("\n".join(errors))
    return 0


def get_raw(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """``get --raw``: the API server's health (/readyz) and its admissionregistration
    resource lists (what airbox asks before it applies a MutatingAdmissionPolicy)."""
    if args:
        raise Fail("error: arguments may not be passed when --raw is specified")
    rec, _ = kubectl_connect(ctx, opts)
    raw = opts["raw"].split("?")[0].rstrip("/")
    if raw == "/readyz":
        sys.stdout.write("ok")
        return 0
    m = re.fullmatch(rf"/apis/{re.escape(ADMISSION_GROUP)}/(\w+)", raw)
    if m is None:
        raise not_modelled(f"get --raw {raw}")
    served = served_admission(rec)
    if m.group(1) not in served:
        raise Fail("Error from server (NotFound): the server could not find the requested resource")
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    resources = [
        {"name": plural, "singularName": "", "namespaced": False, "kind": "", "verbs": verbs}
        for plural in served[m.group(1)]
    ]
    version = f"{ADMISSION_GROUP}/{m.group(1)}"
    ctx.out(
        json.dumps(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": version,
                "resources": resources,
            }
        )
    )
    return 0


def kubectl_describe(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """``describe pods``: every pod of the namespace (the support bundle's view)."""
    rec, ns = kubectl_connect(ctx, opts)
    if not args:
        raise Fail(
            'You must specify the type of resource to describe. Use "kubectl api-resources"'
            " for a complete list of supported resources."
        )
    targets = parse_targets(rec, args)
    if [(res.kind, names) for res, names in targets] != [("Pod", [])]:
        raise not_modelled("describe of anything but all pods")
    pods = select(ctx, rec, res_for_kind("Pod"), ns)
    if not pods:
        no_resources(ctx, ns, [res_for_kind("Pod")])
        return 0
    events = select(ctx, rec, res_for_kind("Event"), None)
    ctx.out("\n\n".join(describe_pod(p, events).rstrip("\n") for p in pods))
    return 0


def describe_map(title: str, data: Obj | None) -> list[str]:
    items = sorted((data or {}).items())
    if not items:
        return [f"{title + ':':<18}<none>"]
    out = [f"{title + ':':<18}{items[0][0]}={items[0][1]}"]
    out += [f"{'':<18}{k}={v}" for k, v in items[1:]]
    return out


def describe_pod(pod: Obj, all_events: list[Obj]) -> str:
    meta, spec, st = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    lines = [f"{'Name:':<18}{meta['name']}", f"{'Namespace:':<18}{meta['namespace']}"]
    lines += describe_map("Labels", meta.get("labels"))
    lines += describe_map("Annotations", meta.get("annotations"))
    lines += [
        f"{'Service Account:':<18}{spec.get('serviceAccountName', 'default')}",
        f"{'Node:':<18}{spec.get('nodeName', '<none>')}"
        + (f"/{st['hostIP']}" if st.get("hostIP") else ""),
        f"{'Status:':<18}{st.get('phase', 'Unknown')}",
        f"{'IP:':<18}{st.get('podIP', '')}",
    ]
    owner = (meta.get("ownerReferences") or [{}])[0]
    if owner:
        lines.append(f"{'Controlled By:':<18}{owner.get('kind')}/{owner.get('name')}")
    lines.append("Containers:")
    statuses = {c["name"]: c for c in st.get("containerStatuses", [])}
    for c in spec.get("containers", []):
        cs = statuses.get(c["name"], {})
        lines += [f"  {c['name']}:", f"    Image:          {c.get('image', '')}"]
        for label, state in (
            ("State", cs.get("state", {})),
            ("Last State", cs.get("lastState", {})),
        ):
            if not state:
                if label == "State":
                    lines.append(f"    {label + ':':<16}Waiting")
                continue
            kind, detail = next(iter(state.items()))
            lines.append(f"    {label + ':':<16}{kind.capitalize()}")
            for key, title in (("reason", "Reason"), ("message", "Message")):
                if detail.get(key):
                    lines.append(f"      {title + ':':<14}{detail[key]}")
            if "exitCode" in detail:
                lines.append(f"      {'Exit Code:':<14}{detail['exitCode']}")
            if detail.get("startedAt"):
                lines.append(f"      {'Started:':<14}{detail['startedAt']}")
        lines += [
            f"    Ready:          {'True' if cs.get('ready') else 'False'}",
            f"    Restart Count:  {cs.get('restartCount', 0)}",
        ]
        for ef in c.get("envFrom", []):
            ref = ef.get("secretRef") or ef.get("configMapRef") or {}
            what = "Secret" if "secretRef" in ef else "ConfigMap"
            lines.append(
                f"    Environment Variables from:\n      {ref.get('name')}  {what}  Optional: false"
            )
    lines += ["Conditions:", "  Type                        Status"]
    lines += [f"  {cond['type']:<28}{cond['status']}" for cond in st.get("conditions", [])]
    events = [
        e
        for e in all_events
        if e["involvedObject"]["kind"] == "Pod" and e["involvedObject"]["name"] == meta["name"]
    ]
    if not events:
        return "\n".join([*lines, f"{'Events:':<18}<none>"]) + "\n"
    rows = [
        ["Type", "Reason", "Age", "From", "Message"],
        ["----", "------", "----", "----", "-------"],
    ]
    for e in events:
        age = human_age(now() - parse_time(e.get("lastTimestamp")))
        if e.get("count", 1) > 1:
            age += f" (x{e['count']} over {human_age(now() - parse_time(e.get('firstTimestamp')))})"
        rows.append(
            [e["type"], e["reason"], age, e["source"]["component"], e["message"].replace("\n", " ")]
        )
    lines.append("Events:")
    lines += ["  " + line for line in table(rows).splitlines()]
    return "\n".join(lines) + "\n"


def table(rows: list[list[str]]) -> str:
    """kubectl's tabwriter: columns padded, three spaces apart, no trailing padding."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def human_age(seconds: float) -> str:
    """kubectl's duration.HumanDuration."""
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d"


def pick_pod(ctx: Ctx, rec: Obj, ns: str, ref: str) -> Obj:
    """A pod by name, or ``deployment/NAME``: the first of its pods, as kubectl picks it."""
    res, name = (
        (lookup_res(rec, ref.partition("/")[0]), ref.partition("/")[2])
        if "/" in ref
        else (res_for_kind("Pod"), ref)
    )
    if res.kind == "Pod":
        pod = get_obj(rec, "Pod", ns, name)
        if pod is None:
            raise Fail(not_found(res, name))
        return pod
    if res.kind != "Deployment":
        raise not_modelled(f"logs of {res.plural}")
    if get_obj(rec, "Deployment", ns, name) is None:
        raise Fail(not_found(res, name))
    pods = sorted(owned_pods(rec, ns, name), key=lambda p: p["metadata"]["name"])
    if not pods:
        raise Fail("error: timed out waiting for the condition")
    if len(pods) > 1:
        ctx.err(f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}")
    return pods[0]


def kubectl_logs(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """The launcher's log per the scenario (``--since`` and ``--follow`` change nothing: the
    log is short, and a followed log ends at once)."""
    rec, ns = kubectl_connect(ctx, opts)
    if not args:
        raise Fail(
            "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
            "POD or TYPE/NAME is a required argument for the logs command\n"
            "See 'kubectl logs -h' for help and examples"
        )
    if len(args) > 2:
        raise Fail("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.")
    pod = pick_pod(ctx, rec, ns, args[0])
    meta = pod["metadata"]
    containers = [c["name"] for c in pod["spec"].get("containers", [])]
    container = (args[1] if len(args) == 2 else opts["container"]) or containers[0]
    if container not in containers:
        raise Fail(f"error: container {container} is not valid for pod {meta['name']}")
    view = pod_view(ctx, rec, pod)
    statuses = view["status"].get("containerStatuses", [])
    cs: Obj = next((c for c in statuses if c["name"] == container), {})
    state = pod_condition(ctx, rec, pod)
    if opts["previous"] and state != "crashloop":
        raise Fail(
            f"Error from server (BadRequest): previous terminated container "
            f'"{container}" in pod "{meta["name"]}" not found'
        )
    waiting = (cs.get("state") or {}).get("waiting")
    if state == "pending" or (waiting and state != "crashloop"):
        detail = {"pending": "ContainerCreating", "imagepull": "trying and failing to pull image"}
        reason = detail.get(state) or (waiting or {}).get("reason", "ContainerCreating")
        raise Fail(
            f'Error from server (BadRequest): container "{container}" in pod '
            f'"{meta["name"]}" is waiting to start: {reason}'
        )
    if pod.get("_fake", {}).get("role") == "launcher":
        entries = launcher_log_entries(ctx, rec, pod)
    else:
        entries = [(now() - 60, f"I0101 00:00:00.000000       1 server.go:100] {container} up")]
    tail = opts["tail"]
    if tail >= 0:
        entries = entries[-tail:] if tail else []
    for _, line in entries:
        ctx.out(line)
    return 0


# --------------------------------------------------------------------------------------------
# rollout, wait


def rollout_target(rec: Obj, ns: str, args: list[str]) -> tuple[str, Obj]:
    if len(args) == 1 and "/" in args[0]:
        t, _, name = args[0].partition("/")
    elif len(args) == 2:
        t, name = args
    else:
        raise Fail("error: required resource not specified")
    res = lookup_res(rec, t)
    if res.kind != "Deployment":
        raise Fail(f"error: no status viewer has been implemented for {res.kind}")
    dep = get_obj(rec, "Deployment", ns, name)
    if dep is None:
        raise Fail(not_found(res, name))
    return name, dep


def kubectl_rollout_status(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns = kubectl_connect(ctx, opts)
    name, dep = rollout_target(rec, ns, args)
    shown: list[str] = []

    def available() -> bool:
        st = deployment_view(ctx, rec, dep)["status"]
        if st.get("availableReplicas", 0) >= st.get("replicas", 1):
            return True
        line = (
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{st.get('availableReplicas', 0)} of {st.get('replicas', 1)} updated replicas "
            "are available..."
        )
        if not shown or shown[-1] != line:  # kubectl prints a line when the status changes
            ctx.out(line)
            shown.append(line)
        return False

    # --timeout=0 (the default) waits for ever
    if not wait_for(ctx, rec, duration_seconds(opts["timeout"]) or -1, available):
        raise Fail("error: timed out waiting for the condition")
    ctx.out(f'deployment "{name}" successfully rolled out')
    return 0


def kubectl_rollout_restart(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns = kubectl_connect(ctx, opts)
    name, dep = rollout_target(rec, ns, args)
    tmpl = dep["spec"].setdefault("template", {}).setdefault("metadata", {})
    restarted = iso_nano(now())
    tmpl.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = restarted
    if dep.get("_fake", {}).get("role") == "launcher":
        fake = dep["_fake"]
        fake["hash"] = pod_hash(fake.get("base_hash", fake["hash"]), restarted)
        sync_launcher_pods(rec, dep)
    put(rec, dep)
    ctx.dirty = True
    ctx.out(f"deployment.apps/{name} restarted")
    return 0


def kubectl_wait(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """``wait --for=condition=C TYPE/NAME``: fake time runs until the condition holds."""
    rec, ns = kubectl_connect(ctx, opts)
    spec: str = opts["for"] or ""
    if not spec:
        raise Fail("error: --for must be specified")
    if spec.startswith(("delete", "create", "jsonpath=")):
        raise not_modelled(f"wait --for={spec.split('=', 1)[0]}")
    if not spec.startswith("condition="):
        raise Fail(f'error: unrecognized condition: "{spec}"')
    cond, _, want = spec[len("condition=") :].partition("=")
    targets = parse_targets(rec, args)
    if not targets:
        raise Fail("error: at least one resource must be specified to use a selector")
    timeout = duration_seconds(opts["timeout"])
    for res, names in targets:
        if not names:
            raise Fail("error: resource(s) were provided, but no name was specified")
        for name in names:
            if not [o for o in select(ctx, rec, res, ns) if o["metadata"]["name"] == name]:
                raise Fail(not_found(res, name))

            def met(res: Res = res, name: str = name) -> bool:
                """The condition on the object as it is now (fake time passes in between)."""
                cur = next(o for o in select(ctx, rec, res, ns) if o["metadata"]["name"] == name)
                return any(
                    c.get("type", "").lower() == cond.lower()
                    and c.get("status", "").lower() == (want or "true").lower()
                    for c in cur.get("status", {}).get("conditions", [])
                )

            if not wait_for(ctx, rec, timeout, met):
                # kubectl names the resource without its group (info.Mapping.Resource.Resource)
                raise Fail(f"error: timed out waiting for the condition on {res.plural}/{name}")
            ctx.out(f"{res.prefix}/{name} condition met")
    return 0


# --------------------------------------------------------------------------------------------
# apply, delete


def load_manifests(ctx: Ctx, files: list[str]) -> list[Obj]:
    """The documents of ``-f -`` (airbox applies from stdin only: secrets never in files)."""
    if files != ["-"]:
        raise not_modelled("apply -f FILE")
    text = ctx.read_stdin().decode()
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise Fail(f"error: error parsing STDIN: error converting YAML to JSON: {exc}") from None
    docs: list[Obj] = []
    for doc in loaded:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise Fail(
                'error: error validating "STDIN": error validating data: '
                "invalid object; if you choose to ignore these errors, turn validation "
                "off with --validate=false"
            )
        docs += doc.get("items") or [] if doc.get("kind") == "List" else [doc]
    return docs


def check_string_map(obj: Obj, key: str) -> str | None:
    for v in (obj.get(key) or {}).values():
        if not isinstance(v, str):
            what = (
                "bool"
                if isinstance(v, bool)
                else "number"
                if isinstance(v, (int, float))
                else "object"
                if isinstance(v, dict)
                else "array"
            )
            return (
                f'Error from server (BadRequest): error when creating "STDIN": '
                f'{obj["kind"]} in version "v1" cannot be handled as a {obj["kind"]}: json: '
                f"cannot unmarshal {what} into Go struct field {obj['kind']}.{key} of type string"
            )
    return None


def validate_object(obj: Obj) -> str | None:
    """The API server's validation of the objects airbox applies; the error, if any."""
    missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
    if missing:
        return (
            'error: error validating "STDIN": error validating data: ['
            + ", ".join(f"{f} not set" for f in missing)
            + "]; if you choose to ignore these errors, turn validation off with --validate=false"
        )
    name = (obj.get("metadata") or {}).get("name")
    kind = obj["kind"]
    if not name:
        return (
            f'error: error when retrieving current configuration of:\nResource: "'
            f'{res_for_kind(kind).plural}", GroupVersionKind: "{kind}"\nName: "", '
            'Namespace: ""\nfrom server for: "STDIN": resource name may not be empty'
        )
    pattern = DNS_LABEL if kind == "Namespace" else DNS_SUBDOMAIN
    if not isinstance(name, str) or not pattern.match(name) or len(name) > 253:
        what = "RFC 1123 label" if kind == "Namespace" else "RFC 1123 subdomain"
        return (
            f'The {kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": a '
            f"lowercase {what} must consist of lower case alphanumeric characters, '-' or '.',"
            " and must start and end with an alphanumeric character"
        )
    if kind in ("Secret", "ConfigMap"):
        for key in ("data", "stringData") if kind == "Secret" else ("data",):
            err = check_string_map(obj, key)
            if err:
                return err
            for k in obj.get(key) or {}:
                if not CONFIG_KEY.match(str(k)):
                    return (
                        f'Error from server (Invalid): error when creating "STDIN": The '
                        f'{kind} "{name}" is invalid: data[{k}]: Invalid value: "{k}": a valid '
                        "config key must consist of alphanumeric characters, '-', '_' or '.' "
                        "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        "validation is '[-._a-zA-Z0-9]+')"
                    )
    if kind == "Secret":
        for v in (obj.get("data") or {}).values():
            try:
                base64.b64decode(v, validate=True)
            except ValueError:
                alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                bad = next((i for i, ch in enumerate(v) if ch not in alphabet), len(v))
                return (
                    'Error from server (BadRequest): error when creating "STDIN": Secret in '
                    'version "v1" cannot be handled as a Secret: illegal base64 data at input '
                    f"byte {bad}"
                )
    return None


def normalize_for_compare(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    ann = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "_fake")}
    return {"body": body, "labels": meta.get("labels") or {}, "annotations": ann}


def kubectl_apply(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if args:
        raise UsageError(f"Unexpected args: {args}")
    if not opts["filename"]:
        raise Fail("error: must specify one of -f and -k")
    rec, ns = kubectl_connect(ctx, opts)
    errors: list[str] = []
    for index, doc in enumerate(load_manifests(ctx, opts["filename"])):
        if index == 1:
            ctx.checkpoint()
        problem = validate_object(doc) or apply_one(rec, ns, opts["namespace"], doc, ctx)
        if problem:
            errors.append(problem)
    if errors:
        raise Fail("\n".join(errors))
    return 0


def apply_one(rec: Obj, ns: str, explicit_ns: str | None, doc: Obj, ctx: Ctx) -> str | None:
    """Create or update one object (client-side apply); its line printed, or the error."""
    obj = copy.deepcopy(doc)
    res = res_for_kind(obj["kind"], obj["apiVersion"])
    meta = obj["metadata"]
    if res.group == ADMISSION_GROUP and not admission_served(rec, obj["apiVersion"], res.plural):
        return (
            f'error: resource mapping not found for name: "{meta["name"]}" namespace: '
            f'"" from "STDIN": no matches for kind "{obj["kind"]}" in version '
            f'"{obj["apiVersion"]}"\nensure CRDs are installed first'
        )
    invalid = (
        admission_model.validate_policy(obj)
        if obj["kind"] == "MutatingAdmissionPolicy"
        else admission_model.validate_binding(obj)
        if obj["kind"] == "MutatingAdmissionPolicyBinding"
        else []
    )
    if invalid:
        return f'The {obj["kind"]} "{meta["name"]}" is invalid: ' + "; ".join(invalid)
    if res.namespaced:
        if explicit_ns and meta.get("namespace") and meta["namespace"] != explicit_ns:
            return (
                f'error: the namespace from the provided object "{meta["namespace"]}" '
                f'does not match the namespace "{explicit_ns}". You must pass '
                f"'--namespace={meta['namespace']}' to perform this operation."
            )
        meta["namespace"] = meta.get("namespace") or ns
        if not namespace_exists(rec, meta["namespace"]):
            return (
                'Error from server (NotFound): error when creating "STDIN": '
                f'namespaces "{meta["namespace"]}" not found'
            )
    else:
        meta.pop("namespace", None)
    if obj["kind"] == "Secret":
        data = dict(obj.get("data") or {})
        for k, v in (obj.pop("stringData", None) or {}).items():
            data[k] = base64.b64encode(v.encode()).decode()
        obj["data"] = data
        obj.setdefault("type", "Opaque")
    if obj["kind"] == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
    last = json.dumps(doc, separators=(",", ":"), sort_keys=True)
    meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = (
        last + "\n"
    )
    current = get_obj(rec, obj["kind"], meta.get("namespace", ""), meta["name"])
    if current is not None and current.get("_fake"):
        obj["_fake"] = current["_fake"]  # a system object or a chart's Deployment stays so
    if current is None:
        verb = "created"
        if obj["kind"] == "Pod":
            try:
                obj = admit_pod(rec, obj)
            except admission_model.Denied as exc:
                return (
                    'Error from server (Forbidden): error when creating "STDIN": '
                    f'pods "{meta["name"]}" is forbidden: {exc}'
                )
    elif normalize_for_compare(current) == normalize_for_compare(obj):
        verb = "unchanged"
    else:
        verb = "configured"
    if verb != "unchanged":
        put(rec, obj)
        ctx.dirty = True
    ctx.out(f"{res.prefix}/{meta['name']} {verb}")
    return None


def kubectl_delete(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """Delete by name (``--timeout`` changes nothing: deletion is immediate here)."""
    rec, ns = kubectl_connect(ctx, opts)
    targets = parse_targets(rec, args)
    if not targets:
        raise Fail(
            "error: You must provide one or more resources by argument or filename.\n"
            "Example resource specifications include:\n   '-f rsrc.yaml'\n   "
            "'--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"
        )
    errors: list[str] = []
    for res, names in targets:
        if not names:
            raise Fail("error: resource(s) were provided, but no name was specified")
        for name in names:
            obj = get_obj(rec, res.kind, ns, name)
            if obj is None:
                if not opts["ignore-not-found"]:
                    errors.append(not_found(res, name))
                continue
            if res.kind == "Namespace" and name in PROTECTED_NAMESPACES:
                errors.append(
                    f'Error from server (Forbidden): namespaces "{name}" is forbidden: this '
                    "namespace may not be deleted"
                )
                continue
            delete_obj(rec, res.kind, ns, name)
            if res.kind == "Namespace":  # the namespace controller empties it
                for key in [
                    k for k, o in rec["objects"].items() if o["metadata"].get("namespace") == name
                ]:
                    del rec["objects"][key]
                for key in [k for k in rec["releases"] if k.startswith(name + "/")]:
                    del rec["releases"][key]
            ctx.dirty = True
            where = f" from {ns} namespace" if res.namespaced else ""
            ctx.out(f'{res.prefix} "{name}" deleted{where}')
    if errors:
        raise Fail("\n".join(errors))
    return 0


def kubectl_version(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if args:
        raise UsageError(f'unknown command "{args[0]}" for "kubectl version"')
    if not opts["client"]:
        raise not_modelled("version without --client")
    fmt = opts["output"] or ""
    if fmt not in ("", "json", "yaml"):
        raise Fail("error: --output must be 'yaml' or 'json'")
    if fmt == "yaml":
        raise not_modelled("version -o yaml")
    if fmt == "":
        ctx.out(f"Client Version: {K8S_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}")
        return 0
    client = {
        "major": "1",
        "minor": "35",
        "gitVersion": K8S_VERSION,
        "gitCommit": K8S_COMMIT,
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T12:32:06Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    ctx.out(json.dumps({"clientVersion": client, "kustomizeVersion": KUSTOMIZE_VERSION}, indent=2))
    return 0


# --------------------------------------------------------------------------------------------
# the commands and their flags (kubectl's cobra commands: staging/src/k8s.io/kubectl/pkg/cmd/);
# any other flag is kubectl's "unknown flag" error


OUTPUT = F("output", "o")
SELECTOR = F("selector", "l")
TIMEOUT = F("timeout", kind="dur", default="0s")
IGNORE_NOT_FOUND = B("ignore-not-found")
TREE: dict[str, Any] = {
    "version": Cmd(kubectl_version, (B("client"), OUTPUT)),
    "apply": Cmd(kubectl_apply, (F("filename", "f", "slice"),)),
    "get": Cmd(kubectl_get, (OUTPUT, SELECTOR, F("field-selector"), IGNORE_NOT_FOUND, F("raw"))),
    "describe": Cmd(kubectl_describe),
    "logs": Cmd(
        kubectl_logs,
        (
            F("container", "c"),
            B("all-containers"),
            B("follow", "f"),
            F("since", kind="dur"),
            F("tail", kind="int", default=-1),
            B("previous", "p"),
        ),
    ),
    "rollout": {
        "status": Cmd(kubectl_rollout_status, (TIMEOUT,)),
        "restart": Cmd(kubectl_rollout_restart),
    },
    "delete": Cmd(kubectl_delete, (IGNORE_NOT_FOUND, TIMEOUT)),
    "wait": Cmd(kubectl_wait, (F("for"), F("timeout", kind="dur", default="30s"))),
}
GLOBALS = (F("kubeconfig"), F("context"), F("namespace", "n"))
