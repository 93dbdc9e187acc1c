"""The fake ``helm`` (v3.20): the commands airbox runs, on the clusters of ``k8s_cluster``.

A release is its revisions in the cluster's ``releases`` (``namespace/name``), each with
its chart, values, status and description as helm stores them; what the chart renders is
``chart_model``'s model of airbyte-data-plane.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from . import chart_model
from .k8s_cluster import (
    CHART_VERSION,
    CONTAINER,
    get_obj,
    namespace_exists,
    new_namespace,
    owned_pods,
    public,
    put,
    sync_launcher_pods,
)
from .k8s_flags import B, Cmd, F, duration_seconds
from .k8s_state import (
    Ctx,
    Fail,
    Obj,
    Target,
    connect,
    host_port,
    iso_nano,
    now,
    pod_hash,
    resolve_target,
    utc,
    wait_for,
)
from .k8s_status import is_ready, pod_view

HELM_VERSION = "v3.20.1"
HELM_COMMIT = "a2369ca71c0ef633bf6e4fccd66d634eb379b371"
HELM_GO_VERSION = "go1.25.5"
CHART_NAME = "airbyte-data-plane"
# The airbyte-data-plane versions the fake repository has (the real ones airbox pins or
# tests against); any other version is "not found", as the real repository answers.
# 1.8.2 stands for the next release in the upgrade tests (tests/test_year_upgrade.py).
REPO_CHART_VERSIONS = ("1.8.0", "1.8.1", "1.8.2")
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CHART_DEFAULTS: Obj = {
    "global": {"image": {"tag": ""}, "airbyteUrl": ""},
    "dataPlane": {"secretName": ""},
    "workloadLauncher": {"replicaCount": 1},
}


def helm_connect(ctx: Ctx, opts: Obj) -> tuple[Obj, str]:
    try:
        target = resolve_target(ctx, opts["kubeconfig"], opts["kube-context"])
    except Fail as exc:
        raise Fail(
            "Error: Kubernetes cluster unreachable: " + exc.message.removeprefix("error: ")
        ) from None
    rec = connect(ctx, target)
    if rec is None:
        raise refused(target)
    return rec, opts["namespace"] or os.environ.get("HELM_NAMESPACE") or target.namespace


def refused(target: Target) -> Fail:
    hp = host_port(target.server)
    hp_dial = "127.0.0.1:8080" if hp == "localhost:8080" else hp
    return Fail(
        f'Error: Kubernetes cluster unreachable: Get "{target.server}/version": '
        f"dial tcp {hp_dial}: connect: connection refused"
    )


def helm_args(ctx: Ctx, args: list[str], n: int, use: str, at_least: bool = False) -> None:
    cmd = "helm " + " ".join(ctx.path)
    plural = "s" if n > 1 else ""
    if at_least and len(args) < n:
        raise Fail(f'Error: "{cmd}" requires at least {n} argument{plural}\n\nUsage:  {use}')
    if not at_least and len(args) != n:
        raise Fail(f'Error: "{cmd}" requires {n} argument{plural}\n\nUsage:  {use}')


def output_format(opts: Obj, *modelled: str) -> str:
    """``-o``: table, json or yaml in helm; a real one airbox never asks for is not modelled."""
    fmt = str(opts["output"] or "table")
    if fmt not in ("table", "json", "yaml"):
        raise Fail(f"Error: invalid format type {fmt}")
    if fmt not in modelled:
        raise Fail(f"Error: fakek8s: helm -o {fmt} is not implemented (airbox never uses it)", 2)
    return fmt


# --------------------------------------------------------------------------------------------
# charts and values


def deep_merge(base: Obj, over: Obj) -> Obj:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def user_values(opts: Obj) -> Obj:
    """The ``--values`` files, merged in order (airbox writes one)."""
    values: Obj = {}
    for f in opts["values"]:
        try:
            text = Path(f).read_text()
        except FileNotFoundError:
            raise Fail(f"Error: open {f}: no such file or directory") from None
        except OSError as exc:
            raise Fail(f"Error: open {f}: {exc.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise Fail(
                f"Error: failed to parse {f}: error converting YAML to JSON: {exc}"
            ) from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise Fail(
                f"Error: failed to parse {f}: error unmarshaling JSON: json: cannot unmarshal "
                "array into Go value of type map[string]interface {}"
            )
        values = deep_merge(values, data)
    return values


def read_chart_yaml(path: Path) -> tuple[Obj, Obj]:
    """Chart.yaml and values.yaml of a chart directory or .tgz archive."""
    import tarfile

    if path.is_dir():
        chart_file = path / "Chart.yaml"
        if not chart_file.exists():
            raise Fail("Error: Chart.yaml file is missing")
        meta = yaml.safe_load(chart_file.read_text()) or {}
        values_file = path / "values.yaml"
        defaults = (yaml.safe_load(values_file.read_text()) or {}) if values_file.exists() else {}
        return meta, defaults
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers()}
            chart = next(
                (n for n in members if n.count("/") == 1 and n.endswith("/Chart.yaml")), None
            )
            if chart is None:
                raise Fail("Error: Chart.yaml file is missing")
            fh = tar.extractfile(members[chart])
            meta = yaml.safe_load(fh.read() if fh else b"") or {}
            vname = chart.rsplit("/", 1)[0] + "/values.yaml"
            values: Obj = {}
            if vname in members:
                vfh = tar.extractfile(members[vname])
                values = yaml.safe_load(vfh.read() if vfh else b"") or {}
            return meta, values
    except (tarfile.TarError, OSError) as exc:
        raise Fail(
            f"Error: file '{path}' does not appear to be a gzipped archive; got "
            f"'application/octet-stream': {exc}"
        ) from None


def resolve_chart(ctx: Ctx, opts: Obj, ref: str) -> Obj:
    """Where helm would find CHART (a local chart, an https or oci URL, or NAME in --repo);
    the chart's name, version and appVersion."""
    version = (opts["version"] or "").strip()
    p = Path(ref)
    if p.exists():
        meta, defaults = read_chart_yaml(p)
        for key in ("name", "version"):
            if not meta.get(key):
                raise Fail(f"Error: validation: chart.metadata.{key} is required")
        return {
            "name": str(meta["name"]),
            "version": str(meta["version"]),
            "app_version": str(meta.get("appVersion") or meta["version"]),
            "defaults": deep_merge(CHART_DEFAULTS, defaults),
            "source": str(p.resolve()),
        }
    if p.is_absolute() or ref.startswith("."):
        raise Fail(f'Error: path "{ref}" not found')
    if ctx.scenario().get("offline"):
        # A machine with no route to any chart repository (the scenario's "offline"):
        # helm's repo index download fails as it does without DNS (pkg/repo/chartrepo.go).
        where = opts["repo"] or ref
        host = re.sub(r"^[a-z]+://", "", str(where)).split("/", 1)[0]
        raise Fail(
            f'Error: looks like "{where}" is not a valid chart repository or cannot '
            f'be reached: Get "{where}/index.yaml": dial tcp: lookup {host}: no '
            "such host"
        )
    if re.match(r"^(https?|oci)://", ref):
        if ref.startswith("oci://"):
            version = version or CHART_VERSION
            if version.lstrip("v") not in REPO_CHART_VERSIONS:
                raise Fail(
                    f'Error: failed to perform "FetchReference" on source: '
                    f"{ref[len('oci://') :]}:{version}: not found"
                )
        name = CHART_NAME
        m = re.search(r"/([a-z0-9-]+?)(-(\d+\.\d+\.\d+[^/]*))?\.tgz$", ref)
        if m:
            name = m.group(1)
            version = m.group(3) or version
        return {
            "name": name,
            "version": version or CHART_VERSION,
            "app_version": version or CHART_VERSION,
            "defaults": copy.deepcopy(CHART_DEFAULTS),
            "source": ref,
        }
    if not opts["repo"]:
        # airbox never runs `helm repo add`: no repository has a local name
        if "/" in ref:
            raise Fail(f"Error: repo {ref.partition('/')[0]} not found")
        raise Fail(
            f"Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}"
        )
    repo_url, name = opts["repo"], ref
    if name != CHART_NAME:
        what = f'chart "{name}"' + (f' version "{version}"' if version else "")
        raise Fail(f"Error: {what} not found in {repo_url} repository")
    if (version.lstrip("v") or CHART_VERSION) not in REPO_CHART_VERSIONS:
        raise Fail(f'Error: chart "{name}" version "{version}" not found in {repo_url} repository')
    version = version.lstrip("v") or CHART_VERSION
    return {
        "name": name,
        "version": version,
        "app_version": version,
        "defaults": copy.deepcopy(CHART_DEFAULTS),
        "source": f"{repo_url}#{name}",
    }


def dig(values: Obj, *path: str) -> Any:
    cur: Any = values
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur


def chart_objects(ns: str, name: str, rev: Obj) -> list[Obj]:
    """What the airbyte-data-plane chart renders for a revision."""
    full = f"{name}-{rev['chart']}"
    values = deep_merge(rev.get("defaults") or CHART_DEFAULTS, rev["config"])
    labels = {
        "app.kubernetes.io/name": rev["chart"],
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/version": rev["app_version"],
        "helm.sh/chart": f"{rev['chart']}-{rev['chart_version']}",
    }
    selector = {"app.kubernetes.io/name": rev["chart"], "app.kubernetes.io/instance": name}
    ann = {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns}
    secret = next(
        (
            s
            for s in (
                dig(values, "dataPlane", "secretName"),
                dig(values, "secretName"),
                dig(values, "global", "secretName"),
            )
            if isinstance(s, str) and s
        ),
        None,
    )
    image = chart_model.launcher_image(values, rev["app_version"])
    url = (
        dig(values, "global", "airbyteUrl")
        or dig(values, "airbyteUrl")
        or dig(values, "controlPlane", "url")
        or ""
    )
    env: Obj = {"AIRBYTE_VERSION": rev["app_version"], "WORKLOAD_LAUNCHER_PARALLELISM": "10"}
    if url:
        env["AIRBYTE_URL"] = str(url)
    env.update(chart_model.launcher_config(values))
    replicas = int(dig(values, "workloadLauncher", "replicaCount") or 1)
    env_from: list[Obj] = [
        {"configMapRef": {"name": f"{full}-env"}},
        {"secretRef": {"name": f"{full}-secrets"}},
    ]
    if secret:
        env_from.append({"secretRef": {"name": secret}})
    tmpl_hash = pod_hash(image, json.dumps(values, sort_keys=True))

    def meta(n: str) -> Obj:
        return {"name": n, "namespace": ns, "labels": dict(labels), "annotations": dict(ann)}

    import base64

    chart_keys = chart_model.chart_secret_keys(values)
    refs = chart_model.secret_refs(name, values)
    env_refs = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}} for var, s, k in refs
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": meta(f"{full}-secrets"),
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in chart_keys.items()},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{full}-env"), "data": env},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(chart_model.fullname(name, values)),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": dict(selector)},
                    "spec": {
                        "containers": [
                            {
                                "name": CONTAINER,
                                "image": image,
                                "envFrom": env_from,
                                "env": env_refs + chart_model.extra_env(values),
                            }
                        ],
                        "serviceAccountName": "default",
                    },
                },
            },
            "_fake": {
                "role": "launcher",
                "release": name,
                "hash": tmpl_hash,
                "base_hash": tmpl_hash,
                "requires_secret": secret,
                "required_keys": [[s, k] for _, s, k in refs],
                "app_version": rev["app_version"],
                "control_plane_url": url,
            },
        },
    ]


# --------------------------------------------------------------------------------------------
# releases in the cluster


def ownership_conflict(rec: Obj, ns: str, name: str, objs: list[Obj]) -> str | None:
    """helm refuses to adopt an object another release (or no release) owns
    (pkg/action/validate.go existingResourceConflict)."""
    for obj in objs:
        cur = get_obj(rec, obj["kind"], ns, obj["metadata"]["name"])
        if cur is None:
            continue
        labels = cur["metadata"].get("labels") or {}
        ann = cur["metadata"].get("annotations") or {}
        problems = []
        if labels.get("app.kubernetes.io/managed-by") != "Helm":
            problems.append(
                'label validation error: missing key "app.kubernetes.io/managed-by": '
                'must be set to "Helm"'
            )
        for key, want in (
            ("meta.helm.sh/release-name", name),
            ("meta.helm.sh/release-namespace", ns),
        ):
            if key not in ann:
                problems.append(
                    f'annotation validation error: missing key "{key}": must be set to "{want}"'
                )
            elif ann[key] != want:
                problems.append(
                    f'annotation validation error: key "{key}" must equal "{want}": '
                    f'current value is "{ann[key]}"'
                )
        if problems:
            return (
                f'{obj["kind"]} "{obj["metadata"]["name"]}" in namespace "{ns}" exists and cannot '
                "be imported into the current release: invalid ownership metadata; "
                + "; ".join(problems)
            )
    return None


def deploy_release(ctx: Ctx, rec: Obj, ns: str, name: str, rev: Obj) -> None:
    for obj in chart_objects(ns, name, rev):
        current = get_obj(rec, obj["kind"], ns, obj["metadata"]["name"])
        if obj["kind"] == "Deployment" and current is not None:
            # kubectl rollout restart's annotation survives helm's three-way merge
            restarted = (
                current["spec"]
                .get("template", {})
                .get("metadata", {})
                .get("annotations", {})
                .get("kubectl.kubernetes.io/restartedAt")
            )
            if restarted:
                obj["spec"]["template"]["metadata"]["annotations"] = {
                    "kubectl.kubernetes.io/restartedAt": restarted
                }
                obj["_fake"]["hash"] = pod_hash(obj["_fake"]["base_hash"], restarted)
        put(rec, obj)
        if obj["kind"] == "Deployment":
            sync_launcher_pods(rec, obj)
    ctx.dirty = True


def remove_release_objects(rec: Obj, ns: str, name: str) -> None:
    for key, obj in list(rec["objects"].items()):
        ann = obj["metadata"].get("annotations") or {}
        owned = (
            ann.get("meta.helm.sh/release-name") == name
            and ann.get("meta.helm.sh/release-namespace") == ns
        )
        if owned or (
            obj["kind"] == "Pod"
            and obj["metadata"].get("namespace") == ns
            and obj.get("_fake", {}).get("release") == name
        ):
            del rec["objects"][key]


def release_healthy(ctx: Ctx, rec: Obj, ns: str, name: str, chart: str) -> bool:
    # The release's Deployment, whatever the chart's fullname rule made of its name.
    deployments = [
        o["metadata"]["name"]
        for o in rec["objects"].values()
        if o["kind"] == "Deployment"
        and o["metadata"].get("namespace") == ns
        and o.get("_fake", {}).get("release") == name
    ] or [f"{name}-{chart}"]
    pods = [p for d in deployments for p in owned_pods(rec, ns, d)]
    return bool(pods) and all(is_ready(pod_view(ctx, rec, p)) for p in pods)


def helm_wait(ctx: Ctx, opts: Obj, rec: Obj, ns: str, name: str, chart: str) -> bool:
    """--wait: the release's pods ready within --timeout (fake time)."""
    timeout = duration_seconds(opts["timeout"])
    return wait_for(ctx, rec, timeout, lambda: release_healthy(ctx, rec, ns, name, chart))


def ansic(ts: float) -> str:
    """Go's time.ANSIC layout (helm status / history tables)."""
    d = utc(ts)
    return f"{d:%a %b} {d.day:2d} {d:%H:%M:%S %Y}"


def status_json(ns: str, name: str, rev: Obj) -> Obj:
    return {
        "name": name,
        "info": {
            "first_deployed": iso_nano(rev["first_deployed"]),
            "last_deployed": iso_nano(rev["last_deployed"]),
            "deleted": "",
            "description": rev["description"],
            "status": rev["status"],
            "notes": "",
        },
        "chart": {
            "metadata": {
                "name": rev["chart"],
                "version": rev["chart_version"],
                "description": "Airbyte Enterprise Flex data plane",
                "apiVersion": "v2",
                "appVersion": rev["app_version"],
                "type": "application",
            },
            "values": rev.get("defaults") or CHART_DEFAULTS,
        },
        "config": rev["config"],
        "manifest": "",
        "version": rev["revision"],
        "namespace": ns,
    }


def print_status(ctx: Ctx, fmt: str, ns: str, name: str, rev: Obj) -> None:
    if fmt == "json":
        ctx.out(json.dumps(status_json(ns, name, rev), separators=(",", ":")))
        return
    ctx.out(
        f"NAME: {name}\nLAST DEPLOYED: {ansic(rev['last_deployed'])}\nNAMESPACE: {ns}\n"
        f"STATUS: {rev['status']}\nREVISION: {rev['revision']}\nTEST SUITE: None"
    )


def new_revision(revs: list[Obj], chart: Obj, config: Obj, status: str, description: str) -> Obj:
    t = now()
    return {
        "revision": (revs[-1]["revision"] + 1) if revs else 1,
        "status": status,
        "chart": chart["name"],
        "chart_version": chart["version"],
        "app_version": chart["app_version"],
        "defaults": chart["defaults"],
        "chart_source": chart["source"],
        "config": config,
        "first_deployed": revs[0]["first_deployed"] if revs else t,
        "last_deployed": t,
        "description": description,
    }


def find_release(ctx: Ctx, opts: Obj, name: str) -> tuple[Obj, str, list[Obj]]:
    rec, ns = helm_connect(ctx, opts)
    revs: list[Obj] = rec["releases"].get(f"{ns}/{name}", [])
    if not revs:
        raise Fail("Error: release: not found")
    return rec, ns, revs


# --------------------------------------------------------------------------------------------
# the commands


def helm_upgrade(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """``helm upgrade [--install]`` (pkg/action/install.go, upgrade.go)."""
    helm_args(ctx, args, 2, "helm upgrade [RELEASE] [CHART] [flags]")
    name, chart_ref = args
    if not RELEASE_NAME.match(name) or len(name) > 53:
        raise Fail(
            f'Error: release name "{name}": invalid release name, must match regex '
            f"{RELEASE_NAME.pattern} and the length must not be longer than 53"
        )
    rec, ns = helm_connect(ctx, opts)
    key = f"{ns}/{name}"
    revs: list[Obj] = rec["releases"].get(key) or []
    if opts["install"] and not revs:
        ctx.out(f'Release "{name}" does not exist. Installing it now.')
    chart = resolve_chart(ctx, opts, chart_ref)
    values = user_values(opts)
    if opts["install"] and not revs:
        return install(ctx, opts, rec, ns, name, chart, values)
    if not revs:
        raise Fail(f'Error: UPGRADE FAILED: "{name}" has no deployed releases')
    last = revs[-1]
    # helm pkg/action/upgrade.go prepareUpgrade: the newest revision pending (an install,
    # upgrade or rollback killed before it could record the outcome) refuses every upgrade
    # (errPending), with or without --install. Only `helm rollback` goes past it
    # (pkg/action/rollback.go prepareRollback has no such check): it adds a revision after
    # the pending one, which stays pending in the history.
    if last["status"] in PENDING:
        raise Fail(
            "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"
        )
    deployed = [r for r in revs if r["status"] == "deployed"]
    current = last if last["status"] == "deployed" else (deployed[-1] if deployed else None)
    if current is None:
        if last["status"] not in ("failed", "superseded"):
            raise Fail(f'Error: UPGRADE FAILED: "{name}" has no deployed releases')
        current = last
    upgraded = new_revision(revs, chart, values, "pending-upgrade", "Preparing upgrade")
    conflict = ownership_conflict(rec, ns, name, chart_objects(ns, name, upgraded))
    if conflict:
        raise Fail(f"Error: UPGRADE FAILED: Unable to continue with update: {conflict}")
    revs.append(upgraded)
    ctx.dirty = True
    ctx.checkpoint()
    deploy_release(ctx, rec, ns, name, upgraded)
    if opts["wait"] and not helm_wait(ctx, opts, rec, ns, name, chart["name"]):
        upgraded["status"] = "failed"
        upgraded["description"] = f'Upgrade "{name}" failed: context deadline exceeded'
        raise Fail("Error: UPGRADE FAILED: context deadline exceeded")
    for r in revs[:-1]:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    current["status"] = "superseded"
    upgraded["status"] = "deployed"
    upgraded["description"] = "Upgrade complete"
    prune_history(revs, opts["history-max"])
    ctx.out(f'Release "{name}" has been upgraded. Happy Helming!')
    print_status(ctx, "table", ns, name, upgraded)
    return 0


def install(ctx: Ctx, opts: Obj, rec: Obj, ns: str, name: str, chart: Obj, values: Obj) -> int:
    fresh = new_revision([], chart, values, "pending-install", "Initial install underway")
    conflict = ownership_conflict(rec, ns, name, chart_objects(ns, name, fresh))
    if conflict:
        raise Fail(f"Error: Unable to continue with install: {conflict}")
    if not namespace_exists(rec, ns):
        if not opts["create-namespace"]:
            raise Fail(f'Error: create: failed to create: namespaces "{ns}" not found')
        new_namespace(rec, ns, {"name": ns})
    rec["releases"][f"{ns}/{name}"] = [fresh]
    ctx.dirty = True
    ctx.checkpoint()
    deploy_release(ctx, rec, ns, name, fresh)
    if opts["wait"] and not helm_wait(ctx, opts, rec, ns, name, chart["name"]):
        fresh["status"] = "failed"
        fresh["description"] = f'Release "{name}" failed: context deadline exceeded'
        raise Fail("Error: context deadline exceeded")
    fresh["status"] = "deployed"
    fresh["description"] = "Install complete"
    print_status(ctx, "table", ns, name, fresh)
    return 0


def prune_history(revs: list[Obj], max_history: int) -> None:
    if max_history > 0:
        del revs[: max(0, len(revs) - max_history)]


def helm_rollback(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm rollback <RELEASE> [REVISION] [flags]", at_least=True)
    if len(args) > 2:
        raise Fail(
            'Error: "helm rollback" accepts at most 2 arguments\n\nUsage:  helm rollback '
            "<RELEASE> [REVISION] [flags]"
        )
    number = 0
    if len(args) == 2:
        try:
            number = int(args[1])
        except ValueError:
            raise Fail(
                f"Error: could not convert revision to a number: strconv.Atoi: parsing "
                f'"{args[1]}": invalid syntax'
            ) from None
    rec, ns, revs = find_release(ctx, opts, args[0])
    name = args[0]
    wanted = number or revs[-1]["revision"] - 1
    target = next((r for r in revs if r["revision"] == wanted), None)
    if target is None:
        raise Fail(f"Error: release has no {wanted} version")
    chart = {
        "name": target["chart"],
        "version": target["chart_version"],
        "app_version": target["app_version"],
        "defaults": target.get("defaults") or CHART_DEFAULTS,
        "source": target.get("chart_source", ""),
    }
    rolled = new_revision(
        revs, chart, copy.deepcopy(target["config"]), "pending-rollback", f"Rollback to {wanted}"
    )
    revs.append(rolled)
    deploy_release(ctx, rec, ns, name, rolled)
    for r in revs[:-1]:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    rolled["status"] = "deployed"
    if opts["wait"] and not helm_wait(ctx, opts, rec, ns, name, rolled["chart"]):
        rolled["status"] = "failed"
        rolled["description"] = f'Release "{name}" failed: context deadline exceeded'
        raise Fail(f"Error: release {name} failed: context deadline exceeded")
    prune_history(revs, 10)  # rollback's --history-max default
    ctx.out("Rollback was a success! Happy Helming!")
    return 0


def helm_uninstall(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm uninstall RELEASE_NAME [...] [flags]", at_least=True)
    rec, ns = helm_connect(ctx, opts)
    for name in args:
        if not rec["releases"].get(f"{ns}/{name}"):
            if opts["ignore-not-found"]:
                continue
            raise Fail(f"Error: uninstall: Release not loaded: {name}: release: not found")
        remove_release_objects(rec, ns, name)
        del rec["releases"][f"{ns}/{name}"]
        ctx.dirty = True
        ctx.out(f'release "{name}" uninstalled')
    return 0


def helm_template(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """Client-side rendering: no cluster needed, like the real `helm template`."""
    helm_args(ctx, args, 2, "helm template [NAME] [CHART] [flags]")
    name, chart_ref = args
    chart = resolve_chart(ctx, opts, chart_ref)
    values = user_values(opts)
    ns = opts["namespace"] or "default"
    for doc in chart_model.render(name, ns, values, chart["app_version"]):
        ctx.out(f"---\n# Source: {chart['name']}/templates/{doc['kind'].lower()}.yaml")
        text = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, allow_unicode=True)
        ctx.out(text.rstrip("\n"))
    return 0


def helm_pull(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """Download a chart archive (no cluster needed). Modelled on helm's pkg/action/pull.go:
    the chart from --repo at --version is written as DESTINATION/<name>-<version>.tgz
    (fileutil.AtomicWriteFile: a temporary file in the destination, renamed), silently.
    The archive is a minimal chart (Chart.yaml and values.yaml): the fake renders from
    chart_model, not from the archive."""
    import io
    import tarfile

    helm_args(ctx, args, 1, "helm pull [chart URL | repo/chartname] [...] [flags]", at_least=True)
    chart = resolve_chart(ctx, opts, args[0])
    dest = Path(opts["destination"] or ".")
    target = dest / f"{chart['name']}-{chart['version']}.tgz"
    if not dest.is_dir():
        raise Fail(f"Error: open {target}: no such file or directory")
    meta = {
        "apiVersion": "v2",
        "name": chart["name"],
        "version": chart["version"],
        "appVersion": chart["app_version"],
        "type": "application",
    }
    files = {"Chart.yaml": yaml.safe_dump(meta).encode(), "values.yaml": b"{}\n"}
    tmp = target.with_name(target.name + f".{os.getpid()}")
    with tarfile.open(tmp, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{chart['name']}/{name}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    os.replace(tmp, target)
    return 0


def helm_status(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm status RELEASE_NAME [flags]")
    fmt = output_format(opts, "table", "json")
    _, ns, revs = find_release(ctx, opts, args[0])
    print_status(ctx, fmt, ns, args[0], revs[-1])
    return 0


def helm_history(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm history RELEASE_NAME [flags]")
    output_format(opts, "json")
    _, _, revs = find_release(ctx, opts, args[0])
    items = [
        {
            "revision": r["revision"],
            "updated": iso_nano(r["last_deployed"]),
            "status": r["status"],
            "chart": f"{r['chart']}-{r['chart_version']}",
            "app_version": r["app_version"],
            "description": r["description"],
        }
        for r in revs[-256:]
    ]
    ctx.out(json.dumps(items, separators=(",", ":")))
    return 0


def helm_get_values(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm get values RELEASE_NAME [flags]")
    output_format(opts, "json")
    _, _, revs = find_release(ctx, opts, args[0])
    ctx.out(json.dumps(revs[-1]["config"], separators=(",", ":")))
    return 0


def helm_get_manifest(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm get manifest RELEASE_NAME [flags]")
    _, ns, revs = find_release(ctx, opts, args[0])
    rev = revs[-1]
    for obj in chart_objects(ns, args[0], rev):
        ctx.out(f"---\n# Source: {rev['chart']}/templates/{obj['kind'].lower()}.yaml")
        sys.stdout.write(yaml.safe_dump(public(obj), sort_keys=False))
    return 0


def helm_version(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if opts["short"]:
        ctx.out(f"{HELM_VERSION}+g{HELM_COMMIT[:7]}")
        return 0
    ctx.out(
        f'version.BuildInfo{{Version:"{HELM_VERSION}", GitCommit:"{HELM_COMMIT}", '
        f'GitTreeState:"clean", GoVersion:"{HELM_GO_VERSION}"}}'
    )
    return 0


# --------------------------------------------------------------------------------------------
# the commands and their flags (helm's cobra commands: pkg/cmd/*.go); any other flag is
# helm's "unknown flag" error


OUTPUT = F("output", "o")
WAIT = B("wait")
TIMEOUT = F("timeout", kind="dur", default="5m0s")
CHART = (F("repo"), F("version"), F("values", "f", "slice"))
TREE: dict[str, Any] = {
    "version": Cmd(helm_version, (B("short"),)),
    "upgrade": Cmd(
        helm_upgrade,
        (
            *CHART,
            B("install", "i"),
            B("create-namespace"),
            WAIT,
            TIMEOUT,
            F("history-max", kind="int", default=10),
        ),
    ),
    "template": Cmd(helm_template, CHART),
    "pull": Cmd(helm_pull, (F("repo"), F("version"), F("destination", "d"))),
    "status": Cmd(helm_status, (OUTPUT,)),
    "history": Cmd(helm_history, (OUTPUT,)),
    "rollback": Cmd(helm_rollback, (WAIT, TIMEOUT)),
    "uninstall": Cmd(helm_uninstall, (WAIT, TIMEOUT, B("ignore-not-found"))),
    "get": {"values": Cmd(helm_get_values, (OUTPUT,)), "manifest": Cmd(helm_get_manifest)},
}
GLOBALS = (F("kubeconfig"), F("kube-context"), F("namespace", "n"))
