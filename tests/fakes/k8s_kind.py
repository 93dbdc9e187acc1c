"""The fake ``kind`` (v0.31): the commands airbox runs, on the clusters of ``k8s_cluster``.

With ``$FAKE_KIND_NODE_IMAGE`` set, ``kind create cluster`` also starts a real Docker
container per node (network "none") and the cluster exists exactly as long as it does.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .k8s_cluster import CONTAINER, new_cluster
from .k8s_flags import Cmd, F, duration_seconds, format_duration, no_args
from .k8s_state import (
    LABEL_CLUSTER,
    LABEL_ROLE,
    LABEL_STATE,
    Ctx,
    Fail,
    Obj,
    UsageError,
    add_to_kubeconfig,
    api_starting,
    clock,
    default_kubeconfig_paths,
    docker_client,
    docker_nodes,
    node_image_env,
    remove_from_kubeconfig,
    state_label,
    sync_docker,
    wait_for,
)
from .k8s_status import launcher_log_lines, node_ready

KIND_VERSION = "kind v0.31.0 go1.24.0 linux/amd64"
KIND_NODE_IMAGE = "kindest/node:v1.35.0"


def node_names(name: str, config: Obj | None) -> list[tuple[str, str]]:
    """kind's node names for a cluster config: (name, role)."""
    nodes = (config or {}).get("nodes") or [{"role": "control-plane"}]
    out: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    for node in nodes:
        role = str(node.get("role", "control-plane"))
        counts[role] = counts.get(role, 0) + 1
        n = counts[role]
        out.append((f"{name}-{role}" + (str(n) if n > 1 else ""), role))
    return out


def free_port(ctx: Ctx) -> int:
    import random

    used = {c.get("port") for c in ctx.clusters().values()}
    while True:
        port = random.randint(32768, 60999)
        if port not in used:
            return port


def kind_name(opts: Obj, config: Obj | None = None) -> str:
    return (
        opts.get("name")
        or os.environ.get("KIND_CLUSTER_NAME")
        or (config or {}).get("name")
        or "kind"
    )


def kind_cluster_names(ctx: Ctx) -> list[str]:
    """Like real kind: every cluster with a node (container, in Docker mode) counts."""
    containers = sync_docker(ctx, strict=True)
    names = {n for n, c in ctx.clusters().items() if c.get("kind")}
    names |= {c.labels.get(LABEL_CLUSTER, "") for c in containers} - {""}
    return sorted(names)


def kind_rec(ctx: Ctx, name: str) -> Obj | None:
    rec = ctx.clusters().get(name)
    return rec if rec is not None and rec.get("kind") else None


def kind_kubeconfig_target(opts: Obj) -> Path:
    explicit = opts.get("kubeconfig")
    return Path(explicit) if explicit else default_kubeconfig_paths()[0]


def kind_version(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    ctx.out(KIND_VERSION)
    return 0


def kind_get_clusters(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    no_args(ctx, args)
    names = kind_cluster_names(ctx)
    if not names:
        ctx.err("No kind clusters found.")
    for name in names:
        ctx.out(name)
    return 0


def kind_existing(ctx: Ctx, opts: Obj) -> tuple[str, Obj]:
    """The cluster --name names, or kind's error when there is none."""
    kind_cluster_names(ctx)
    name = kind_name(opts)
    rec = kind_rec(ctx, name)
    if rec is None:
        raise Fail(
            f"ERROR: could not locate any control plane nodes for cluster named '{name}'. "
            "Use the --name option to select a different cluster"
        )
    return name, rec


def node_client_cert(rec: Obj) -> str | None:
    """The admin client certificate in the node, as `kind export kubeconfig` reads it.

    kind reads the node's /etc/kubernetes/admin.conf (`cat` in the control-plane node,
    kind pkg/cluster/internal/kubeconfig/internal/kubeconfig/read.go), so a kubeconfig
    exported after `kubeadm certs renew all` carries the renewed client certificate. The
    fake node tools (tests/fakes/nodetools.py) keep the expiry in /fake/certs-expire; a
    node without them (or no Docker node) gives the fixed fake certificate.
    """
    if not rec.get("docker"):
        return None
    try:
        node = docker_client().containers.get(rec["nodes"][0]["name"])
        code, out = node.exec_run(["cat", "/fake/certs-expire"])
    except Exception:
        return None
    if code != 0 or not out.strip().isdigit():
        return None
    pem = (
        b"-----BEGIN CERTIFICATE-----\nfakek8s admin client certificate, not after "
        + out.strip()
        + b"\n-----END CERTIFICATE-----\n"
    )
    return base64.b64encode(pem).decode()


def kind_export_kubeconfig(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    no_args(ctx, args)
    name, rec = kind_existing(ctx, opts)
    add_to_kubeconfig(
        kind_kubeconfig_target(opts),
        f"kind-{name}",
        rec["server"],
        client_cert=node_client_cert(rec),
    )
    ctx.err(f'Set kubectl context to "kind-{name}"')
    return 0


def load_kind_config(path: str) -> Obj:
    """kind's config file, checked as kind decodes it (pkg/internal/apis/config/encoding)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise Fail(
            f"ERROR: failed to create cluster: error reading file: open {path}: "
            f"{exc.strerror.lower() if exc.strerror else exc}"
        ) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise Fail(
            "ERROR: failed to create cluster: could not determine kind / apiVersion for "
            f"config: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise Fail(
            "ERROR: failed to create cluster: could not determine kind / apiVersion for "
            "config: error unmarshaling JSON"
        )
    api, kind = data.get("apiVersion"), data.get("kind")
    if api != "kind.x-k8s.io/v1alpha4":
        raise Fail(f"ERROR: failed to create cluster: unknown apiVersion: {api or ''}")
    if kind != "Cluster":
        raise Fail(
            f"ERROR: failed to create cluster: unknown kind {kind or ''} for apiVersion: {api}"
        )
    # kind decodes the config into its v1alpha4 types (sigs.k8s.io/yaml, strict):
    # featureGates map[string]bool, runtimeConfig map[string]string.
    for key, want, typ in (("featureGates", "bool", bool), ("runtimeConfig", "string", str)):
        section = data.get(key)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise Fail(
                f"ERROR: failed to create cluster: unable to decode config: json: "
                f"cannot unmarshal {type(section).__name__} into Go struct field "
                f"Cluster.{key} of type map[string]{want}"
            )
        for value in section.values():
            if not isinstance(value, typ):
                got = (
                    "bool"
                    if isinstance(value, bool)
                    else "number"
                    if isinstance(value, (int, float))
                    else "string"
                    if isinstance(value, str)
                    else "object"
                )
                raise Fail(
                    f"ERROR: failed to create cluster: unable to decode config: json: "
                    f"cannot unmarshal {got} into Go struct field Cluster.{key} of "
                    f"type {want}"
                )
    for node in data.get("nodes") or []:
        if node.get("role", "control-plane") not in ("control-plane", "worker"):
            raise Fail(
                f"ERROR: failed to create cluster: invalid configuration: "
                f'node role "{node.get("role")}" is not a valid role'
            )
    return data


def kind_create_cluster(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    no_args(ctx, args)
    config = load_kind_config(opts["config"]) if opts.get("config") else {}
    if opts.get("name") and config.get("name") and opts["name"] != config["name"]:
        # Real kind lets --name win; a mismatch is almost certainly a bug in the caller.
        raise Fail(
            f'ERROR: failed to create cluster: fakek8s: --name "{opts["name"]}" does not '
            f'match name "{config["name"]}" in {opts["config"]} (real kind would let '
            "--name win)"
        )
    name = kind_name(opts, config)
    if not re.match(r"^[a-z0-9.-]+$", name):
        raise Fail(
            f"ERROR: failed to create cluster: '{name}' is not a valid cluster name, "
            "cluster names must match `^[a-z0-9.-]+$`"
        )
    existing = kind_cluster_names(ctx)
    if name in existing:
        raise Fail(
            f"ERROR: failed to create cluster: node(s) already exist for a cluster with the "
            f'name "{name}"'
        )
    nodes = node_names(name, config)
    port = int(((config.get("networking") or {}).get("apiServerPort")) or 0) or free_port(ctx)
    node_image = node_image_env()
    proxy_env = kind_proxy_env(config, nodes)
    ctx.err(f'Creating cluster "{name}" ...')
    if node_image and ctx.scenario().get("offline"):
        # kind pulls each node's image (the config's nodes[].image) unless
        # `docker image inspect` finds it (pkg/cluster/internal/providers/docker/images.go:
        # pullIfNotPresent); with no registry reachable, that pull fails.
        for wanted in {
            (n.get("image") if isinstance(n, dict) else None) or KIND_NODE_IMAGE
            for n in (config.get("nodes") or [{}])
        }:
            require_local_image(wanted)
    ctx.err(f" ✓ Ensuring node image ({KIND_NODE_IMAGE}) 🖼")
    if node_image:
        create_node_containers(ctx, name, nodes, node_image, proxy_env)
    ctx.err(" ✓ Preparing nodes 📦 " + "📦 " * (len(nodes) - 1))
    rec = new_cluster(name, kind=True, docker=bool(node_image), port=port, nodes=nodes)
    # What the node's containerd (and every container kind starts there) runs with.
    rec["nodeEnv"] = proxy_env
    # kubeadm passes these to the API server (--feature-gates, --runtime-config).
    rec["feature_gates"] = dict(config.get("featureGates") or {})
    rec["runtime_config"] = dict(config.get("runtimeConfig") or {})
    ctx.clusters()[name] = rec
    ctx.live[name] = True
    ctx.dirty = True
    ctx.err(" ✓ Writing configuration 📜")
    ctx.err(" ✓ Starting control-plane 🕹️")
    ctx.checkpoint()
    ctx.err(" ✓ Installing CNI 🔌")
    ctx.err(" ✓ Installing StorageClass 💾")
    if len(nodes) > 1:
        ctx.err(" ✓ Joining worker nodes 🚜")
    wait = opts.get("wait")
    if wait and duration_seconds(wait) > 0:
        ctx.err(
            f" ✓ Waiting ≤ {format_duration(duration_seconds(wait))} for control-plane = Ready ⏳"
        )
        start = clock(rec)
        if wait_for(
            ctx, rec, duration_seconds(wait), lambda: node_ready(ctx) and not api_starting(ctx, rec)
        ):
            ctx.err(f" • Ready after {format_duration(max(clock(rec) - start, 14))} 💚")
        else:
            ctx.err(" • WARNING: Timed out waiting for Ready ⚠️")
    path = kind_kubeconfig_target(opts)
    add_to_kubeconfig(path, f"kind-{name}", rec["server"])
    sample = f"kubectl cluster-info --context kind-{name}"
    if opts.get("kubeconfig"):
        sample += f" --kubeconfig {opts['kubeconfig']}"
    ctx.err(f'Set kubectl context to "kind-{name}"')
    ctx.err(f"You can now use your cluster with:\n\n{sample}")
    ctx.err("")
    ctx.err("Have a nice day! 👋")
    return 0


def kind_proxy_env(config: Obj, nodes: list[tuple[str, str]]) -> dict[str, str]:
    """The proxy variables kind passes into each node container (``docker run -e``), as
    kind v0.31 builds them from its own environment: pkg/cluster/internal/providers/common/
    proxy.go (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, upper case first, then lower; NO_PROXY
    gains the service and pod subnets) and providers/docker/provision.go getProxyEnv (then
    the docker network's subnets, the node names and the .svc names). Nothing without a
    proxy variable. (The docker network's subnets are left out here: the fake has none.)"""
    networking = config.get("networking") or {}
    envs: dict[str, str] = {}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        value = os.environ.get(var) or os.environ.get(var.lower()) or ""
        if value:
            envs[var] = envs[var.lower()] = value
    if not envs:
        return {}
    entries = [envs["NO_PROXY"]] if envs.get("NO_PROXY") else []
    entries += [
        networking.get("serviceSubnet") or "10.96.0.0/16",
        networking.get("podSubnet") or "10.244.0.0/16",
    ]
    entries += [node for node, _ in nodes]
    entries += [".svc", ".svc.cluster", ".svc.cluster.local"]
    envs["NO_PROXY"] = envs["no_proxy"] = ",".join(entries)
    return envs


def require_local_image(image: str) -> None:
    import docker.errors

    try:
        docker_client().images.get(image)
    except docker.errors.ImageNotFound:
        raise Fail(
            f" ✗ Ensuring node image ({image}) 🖼\nERROR: failed to create cluster: failed to "
            f'pull image "{image}": command "docker pull {image}" failed with error: exit '
            "status 1"
        ) from None


def create_node_containers(
    ctx: Ctx,
    name: str,
    nodes: list[tuple[str, str]],
    image: str,
    environment: dict[str, str] | None = None,
) -> None:
    import docker.errors

    client = docker_client()
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise Fail(
            f'ERROR: failed to create cluster: failed to pull image "{image}": command '
            f'"docker pull {image}" failed with error: exit status 1'
        ) from None
    created = []
    try:
        for node, role in nodes:
            created.append(
                client.containers.run(
                    image,
                    ["sleep", "infinity"],
                    name=node,
                    hostname=node,
                    environment=environment or {},
                    detach=True,
                    network_mode="none",
                    restart_policy={"Name": "no"},
                    # A kind node's systemd stops in moments; `sleep` as PID 1 ignores
                    # SIGTERM, so every `docker restart` would wait out its whole timeout.
                    stop_signal="SIGKILL",
                    labels={LABEL_CLUSTER: name, LABEL_ROLE: role, LABEL_STATE: state_label(ctx)},
                )
            )
    except docker.errors.APIError as exc:
        for c in created:
            with contextlib.suppress(Exception):
                c.remove(force=True)
        if exc.status_code == 409:
            raise Fail(
                f"ERROR: failed to create cluster: node(s) already exist for a cluster "
                f'with the name "{name}"'
            ) from None
        raise Fail(
            f'ERROR: failed to create cluster: command "docker run --name {nodes[0][0]} '
            f'{image}" failed with error: {exc}'
        ) from None


def delete_kind_cluster(ctx: Ctx, name: str, kubeconfig: Path) -> None:
    rec = ctx.clusters().get(name)
    if (rec and rec.get("docker")) or node_image_env():
        try:
            for c in docker_nodes(ctx):
                if c.labels.get(LABEL_CLUSTER) == name:
                    c.remove(force=True)
        except Exception as exc:
            raise Fail(
                f'ERROR: failed to delete cluster "{name}": failed to delete nodes: {exc}'
            ) from None
    if rec is not None and rec.get("kind"):
        del ctx.clusters()[name]
        ctx.dirty = True
    remove_from_kubeconfig(kubeconfig, f"kind-{name}")


def kind_delete_cluster(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    no_args(ctx, args)
    name = kind_name(opts)
    ctx.err(f'Deleting cluster "{name}" ...')
    sync_docker(ctx, strict=False)
    delete_kind_cluster(ctx, name, kind_kubeconfig_target(opts))
    return 0


def kind_load_docker_image(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if not args:
        raise Fail("ERROR: a list of image names is required")
    name = kind_name(opts)
    # Like kind, look every image up in the local Docker (`docker image inspect`) first,
    # whatever the cluster: an image Docker lacks (or no Docker at all) fails before any node
    # is looked at.
    ids: dict[str, str] = {}
    try:
        client = docker_client()
        client.ping()
    except Exception:
        client = None
    for image in args:
        try:
            ids[image] = client.images.get(image).id if client is not None else ""
        except Exception:  # ImageNotFound, or the daemon went away
            ids[image] = ""
        if not ids[image]:
            raise Fail(f'ERROR: image: "{image}" not present locally')
    kind_cluster_names(ctx)
    rec = kind_rec(ctx, name)
    if rec is None:
        raise Fail(f'ERROR: no nodes found for cluster "{name}"')
    nodes = rec["nodes"]
    for image in args:
        missing = [n for n in nodes if n["images"].get(image) != ids[image]]
        if not missing:
            ctx.err(
                f'Image: "{image}" with ID "{ids[image]}" found to be already present on all nodes.'
            )
        for node in missing:
            ctx.err(
                f'Image: "{image}" with ID "{ids[image]}" not yet present on node '
                f'"{node["name"]}", loading...'
            )
            node["images"][image] = ids[image]
            ctx.dirty = True
    return 0


def kind_export_logs(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """A few of the files kind writes (pkg/cluster/internal/providers/docker/provider.go
    CollectLogs): its version, Docker's info, and per node the kubelet's log and the
    containers' logs (the launcher's, per the scenario)."""
    if len(args) > 1:
        raise UsageError(f"accepts at most 1 arg(s), received {len(args)}")
    kind_cluster_names(ctx)
    name = kind_name(opts)
    rec = kind_rec(ctx, name)
    if rec is None:
        raise Fail(f'ERROR: unknown cluster "{name}"')
    out = Path(args[0]) if args else Path(tempfile.mkdtemp())
    ctx.err(f'Exporting logs for cluster "{name}" to:')
    ctx.out(str(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "kind-version.txt").write_text(KIND_VERSION + "\n")
    (out / "docker-info.txt").write_text(
        "Client: Docker Engine - Community\n Version: 20.10.24\n"
        "Server:\n Containers: 1\n  Running: 1\n"
    )
    stamp = time.strftime("%b %d %H:%M:%S")
    for node in rec["nodes"]:
        containers = out / node["name"] / "containers"
        containers.mkdir(parents=True, exist_ok=True)
        (out / node["name"] / "kubelet.log").write_text(
            f"{stamp} {node['name']} kubelet[190]: I0101 kubelet.go:2400] "
            '"Starting kubelet main sync loop"\n'
        )
        for obj in rec["objects"].values():
            if obj["kind"] == "Pod" and obj.get("_fake", {}).get("role") == "launcher":
                meta = obj["metadata"]
                (containers / f"{meta['name']}_{meta['namespace']}_{CONTAINER}.log").write_text(
                    "\n".join(launcher_log_lines(ctx, rec, obj)) + "\n"
                )
    return 0


# --------------------------------------------------------------------------------------------
# the commands and their flags (kind's cobra commands: pkg/cmd/kind/...); any other flag is
# kind's "unknown flag" error


NAME = F("name", "n")
KUBECONFIG = F("kubeconfig")
TREE: dict[str, Any] = {
    "version": Cmd(kind_version),
    "get": {"clusters": Cmd(kind_get_clusters)},
    "create": {
        "cluster": Cmd(
            kind_create_cluster,
            (NAME, F("config"), F("wait", kind="dur", default="0s"), KUBECONFIG),
        )
    },
    "delete": {"cluster": Cmd(kind_delete_cluster, (NAME, KUBECONFIG))},
    "load": {"docker-image": Cmd(kind_load_docker_image, (NAME,))},
    "export": {
        "kubeconfig": Cmd(kind_export_kubeconfig, (NAME, KUBECONFIG)),
        "logs": Cmd(kind_export_logs, (NAME,)),
    },
}
GLOBALS: tuple[Any, ...] = ()
