"""What the fake kind, helm and kubectl share: a call's context, the state directory, fake
time, kubeconfig files, the Docker-backed nodes and which cluster a kubeconfig reaches.

All state lives in the directory ``$FAKE_K8S_STATE`` (see ``fakek8s``); every call holds an
exclusive ``fcntl.flock`` on ``state.lock`` while it reads and writes ``state.json``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

LABEL_CLUSTER = "io.x-k8s.kind.cluster"
LABEL_ROLE = "io.x-k8s.kind.role"
LABEL_STATE = "fakek8s.state"
POD_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------------------------
# errors and a call's context


class Fail(Exception):
    """Stop the command: print ``message`` to stderr as is and exit with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(Exception):
    """A command-line error; printed in the tool's own style (``k8s_flags.usage_error``)."""


class Partial(Exception):
    """Raised at a command's checkpoint when a fault interrupts it after partial work."""


@dataclass
class Ctx:
    tool: str
    argv: list[str]
    state_dir: Path
    state: Obj = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    stdin_bytes: int | None = None
    partial: bool = False
    dirty: bool = False
    live: dict[str, bool] = field(default_factory=dict)
    clock: float | None = None  # the fake time of the cluster this call reached, when done

    def out(self, text: str = "") -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def err(self, text: str = "") -> None:
        sys.stderr.write(text if text.endswith("\n") and text.strip() else text + "\n")

    def read_stdin(self) -> bytes:
        data = sys.stdin.buffer.read()
        self.stdin_bytes = (self.stdin_bytes or 0) + len(data)
        return data

    def checkpoint(self) -> None:
        """Where an interrupted (or hung) run of this command stops."""
        if self.partial:
            raise Partial

    def scenario(self) -> Obj:
        scen: Obj = {"launcher": "ok", "node_ready": True}
        scen.update(read_json(self.state_dir / "scenario.json", {}))
        return scen

    def clusters(self) -> dict[str, Obj]:
        clusters: dict[str, Obj] = self.state.setdefault("clusters", {})
        return clusters


# --------------------------------------------------------------------------------------------
# wall-clock times (timestamps the API shows) and names


def now() -> float:
    return time.time()


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def iso(ts: float) -> str:
    """Kubernetes timestamps: RFC 3339, seconds precision, UTC."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_nano(ts: float) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def parse_time(value: str | None) -> float:
    if not value:
        return now()
    return (
        dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=dt.timezone.utc)
        .timestamp()
    )


def stable_hex(*parts: object, n: int = 16) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:n]


def pod_hash(*parts: object) -> str:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return "".join(POD_SUFFIX_CHARS[b % len(POD_SUFFIX_CHARS)] for b in digest[:10])


def random_suffix(n: int = 5) -> str:
    import random

    return "".join(random.choice(POD_SUFFIX_CHARS) for _ in range(n))


# --------------------------------------------------------------------------------------------
# fake time: each cluster has a clock in fake seconds. Every call that reaches a cluster
# ticks it by one second (the time between a caller's polls); a wait (kubectl wait / rollout
# status, helm --wait, kind create --wait) runs it forward until its condition holds or its
# timeout has passed. Workloads become ready ``ready_delay`` fake seconds after they were
# created, the API server answers ``api_delay`` seconds after the cluster was (scenario keys,
# both 0 by default: everything is ready at once). Nothing here sleeps.

WAIT_FOREVER = 3600.0  # a wait without a timeout gives up after this much fake time


def clock(rec: Obj) -> float:
    return float(rec.get("clock", 0.0))


def tick(ctx: Ctx, rec: Obj | None, seconds: float = 1.0) -> None:
    if rec is None:
        return
    rec["clock"] = ctx.clock = clock(rec) + seconds
    ctx.dirty = True


def warming(ctx: Ctx, rec: Obj, key: str) -> bool:
    """Whether the object stored under ``key`` is still starting (``ready_delay``)."""
    born = (rec.get("born") or {}).get(key)
    return born is not None and clock(rec) < born + float(ctx.scenario().get("ready_delay", 0))


def api_starting(ctx: Ctx, rec: Obj) -> bool:
    """Whether the API server has yet to answer (``api_delay`` after the cluster's start)."""
    return clock(rec) < float(rec.get("api_born", 0.0)) + float(ctx.scenario().get("api_delay", 0))


def wait_for(ctx: Ctx, rec: Obj, timeout: float, ok: Callable[[], bool]) -> bool:
    """Run the cluster's clock forward until ``ok()`` or ``timeout`` fake seconds passed;
    a timeout ≤ 0 looks once, like the real tools."""
    if timeout < 0:
        timeout = WAIT_FOREVER
    end = clock(rec) + timeout
    while True:
        if ok():
            return True
        if clock(rec) >= end:
            return False
        # nothing changes between the moments something becomes ready: jump to the next
        later = [t for t in ready_times(ctx, rec) if t > clock(rec)]
        tick(ctx, rec, min([end, *later]) - clock(rec))


def ready_times(ctx: Ctx, rec: Obj) -> list[float]:
    scen = ctx.scenario()
    delay = float(scen.get("ready_delay", 0))
    return [
        float(rec.get("api_born", 0.0)) + float(scen.get("api_delay", 0)),
        *(born + delay for born in (rec.get("born") or {}).values()),
    ]


# --------------------------------------------------------------------------------------------
# files, state, faults, call log


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return copy.deepcopy(default)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    # Compact: json's C encoder does not indent, and every fake call writes the state.
    write_atomic(path, json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")


# libyaml's loader where PyYAML has it: every fake call reads a kubeconfig.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """``yaml.safe_load``, with libyaml when it is there."""
    return yaml.load(text, Loader=_YAML_LOADER)


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[Any]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "state.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_state(state_dir: Path) -> Obj:
    state: Obj = read_json(state_dir / "state.json", {})
    state.setdefault("clusters", {})
    return state


def save_state(ctx: Ctx) -> None:
    write_json(ctx.state_dir / "state.json", ctx.state)


def subsequence(tokens: list[str], argv: list[str]) -> bool:
    it = iter(argv)
    return all(any(tok == a for a in it) for tok in tokens)


def take_fault(state_dir: Path, tool: str, argv: list[str]) -> Obj | None:
    """The first rule of faults.json that matches this call; its "times" is decremented.

    A rule: {"tool": "helm", "match": ["upgrade"], "action": "fail" | "interrupt" | "hang",
    "exit": 1, "stderr": "...", "stdout": "...", "times": 1, "after": "before" | "work",
    "seconds": 300, "skip": 1}. "match" tokens must all appear in argv, in that order.
    Without "times" the rule stays forever; with "skip" that many matching calls pass first.
    """
    path = state_dir / "faults.json"
    rules = read_json(path, [])
    for i, rule in enumerate(rules):
        if rule.get("tool") not in (None, "*", tool):
            continue
        if not subsequence([str(t) for t in rule.get("match", [])], argv):
            continue
        if int(rule.get("skip") or 0) > 0:
            rule["skip"] = int(rule["skip"]) - 1
            write_json(path, rules)
            return None
        if "times" in rule:
            rule["times"] = int(rule["times"]) - 1
            if rule["times"] <= 0:
                rules.pop(i)
            write_json(path, rules)
        return dict(rule)
    return None


def log_call(ctx: Ctx, code: int | None) -> None:
    entry = {
        "tool": ctx.tool,
        "argv": ctx.argv,
        "cwd": os.getcwd(),
        "stdin_bytes": ctx.stdin_bytes,
        # Names only (never values): what the caller let through to its tools.
        "env": sorted(os.environ),
        "pid": os.getpid(),
        "time": now(),
        "exit": code,
        "clock": ctx.clock,
    }
    with open(ctx.state_dir / "calls.jsonl", "a") as fh:
        fh.write(json.dumps(entry) + "\n")


# --------------------------------------------------------------------------------------------
# kubeconfig


FAKE_CERT = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nZmFrZWs4cyBkdW1teSBjZXJ0aWZpY2F0ZQ==\n"
    b"-----END CERTIFICATE-----\n"
).decode()
FAKE_KEY = base64.b64encode(
    b"-----BEGIN RSA PRIVATE KEY-----\nZmFrZWs4cyBkdW1teSBrZXk=\n-----END RSA PRIVATE KEY-----\n"
).decode()


def empty_kubeconfig() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "contexts": [],
        "users": [],
        "current-context": "",
    }


def default_kubeconfig_paths() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def read_kubeconfig(path: Path) -> Obj:
    try:
        data = load_yaml(path.read_text()) or {}
    except FileNotFoundError:
        return empty_kubeconfig()
    except yaml.YAMLError as exc:
        raise Fail(f'error: error loading config file "{path}": {exc}') from None
    cfg = empty_kubeconfig()
    cfg.update({k: v for k, v in data.items() if v is not None})
    for key in ("clusters", "contexts", "users"):
        cfg[key] = list(cfg.get(key) or [])
    return cfg


def write_kubeconfig(path: Path, cfg: Obj) -> None:
    # Like kind and kubectl (Go's os.WriteFile(path, data, 0600)): the mode applies to a
    # new file only; an existing kubeconfig keeps the mode it has.
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600
    write_atomic(path, yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False), mode)


def named(entries: list[Obj], name: str) -> Obj | None:
    return next((e for e in entries if e.get("name") == name), None)


def upsert_named(entries: list[Obj], entry: Obj) -> None:
    for i, e in enumerate(entries):
        if e.get("name") == entry["name"]:
            entries[i] = entry
            return
    entries.append(entry)


def merged_kubeconfig(paths: list[Path]) -> Obj:
    """Like client-go: the first file to define a name wins; missing files are skipped."""
    cfg = empty_kubeconfig()
    for path in paths:
        part = read_kubeconfig(path)
        if not cfg["current-context"] and part.get("current-context"):
            cfg["current-context"] = part["current-context"]
        for key in ("clusters", "contexts", "users"):
            for entry in part[key]:
                if named(cfg[key], entry.get("name", "")) is None:
                    cfg[key].append(entry)
    return cfg


def add_to_kubeconfig(
    path: Path,
    name: str,
    server: str,
    make_current: bool = True,
    namespace: str | None = None,
    client_cert: str | None = None,
) -> None:
    cfg = read_kubeconfig(path)
    context: Obj = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    upsert_named(
        cfg["clusters"],
        {"name": name, "cluster": {"certificate-authority-data": FAKE_CERT, "server": server}},
    )
    upsert_named(cfg["contexts"], {"name": name, "context": context})
    upsert_named(
        cfg["users"],
        {
            "name": name,
            "user": {
                "client-certificate-data": client_cert or FAKE_CERT,
                "client-key-data": FAKE_KEY,
            },
        },
    )
    if make_current or not cfg.get("current-context"):
        cfg["current-context"] = name
    write_kubeconfig(path, cfg)


def remove_from_kubeconfig(path: Path, name: str) -> None:
    if not path.exists():
        return
    cfg = read_kubeconfig(path)
    for key in ("clusters", "contexts", "users"):
        cfg[key] = [e for e in cfg[key] if e.get("name") != name]
    if cfg.get("current-context") == name:
        cfg["current-context"] = ""
    write_kubeconfig(path, cfg)


# --------------------------------------------------------------------------------------------
# Docker-backed clusters (``$FAKE_KIND_NODE_IMAGE``): the Docker SDK is imported only here


def docker_client() -> Any:
    import docker  # imported lazily: it is slow and only docker mode needs it

    return docker.from_env(timeout=60)


def node_image_env() -> str | None:
    return os.environ.get("FAKE_KIND_NODE_IMAGE") or None


def state_label(ctx: Ctx) -> str:
    return str(ctx.state_dir.resolve())


def docker_in_play(ctx: Ctx) -> bool:
    return bool(node_image_env()) or any(c.get("docker") for c in ctx.clusters().values())


def docker_nodes(ctx: Ctx) -> list[Any]:
    """This state directory's kind node containers (all states)."""
    from . import dockerapi

    labels = [LABEL_CLUSTER, f"{LABEL_STATE}={state_label(ctx)}"]
    sock = dockerapi.unix_socket()
    if sock is not None:  # almost every call lists them: without the SDK's import
        return list(dockerapi.list_containers(sock, labels))
    return list(docker_client().containers.list(all=True, filters={"label": labels}))


def sync_docker(ctx: Ctx, strict: bool) -> list[Any]:
    """Drop Docker-backed clusters whose node container is gone; note which ones run.

    ``strict``: a Docker error is a kind-style failure (else such clusters are unreachable).
    """
    if not docker_in_play(ctx):
        return []
    try:
        containers = docker_nodes(ctx)
    except Exception as exc:
        if strict:
            raise Fail(
                f'ERROR: failed to list clusters: command "docker ps -a --filter '
                f'label={LABEL_CLUSTER}" failed with error: {exc}'
            ) from None
        for name, rec in ctx.clusters().items():
            if rec.get("docker"):
                ctx.live[name] = False
        return []
    by_cluster: dict[str, list[Any]] = {}
    for c in containers:
        by_cluster.setdefault(c.labels.get(LABEL_CLUSTER, ""), []).append(c)
    for name in list(ctx.clusters()):
        rec = ctx.clusters()[name]
        if not rec.get("docker"):
            continue
        control = [
            c for c in by_cluster.get(name, []) if c.labels.get(LABEL_ROLE) == "control-plane"
        ]
        if not control:
            del ctx.clusters()[name]
            ctx.dirty = True
            continue
        ctx.live[name] = all(c.status == "running" for c in control)
        started = ",".join(
            sorted(str((c.attrs.get("State") or {}).get("StartedAt", "")) for c in control)
        )
        if ctx.live[name] and rec.get("node_started") != started:
            if rec.get("node_started") is not None:
                # the node container (re)started: its API server answers api_delay from now
                rec["api_born"] = clock(rec)
            rec["node_started"] = started
            ctx.dirty = True
    return containers


# --------------------------------------------------------------------------------------------
# which cluster a kubeconfig points at


@dataclass
class Target:
    rec: Obj | None
    server: str
    namespace: str


def resolve_target(ctx: Ctx, kubeconfig: str | None, context: str | None) -> Target:
    """Load the kubeconfig like client-go and find the cluster behind its server URL.

    Raises Fail with kubectl's wording; helm callers rewrap it.
    """
    if kubeconfig:
        path = Path(kubeconfig)
        if not path.exists():
            raise Fail(f"error: stat {kubeconfig}: no such file or directory")
        cfg = read_kubeconfig(path)
    else:
        cfg = merged_kubeconfig(default_kubeconfig_paths())
    name = context or cfg.get("current-context") or ""
    if not name:
        return Target(None, "http://localhost:8080", "default")
    kctx = named(cfg["contexts"], name)
    if kctx is None:
        raise Fail(f'error: context "{name}" does not exist')
    body = kctx.get("context") or {}
    cluster = named(cfg["clusters"], body.get("cluster", ""))
    if cluster is None:
        raise Fail(f'error: cluster "{body.get("cluster", "")}" does not exist')
    server = str((cluster.get("cluster") or {}).get("server", ""))
    rec = next((c for c in ctx.clusters().values() if c.get("server") == server), None)
    return Target(rec, server, body.get("namespace") or "default")


def host_port(server: str) -> str:
    return re.sub(r"^[a-z]+://", "", server).split("/")[0]


def connect(ctx: Ctx, target: Target) -> Obj | None:
    """The cluster the call reaches (its clock ticked), or None: no API server answers."""
    sync_docker(ctx, strict=False)
    tick(ctx, target.rec)
    rec = target.rec
    if rec is None or (rec.get("docker") and not ctx.live.get(rec["name"], False)):
        return None
    return None if api_starting(ctx, rec) else rec
