"""Fake ``kind``, ``helm`` and ``kubectl`` for airbox's tests: ``main(tool, argv) -> int``.

All state lives in the directory ``$FAKE_K8S_STATE``:

``state.json``
    clusters (nodes, objects, helm releases, each cluster's fake clock); every invocation
    holds an exclusive ``fcntl.flock`` on ``state.lock`` while it reads and writes it.
``calls.jsonl``
    one JSON line per invocation: tool, argv, cwd, stdin_bytes (a length, never content;
    null when the command did not read stdin), time, exit and clock (the fake time of the
    cluster it reached, or null).
``scenario.json``
    how the data plane behaves: ``{"launcher": "ok" | "crashloop" | "imagepull" |
    "auth-fail", "node_ready": true, "log_lines": [...], "ready_delay": 0, "api_delay": 0}``;
    pod status, events and logs are derived from it whenever they are read (see "fake
    time" for the delays).
``faults.json``
    rules that make a matching invocation fail, hang or be interrupted (see ``take_fault``).

Only the commands airbox runs exist (any other is an unknown command). Each parses its
flags against an allow-list of the real tool's flags (kind v0.31, kubectl v1.35, helm v3.20)
and answers with output and errors shaped like the real tool's.
When ``$FAKE_KIND_NODE_IMAGE`` is set, ``kind create cluster`` also starts a real Docker
container per node (network "none") and the cluster exists exactly as long as it does.
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
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

# mypy reads the package form: the other one is the same file under its script name.
if TYPE_CHECKING or __package__:  # imported by the fixture as tests.fakes.fakek8s
    from . import admission_model, chart_model
else:  # run through a wrapper script with tests/fakes on sys.path
    import admission_model
    import chart_model

# A fake call is a process of its own, mostly a short one: what only some commands need
# (tarfile, uuid, random, traceback, the Docker client) is imported where they use it.

Obj = dict[str, Any]

KIND_VERSION = "kind v0.31.0 go1.24.0 linux/amd64"
KIND_NODE_IMAGE = "kindest/node:v1.35.0"
K8S_VERSION = "v1.35.0"
K8S_COMMIT = "66452049f3d692768c39c797b21b793dce80314e"
KUSTOMIZE_VERSION = "v5.7.1"
HELM_VERSION = "v3.20.1"
HELM_COMMIT = "a2369ca71c0ef633bf6e4fccd66d634eb379b371"
HELM_GO_VERSION = "go1.25.5"
CHART_NAME = "airbyte-data-plane"
CHART_VERSION = "1.8.1"
# The airbyte-data-plane versions the fake repository has (the real ones airbox pins or
# tests against); any other version is "not found", as the real repository answers.
# 1.8.2 stands for the next release in the upgrade tests (tests/test_year_upgrade.py).
REPO_CHART_VERSIONS = ("1.8.0", "1.8.1", "1.8.2")
CHART_REPO = "https://airbytehq.github.io/charts"
LAUNCHER_IMAGE = "airbyte/workload-launcher"
CONTAINER = "airbyte-data-plane"
LABEL_CLUSTER = "io.x-k8s.kind.cluster"
LABEL_ROLE = "io.x-k8s.kind.role"
LABEL_STATE = "fakek8s.state"
HANG_SECONDS = 300.0
INTERNAL_ERROR = 70  # exit code of a bug in the fake itself
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
GO_DURATION = re.compile(r"^[-+]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
POD_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------------------------
# errors, context, time


class Fail(Exception):
    """Stop the command: print ``message`` to stderr as is and exit with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(Exception):
    """A command-line error; printed in the tool's own style (see ``usage_error``)."""


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
    quiet: bool = False
    dirty: bool = False
    live: dict[str, bool] = field(default_factory=dict)
    clock: float | None = None  # the fake time of the cluster this call reached, when done

    def out(self, text: str = "") -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def err(self, text: str = "") -> None:
        if not self.quiet:
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


def now() -> float:
    return time.time()


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def iso(ts: float) -> str:
    """Kubernetes timestamps: RFC 3339, seconds precision, UTC."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_nano(ts: float) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def ansic(ts: float) -> str:
    """Go's time.ANSIC layout (helm status / history tables)."""
    d = utc(ts)
    return f"{d:%a %b} {d.day:2d} {d:%H:%M:%S %Y}"


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
# flags (pflag / cobra semantics)


@dataclass(frozen=True)
class Flag:
    name: str
    short: str | None = None
    kind: str = (
        "str"  # bool | str | list (repeatable) | slice (repeatable, comma-split) | int | dur
    )
    default: Any = None
    no_opt: str | None = None  # pflag's NoOptDefVal: "--flag" alone means this value

    def display(self) -> str:
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"


def F(
    name: str,
    short: str | None = None,
    kind: str = "str",
    default: Any = None,
    no_opt: str | None = None,
) -> Flag:
    return Flag(name, short, kind, default, no_opt)


def B(name: str, short: str | None = None) -> Flag:
    return Flag(name, short, "bool", False)


HELP = B("help", "h")

GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str, flag: Flag) -> bool:
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise UsageError(
        f'invalid argument "{value}" for "{flag.display()}" flag: '
        f'strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def convert(flag: Flag, value: str) -> Any:
    if flag.kind == "int":
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{flag.display()}" flag: '
                f'strconv.ParseInt: parsing "{value}": invalid syntax'
            ) from None
    if flag.kind == "dur" and not GO_DURATION.match(value):
        raise UsageError(
            f'invalid argument "{value}" for "{flag.display()}" flag: '
            f'time: invalid duration "{value}"'
        )
    return value


def store_flag(opts: Obj, flag: Flag, value: Any) -> None:
    if flag.kind == "list":
        opts[flag.name].append(value)
    elif flag.kind == "slice":
        opts[flag.name].extend(v for v in str(value).split(",") if v)
    else:
        opts[flag.name] = value
    opts.setdefault("_set", set()).add(flag.name)


def parse_flags(argv: list[str], flags: Iterable[Flag]) -> tuple[Obj, list[str]]:
    """Parse interspersed flags and positionals like pflag; unknown flags are errors."""
    flags = list(flags)
    by_long = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    opts: Obj = {"_set": set()}
    for f in flags:
        opts[f.name] = [] if f.kind in ("list", "slice") else f.default
    args: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            args.extend(argv[i + 1 :])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            flag = by_long.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if flag.kind == "bool":
                store_flag(opts, flag, parse_bool(val, flag) if eq else True)
            elif eq:
                store_flag(opts, flag, convert(flag, val))
            elif flag.no_opt is not None:
                store_flag(opts, flag, flag.no_opt)
            else:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                i += 1
                store_flag(opts, flag, convert(flag, argv[i]))
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                flag = by_short.get(c)
                if flag is None:
                    raise UsageError(f"unknown shorthand flag: '{c}' in {a}")
                rest = a[j + 1 :]
                if flag.kind == "bool":
                    if rest.startswith("="):
                        store_flag(opts, flag, parse_bool(rest[1:], flag))
                        break
                    store_flag(opts, flag, True)
                    j += 1
                    continue
                if rest.startswith("="):
                    rest = rest[1:]
                if rest:
                    store_flag(opts, flag, convert(flag, rest))
                elif flag.no_opt is not None:
                    store_flag(opts, flag, flag.no_opt)
                else:
                    if i + 1 >= len(argv):
                        raise UsageError(f"flag needs an argument: '{c}' in -{c}")
                    i += 1
                    store_flag(opts, flag, convert(flag, argv[i]))
                break
        else:
            args.append(a)
        i += 1
    return opts, args


def duration_seconds(value: str) -> float:
    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for num, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", value):
        total += float(num) * units[unit]
    return -total if value.startswith("-") else total


def format_duration(seconds: float) -> str:
    """Go's time.Duration.String() for whole seconds."""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


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
    except FileNotFoundError:
        return copy.deepcopy(default)
    except json.JSONDecodeError:
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
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def state_lock(state_dir: Path, exclusive: bool = True) -> Iterator[Any]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "state.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
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
        data = yaml.safe_load(path.read_text()) or {}
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


def kubeconfig_entries(
    name: str,
    server: str,
    user: str | None = None,
    namespace: str | None = None,
    client_cert: str | None = None,
) -> tuple[Obj, Obj, Obj]:
    user = user or name
    ctx: Obj = {"cluster": name, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return (
        {"name": name, "cluster": {"certificate-authority-data": FAKE_CERT, "server": server}},
        {"name": name, "context": ctx},
        {
            "name": user,
            "user": {
                "client-certificate-data": client_cert or FAKE_CERT,
                "client-key-data": FAKE_KEY,
            },
        },
    )


def add_to_kubeconfig(
    path: Path,
    name: str,
    server: str,
    make_current: bool = True,
    namespace: str | None = None,
    client_cert: str | None = None,
) -> None:
    cfg = read_kubeconfig(path)
    cluster, context, user = kubeconfig_entries(
        name, server, namespace=namespace, client_cert=client_cert
    )
    upsert_named(cfg["clusters"], cluster)
    upsert_named(cfg["contexts"], context)
    upsert_named(cfg["users"], user)
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
# docker (only imported when a cluster is Docker-backed)


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
    labels = [LABEL_CLUSTER, f"{LABEL_STATE}={state_label(ctx)}"]
    if TYPE_CHECKING or __package__:
        from . import dockerapi
    else:
        import dockerapi
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
        nodes = by_cluster.get(name, [])
        control = [c for c in nodes if c.labels.get(LABEL_ROLE) == "control-plane"]
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
# the cluster model


@dataclass(frozen=True)
class Res:
    """A resource type kubectl knows."""

    kind: str
    api: str
    plural: str
    namespaced: bool
    aliases: tuple[str, ...]

    @property
    def group(self) -> str:
        return self.api.split("/")[0] if "/" in self.api else ""

    @property
    def qualified(self) -> str:
        """As in NotFound errors: ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self) -> str:
        """As in ``-o name``: ``deployment.apps``."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()


RESOURCES = (
    Res("Namespace", "v1", "namespaces", False, ("ns", "namespace")),
    Res("Node", "v1", "nodes", False, ("no", "node")),
    Res("Pod", "v1", "pods", True, ("po", "pod")),
    Res("Deployment", "apps/v1", "deployments", True, ("deploy", "deployment")),
    Res("ReplicaSet", "apps/v1", "replicasets", True, ("rs", "replicaset")),
    Res("Secret", "v1", "secrets", True, ("secret",)),
    Res("ConfigMap", "v1", "configmaps", True, ("cm", "configmap")),
    Res("Event", "v1", "events", True, ("ev", "event")),
    Res("Service", "v1", "services", True, ("svc", "service")),
    Res("ServiceAccount", "v1", "serviceaccounts", True, ("sa", "serviceaccount")),
    Res("Job", "batch/v1", "jobs", True, ("job", "jobs")),
    Res(
        "MutatingAdmissionPolicy",
        "admissionregistration.k8s.io/v1beta1",
        "mutatingadmissionpolicies",
        False,
        ("mutatingadmissionpolicy",),
    ),
    Res(
        "MutatingAdmissionPolicyBinding",
        "admissionregistration.k8s.io/v1beta1",
        "mutatingadmissionpolicybindings",
        False,
        ("mutatingadmissionpolicybinding",),
    ),
)
ADMISSION_GROUP = "admissionregistration.k8s.io"
# What the API server serves of admissionregistration.k8s.io, by version. Kubernetes 1.34
# and 1.35 (kubernetes pkg/features/kube_features.go, apiserver pkg/features): the
# MutatingAdmissionPolicy gate is beta and off by default, and beta versions are off by
# default: v1beta1 needs --runtime-config=admissionregistration.k8s.io/v1beta1=true, and
# its mutatingadmissionpolicies only with the gate on as well (kubernetes.io docs,
# "Mutating Admission Policy"). GA (v1, on by default) is 1.36.
ADMISSION_V1 = (
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
)
ADMISSION_V1BETA1 = ("validatingadmissionpolicies", "validatingadmissionpolicybindings")
ADMISSION_POLICY = ("mutatingadmissionpolicies", "mutatingadmissionpolicybindings")


def _enabled(runtime_config: Obj, group_version: str) -> bool:
    for key in (group_version, "api/beta" if "beta" in group_version else "", "api/all"):
        if key and str(runtime_config.get(key, "")).lower() == "true":
            return True
    return False


def served_admission(rec: Obj) -> dict[str, tuple[str, ...]]:
    """admissionregistration.k8s.io: version -> resources, as this cluster's API server
    (its feature gates and runtime config, from kind's config) serves them."""
    gates = rec.get("feature_gates") or {}
    runtime = rec.get("runtime_config") or {}
    minor = int(re.sub(r"^v1\.(\d+).*$", r"\1", str(rec.get("kubelet_version") or K8S_VERSION)))
    served: dict[str, tuple[str, ...]] = {"v1": ADMISSION_V1}
    if minor >= 36:
        served["v1"] = ADMISSION_V1 + ADMISSION_POLICY
    if _enabled(runtime, f"{ADMISSION_GROUP}/v1beta1"):
        served["v1beta1"] = ADMISSION_V1BETA1 + (
            ADMISSION_POLICY if gates.get(admission_model.FEATURE_GATE) is True else ()
        )
    return served


def admission_served(rec: Obj, api: str, plural: str) -> bool:
    version = api.split("/")[1] if "/" in api else api
    return plural in served_admission(rec).get(version, ())


def res_for_kind(kind: str, api: str = "v1") -> Res:
    for res in RESOURCES:
        if res.kind == kind:
            return res
    plural = kind.lower() + ("es" if kind.lower().endswith("s") else "s")
    return Res(kind, api, plural, kind not in CLUSTER_SCOPED_KINDS, (kind.lower(),))


def lookup_res(ctx: Ctx, rec: Obj | None, word: str) -> Res:
    name = word.lower()
    for res in RESOURCES:
        names = {res.plural, *res.aliases, res.kind.lower()}
        if res.group:
            names |= {f"{n}.{res.group}" for n in (res.plural, res.kind.lower())}
            names |= {f"{n}.{res.api.split('/')[1]}.{res.group}" for n in (res.plural,)}
        if name in names:
            if (
                res.group == ADMISSION_GROUP
                and rec is not None
                and not any(res.plural in found for found in served_admission(rec).values())
            ):
                raise Fail(f'error: the server doesn\'t have a resource type "{word}"')
            return res
    if rec is not None:
        for obj in rec["objects"].values():
            res = res_for_kind(obj["kind"], obj.get("apiVersion", "v1"))
            if name in (res.plural, res.kind.lower()):
                return res
    raise Fail(f'error: the server doesn\'t have a resource type "{word}"')


def okey(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def public(obj: Obj) -> Obj:
    """A copy fit for output: without the fake's private bookkeeping."""
    out = copy.deepcopy(obj)
    out.pop("_fake", None)
    return out


def next_rv(rec: Obj) -> str:
    rec["rv"] = int(rec.get("rv", 1000)) + 1
    return str(rec["rv"])


def put(rec: Obj, obj: Obj) -> Obj:
    meta = obj.setdefault("metadata", {})
    ns = meta.get("namespace", "") if res_for_kind(obj["kind"]).namespaced else ""
    key = okey(obj["kind"], ns, meta["name"])
    old = rec["objects"].get(key)
    if not old:
        import uuid
    meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else iso(now())
    meta["resourceVersion"] = next_rv(rec)
    if old is None or old.get("spec") != obj.get("spec"):
        rec.setdefault("born", {})[key] = clock(rec)  # a new object or a new rollout
    rec["objects"][key] = obj
    return obj


def get_obj(rec: Obj, kind: str, namespace: str, name: str) -> Obj | None:
    res = res_for_kind(kind)
    found: Obj | None = rec["objects"].get(okey(kind, namespace if res.namespaced else "", name))
    return found


def delete_obj(rec: Obj, kind: str, namespace: str, name: str) -> Obj | None:
    res = res_for_kind(kind)
    key = okey(kind, namespace if res.namespaced else "", name)
    (rec.get("born") or {}).pop(key, None)
    removed: Obj | None = rec["objects"].pop(key, None)
    return removed


def admit_pod(rec: Obj, pod: Obj) -> Obj:
    """A pod being created, after the cluster's mutating admission policies (their API
    served: an object of a kind no longer served is not acted on)."""
    ns = pod["metadata"].get("namespace", "")
    objects = list(rec["objects"].values())
    policies = [
        o
        for o in objects
        if o["kind"] == "MutatingAdmissionPolicy"
        and admission_served(rec, o["apiVersion"], "mutatingadmissionpolicies")
    ]
    bindings = [
        o
        for o in objects
        if o["kind"] == "MutatingAdmissionPolicyBinding"
        and admission_served(rec, o["apiVersion"], "mutatingadmissionpolicybindings")
    ]
    if not policies:
        return pod
    private = pod.pop("_fake", None)
    try:
        out = admission_model.admit(
            pod, "CREATE", get_obj(rec, "Namespace", "", ns), policies, bindings
        )
    finally:
        if private is not None:
            pod["_fake"] = private
    if private is not None:
        out["_fake"] = private
    return out


def namespace_exists(rec: Obj, ns: str) -> bool:
    return okey("Namespace", "", ns) in rec["objects"]


def new_namespace(rec: Obj, name: str, labels: Obj | None = None) -> Obj:
    return put(
        rec,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        },
    )


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


def new_cluster(
    ctx: Ctx,
    name: str,
    *,
    kind: bool,
    docker: bool,
    port: int,
    nodes: list[tuple[str, str]],
    kube_name: str,
    image: str,
) -> Obj:
    rec: Obj = {
        "name": name,
        "kind": kind,
        "docker": docker,
        "port": port,
        "server": f"https://127.0.0.1:{port}",
        "kube_cluster": kube_name,
        "created": now(),
        "image": image,
        "rv": 1000,
        "objects": {},
        "releases": {},
        "nodes": [{"name": n, "role": r, "images": {}} for n, r in nodes],
    }
    for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
        new_namespace(rec, ns)
    if kind:
        new_namespace(rec, "local-path-storage")
    control = nodes[0][0]
    system = [
        ("kube-system", f"etcd-{control}"),
        ("kube-system", f"kube-apiserver-{control}"),
        ("kube-system", f"kube-controller-manager-{control}"),
        ("kube-system", f"kube-scheduler-{control}"),
    ]
    for _node in nodes:
        system.append(("kube-system", f"kube-proxy-{random_suffix()}"))
        if kind:
            system.append(("kube-system", f"kindnet-{random_suffix()}"))
    coredns_hash = pod_hash(name, "coredns")
    system += [("kube-system", f"coredns-{coredns_hash}-{random_suffix()}") for _ in range(2)]
    if kind:
        system.append(
            (
                "local-path-storage",
                f"local-path-provisioner-{pod_hash(name, 'lpp')}-{random_suffix()}",
            )
        )
    for ns, pod in system:
        app = re.sub(r"-[a-z0-9]{5}$", "", pod)
        app = re.sub(r"-[a-z0-9]{10}$", "", app).replace(f"-{control}", "")
        put(
            rec,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": {"k8s-app": app}},
                "spec": {
                    "nodeName": control,
                    "containers": [{"name": app, "image": f"registry.k8s.io/{app}:{K8S_VERSION}"}],
                },
                "_fake": {"role": "system", "created": now()},
            },
        )
    for ns, dep in (("kube-system", "coredns"), ("local-path-storage", "local-path-provisioner")):
        if ns == "local-path-storage" and not kind:
            continue
        put(
            rec,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": dep, "namespace": ns, "labels": {"k8s-app": dep}},
                "spec": {
                    "replicas": 2 if dep == "coredns" else 1,
                    "selector": {"matchLabels": {"k8s-app": dep}},
                    "template": {
                        "metadata": {"labels": {"k8s-app": dep}},
                        "spec": {"containers": [{"name": dep, "image": dep}]},
                    },
                },
                "_fake": {"role": "system"},
            },
        )
    return rec


def free_port(ctx: Ctx) -> int:
    import random

    used = {c.get("port") for c in ctx.clusters().values()}
    while True:
        port = random.randint(32768, 60999)
        if port not in used:
            return port


# -- derived state: nodes, pods, deployments, events


def node_ready(ctx: Ctx) -> bool:
    return bool(ctx.scenario().get("node_ready", True))


def node_objects(ctx: Ctx, rec: Obj) -> list[Obj]:
    ready = node_ready(ctx)
    created = iso(rec["created"])
    out = []
    for i, node in enumerate(rec["nodes"]):
        role = node["role"]
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node["name"],
            "kubernetes.io/os": "linux",
        }
        if role == "control-plane":
            labels["node-role.kubernetes.io/control-plane"] = ""
        cond = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubelet is posting ready status"
            if ready
            else "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: "
            "cni plugin not initialized",
            "lastHeartbeatTime": iso(now()),
            "lastTransitionTime": created,
        }
        taints = [] if ready else [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node["name"],
                    "labels": labels,
                    "creationTimestamp": created,
                    "uid": stable_hex(rec["name"], node["name"], n=32),
                    "resourceVersion": str(rec.get("rv", 1000)),
                },
                "spec": {
                    "podCIDR": f"10.244.{i}.0/24",
                    "providerID": f"kind://docker/{rec['name']}/{node['name']}",
                    **({"taints": taints} if taints else {}),
                },
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": f"172.18.0.{i + 2}"},
                        {"type": "Hostname", "address": node["name"]},
                    ],
                    "conditions": [cond],
                    "images": [{"names": [ref], "sizeBytes": 1000} for ref in node["images"]],
                    "nodeInfo": {
                        "architecture": "amd64",
                        "containerRuntimeVersion": "containerd://2.1.4",
                        "kernelVersion": os.uname().release,
                        # FakeK8s.age_cluster: a cluster made by an older airbox
                        "kubeletVersion": rec.get("kubelet_version") or K8S_VERSION,
                        "operatingSystem": "linux",
                        "osImage": "Debian GNU/Linux 12 (bookworm)",
                    },
                },
            }
        )
    return out


def pod_condition(ctx: Ctx, rec: Obj, pod: Obj) -> str:
    """What a pod is doing right now: system, pending, missing-secret or the scenario."""
    fake = pod.get("_fake", {})
    if fake.get("role") != "launcher":
        return "system"
    scen = ctx.scenario()
    if not scen.get("node_ready", True):
        return "pending"
    secret = fake.get("requires_secret")
    if secret and get_obj(rec, "Secret", pod["metadata"]["namespace"], secret) is None:
        return "missing-secret"
    if missing_secret_key(rec, pod) is not None:
        return "missing-key"
    if warming(ctx, rec, okey("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])):
        return "starting"
    launcher = str(scen.get("launcher", "ok"))
    return launcher if launcher in ("ok", "crashloop", "imagepull", "auth-fail") else "ok"


def missing_secret_key(rec: Obj, pod: Obj) -> tuple[str, str] | None:
    """The first (Secret, key) the launcher's env references that the cluster lacks."""
    ns = pod["metadata"]["namespace"]
    for secret, key in pod.get("_fake", {}).get("required_keys") or []:
        obj = get_obj(rec, "Secret", ns, secret)
        if obj is None or key not in (obj.get("data") or {}):
            return secret, key
    return None


def pod_view(ctx: Ctx, rec: Obj, pod: Obj) -> Obj:
    """The pod as the API server would show it, status derived from the scenario now."""
    out = public(pod)
    state = pod_condition(ctx, rec, pod)
    created = pod.get("_fake", {}).get("created") or parse_time(
        pod["metadata"].get("creationTimestamp")
    )
    node = pod["spec"].get("nodeName") or rec["nodes"][0]["name"]
    containers = pod["spec"].get("containers", [])
    statuses = []
    ready = state in ("system", "ok", "auth-fail")
    for c in containers:
        cs: Obj = {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": ready,
            "containerID": f"containerd://{stable_hex(pod['metadata']['name'], c['name'], n=64)}",
        }
        if state in ("system", "ok", "auth-fail"):
            cs["imageID"] = (
                f"docker.io/{c.get('image', '')}@sha256:{stable_hex(c.get('image'), n=64)}"
            )
            cs["state"] = {"running": {"startedAt": iso(created + 3)}}
            cs["lastState"] = {}
        elif state == "crashloop":
            cs["imageID"] = (
                f"docker.io/{c.get('image', '')}@sha256:{stable_hex(c.get('image'), n=64)}"
            )
            cs["restartCount"] = 6
            cs["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={c['name']} "
                    f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})",
                }
            }
            cs["lastState"] = {
                "terminated": {
                    "reason": "Error",
                    "exitCode": 1,
                    "startedAt": iso(max(created, now() - 62)),
                    "finishedAt": iso(max(created, now() - 58)),
                    "containerID": cs["containerID"],
                }
            }
        elif state == "imagepull":
            cs.pop("containerID")
            cs["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{c.get("image")}"',
                }
            }
            cs["lastState"] = {}
        elif state == "missing-key":
            cs.pop("containerID")
            secret, key = missing_secret_key(rec, pod) or ("", "")
            cs["state"] = {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": f"couldn't find key {key} in Secret "
                    f"{pod['metadata']['namespace']}/{secret}",
                }
            }
            cs["lastState"] = {}
        elif state == "starting":
            cs.pop("containerID")
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            cs["lastState"] = {}
        elif state == "missing-secret":
            cs.pop("containerID")
            cs["state"] = {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": f'secret "{pod["_fake"]["requires_secret"]}" not found',
                }
            }
            cs["lastState"] = {}
        statuses.append(cs)
    status: Obj = {
        "phase": "Running",
        "hostIP": "172.18.0.2",
        "podIP": f"10.244.0.{int(stable_hex(pod['metadata']['name'], n=2), 16) % 250 + 2}",
        "startTime": iso(created),
        "qosClass": "BestEffort",
    }
    t = iso(created)
    if state == "pending":
        status = {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": t,
                    "message": "0/1 nodes are available: 1 node(s) had untolerated taint "
                    "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: "
                    "1 Preemption is not helpful for scheduling.",
                }
            ],
        }
        out["spec"].pop("nodeName", None)
        out["status"] = status
        return out
    r = "True" if ready else "False"
    cond_reason = (
        {}
        if ready
        else {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{CONTAINER}]",
        }
    )
    status["conditions"] = [
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t},
        {"type": "Initialized", "status": "True", "lastTransitionTime": t},
        {"type": "Ready", "status": r, "lastTransitionTime": t, **cond_reason},
        {"type": "ContainersReady", "status": r, "lastTransitionTime": t, **cond_reason},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
    ]
    status["containerStatuses"] = statuses
    status["phase"] = (
        "Pending"
        if state in ("imagepull", "missing-secret", "missing-key", "starting")
        else "Running"
    )
    out["spec"]["nodeName"] = node
    out["status"] = status
    finished = pod.get("_fake", {}).get("phase")
    if finished in ("Succeeded", "Failed"):
        # A sync's pod after its job ended: its containers exited, it is not ready.
        code = 0 if finished == "Succeeded" else 1
        status["phase"] = finished
        for cs in statuses:
            cs.update(
                ready=False,
                started=False,
                state={
                    "terminated": {
                        "reason": "Completed" if code == 0 else "Error",
                        "exitCode": code,
                        "startedAt": iso(created + 3),
                        "finishedAt": iso(now()),
                    }
                },
            )
        for cond in status["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="PodCompleted")
    return out


def deployment_view(ctx: Ctx, rec: Obj, dep: Obj) -> Obj:
    out = public(dep)
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    replicas = int(dep.get("spec", {}).get("replicas", 1))
    if dep.get("_fake", {}).get("role") == "launcher":
        pods = [pod_view(ctx, rec, p) for p in owned_pods(rec, ns, name)]
        ready = sum(1 for p in pods if is_ready(p))
    elif unresolved_refs(rec, ns, dep):
        ready = 0  # its pods stay in CreateContainerConfigError
    elif warming(ctx, rec, okey("Deployment", ns, name)):
        ready = 0
    else:
        ready = replicas
    available = ready >= replicas
    t = dep["metadata"].get("creationTimestamp", iso(now()))
    status: Obj = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastTransitionTime": t,
                "lastUpdateTime": t,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                "message": f'ReplicaSet "{name}-{dep.get("_fake", {}).get("hash", "")}" '
                + ("has successfully progressed." if available else "is progressing."),
                "lastTransitionTime": t,
                "lastUpdateTime": t,
            },
        ],
    }
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    if replicas - ready:
        status["unavailableReplicas"] = replicas - ready
    out.setdefault("metadata", {}).setdefault("generation", 1)
    out["status"] = status
    return out


def owned_pods(rec: Obj, ns: str, deployment: str) -> list[Obj]:
    return [
        o
        for o in rec["objects"].values()
        if o["kind"] == "Pod"
        and o["metadata"].get("namespace") == ns
        and o.get("_fake", {}).get("owner") == deployment
    ]


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def make_event(
    rec: Obj,
    involved: Obj,
    reason: str,
    message: str,
    etype: str = "Normal",
    count: int = 1,
    component: str = "kubelet",
    age: float = 60,
) -> Obj:
    meta = involved["metadata"]
    ns = meta.get("namespace", "default")
    first = parse_time(meta.get("creationTimestamp"))
    last = max(first, now() - age)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{stable_hex(meta['name'], reason, message)}",
            "namespace": ns,
            "creationTimestamp": iso(first),
            "uid": stable_hex(meta["name"], reason, n=32),
            "resourceVersion": "1",
        },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion", "v1"),
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": ns,
            "uid": meta.get("uid", ""),
            **(
                {"fieldPath": f"spec.containers{{{CONTAINER}}}"}
                if involved["kind"] == "Pod" and reason != "Scheduled"
                else {}
            ),
        },
        "reason": reason,
        "message": message,
        "type": etype,
        "count": count,
        "firstTimestamp": iso(first),
        "lastTimestamp": iso(last),
        "source": {
            "component": component,
            **({"host": rec["nodes"][0]["name"]} if component == "kubelet" else {}),
        },
        "reportingComponent": component,
        "reportingInstance": "",
    }


def derived_events(ctx: Ctx, rec: Obj) -> list[Obj]:
    events: list[Obj] = []
    for obj in rec["objects"].values():
        fake = obj.get("_fake", {})
        if fake.get("role") != "launcher":
            continue
        if obj["kind"] == "Deployment":
            name = obj["metadata"]["name"]
            events.append(
                make_event(
                    rec,
                    obj,
                    "ScalingReplicaSet",
                    f"Scaled up replica set {name}-{fake.get('hash', '')} from 0 to 1",
                    component="deployment-controller",
                    age=300,
                )
            )
            continue
        if obj["kind"] != "Pod":
            continue
        pod = obj
        meta = pod["metadata"]
        image = pod["spec"]["containers"][0]["image"]
        state = pod_condition(ctx, rec, pod)
        node = rec["nodes"][0]["name"]
        if state == "pending":
            events.append(
                make_event(
                    rec,
                    pod,
                    "FailedScheduling",
                    "0/1 nodes are available: 1 node(s) had untolerated taint "
                    "{node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: "
                    "1 Preemption is not helpful for scheduling.",
                    "Warning",
                    component="default-scheduler",
                    age=30,
                )
            )
            continue
        events.append(
            make_event(
                rec,
                pod,
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
                component="default-scheduler",
                age=300,
            )
        )
        if state == "imagepull":
            events += [
                make_event(rec, pod, "Pulling", f'Pulling image "{image}"', count=4, age=90),
                make_event(
                    rec,
                    pod,
                    "Failed",
                    f'Failed to pull image "{image}": failed to pull and unpack image '
                    f'"docker.io/{image}": failed to copy: httpReadSeeker: failed open: '
                    f"unexpected status from GET request to https://registry-1.docker.io/v2/"
                    f"{image.split(':')[0]}/manifests/{image.rsplit(':', 1)[-1]}: "
                    "429 Too Many Requests\ntoomanyrequests: You have reached your pull rate "
                    "limit. You may increase the limit by authenticating and upgrading: "
                    "https://www.docker.com/increase-rate-limit",
                    "Warning",
                    count=4,
                    age=90,
                ),
                make_event(rec, pod, "Failed", "Error: ErrImagePull", "Warning", count=4, age=90),
                make_event(
                    rec, pod, "BackOff", f'Back-off pulling image "{image}"', count=12, age=20
                ),
                make_event(
                    rec, pod, "Failed", "Error: ImagePullBackOff", "Warning", count=12, age=20
                ),
            ]
            continue
        events.append(
            make_event(
                rec,
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                count=7 if state == "crashloop" else 1,
                age=120,
            )
        )
        if state in ("missing-secret", "missing-key"):
            secret, key = missing_secret_key(rec, pod) or (pod["_fake"]["requires_secret"], "")
            message = (
                f"Error: couldn't find key {key} in Secret {pod['metadata']['namespace']}/{secret}"
                if state == "missing-key"
                else f'Error: secret "{secret}" not found'
            )
            events.append(make_event(rec, pod, "Failed", message, "Warning", count=8, age=15))
            continue
        n = 7 if state == "crashloop" else 1
        events.append(
            make_event(rec, pod, "Created", f"Created container: {CONTAINER}", count=n, age=120)
        )
        events.append(
            make_event(rec, pod, "Started", f"Started container {CONTAINER}", count=n, age=120)
        )
        if state == "crashloop":
            events.append(
                make_event(
                    rec,
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container {CONTAINER} in pod "
                    f"{meta['name']}_{meta['namespace']}({meta['uid']})",
                    "Warning",
                    count=26,
                    age=10,
                )
            )
    return events


def release_secrets(rec: Obj) -> list[Obj]:
    """Helm's storage: one Secret per release revision, as ``kubectl get secrets`` shows."""
    out = []
    for key, revisions in rec["releases"].items():
        ns, name = key.split("/", 1)
        for rev in revisions:
            payload = base64.b64encode(
                json.dumps({"name": name, "version": rev["revision"]}).encode()
            )
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "helm.sh/release.v1",
                    "metadata": {
                        "name": f"sh.helm.release.v1.{name}.v{rev['revision']}",
                        "namespace": ns,
                        "labels": {
                            "name": name,
                            "owner": "helm",
                            "status": rev["status"],
                            "version": str(rev["revision"]),
                        },
                        "creationTimestamp": iso(rev["last_deployed"]),
                        "uid": stable_hex(key, rev["revision"], n=32),
                        "resourceVersion": "1",
                    },
                    "data": {"release": base64.b64encode(payload).decode()},
                }
            )
    return out


def unresolved_refs(rec: Obj, ns: str, workload: Obj) -> list[str]:
    """The secretKeyRefs of a workload's pod template that no Secret key answers (the
    kubelet then refuses to start the container: CreateContainerConfigError)."""
    spec = workload.get("spec", {}).get("template", {}).get("spec", {})
    missing = []
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if not ref or ref.get("optional"):
                continue
            secret = get_obj(rec, "Secret", ns, ref.get("name", ""))
            if secret is None or ref.get("key") not in (secret.get("data") or {}):
                missing.append(f"{ref.get('name')}/{ref.get('key')}")
    return missing


def job_view(ctx: Ctx, rec: Obj, job: Obj) -> Obj:
    """A Job completes once its pod can start (the fake runs no command)."""
    out = public(job)
    t = job["metadata"].get("creationTimestamp", iso(now()))
    ns = job["metadata"]["namespace"]
    if unresolved_refs(rec, ns, job) or warming(ctx, rec, okey("Job", ns, job["metadata"]["name"])):
        out["status"] = {"active": 1, "startTime": t}
    else:
        out["status"] = {
            "succeeded": 1,
            "startTime": t,
            "completionTime": t,
            "conditions": [
                {"type": "Complete", "status": "True", "lastProbeTime": t, "lastTransitionTime": t}
            ],
        }
    return out


def all_objects(ctx: Ctx, rec: Obj) -> list[Obj]:
    """Every object of the cluster as the API server would list it right now."""
    out: list[Obj] = []
    for obj in rec["objects"].values():
        if obj["kind"] == "Pod":
            out.append(pod_view(ctx, rec, obj))
        elif obj["kind"] == "Deployment":
            out.append(deployment_view(ctx, rec, obj))
        elif obj["kind"] == "Job":
            out.append(job_view(ctx, rec, obj))
        else:
            out.append(public(obj))
    out += node_objects(ctx, rec)
    out += derived_events(ctx, rec)
    out += release_secrets(rec)
    return out


# -- which cluster a kubeconfig points at


@dataclass
class Target:
    rec: Obj | None
    server: str
    namespace: str
    context: str
    kubeconfig: Obj


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
        return Target(None, "http://localhost:8080", "default", "", cfg)
    kctx = named(cfg["contexts"], name)
    if kctx is None:
        raise Fail(f'error: context "{name}" does not exist')
    body = kctx.get("context") or {}
    cluster = named(cfg["clusters"], body.get("cluster", ""))
    if cluster is None:
        raise Fail(f'error: cluster "{body.get("cluster", "")}" does not exist')
    server = str((cluster.get("cluster") or {}).get("server", ""))
    rec = next((c for c in ctx.clusters().values() if c.get("server") == server), None)
    return Target(rec, server, body.get("namespace") or "default", name, cfg)


def host_port(server: str) -> str:
    return re.sub(r"^[a-z]+://", "", server).split("/")[0]


def reachable(ctx: Ctx, target: Target) -> Obj | None:
    rec = target.rec
    if rec is None:
        return None
    if rec.get("docker") and not ctx.live.get(rec["name"], False):
        return None
    if api_starting(ctx, rec):
        return None
    return rec


def kubectl_refused(target: Target) -> Fail:
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


def helm_refused(target: Target) -> Fail:
    hp = host_port(target.server)
    hp_dial = "127.0.0.1:8080" if hp == "localhost:8080" else hp
    return Fail(
        f'Error: Kubernetes cluster unreachable: Get "{target.server}/version": '
        f"dial tcp {hp_dial}: connect: connection refused"
    )


# --------------------------------------------------------------------------------------------
# output: selectors, tables


def jp_format(value: Any) -> str:
    """A field's value as kubectl's field selectors compare it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def split_top(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (x.strip() for x in parts) if p]


def selector_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """A label selector (=, ==, !=, in, notin, exists, !exists) as a predicate on labels."""
    if not selector:
        return lambda labels: True
    tests: list[tuple[str, str, set[str]]] = []  # (op, key, values)
    for term in split_top(selector):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\((.*)\)$", term)
        if m:
            tests.append((m.group(2), m.group(1), {v.strip() for v in m.group(3).split(",")}))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)$", term)
        if m:
            tests.append(("!=" if m.group(2) == "!=" else "=", m.group(1), {m.group(3)}))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", term)
        if m:
            tests.append(("!exists" if m.group(1) else "exists", m.group(2), set()))
            continue
        raise Fail(
            f"error: unable to parse requirement: found '{term}', expected: "
            "'=', '!=', '==', 'in', notin'"
        )

    def match(labels: Obj) -> bool:
        for op, key, values in tests:
            ok = {
                "in": labels.get(key) in values,
                "notin": labels.get(key) not in values,
                "=": key in labels and labels[key] in values,
                "!=": labels.get(key) not in values,
                "exists": key in labels,
                "!exists": key not in labels,
            }[op]
            if not ok:
                return False
        return True

    return match


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    if not selector:
        return lambda obj: True
    tests: list[Callable[[Obj], bool]] = []
    for term in split_top(selector):
        m = re.match(r"^([\w.]+)\s*(==|!=|=)\s*(.*)$", term)
        if not m:
            raise Fail(f"error: invalid selector: '{selector}'; can't understand '{term}'")
        path, op, val = m.groups()

        def test(obj: Obj, path: str = path, op: str = op, val: str = val) -> bool:
            cur: Any = obj
            for part in path.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            got = "" if cur is None else jp_format(cur)
            return got != val if op == "!=" else got == val

        tests.append(test)
    return lambda obj: all(t(obj) for t in tests)


def kubectl_table(rows: list[list[str]]) -> str:
    """kubectl's tabwriter: columns padded, three spaces apart, no trailing padding."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(len(r) for r in rows))]
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def helm_table(rows: list[list[str]]) -> str:
    """helm's uitable: every cell padded to its column width, tab separated."""
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "".join("\t".join(str(c).ljust(widths[i]) for i, c in enumerate(r)) + "\n" for r in rows)


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)


def age_of(obj: Obj) -> str:
    return human_age(now() - parse_time(obj.get("metadata", {}).get("creationTimestamp")))


def pod_status_text(pod: Obj) -> tuple[str, str, str]:
    """READY, STATUS, RESTARTS as kubectl get pods prints them."""
    st = pod.get("status", {})
    statuses = st.get("containerStatuses", [])
    total = len(pod.get("spec", {}).get("containers", [])) or 1
    ready = sum(1 for c in statuses if c.get("ready"))
    reason = st.get("phase", "Unknown")
    restarts = 0
    last = ""
    for c in statuses:
        restarts += int(c.get("restartCount", 0))
        waiting = c.get("state", {}).get("waiting")
        if waiting:
            reason = waiting.get("reason", reason)
        term = c.get("lastState", {}).get("terminated")
        if term:
            last = f" ({human_age(now() - parse_time(term.get('finishedAt')))} ago)"
    return f"{ready}/{total}", reason, f"{restarts}{last if restarts else ''}"


def table_rows(
    res: Res, items: list[Obj], wide: bool, all_ns: bool, labels: bool, headers: bool = True
) -> str:
    """kubectl's default table, for the kinds tests look at that way (airbox reads JSON)."""
    if wide or labels:
        raise Fail(
            "error: fakek8s: -o wide and --show-labels are not modelled (airbox reads -o json)", 2
        )
    kind = res.kind
    head: list[str]
    rows: list[list[str]] = []
    if kind == "Pod":
        head = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        for p in items:
            ready, status, restarts = pod_status_text(p)
            rows.append([p["metadata"]["name"], ready, status, restarts, age_of(p)])
    elif kind == "Namespace":
        head = ["NAME", "STATUS", "AGE"]
        rows = [
            [n["metadata"]["name"], n.get("status", {}).get("phase", "Active"), age_of(n)]
            for n in items
        ]
    else:
        raise Fail(f"error: fakek8s: the {kind} table is not modelled (airbox reads -o json)", 2)
    if all_ns and res.namespaced:
        head = ["NAMESPACE", *head]
        rows = [[items[i]["metadata"].get("namespace", ""), *r] for i, r in enumerate(rows)]
    return kubectl_table(([head] if headers else []) + rows)


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def print_objects(
    ctx: Ctx,
    output: str | None,
    groups: list[tuple[Res, list[Obj]]],
    single: bool,
    all_ns: bool,
    labels: bool = False,
    headers: bool = True,
    sort_by: str | None = None,
) -> None:
    """kubectl get's printers for one or more resource types."""
    items = [o for _, objs in groups for o in objs]
    if sort_by:
        raise Fail(NOT_MODELLED.format(what="--sort-by"), 2)
    data: Any = items[0] if single and len(items) == 1 else as_list(items)
    fmt = output or ""
    if fmt == "json":
        ctx.out(json.dumps(data, indent=4))
    elif fmt == "yaml":
        ctx.out(to_yaml(data).rstrip("\n"))
    elif fmt == "name":
        for res, objs in groups:
            for o in objs:
                prefix = (res if res.kind == o["kind"] else res_for_kind(o["kind"])).prefix
                ctx.out(f"{prefix}/{o['metadata']['name']}")
    elif fmt in ("", "wide"):
        texts = [
            table_rows(res, objs, fmt == "wide", all_ns, labels, headers)
            for res, objs in groups
            if objs
        ]
        sys.stdout.write("\n".join(texts))
    else:
        raise Fail(
            f'error: unable to match a printer suitable for the output format "{fmt}", '
            "allowed formats are: custom-columns,custom-columns-file,go-template,"
            "go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,"
            "templatefile,wide,yaml"
        )


# --------------------------------------------------------------------------------------------
# kind


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
    server = f"https://{rec['nodes'][0]['name']}:6443" if opts.get("internal") else rec["server"]
    add_to_kubeconfig(
        kind_kubeconfig_target(opts), f"kind-{name}", server, client_cert=node_client_cert(rec)
    )
    ctx.err(f'Set kubectl context to "kind-{name}"')
    return 0


def load_kind_config(path: str) -> Obj:
    if path == "-":
        raise Fail(
            "ERROR: failed to create cluster: fakek8s: --config - (stdin) is not supported", 2
        )
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
    image = opts.get("image") or KIND_NODE_IMAGE
    nodes = node_names(name, config)
    port = int(((config.get("networking") or {}).get("apiServerPort")) or 0) or free_port(ctx)
    node_image = node_image_env()
    proxy_env = kind_proxy_env(config, nodes)
    ctx.err(f'Creating cluster "{name}" ...')
    if node_image and ctx.scenario().get("offline"):
        # kind pulls each node's image (--image, else the config's nodes[].image) unless
        # `docker image inspect` finds it (pkg/cluster/internal/providers/docker/images.go:
        # pullIfNotPresent); with no registry reachable, that pull fails.
        for wanted in {
            opts.get("image")
            or (n.get("image") if isinstance(n, dict) else None)
            or KIND_NODE_IMAGE
            for n in (config.get("nodes") or [{}])
        }:
            require_local_image(wanted)
    ctx.err(f" ✓ Ensuring node image ({image}) 🖼")
    if node_image:
        create_node_containers(ctx, name, nodes, node_image, proxy_env)
    ctx.err(" ✓ Preparing nodes 📦 " + "📦 " * (len(nodes) - 1))
    rec = new_cluster(
        ctx,
        name,
        kind=True,
        docker=bool(node_image),
        port=port,
        nodes=nodes,
        kube_name=f"kind-{name}",
        image=image,
    )
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
    if opts.get("nodes"):
        known = {n["name"]: n for n in nodes}
        for n in opts["nodes"]:
            if n not in known:
                raise Fail(f'ERROR: unknown node: "{n}"')
        nodes = [known[n] for n in opts["nodes"]]
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
    for node in rec["nodes"]:
        d = out / node["name"]
        d.mkdir(exist_ok=True)
        (d / "kubelet.log").write_text(
            f"{time.strftime('%b %d %H:%M:%S')} {node['name']} kubelet[190]: "
            "I0101 kubelet.go:2400] "
            '"Starting kubelet main sync loop"\n'
        )
        (d / "containerd.log").write_text(
            f"{time.strftime('%b %d %H:%M:%S')} {node['name']} containerd[110]: "
            'level=info msg="containerd successfully booted"\n'
        )
        (d / "journal.log").write_text(f"-- Journal begins for {node['name']} --\n")
        (d / "images.log").write_text(
            "".join(f"{img}\t{iid}\n" for img, iid in node["images"].items())
        )
        (d / "inspect.json").write_text(
            json.dumps(
                [
                    {
                        "Name": "/" + node["name"],
                        "Config": {"Labels": {LABEL_CLUSTER: name, LABEL_ROLE: node["role"]}},
                    }
                ],
                indent=2,
            )
        )
        pods_dir = d / "containers"
        pods_dir.mkdir(exist_ok=True)
        for obj in rec["objects"].values():
            if obj["kind"] == "Pod" and obj.get("_fake", {}).get("role") == "launcher":
                meta = obj["metadata"]
                (pods_dir / f"{meta['name']}_{meta['namespace']}_{CONTAINER}.log").write_text(
                    "\n".join(launcher_log_lines(ctx, rec, obj)) + "\n"
                )
    return 0


# --------------------------------------------------------------------------------------------
# launcher logs (kubectl logs and kind export logs)


def launcher_log_entries(ctx: Ctx, rec: Obj, pod: Obj) -> list[tuple[float, str]]:
    """The launcher's log as (time, line) pairs, ending a few seconds ago, per the scenario."""
    fake = pod.get("_fake", {})
    scen = ctx.scenario()
    state = pod_condition(ctx, rec, pod)
    start = now() - 65
    version = fake.get("app_version", CHART_VERSION)
    url = fake.get("control_plane_url") or "https://cloud.airbyte.com"
    entries: list[tuple[float, str]] = []

    def log(offset: float, thread: str, level: str, msg: str) -> None:
        ts = utc(start + offset)
        entries.append(
            (
                start + offset,
                f"{ts:%Y-%m-%d %H:%M:%S},{ts.microsecond // 1000:03d} [{thread}] {level:<5} {msg}",
            )
        )

    def raw(*lines: str) -> None:
        entries.extend((entries[-1][0], line) for line in lines)

    log(0, "main", "INFO", f"Starting workload launcher (version {version})")
    log(1.2, "main", "INFO", f"Connecting to control plane at {url}")
    if state == "crashloop":
        log(1.9, "main", "ERROR", "Application startup failed")
        raw(
            'Exception in thread "main" '
            "io.micronaut.context.exceptions.BeanInstantiationException: Error instantiating "
            "bean of type [io.airbyte.workload.launcher.client.ControlPlaneClient]",
            "\tat io.micronaut.context.DefaultBeanContext.resolveByBeanFactory"
            "(DefaultBeanContext.java:2368)",
            "\tat io.micronaut.context.DefaultBeanContext.createRegistration"
            "(DefaultBeanContext.java:3186)",
            "\tat io.airbyte.workload.launcher.ApplicationKt.main(Application.kt:21)",
            "Caused by: java.lang.IllegalStateException: Missing required configuration: "
            "DATAPLANE_CLIENT_SECRET",
            "\tat io.airbyte.workload.launcher.config.ControlPlaneConfig.validate"
            "(ControlPlaneConfig.kt:44)",
            "\t... 12 more",
        )
    elif state == "auth-fail":
        log(2.0, "main", "ERROR", "Failed to authenticate with the control plane: 401 Unauthorized")
        log(12.0, "main", "WARN", "Retrying authentication in 10s (attempt 2 of 5)")
        log(
            22.1, "main", "ERROR", "Failed to authenticate with the control plane: 401 Unauthorized"
        )
    else:
        log(2.0, "main", "INFO", "Authenticated with the control plane")
        log(2.4, "main", "INFO", "Registered data plane; polling for workloads")
        log(32.4, "scheduled-1", "INFO", "Heartbeat sent to control plane")
        log(62.4, "scheduled-1", "INFO", "Heartbeat sent to control plane")
    raw(*(str(x) for x in scen.get("log_lines") or []))
    return entries


def launcher_log_lines(ctx: Ctx, rec: Obj, pod: Obj) -> list[str]:
    return [line for _, line in launcher_log_entries(ctx, rec, pod)]


# --------------------------------------------------------------------------------------------
# kubectl


def kubectl_connect(ctx: Ctx, opts: Obj) -> tuple[Obj, str, Target]:
    """The reachable cluster and the namespace to use, or kubectl's error."""
    target = resolve_target(ctx, opts.get("kubeconfig"), opts.get("context"))
    sync_docker(ctx, strict=False)
    tick(ctx, target.rec)
    rec = reachable(ctx, target)
    if rec is None:
        raise kubectl_refused(target)
    return rec, opts.get("namespace") or target.namespace, target


def parse_targets(ctx: Ctx, rec: Obj, args: list[str]) -> list[tuple[Res, list[str]]]:
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
            res = lookup_res(ctx, rec, t)
            if out and out[-1][0] == res:
                out[-1][1].append(n)
            else:
                out.append((res, [n]))
        return out
    types = [lookup_res(ctx, rec, t) for t in args[0].split(",") if t]
    return [(res, list(args[1:])) for res in types]


def select(
    ctx: Ctx,
    rec: Obj,
    res: Res,
    ns: str | None,
    labels: str | None = None,
    fields: str | None = None,
) -> list[Obj]:
    lm, fm = selector_matcher(labels), field_matcher(fields)
    items = [
        o
        for o in all_objects(ctx, rec)
        if o["kind"] == res.kind
        and (not res.namespaced or ns is None or o["metadata"].get("namespace") == ns)
        and lm(o["metadata"].get("labels") or {})
        and fm(o)
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


OUTPUT_FORMATS = ("json", "yaml", "name", "wide")
# The formats real kubectl has that airbox never asks for (it reads -o json): the fake
# says so rather than answer wrongly (exit 2, as a usage error would).
NOT_MODELLED = "error: fakek8s: kubectl {what} is not implemented (airbox never uses it)"


def check_output_format(fmt: str) -> None:
    if not fmt or fmt in OUTPUT_FORMATS:
        return
    if fmt.split("=", 1)[0] in (
        "go-template",
        "go-template-file",
        "template",
        "templatefile",
        "jsonpath",
        "jsonpath-as-json",
        "jsonpath-file",
        "custom-columns",
        "custom-columns-file",
    ):
        raise Fail(NOT_MODELLED.format(what="-o " + fmt.split("=", 1)[0]), 2)
    raise Fail(
        f'error: unable to match a printer suitable for the output format "{fmt}", '
        "allowed formats are: custom-columns,custom-columns-file,go-template,"
        "go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,"
        "templatefile,wide,yaml"
    )


def kubectl_get(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if opts.get("raw"):
        if args:
            raise Fail("error: arguments may not be passed when --raw is specified")
        target = resolve_target(ctx, opts.get("kubeconfig"), opts.get("context"))
        sync_docker(ctx, strict=False)
        tick(ctx, target.rec)
        if reachable(ctx, target) is None:
            raise kubectl_refused(target)
        raw = opts["raw"].split("?")[0].rstrip("/")
        if raw in ("/readyz", "/livez", "/healthz"):
            sys.stdout.write("ok")
            return 0
        if raw == "/version":
            ctx.out(json.dumps(server_version(), indent=2))
            return 0
        m = re.fullmatch(rf"/apis/{re.escape(ADMISSION_GROUP)}/(\w+)", raw)
        served = served_admission(target.rec) if m and target.rec is not None else {}
        if m and m.group(1) in served:
            ctx.out(
                json.dumps(
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": f"{ADMISSION_GROUP}/{m.group(1)}",
                        "resources": [
                            {
                                "name": plural,
                                "singularName": "",
                                "namespaced": False,
                                "kind": "",
                                "verbs": [
                                    "create",
                                    "delete",
                                    "get",
                                    "list",
                                    "patch",
                                    "update",
                                    "watch",
                                ],
                            }
                            for plural in served[m.group(1)]
                        ],
                    }
                )
            )
            return 0
        raise Fail("Error from server (NotFound): the server could not find the requested resource")
    check_output_format(opts.get("output") or "")
    if opts.get("watch") or opts.get("watch-only"):
        raise Fail("error: fakek8s: kubectl get --watch is not implemented (it would block)", 2)
    rec, ns, _ = kubectl_connect(ctx, opts)
    if not args:
        raise Fail(
            'You must specify the type of resource to get. Use "kubectl api-resources" for '
            "a complete list of supported resources.\n\nerror: Required resource not "
            'specified.\nUse "kubectl explain <resource>" for a detailed description of that '
            "resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples"
        )
    all_ns = bool(opts.get("all-namespaces"))
    scope = None if all_ns else ns
    groups: list[tuple[Res, list[Obj]]] = []
    errors: list[str] = []
    named_request = False
    for res, names in parse_targets(ctx, rec, args):
        if names:
            named_request = True
            if opts.get("selector"):
                raise Fail(
                    "error: when retrieving resources by name, label selectors are not allowed"
                )
            found = []
            pool = {o["metadata"]["name"]: o for o in select(ctx, rec, res, ns)}
            for n in names:
                if n in pool:
                    found.append(pool[n])
                elif not opts.get("ignore-not-found"):
                    errors.append(not_found(res, n))
            groups.append((res, found))
        else:
            groups.append(
                (
                    res,
                    select(ctx, rec, res, scope, opts.get("selector"), opts.get("field-selector")),
                )
            )
    total = sum(len(objs) for _, objs in groups)
    single = (
        named_request
        and len(groups) == 1
        and len(groups[0][1]) == 1
        and len(parse_targets(ctx, rec, args)[0][1]) == 1
    )
    fmt = opts.get("output") or ""
    if total or fmt in ("json", "yaml"):
        if total or not named_request:
            print_objects(
                ctx,
                fmt,
                groups,
                single,
                all_ns,
                bool(opts.get("show-labels")),
                not opts.get("no-headers"),
                opts.get("sort-by"),
            )
    elif not named_request and not errors:
        no_resources(ctx, scope, [r for r, _ in groups])
    if errors:
        raise Fail("\n".join(errors))
    return 0


def kubectl_describe(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    if not args:
        raise Fail(
            'You must specify the type of resource to describe. Use "kubectl api-resources"'
            " for a complete list of supported resources."
        )
    scope = None if opts.get("all-namespaces") else ns
    blocks: list[str] = []
    errors: list[str] = []
    events = select(ctx, rec, res_for_kind("Event"), None)
    for res, names in parse_targets(ctx, rec, args):
        objs = select(ctx, rec, res, scope, opts.get("selector"))
        if names:
            pool = {o["metadata"]["name"]: o for o in objs}
            chosen = []
            for n in names:
                matches = [o for k, o in pool.items() if k == n] or [
                    o for k, o in pool.items() if k.startswith(n)
                ]
                if matches:
                    chosen += matches
                else:
                    errors.append(not_found(res, n))
            objs = chosen
        for o in objs:
            blocks.append(
                describe_obj(
                    o,
                    [
                        e
                        for e in events
                        if e["involvedObject"]["name"] == o["metadata"]["name"]
                        and e["involvedObject"]["kind"] == o["kind"]
                    ],
                )
            )
    if blocks:
        ctx.out("\n\n".join(b.rstrip("\n") for b in blocks))
    elif not errors:
        no_resources(ctx, scope, [r for r, _ in parse_targets(ctx, rec, args)])
    if errors:
        raise Fail("\n".join(errors))
    return 0


def describe_map(title: str, data: Obj | None) -> list[str]:
    items = sorted((data or {}).items())
    if not items:
        return [f"{title + ':':<18}<none>"]
    out = [f"{title + ':':<18}{items[0][0]}={items[0][1]}"]
    out += [f"{'':<18}{k}={v}" for k, v in items[1:]]
    return out


def describe_obj(obj: Obj, events: list[Obj]) -> str:
    meta = obj["metadata"]
    lines = [f"{'Name:':<18}{meta['name']}"]
    if meta.get("namespace"):
        lines.append(f"{'Namespace:':<18}{meta['namespace']}")
    lines += describe_map("Labels", meta.get("labels"))
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    lines += describe_map("Annotations", annotations)
    if obj["kind"] == "Pod":
        spec, st = obj.get("spec", {}), obj.get("status", {})
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
                if detail.get("reason"):
                    lines.append(f"      {'Reason:':<14}{detail['reason']}")
                if detail.get("message"):
                    lines.append(f"      {'Message:':<14}{detail['message']}")
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
                    f"    Environment Variables from:\n      {ref.get('name')}  {what}  "
                    "Optional: false"
                )
        lines.append("Conditions:")
        lines.append("  Type                        Status")
        for cond in st.get("conditions", []):
            lines.append(f"  {cond['type']:<28}{cond['status']}")
    elif obj["kind"] == "Deployment":
        st = obj.get("status", {})
        lines.append(
            f"{'Replicas:':<18}{st.get('replicas', 0)} desired | "
            f"{st.get('updatedReplicas', 0)} updated | {st.get('replicas', 0)} total | "
            f"{st.get('availableReplicas', 0)} available | "
            f"{st.get('unavailableReplicas', 0)} unavailable"
        )
        lines.append(
            "Conditions:\n  Type           Status  Reason\n  ----           ------  ------"
        )
        for cond in st.get("conditions", []):
            lines.append(f"  {cond['type']:<15}{cond['status']:<8}{cond.get('reason', '')}")
    elif obj["kind"] == "Node":
        lines.append("Conditions:")
        for cond in obj["status"]["conditions"]:
            lines.append(
                f"  {cond['type']:<10}{cond['status']:<8}{cond.get('reason', '')}  "
                f"{cond.get('message', '')}"
            )
    elif obj["kind"] in ("Secret", "ConfigMap"):
        lines.append("")
        lines.append("Data\n====")
        for k, v in sorted((obj.get("data") or {}).items()):
            if obj["kind"] == "Secret":
                lines.append(f"{k}:  {len(base64.b64decode(v))} bytes")
            else:
                lines.append(f"{k}:\n----\n{v}\n")
    if events:
        lines.append("Events:")
        rows = [
            ["Type", "Reason", "Age", "From", "Message"],
            ["----", "------", "----", "----", "-------"],
        ]
        for e in events:
            rows.append(
                [
                    e["type"],
                    e["reason"],
                    human_age(now() - parse_time(e.get("lastTimestamp")))
                    + (f" (x{e['count']} over {age_of(e)})" if e.get("count", 1) > 1 else ""),
                    e["source"]["component"],
                    e["message"].replace("\n", " "),
                ]
            )
        lines += ["  " + line for line in kubectl_table(rows).splitlines()]
    elif obj["kind"] in ("Pod", "Deployment", "Node", "Namespace"):
        lines.append(f"{'Events:':<18}<none>")
    return "\n".join(lines) + "\n"


def pick_pod(ctx: Ctx, rec: Obj, ns: str, ref: str) -> list[Obj]:
    if "/" in ref:
        t, _, name = ref.partition("/")
        res = lookup_res(ctx, rec, t)
    else:
        res, name = res_for_kind("Pod"), ref
    if res.kind == "Pod":
        pod = get_obj(rec, "Pod", ns, name)
        if pod is None:
            raise Fail(not_found(res, name))
        return [pod]
    if res.kind == "Deployment":
        if get_obj(rec, "Deployment", ns, name) is None:
            raise Fail(not_found(res, name))
        pods = sorted(owned_pods(rec, ns, name), key=lambda p: p["metadata"]["name"])
        if not pods:
            raise Fail("error: timed out waiting for the condition")
        if len(pods) > 1:
            ctx.err(f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}")
        return pods[:1]
    raise Fail(
        f"error: cannot get the logs from {res.qualified}: selector for "
        f"{res.qualified} is not implemented"
    )


def kubectl_logs(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    if opts.get("selector"):
        if args:
            raise Fail("error: only a selector (-l) or a POD name is allowed")
        pods = [
            p
            for p in rec["objects"].values()
            if p["kind"] == "Pod"
            and p["metadata"]["namespace"] == ns
            and selector_matcher(opts["selector"])(p["metadata"].get("labels") or {})
        ]
        if not pods:
            ctx.err(f"No resources found in {ns} namespace.")
            return 0
    else:
        if not args:
            raise Fail(
                "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
                "POD or TYPE/NAME is a required argument for the logs command\n"
                "See 'kubectl logs -h' for help and examples"
            )
        if len(args) > 2:
            raise Fail("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.")
        pods = pick_pod(ctx, rec, ns, args[0])
        if len(args) == 2:
            opts["container"] = args[1]
    for pod in pods:
        meta = pod["metadata"]
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        container = opts.get("container") or containers[0]
        if container not in containers:
            raise Fail(f"error: container {container} is not valid for pod {meta['name']}")
        view = pod_view(ctx, rec, pod)
        cs: Obj = next(
            (c for c in view["status"].get("containerStatuses", []) if c["name"] == container), {}
        )
        state = pod_condition(ctx, rec, pod)
        if opts.get("previous") and state != "crashloop":
            raise Fail(
                f"Error from server (BadRequest): previous terminated container "
                f'"{container}" in pod "{meta["name"]}" not found'
            )
        waiting = (cs.get("state") or {}).get("waiting")
        if state == "pending":
            raise Fail(
                f'Error from server (BadRequest): container "{container}" in pod '
                f'"{meta["name"]}" is waiting to start: ContainerCreating'
            )
        if waiting and state != "crashloop":
            detail = (
                "trying and failing to pull image"
                if state == "imagepull"
                else waiting.get("reason", "ContainerCreating")
            )
            raise Fail(
                f'Error from server (BadRequest): container "{container}" in pod '
                f'"{meta["name"]}" is waiting to start: {detail}'
            )
        if pod.get("_fake", {}).get("role") == "launcher":
            entries = launcher_log_entries(ctx, rec, pod)
        else:
            entries = [(now() - 60, f"I0101 00:00:00.000000       1 server.go:100] {container} up")]
        tail = int(opts["tail"]) if opts.get("tail") is not None else -1
        if tail >= 0:
            entries = entries[-tail:] if tail else []
        if opts.get("timestamps"):
            lines = [f"{iso_nano(t)} {x}" for t, x in entries]
        else:
            lines = [x for _, x in entries]
        if opts.get("prefix"):
            lines = [f"[pod/{meta['name']}/{container}] {x}" for x in lines]
        for x in lines:
            ctx.out(x)
    return 0


def rollout_target(ctx: Ctx, rec: Obj, args: list[str]) -> tuple[Res, str]:
    if len(args) == 1 and "/" in args[0]:
        t, _, name = args[0].partition("/")
    elif len(args) == 2:
        t, name = args
    else:
        raise Fail("error: required resource not specified")
    res = lookup_res(ctx, rec, t)
    if res.kind != "Deployment":
        raise Fail(f"error: no status viewer has been implemented for {res.kind}")
    return res, name


def kubectl_rollout_status(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    res, name = rollout_target(ctx, rec, args)
    dep = get_obj(rec, "Deployment", ns, name)
    if dep is None:
        raise Fail(not_found(res, name))
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

    if opts.get("watch") is False:
        if available():
            ctx.out(f'deployment "{name}" successfully rolled out')
        return 0
    # --timeout=0 (the default) waits for ever
    timeout = duration_seconds(opts.get("timeout") or "0s") or -1
    if not wait_for(ctx, rec, timeout, available):
        raise Fail("error: timed out waiting for the condition")
    ctx.out(f'deployment "{name}" successfully rolled out')
    return 0


def kubectl_rollout_restart(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    res, name = rollout_target(ctx, rec, args)
    dep = get_obj(rec, "Deployment", ns, name)
    if dep is None:
        raise Fail(not_found(res, name))
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


def condition_met(obj: Obj, cond: str, want: str) -> bool:
    return any(
        c.get("type", "").lower() == cond.lower() and c.get("status", "").lower() == want.lower()
        for c in obj.get("status", {}).get("conditions", [])
    )


def kubectl_wait(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    spec: str | None = opts.get("for")
    if not spec:
        raise Fail("error: --for must be specified")
    scope = None if opts.get("all-namespaces") else ns
    objs: list[Obj] = []
    for res, names in parse_targets(ctx, rec, args):
        pool = select(ctx, rec, res, scope, opts.get("selector"), opts.get("field-selector"))
        if names:
            for n in names:
                match = [o for o in pool if o["metadata"]["name"] == n]
                if not match and spec != "delete":
                    raise Fail(not_found(res, n))
                objs += match
        elif opts.get("all") or opts.get("selector") or opts.get("field-selector"):
            objs += pool
        else:
            raise Fail("error: resource(s) were provided, but no name was specified")
    if not args:
        raise Fail("error: at least one resource must be specified to use a selector")
    if spec == "delete":
        for o in objs:
            raise Fail(
                f"error: timed out waiting for the condition on "
                f"{res_for_kind(o['kind']).plural}/{o['metadata']['name']}"
            )
        return 0
    if not objs:
        raise Fail("error: no matching resources found")
    if spec.startswith("jsonpath="):
        raise Fail(NOT_MODELLED.format(what="wait --for=jsonpath"), 2)
    if not (spec.startswith(("condition=", "create"))):
        raise Fail(f'error: unrecognized condition: "{spec}"')
    timeout = duration_seconds(opts.get("timeout") or "30s")
    for o in objs:
        res = res_for_kind(o["kind"], o.get("apiVersion", "v1"))

        def met(o: Obj = o, res: Res = res) -> bool:
            """The condition on the object as it is now (fake time passes in between)."""
            now_view = [
                x
                for x in select(ctx, rec, res, o["metadata"].get("namespace"))
                if x["metadata"]["name"] == o["metadata"]["name"]
            ]
            cur = now_view[0] if now_view else o
            if spec.startswith("condition="):
                cond, _, want = spec[len("condition=") :].partition("=")
                return condition_met(cur, cond, want or "true")
            return True

        if not wait_for(ctx, rec, timeout, met):
            raise Fail(
                # kubectl names the resource without its group (info.Mapping.Resource.Resource)
                f"error: timed out waiting for the condition on {res.plural}/"
                f"{o['metadata']['name']}"
            )
        ctx.out(f"{res.prefix}/{o['metadata']['name']} condition met")
    return 0


def load_manifests(ctx: Ctx, files: list[str]) -> list[tuple[str, Obj]]:
    docs: list[tuple[str, Obj]] = []
    for f in files:
        if f == "-":
            text, source = ctx.read_stdin().decode(), "STDIN"
        else:
            try:
                text, source = Path(f).read_text(), f
            except OSError:
                raise Fail(f'error: the path "{f}" does not exist') from None
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise Fail(
                f"error: error parsing {source}: error converting YAML to JSON: {exc}"
            ) from None
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise Fail(
                    f'error: error validating "{source}": error validating data: '
                    "invalid object; if you choose to ignore these errors, turn validation "
                    "off with --validate=false"
                )
            if doc.get("kind") == "List":
                docs += [(source, d) for d in doc.get("items") or []]
            else:
                docs.append((source, doc))
    return docs


def check_string_map(obj: Obj, key: str, source: str) -> str | None:
    for v in (obj.get(key) or {}).values():
        if not isinstance(v, str):
            what = (
                "number"
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                else (
                    "bool" if isinstance(v, bool) else "object" if isinstance(v, dict) else "array"
                )
            )
            return (
                f'Error from server (BadRequest): error when creating "{source}": '
                f'{obj["kind"]} in version "v1" cannot be handled as a {obj["kind"]}: json: '
                f"cannot unmarshal {what} into Go struct field {obj['kind']}.{key} of type string"
            )
    return None


def validate_object(obj: Obj, source: str) -> str | None:
    """The API server's validation of the objects airbox applies; the error, if any."""
    missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
    if missing:
        return (
            f'error: error validating "{source}": error validating data: ['
            + ", ".join(f"{f} not set" for f in missing)
            + "]; if you choose to ignore these errors, turn validation off with --validate=false"
        )
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        return (
            f'error: error when retrieving current configuration of:\nResource: "'
            f'{res_for_kind(obj["kind"]).plural}", GroupVersionKind: "{obj["kind"]}"\nName: "", '
            f'Namespace: ""\nfrom server for: "{source}": resource name may not be empty'
        )
    kind = obj["kind"]
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
            err = check_string_map(obj, key, source)
            if err:
                return err
            for k in obj.get(key) or {}:
                if not CONFIG_KEY.match(str(k)):
                    return (
                        f'Error from server (Invalid): error when creating "{source}": The '
                        f'{kind} "{name}" is invalid: data[{k}]: Invalid value: "{k}": a valid '
                        "config key must consist of alphanumeric characters, '-', '_' or '.' "
                        "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        "validation is '[-._a-zA-Z0-9]+')"
                    )
    if kind == "Secret":
        for k, v in (obj.get("data") or {}).items():
            try:
                base64.b64decode(v, validate=True)
            except ValueError:
                bad = next(
                    (
                        i
                        for i, ch in enumerate(v)
                        if ch
                        not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                    ),
                    len(v),
                )
                return (
                    f'Error from server (BadRequest): error when creating "{source}": Secret in '
                    f'version "v1" cannot be handled as a Secret: illegal base64 data at input '
                    f"byte {bad}"
                )
            del k
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
    files = opts.get("filename") or []
    if not files:
        raise Fail("error: must specify one of -f and -k")
    rec, ns, target = kubectl_connect(ctx, opts)
    explicit_ns = opts.get("namespace")
    docs = load_manifests(ctx, files)
    dry = opts.get("dry-run") or "none"
    if dry not in ("none", "client", "server"):
        raise Fail(f'error: Invalid dry-run value ({dry}). Must be "none", "server", or "client".')
    server_side = bool(opts.get("server-side"))
    errors: list[str] = []
    for index, (source, doc) in enumerate(docs):
        if index == 1:
            ctx.checkpoint()
        err = validate_object(doc, source)
        if err:
            errors.append(err)
            continue
        obj = copy.deepcopy(doc)
        res = res_for_kind(obj["kind"], obj["apiVersion"])
        meta = obj["metadata"]
        if res.group == ADMISSION_GROUP and not admission_served(
            rec, obj["apiVersion"], res.plural
        ):
            errors.append(
                f'error: resource mapping not found for name: "{meta["name"]}" namespace: '
                f'"" from "{source}": no matches for kind "{obj["kind"]}" in version '
                f'"{obj["apiVersion"]}"\nensure CRDs are installed first'
            )
            continue
        invalid = (
            admission_model.validate_policy(obj)
            if obj["kind"] == "MutatingAdmissionPolicy"
            else admission_model.validate_binding(obj)
            if obj["kind"] == "MutatingAdmissionPolicyBinding"
            else []
        )
        if invalid:
            errors.append(f'The {obj["kind"]} "{meta["name"]}" is invalid: ' + "; ".join(invalid))
            continue
        if res.namespaced:
            obj_ns = meta.get("namespace") or ns
            if explicit_ns and meta.get("namespace") and meta["namespace"] != explicit_ns:
                errors.append(
                    f'error: the namespace from the provided object "{meta["namespace"]}" '
                    f'does not match the namespace "{explicit_ns}". You must pass '
                    f"'--namespace={meta['namespace']}' to perform this operation."
                )
                continue
            meta["namespace"] = obj_ns
            if not namespace_exists(rec, obj_ns):
                errors.append(
                    f'Error from server (NotFound): error when creating "{source}": '
                    f'namespaces "{obj_ns}" not found'
                )
                continue
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
        if not server_side:
            last = json.dumps(doc, separators=(",", ":"), sort_keys=True)
            meta.setdefault("annotations", {})[
                "kubectl.kubernetes.io/last-applied-configuration"
            ] = last + "\n"
        current = get_obj(rec, obj["kind"], meta.get("namespace", ""), meta["name"])
        if current is not None and current.get("_fake", {}).get("role") == "system":
            obj["_fake"] = current["_fake"]
        if current is None:
            verb = "created"
        elif normalize_for_compare(current) == normalize_for_compare(obj):
            verb = "unchanged"
        else:
            verb = "configured"
        if server_side:
            verb = "serverside-applied"
        if dry == "none":
            if current is None and obj["kind"] == "Pod":
                try:
                    obj = admit_pod(rec, obj)
                except admission_model.Denied as exc:
                    errors.append(
                        f"Error from server (Forbidden): error when creating "
                        f'"{source}": pods "{meta["name"]}" is forbidden: {exc}'
                    )
                    continue
            if verb != "unchanged":
                if current is not None and obj["kind"] == "Deployment" and current.get("_fake"):
                    obj["_fake"] = current["_fake"]
                put(rec, obj)
                ctx.dirty = True
        else:
            verb += " (dry run)" if dry == "client" else " (server dry run)"
        if opts.get("output") == "name":
            ctx.out(f"{res.prefix}/{meta['name']}")
        elif opts.get("output") in ("json", "yaml"):
            shown = public(
                get_obj(rec, obj["kind"], meta.get("namespace", ""), meta["name"]) or obj
            )
            ctx.out(json.dumps(shown, indent=4) if opts["output"] == "json" else to_yaml(shown))
        else:
            ctx.out(f"{res.prefix}/{meta['name']} {verb}")
    if errors:
        raise Fail("\n".join(errors))
    del target
    return 0


def delete_namespace_contents(ctx: Ctx, rec: Obj, ns: str) -> None:
    for key in [k for k, o in rec["objects"].items() if o["metadata"].get("namespace") == ns]:
        del rec["objects"][key]
    for key in [k for k in rec["releases"] if k.startswith(ns + "/")]:
        del rec["releases"][key]


def kubectl_delete(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    rec, ns, _ = kubectl_connect(ctx, opts)
    dry = opts.get("dry-run") or "none"
    targets: list[tuple[Res, Obj | None, str]] = []
    errors: list[str] = []
    if opts.get("filename") or opts.get("all") or opts.get("selector"):
        raise Fail(
            "error: fakek8s: kubectl delete -f/--all/--selector is not modelled "
            "(airbox deletes by name)",
            2,
        )
    parsed = parse_targets(ctx, rec, args)
    if not parsed:
        raise Fail(
            "error: You must provide one or more resources by argument or filename.\n"
            "Example resource specifications include:\n   '-f rsrc.yaml'\n   "
            "'--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"
        )
    for res, names in parsed:
        if not names:
            raise Fail("error: resource(s) were provided, but no name was specified")
        targets += [(res, get_obj(rec, res.kind, ns, n), n) for n in names]
    forced = opts.get("grace-period") == 0 or bool(opts.get("now") and False)
    for res, obj, name in targets:
        if obj is None:
            if not opts.get("ignore-not-found"):
                errors.append(not_found(res, name))
            continue
        if res.kind == "Namespace" and name in PROTECTED_NAMESPACES:
            errors.append(
                f'Error from server (Forbidden): namespaces "{name}" is forbidden: this '
                "namespace may not be deleted"
            )
            continue
        if res.kind == "Node":
            raise Fail("error: fakek8s: deleting nodes is not implemented", 2)
        op = "force deleted" if forced else "deleted"
        if res.namespaced:
            op += f" from {obj['metadata']['namespace']} namespace"
        if dry != "none":
            op += " (dry run)" if dry == "client" else " (server dry run)"
        else:
            delete_obj(rec, obj["kind"], obj["metadata"].get("namespace", ""), name)
            if res.kind == "Namespace":
                delete_namespace_contents(ctx, rec, name)
            if res.kind == "Deployment":
                for pod in owned_pods(rec, obj["metadata"]["namespace"], name):
                    delete_obj(rec, "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            if res.kind == "Pod" and obj.get("_fake", {}).get("owner"):
                dep = get_obj(
                    rec, "Deployment", obj["metadata"]["namespace"], obj["_fake"]["owner"]
                )
                if dep is not None:
                    sync_launcher_pods(rec, dep)
            ctx.dirty = True
        if opts.get("output") == "name":
            ctx.out(f"{res.prefix}/{name}")
        else:
            ctx.out(f'{res.prefix} "{name}" {op}')
    if errors:
        raise Fail("\n".join(errors))
    return 0


def kubectl_create_namespace(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if len(args) != 1:
        raise Fail("error: exactly one NAME is required, got " + str(len(args)))
    rec, _, _ = kubectl_connect(ctx, opts)
    name = args[0]
    if not DNS_LABEL.match(name):
        raise Fail(
            f'The Namespace "{name}" is invalid: metadata.name: Invalid value: "{name}": a '
            "lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character"
        )
    if namespace_exists(rec, name):
        raise Fail(f'Error from server (AlreadyExists): namespaces "{name}" already exists')
    dry = opts.get("dry-run") or "none"
    if dry == "none":
        new_namespace(rec, name)
        ctx.dirty = True
    suffix = "" if dry == "none" else " (dry run)" if dry == "client" else " (server dry run)"
    ctx.out(f"namespace/{name}" + ("" if opts.get("output") == "name" else f" created{suffix}"))
    return 0


def server_version() -> Obj:
    return {
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": K8S_VERSION,
        "gitCommit": K8S_COMMIT,
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T12:32:06Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def kubectl_version(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    if args:
        raise UsageError(f'unknown command "{args[0]}" for "kubectl version"')
    fmt = opts.get("output") or ""
    if fmt not in ("", "json", "yaml"):
        raise Fail("error: --output must be 'yaml' or 'json'")
    client = {
        k: v for k, v in server_version().items() if not k.startswith(("emulation", "minCompat"))
    }
    data: Obj = {"clientVersion": client, "kustomizeVersion": KUSTOMIZE_VERSION}
    failure: Fail | None = None
    if not opts.get("client"):
        try:
            kubectl_connect(ctx, opts)
            data["serverVersion"] = server_version()
        except Fail as exc:
            failure = exc
    if fmt == "json":
        ctx.out(json.dumps(data, indent=2))
    elif fmt == "yaml":
        ctx.out(to_yaml(data).rstrip("\n"))
    else:
        ctx.out(f"Client Version: {K8S_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}")
        if "serverVersion" in data:
            ctx.out(f"Server Version: {K8S_VERSION}")
    if failure:
        raise failure
    return 0


# --------------------------------------------------------------------------------------------
# helm


RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CHART_DEFAULTS: Obj = {
    "global": {"image": {"tag": ""}, "airbyteUrl": ""},
    "dataPlane": {"secretName": ""},
    "workloadLauncher": {"replicaCount": 1},
}


def helm_connect(ctx: Ctx, opts: Obj) -> tuple[Obj, str, Target]:
    try:
        target = resolve_target(ctx, opts.get("kubeconfig"), opts.get("kube-context"))
    except Fail as exc:
        raise Fail(
            "Error: Kubernetes cluster unreachable: " + exc.message.removeprefix("error: ")
        ) from None
    sync_docker(ctx, strict=False)
    tick(ctx, target.rec)
    rec = reachable(ctx, target)
    if rec is None:
        raise helm_refused(target)
    ns = opts.get("namespace") or os.environ.get("HELM_NAMESPACE") or target.namespace
    return rec, ns, target


def helm_args(ctx: Ctx, args: list[str], n: int, use: str, at_least: bool = False) -> None:
    cmd = "helm " + " ".join(ctx.path)
    if at_least and len(args) < n:
        raise Fail(
            f'Error: "{cmd}" requires at least {n} argument{"s" if n > 1 else ""}\n\nUsage:  {use}'
        )
    if not at_least and len(args) != n:
        raise Fail(f'Error: "{cmd}" requires {n} argument{"s" if n > 1 else ""}\n\nUsage:  {use}')


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


def set_value(values: Obj, expr: str, as_string: bool) -> None:
    for part in split_top(expr):
        key, eq, raw = part.partition("=")
        if not eq:
            raise Fail(f'Error: failed parsing --set data: key "{key}" has no value')
        if "[" in key:
            raise Fail("Error: fakek8s: list indices in --set are not implemented", 2)
        value: Any = raw
        if not as_string:
            if raw in ("true", "false"):
                value = raw == "true"
            elif raw == "null":
                value = None
            elif re.fullmatch(r"-?\d+", raw) and not (
                len(raw) > 1 and raw.lstrip("-").startswith("0")
            ):
                value = int(raw)
        cur = values
        parts = re.split(r"(?<!\\)\.", key)
        for p in parts[:-1]:
            p = p.replace("\\.", ".")
            if not isinstance(cur.get(p), dict):
                cur[p] = {}
            cur = cur[p]
        last = parts[-1].replace("\\.", ".")
        if value is None:
            cur.pop(last, None)
        else:
            cur[last] = value


def user_values(ctx: Ctx, opts: Obj) -> Obj:
    values: Obj = {}
    for f in opts.get("values") or []:
        if f == "-":
            text = ctx.read_stdin().decode()
        else:
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
    for expr in opts.get("set") or []:
        set_value(values, expr, False)
    for expr in opts.get("set-string") or []:
        set_value(values, expr, True)
    for name in ("set-file", "set-json", "set-literal"):
        if opts.get(name):
            raise Fail(f"Error: fakek8s: --{name} is not implemented", 2)
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
    """Where helm would find CHART; the chart's name, version and appVersion."""
    version = (opts.get("version") or "").strip()
    p = Path(ref)
    if p.exists():
        meta, defaults = read_chart_yaml(p)
        if not meta.get("name") or not meta.get("version"):
            raise Fail(
                "Error: validation: chart.metadata.name is required"
                if not meta.get("name")
                else "Error: validation: chart.metadata.version is required"
            )
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
        where = opts.get("repo") or ref
        host = re.sub(r"^[a-z]+://", "", str(where)).split("/", 1)[0]
        raise Fail(
            f'Error: looks like "{where}" is not a valid chart repository or cannot '
            f'be reached: Get "{where}/index.yaml": dial tcp: lookup {host}: no '
            "such host"
        )
    if re.match(r"^(https?|oci)://", ref):
        if ref.startswith("oci://") and not version:
            version = CHART_VERSION
        if ref.startswith("oci://") and version.lstrip("v") not in REPO_CHART_VERSIONS:
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
    if opts.get("repo"):
        repo_url, name = opts["repo"], ref
    elif "/" in ref:
        # airbox never runs `helm repo add`: no repository has a local name
        raise Fail(f"Error: repo {ref.partition('/')[0]} not found")
    else:
        raise Fail(
            f"Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}"
        )
    if name != CHART_NAME:
        what = f'chart "{name}"' + (f' version "{version}"' if version else "")
        raise Fail(f"Error: {what} not found in {repo_url} repository")
    version = version.lstrip("v") or CHART_VERSION
    if version not in REPO_CHART_VERSIONS:
        raise Fail(
            f'Error: chart "{name}" version "{opts.get("version")}" not found in '
            f"{repo_url} repository"
        )
    return {
        "name": name,
        "version": version,
        "app_version": version,
        "defaults": copy.deepcopy(CHART_DEFAULTS),
        "source": f"{repo_url}#{name}",
    }


def revisions(rec: Obj, ns: str, name: str) -> list[Obj]:
    revs: list[Obj] = rec["releases"].get(f"{ns}/{name}", [])
    return revs


def dig(values: Obj, *path: str) -> Any:
    cur: Any = values
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur


def chart_objects(rec: Obj, ns: str, name: str, rev: Obj) -> list[Obj]:
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

    chart_keys = chart_model.chart_secret_keys(values)
    refs = chart_model.secret_refs(name, values)
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
                                "env": [
                                    {
                                        "name": var,
                                        "valueFrom": {"secretKeyRef": {"name": s, "key": k}},
                                    }
                                    for var, s, k in refs
                                ]
                                + chart_model.extra_env(values),
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


def ownership_conflict(rec: Obj, ns: str, name: str, objs: list[Obj]) -> str | None:
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


def sync_launcher_pods(rec: Obj, dep: Obj) -> None:
    """The ReplicaSet controller: pods of the deployment's current template, replicas of them."""
    fake = dep["_fake"]
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    pods = owned_pods(rec, ns, name)
    keep = [p for p in pods if p["_fake"].get("hash") == fake["hash"]]
    for p in pods:
        if p not in keep:
            delete_obj(rec, "Pod", ns, p["metadata"]["name"])
    tmpl = dep["spec"]["template"]
    while len(keep) < int(dep["spec"].get("replicas", 1)):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{fake['hash']}-{random_suffix()}",
                "namespace": ns,
                "labels": {**tmpl["metadata"].get("labels", {}), "pod-template-hash": fake["hash"]},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{name}-{fake['hash']}",
                        "controller": True,
                        "blockOwnerDeletion": True,
                        "uid": stable_hex(ns, name, fake["hash"], n=32),
                    }
                ],
            },
            "spec": {
                **copy.deepcopy(tmpl["spec"]),
                "nodeName": rec["nodes"][0]["name"],
                "restartPolicy": "Always",
            },
            "_fake": {**fake, "owner": name, "created": now()},
        }
        put(rec, pod)
        keep.append(pod)


def deploy_release(ctx: Ctx, rec: Obj, ns: str, name: str, rev: Obj) -> None:
    for obj in chart_objects(rec, ns, name, rev):
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
    timeout = duration_seconds(opts.get("timeout") or "5m0s")
    return wait_for(ctx, rec, timeout, lambda: release_healthy(ctx, rec, ns, name, chart))


def status_json(ns: str, name: str, rev: Obj, values: bool = True) -> Obj:
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
        **({"config": rev["config"]} if values else {}),
        "manifest": "",
        "version": rev["revision"],
        "namespace": ns,
    }


def print_status(ctx: Ctx, opts: Obj, ns: str, name: str, rev: Obj) -> None:
    fmt = opts.get("output") or "table"
    if fmt == "json":
        ctx.out(json.dumps(status_json(ns, name, rev), separators=(",", ":")))
    elif fmt == "yaml":
        ctx.out(to_yaml(status_json(ns, name, rev)).rstrip("\n"))
    elif fmt == "table":
        ctx.out(
            f"NAME: {name}\nLAST DEPLOYED: {ansic(rev['last_deployed'])}\nNAMESPACE: {ns}\n"
            f"STATUS: {rev['status']}\nREVISION: {rev['revision']}"
        )
        if opts.get("show-desc"):
            ctx.out(f"DESCRIPTION: {rev['description']}")
        ctx.out("TEST SUITE: None")
    else:
        raise Fail(f"Error: invalid format type {fmt}")


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


def prune_history(revs: list[Obj], max_history: int | None) -> None:
    if max_history and max_history > 0:
        del revs[: max(0, len(revs) - max_history)]


def helm_debug(ctx: Ctx, opts: Obj, msg: str) -> None:
    if opts.get("debug"):
        ctx.err(f"{ctx.path[0]}.go:100: {time.strftime('%Y/%m/%d %H:%M:%S')} [debug] {msg}")


def helm_upgrade(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 2, "helm upgrade [RELEASE] [CHART] [flags]")
    return helm_install_or_upgrade(ctx, opts, args[0], args[1])


def helm_install_or_upgrade(ctx: Ctx, opts: Obj, name: str, chart_ref: str) -> int:
    """helm upgrade [--install] (airbox never runs a plain helm install)."""
    if not RELEASE_NAME.match(name) or len(name) > 53:
        msg = (
            f'release name "{name}": invalid release name, must match regex '
            f"{RELEASE_NAME.pattern} and the length must not be longer than 53"
        )
        raise Fail("Error: " + msg)
    rec, ns, _ = helm_connect(ctx, opts)
    key = f"{ns}/{name}"
    revs: list[Obj] = rec["releases"].get(key) or []
    wait = bool(opts.get("wait") or opts.get("atomic"))
    dry = opts.get("dry-run") not in (None, "none", "false")
    table = (opts.get("output") or "table") == "table"
    install = opts.get("install") and (not revs or revs[-1]["status"] == "uninstalled")
    if install and table:
        ctx.out(f'Release "{name}" does not exist. Installing it now.')
    chart = resolve_chart(ctx, opts, chart_ref)
    values = user_values(ctx, opts)
    helm_debug(ctx, opts, f"CHART PATH: {chart['source']}")
    if install:
        prefix = "Error: "
        fresh = new_revision(revs, chart, values, "pending-install", "Initial install underway")
        conflict = ownership_conflict(rec, ns, name, chart_objects(rec, ns, name, fresh))
        if conflict:
            raise Fail(f"{prefix}Unable to continue with install: {conflict}")
        if not namespace_exists(rec, ns):
            if not opts.get("create-namespace"):
                raise Fail(f'{prefix}create: failed to create: namespaces "{ns}" not found')
            if not dry:
                new_namespace(rec, ns, {"name": ns})
        if dry:
            fresh["description"] = "Dry run complete"
            print_status(ctx, opts, ns, name, fresh)
            return 0
        for r in revs:
            if r["status"] == "uninstalled":
                r["status"] = "superseded"
        revs.append(fresh)
        rec["releases"][key] = revs
        ctx.dirty = True
        ctx.checkpoint()
        deploy_release(ctx, rec, ns, name, fresh)
        if wait and not helm_wait(ctx, opts, rec, ns, name, chart["name"]):
            fresh["status"] = "failed"
            fresh["description"] = f'Release "{name}" failed: context deadline exceeded'
            if opts.get("atomic"):
                remove_release_objects(rec, ns, name)
                del rec["releases"][key]
                raise Fail(
                    f"{prefix}release {name} failed, and has been uninstalled due to atomic "
                    "being set: context deadline exceeded"
                )
            raise Fail(f"{prefix}context deadline exceeded")
        fresh["status"] = "deployed"
        fresh["description"] = opts.get("description") or "Install complete"
        prune_history(revs, opts.get("history-max"))
        print_status(ctx, opts, ns, name, fresh)
        return 0

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
    if (opts.get("reuse-values") and not opts.get("reset-values")) or (
        opts.get("reset-then-reuse-values") and not opts.get("reset-values")
    ):
        values = deep_merge(current["config"], values)
    upgraded = new_revision(revs, chart, values, "pending-upgrade", "Preparing upgrade")
    conflict = ownership_conflict(rec, ns, name, chart_objects(rec, ns, name, upgraded))
    if conflict:
        raise Fail(f"Error: UPGRADE FAILED: Unable to continue with update: {conflict}")
    if dry:
        upgraded["description"] = "Dry run complete"
        print_status(ctx, opts, ns, name, upgraded)
        return 0
    revs.append(upgraded)
    ctx.dirty = True
    helm_debug(ctx, opts, f"preparing upgrade for {name}")
    ctx.checkpoint()
    deploy_release(ctx, rec, ns, name, upgraded)
    if wait and not helm_wait(ctx, opts, rec, ns, name, chart["name"]):
        upgraded["status"] = "failed"
        upgraded["description"] = f'Upgrade "{name}" failed: context deadline exceeded'
        if opts.get("atomic"):
            good = [r for r in revs if r["status"] in ("superseded", "deployed")]
            if not good:
                raise Fail(
                    "Error: UPGRADE FAILED: unable to find a previously successful release "
                    "when attempting to rollback. original upgrade error: context deadline "
                    "exceeded"
                )
            rollback_to(ctx, rec, ns, name, revs, good[-1])
            raise Fail(
                f"Error: UPGRADE FAILED: release {name} failed, and has been rolled back due "
                "to atomic being set: context deadline exceeded"
            )
        raise Fail("Error: UPGRADE FAILED: context deadline exceeded")
    for r in revs[:-1]:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    current["status"] = "superseded"
    upgraded["status"] = "deployed"
    upgraded["description"] = opts.get("description") or "Upgrade complete"
    prune_history(revs, opts.get("history-max"))
    if table:
        ctx.out(f'Release "{name}" has been upgraded. Happy Helming!')
    print_status(ctx, opts, ns, name, upgraded)
    return 0


def rollback_to(ctx: Ctx, rec: Obj, ns: str, name: str, revs: list[Obj], target: Obj) -> Obj:
    chart = {
        "name": target["chart"],
        "version": target["chart_version"],
        "app_version": target["app_version"],
        "defaults": target.get("defaults") or CHART_DEFAULTS,
        "source": target.get("chart_source", ""),
    }
    rolled = new_revision(
        revs,
        chart,
        copy.deepcopy(target["config"]),
        "pending-rollback",
        f"Rollback to {target['revision']}",
    )
    revs.append(rolled)
    deploy_release(ctx, rec, ns, name, rolled)
    for r in revs[:-1]:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    rolled["status"] = "deployed"
    ctx.dirty = True
    return rolled


def find_release(ctx: Ctx, opts: Obj, name: str) -> tuple[Obj, str, list[Obj]]:
    rec, ns, _ = helm_connect(ctx, opts)
    revs = revisions(rec, ns, name)
    if not revs:
        raise Fail("Error: release: not found")
    return rec, ns, revs


def pick_revision(revs: list[Obj], number: int | None) -> Obj:
    if not number:
        return revs[-1]
    for r in revs:
        if r["revision"] == number:
            return r
    raise Fail("Error: release: not found")


def helm_template(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    """Client-side rendering: no cluster needed, like the real `helm template`."""
    helm_args(ctx, args, 2, "helm template [NAME] [CHART] [flags]")
    name, chart_ref = args
    chart = resolve_chart(ctx, opts, chart_ref)
    values = user_values(ctx, opts)
    ns = opts.get("namespace") or "default"
    docs = chart_model.render(name, ns, values, chart["app_version"])
    for doc in docs:
        ctx.out("---\n# Source: " + chart["name"] + "/templates/" + doc["kind"].lower() + ".yaml")
        ctx.out(to_yaml(doc).rstrip("\n"))
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
    if opts.get("untar") or opts.get("prov"):
        raise Fail("Error: fakek8s: helm pull --untar/--prov are not implemented", 2)
    chart = resolve_chart(ctx, opts, args[0])
    dest = Path(opts.get("destination") or ".")
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
    _, ns, revs = find_release(ctx, opts, args[0])
    print_status(ctx, opts, ns, args[0], pick_revision(revs, opts.get("revision")))
    return 0


def helm_history(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm history RELEASE_NAME [flags]")
    _, _, revs = find_release(ctx, opts, args[0])
    shown = revs[-int(opts.get("max") or 256) :]
    items = [
        {
            "revision": r["revision"],
            "updated": iso_nano(r["last_deployed"]),
            "status": r["status"],
            "chart": f"{r['chart']}-{r['chart_version']}",
            "app_version": r["app_version"],
            "description": r["description"],
        }
        for r in shown
    ]
    fmt = opts.get("output") or "table"
    if fmt == "json":
        ctx.out(json.dumps(items, separators=(",", ":")))
    elif fmt == "yaml":
        ctx.out(to_yaml(items).rstrip("\n"))
    elif fmt == "table":
        rows = [["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]]
        rows += [
            [
                str(r["revision"]),
                ansic(r["last_deployed"]),
                r["status"],
                f"{r['chart']}-{r['chart_version']}",
                r["app_version"],
                r["description"],
            ]
            for r in shown
        ]
        sys.stdout.write(helm_table(rows))
    else:
        raise Fail(f"Error: invalid format type {fmt}")
    return 0


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
    last = revs[-1]
    wanted = number or last["revision"] - 1
    target = next((r for r in revs if r["revision"] == wanted), None)
    if target is None:
        raise Fail(f"Error: release has no {wanted} version")
    if opts.get("dry-run"):
        ctx.out("Rollback was a success! Happy Helming!")
        return 0
    rolled = rollback_to(ctx, rec, ns, name, revs, target)
    if opts.get("wait") and not helm_wait(ctx, opts, rec, ns, name, rolled["chart"]):
        rolled["status"] = "failed"
        rolled["description"] = f'Release "{name}" failed: context deadline exceeded'
        raise Fail(f"Error: release {name} failed: context deadline exceeded")
    prune_history(revs, opts.get("history-max"))
    ctx.out("Rollback was a success! Happy Helming!")
    return 0


def helm_uninstall(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm uninstall RELEASE_NAME [...] [flags]", at_least=True)
    rec, ns, _ = helm_connect(ctx, opts)
    for name in args:
        revs = revisions(rec, ns, name)
        if not revs:
            if opts.get("ignore-not-found"):
                continue
            raise Fail(f"Error: uninstall: Release not loaded: {name}: release: not found")
        if revs[-1]["status"] == "uninstalled":
            if opts.get("keep-history"):
                raise Fail(f'Error: the release named "{name}" is already deleted')
            del rec["releases"][f"{ns}/{name}"]
            ctx.dirty = True
            ctx.out(f'release "{name}" uninstalled')
            continue
        if not opts.get("dry-run"):
            remove_release_objects(rec, ns, name)
            if opts.get("keep-history"):
                revs[-1]["status"] = "uninstalled"
                revs[-1]["description"] = opts.get("description") or "Uninstallation complete"
            else:
                del rec["releases"][f"{ns}/{name}"]
            ctx.dirty = True
        ctx.out(f'release "{name}" uninstalled')
    return 0


def helm_get_values(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm get values RELEASE_NAME [flags]")
    _, _, revs = find_release(ctx, opts, args[0])
    rev = pick_revision(revs, opts.get("revision"))
    values = (
        deep_merge(rev.get("defaults") or CHART_DEFAULTS, rev["config"])
        if opts.get("all")
        else rev["config"]
    )
    fmt = opts.get("output") or "table"
    if fmt == "json":
        ctx.out(json.dumps(values, separators=(",", ":")))
    elif fmt == "yaml":
        sys.stdout.write(to_yaml(values))
    elif fmt == "table":
        ctx.out("COMPUTED VALUES:" if opts.get("all") else "USER-SUPPLIED VALUES:")
        sys.stdout.write(to_yaml(values))
    else:
        raise Fail(f"Error: invalid format type {fmt}")
    return 0


def helm_get_manifest(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    helm_args(ctx, args, 1, "helm get manifest RELEASE_NAME [flags]")
    rec, ns, revs = find_release(ctx, opts, args[0])
    rev = pick_revision(revs, opts.get("revision"))
    for obj in chart_objects(rec, ns, args[0], rev):
        ctx.out(f"---\n# Source: {rev['chart']}/templates/{obj['kind'].lower()}.yaml")
        sys.stdout.write(yaml.safe_dump(public(obj), sort_keys=False))
    return 0


def helm_version(ctx: Ctx, opts: Obj, args: list[str]) -> int:
    info = {
        "Version": HELM_VERSION,
        "GitCommit": HELM_COMMIT,
        "GitTreeState": "clean",
        "GoVersion": HELM_GO_VERSION,
    }
    if opts.get("template"):
        text = opts["template"]
        for key, value in info.items():
            text = re.sub(r"\{\{\s*\." + key + r"\s*\}\}", value, text)
        if "{{" in text:
            raise Fail(f"Error: fakek8s: unsupported --template {opts['template']!r}", 2)
        sys.stdout.write(text)
        return 0
    if opts.get("short"):
        ctx.out(f"{HELM_VERSION}+g{HELM_COMMIT[:7]}")
        return 0
    ctx.out(
        f'version.BuildInfo{{Version:"{HELM_VERSION}", GitCommit:"{HELM_COMMIT}", '
        f'GitTreeState:"clean", GoVersion:"{HELM_GO_VERSION}"}}'
    )
    return 0


# --------------------------------------------------------------------------------------------
# command tables


Handler = Callable[[Ctx, Obj, list[str]], int]


@dataclass(frozen=True)
class Cmd:
    handler: Handler
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Tool:
    tree: dict[str, Any]
    globals: tuple[Flag, ...]


def no_args(ctx: Ctx, args: list[str]) -> None:
    if args:
        raise UsageError(f'unknown command "{args[0]}" for "{ctx.tool} {" ".join(ctx.path)}"')


KIND_GLOBALS = (F("verbosity", "v", "int", 0), B("quiet", "q"), HELP)
KIND_NAME = F("name", "n")
KIND_TREE: dict[str, Any] = {
    "version": Cmd(kind_version),
    "get": {"clusters": Cmd(kind_get_clusters)},
    "create": {
        "cluster": Cmd(
            kind_create_cluster,
            (
                KIND_NAME,
                F("config"),
                F("image"),
                B("retain"),
                F("wait", kind="dur", default="0s"),
                F("kubeconfig"),
            ),
        )
    },
    "delete": {"cluster": Cmd(kind_delete_cluster, (KIND_NAME, F("kubeconfig")))},
    "load": {"docker-image": Cmd(kind_load_docker_image, (KIND_NAME, F("nodes", kind="slice")))},
    "export": {
        "kubeconfig": Cmd(kind_export_kubeconfig, (KIND_NAME, F("kubeconfig"), B("internal"))),
        "logs": Cmd(kind_export_logs, (KIND_NAME,)),
    },
}

KUBECTL_GLOBALS = (
    F("kubeconfig"),
    F("context"),
    F("namespace", "n"),
    F("request-timeout", default="0"),
    F("cluster"),
    F("user"),
    F("server", "s"),
    F("token"),
    B("insecure-skip-tls-verify"),
    F("v", "v", "int", 0),
    F("as"),
    F("cache-dir"),
    B("warnings-as-errors"),
    B("match-server-version"),
    HELP,
)
OUTPUT = F("output", "o")
SELECTOR = F("selector", "l")
DRY_RUN = F("dry-run", default="none", no_opt="client")
KUBECTL_TREE: dict[str, Any] = {
    "version": Cmd(kubectl_version, (B("client"), OUTPUT)),
    "apply": Cmd(
        kubectl_apply,
        (
            F("filename", "f", "slice"),
            B("server-side"),
            B("force-conflicts"),
            F("field-manager"),
            OUTPUT,
            DRY_RUN,
            F("validate", default="strict", no_opt="strict"),
            B("overwrite"),
            B("recursive", "R"),
            F("timeout", kind="dur", default="0s"),
            B("wait"),
            B("force"),
            SELECTOR,
        ),
    ),
    "get": Cmd(
        kubectl_get,
        (
            OUTPUT,
            SELECTOR,
            F("field-selector"),
            B("ignore-not-found"),
            B("all-namespaces", "A"),
            F("raw"),
            B("show-labels"),
            B("no-headers"),
            F("sort-by"),
            B("watch", "w"),
            B("watch-only"),
            F("chunk-size", kind="int", default=500),
            F("label-columns", "L", "slice"),
            B("show-kind"),
            F("template"),
        ),
    ),
    "describe": Cmd(
        kubectl_describe,
        (
            SELECTOR,
            B("all-namespaces", "A"),
            B("show-events"),
            F("chunk-size", kind="int", default=500),
        ),
    ),
    "logs": Cmd(
        kubectl_logs,
        (
            F("container", "c"),
            F("since", kind="dur"),
            F("since-time"),
            F("tail", kind="int", default=-1),
            B("follow", "f"),
            B("timestamps"),
            B("previous", "p"),
            SELECTOR,
            B("all-containers"),
            B("prefix"),
            F("limit-bytes", kind="int", default=0),
            F("max-log-requests", kind="int", default=5),
            F("pod-running-timeout", kind="dur", default="20s"),
            B("ignore-errors"),
        ),
    ),
    "rollout": {
        "status": Cmd(
            kubectl_rollout_status,
            (
                F("timeout", kind="dur", default="0s"),
                F("watch", "w", "bool", True),
                F("revision", kind="int", default=0),
                SELECTOR,
            ),
        ),
        "restart": Cmd(kubectl_rollout_restart, (SELECTOR, F("field-manager"), OUTPUT)),
    },
    "delete": Cmd(
        kubectl_delete,
        (
            B("ignore-not-found"),
            F("wait", kind="bool", default=True),
            F("timeout", kind="dur", default="0s"),
            SELECTOR,
            B("all"),
            B("all-namespaces", "A"),
            F("filename", "f", "slice"),
            OUTPUT,
            F("cascade", default="background", no_opt="background"),
            B("now"),
            B("force"),
            F("grace-period", kind="int", default=-1),
            DRY_RUN,
            F("field-selector"),
            B("recursive", "R"),
        ),
    ),
    "wait": Cmd(
        kubectl_wait,
        (
            F("for"),
            F("timeout", kind="dur", default="30s"),
            B("all"),
            SELECTOR,
            B("all-namespaces", "A"),
            F("field-selector"),
            F("filename", "f", "slice"),
            OUTPUT,
            B("local"),
        ),
    ),
    "create": {
        "namespace": Cmd(kubectl_create_namespace, (DRY_RUN, OUTPUT)),
        "ns": Cmd(kubectl_create_namespace, (DRY_RUN, OUTPUT)),
    },
}

HELM_GLOBALS = (
    F("kubeconfig"),
    F("kube-context"),
    F("namespace", "n"),
    B("debug"),
    F("kube-apiserver"),
    F("kube-token"),
    F("kube-as-user"),
    F("kube-as-group", kind="list"),
    F("kube-ca-file"),
    B("kube-insecure-skip-tls-verify"),
    F("kube-tls-server-name"),
    F("registry-config"),
    F("repository-cache"),
    F("repository-config"),
    F("burst-limit", kind="int", default=100),
    F("qps"),
    F("content-cache"),
    HELP,
)
HELM_CHART_OPTS = (
    F("repo"),
    F("version"),
    F("ca-file"),
    F("cert-file"),
    F("key-file"),
    B("insecure-skip-tls-verify"),
    F("keyring"),
    B("pass-credentials"),
    F("password"),
    B("plain-http"),
    F("username"),
    B("verify"),
)
HELM_VALUE_OPTS = (
    F("values", "f", "slice"),
    F("set", kind="list"),
    F("set-string", kind="list"),
    F("set-file", kind="list"),
    F("set-json", kind="list"),
    F("set-literal", kind="list"),
)
HELM_INSTALL_COMMON = (
    *(
        B("create-namespace"),
        B("devel"),
        F("dry-run", default="none", no_opt="client"),
        B("force"),
        B("no-hooks"),
        B("disable-openapi-validation"),
        B("skip-crds"),
        F("timeout", kind="dur", default="5m0s"),
        B("wait"),
        B("wait-for-jobs"),
        B("atomic"),
        B("render-subchart-notes"),
        B("hide-notes"),
        B("skip-schema-validation"),
        F("description"),
        B("dependency-update"),
        B("enable-dns"),
        B("take-ownership"),
        B("hide-secret"),
        F("labels", "l", "slice"),
        OUTPUT,
        F("post-renderer"),
        F("post-renderer-args", kind="list"),
    ),
    *HELM_CHART_OPTS,
    *HELM_VALUE_OPTS,
)
HELM_TREE: dict[str, Any] = {
    "version": Cmd(helm_version, (B("short"), F("template"), B("client", "c"))),
    "upgrade": Cmd(
        helm_upgrade,
        (
            *HELM_INSTALL_COMMON,
            B("install", "i"),
            B("recreate-pods"),
            B("reset-values"),
            B("reuse-values"),
            B("reset-then-reuse-values"),
            F("history-max", kind="int", default=10),
            B("cleanup-on-fail"),
        ),
    ),
    "template": Cmd(
        helm_template,
        (
            *HELM_CHART_OPTS,
            *HELM_VALUE_OPTS,
            B("devel"),
            B("include-crds"),
            B("skip-tests"),
            F("output-dir"),
            F("show-only", "s", "list"),
            F("api-versions", "a", "list"),
            F("kube-version"),
            B("validate"),
            B("is-upgrade"),
            B("skip-schema-validation"),
        ),
    ),
    "pull": Cmd(
        helm_pull,
        (*HELM_CHART_OPTS, F("destination", "d"), B("devel"), B("prov"), B("untar"), F("untardir")),
    ),
    "status": Cmd(
        helm_status,
        (OUTPUT, F("revision", kind="int", default=0), B("show-desc"), B("show-resources")),
    ),
    "history": Cmd(helm_history, (OUTPUT, F("max", kind="int", default=256))),
    "rollback": Cmd(
        helm_rollback,
        (
            B("wait"),
            B("wait-for-jobs"),
            F("timeout", kind="dur", default="5m0s"),
            B("cleanup-on-fail"),
            B("dry-run"),
            B("force"),
            F("history-max", kind="int", default=10),
            B("no-hooks"),
            B("recreate-pods"),
        ),
    ),
    "uninstall": Cmd(
        helm_uninstall,
        (
            B("wait"),
            F("timeout", kind="dur", default="5m0s"),
            B("ignore-not-found"),
            B("keep-history"),
            B("dry-run"),
            B("no-hooks"),
            F("cascade", default="background"),
            F("description"),
        ),
    ),
    "get": {
        "values": Cmd(
            helm_get_values, (OUTPUT, B("all", "a"), F("revision", kind="int", default=0))
        ),
        "manifest": Cmd(helm_get_manifest, (F("revision", kind="int", default=0),)),
    },
}
for _alias, _target in (
    ("un", "uninstall"),
    ("del", "uninstall"),
    ("delete", "uninstall"),
    ("hist", "history"),
):
    HELM_TREE[_alias] = HELM_TREE[_target]

TOOLS = {
    "kind": Tool(KIND_TREE, KIND_GLOBALS),
    "kubectl": Tool(KUBECTL_TREE, KUBECTL_GLOBALS),
    "helm": Tool(HELM_TREE, HELM_GLOBALS),
}


class NeedSubcommand(Exception):
    def __init__(self, path: list[str], node: dict[str, Any]) -> None:
        super().__init__(" ".join(path))
        self.path = path
        self.node = node


def find_command(tool: Tool, argv: list[str]) -> tuple[list[str], Cmd, list[str]]:
    """Cobra's command lookup: the first non-flag words select the (sub)command."""
    value_long = {f.name for f in tool.globals if f.kind != "bool" and f.no_opt is None}
    value_short = {f.short for f in tool.globals if f.short and f.kind != "bool"}
    node: Any = tool.tree
    path: list[str] = []
    used: set[int] = set()
    i = 0
    while isinstance(node, dict):
        while i < len(argv):
            a = argv[i]
            if a == "--":
                i = len(argv)
                break
            if a.startswith("--") and len(a) > 2:
                i += 2 if ("=" not in a and a[2:] in value_long) else 1
            elif a.startswith("-") and len(a) > 1:
                i += 2 if (len(a) == 2 and a[1] in value_short) else 1
            else:
                break
        if i >= len(argv):
            raise NeedSubcommand(path, node)
        word = argv[i]
        if word not in node:
            where = " ".join([*path])
            raise UsageError(
                f'unknown command "{word}" for "{" ".join(filter(None, ["TOOL", where]))}"'
            )
        node = node[word]
        path.append(word)
        used.add(i)
        i += 1
    return path, node, [a for k, a in enumerate(argv) if k not in used]


def usage_error(tool: str, path: list[str], message: str) -> str:
    message = message.replace('"TOOL', f'"{tool}')
    if tool == "kind":
        return f"ERROR: {message}\n"
    if tool == "helm":
        return f"Error: {message}\n" + (
            "Run 'helm --help' for usage.\n" if message.startswith("unknown command") else ""
        )
    where = " ".join(["kubectl", *path])
    return f"error: {message}\nSee '{where} --help' for usage.\n"


def print_help(tool: str, path: list[str], node: dict[str, Any]) -> None:
    sys.stdout.write(f"Usage:\n  {' '.join([tool, *path])} [command]\n\nAvailable Commands:\n")
    for name in sorted(node):
        sys.stdout.write(f"  {name}\n")


def run_tool(ctx: Ctx) -> int:
    tool = TOOLS[ctx.tool]
    path: list[str] = []
    try:
        try:
            path, cmd, rest = find_command(tool, ctx.argv)
        except NeedSubcommand as exc:
            print_help(ctx.tool, exc.path, exc.node)
            return 0
        ctx.path = path
        opts, args = parse_flags(rest, tool.globals + cmd.flags)
        if ctx.tool == "kind" and opts.get("quiet"):
            ctx.quiet = True
        if opts.get("help"):
            sys.stdout.write(f"Usage:\n  {' '.join([ctx.tool, *path])} [flags]\n")
            return 0
        return cmd.handler(ctx, opts, args)
    except UsageError as exc:
        if not ctx.quiet:
            sys.stderr.write(usage_error(ctx.tool, path, str(exc)))
        return 1
    except Fail as exc:
        if not ctx.quiet:
            sys.stderr.write(exc.message.rstrip("\n") + "\n")
        return exc.code
    except (Partial, KeyboardInterrupt):
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"fakek8s: internal error in fake {ctx.tool} (a bug in tests/fakes)\n")
        return INTERNAL_ERROR


# --------------------------------------------------------------------------------------------
# main


def _called_by_airbox() -> bool:
    try:
        argv = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return False
    return any(Path(os.fsdecode(arg)).name == "airbox" for arg in argv if arg)


def interrupt(ctx: Ctx) -> int:
    """What the user's Ctrl-C does: SIGINT to the terminal's foreground process group.
    Under airbox that is airbox's group (airbox runs each tool in a group of its own and
    passes the signal on); called directly (a test), this fake's own group."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.killpg(os.getpgrp(), signal.SIGINT)
    if _called_by_airbox():
        parent = os.getppid()
        # On a terminal airbox leads its own group. A test that started airbox inside the
        # test runner's group must not have the runner interrupted too: signal airbox alone.
        if os.getpgid(parent) == parent:
            os.killpg(parent, signal.SIGINT)
        else:
            os.kill(parent, signal.SIGINT)
    return 130


def main(tool: str, argv: list[str]) -> int:
    if tool not in TOOLS:
        sys.stderr.write(f"fakek8s: unknown tool {tool!r}\n")
        return 2
    state_env = os.environ.get("FAKE_K8S_STATE")
    if not state_env:
        sys.stderr.write(f"fakek8s: FAKE_K8S_STATE is not set; {tool} is a test fake\n")
        return 2
    ctx = Ctx(tool, list(argv), Path(state_env))
    code: int | None = None
    logged = False
    with state_lock(ctx.state_dir) as lock:
        try:
            fault = take_fault(ctx.state_dir, tool, ctx.argv)
            action = fault.get("action", "fail") if fault else None
            after_work = fault is not None and fault.get("after") == "work"
            if fault is not None and not after_work:
                logged = True
                return act_on_fault(ctx, fault, lock, None)
            ctx.partial = after_work and action in ("interrupt", "hang")
            ctx.state = load_state(ctx.state_dir)
            partial_hit = False
            try:
                code = run_tool(ctx)
            except Partial:
                partial_hit = True
            if ctx.dirty:
                save_state(ctx)
            sys.stdout.flush()
            sys.stderr.flush()
            if fault is not None:
                logged = True
                return act_on_fault(ctx, fault, lock, code if not partial_hit else None)
            return code if code is not None else INTERNAL_ERROR
        finally:
            if not logged:
                log_call(ctx, code)
            sys.stdout.flush()
            sys.stderr.flush()


class _HangEnded(Exception):
    pass


def _end_hang(signum: int, frame: Any) -> None:
    raise _HangEnded


def act_on_fault(ctx: Ctx, fault: Obj, lock: Any, code: int | None) -> int:
    """Carry out a fault after (or instead of) the command's work; logs the call itself."""
    action = fault.get("action", "fail")
    if action == "interrupt":
        log_call(ctx, 130)
        fcntl.flock(lock, fcntl.LOCK_UN)
        return interrupt(ctx)
    if action == "hang":
        log_call(ctx, None)
        fcntl.flock(lock, fcntl.LOCK_UN)
        sys.stdout.flush()
        sys.stderr.flush()
        # SIGUSR1 ends the hang early, as if it had lasted (a test releases a slow call
        # when what it waits for is in place: ``FakeK8s.end_hang``).
        signal.signal(signal.SIGUSR1, _end_hang)
        with contextlib.suppress(_HangEnded):
            time.sleep(min(float(fault.get("seconds", HANG_SECONDS)), HANG_SECONDS))
        sys.stderr.write(str(fault.get("stderr", "")))
        return int(fault.get("exit", 1))
    if fault.get("stdout"):
        sys.stdout.write(str(fault["stdout"]).rstrip("\n") + "\n")
    stderr = fault.get("stderr", f"fakek8s: injected failure of {ctx.tool}")
    if stderr:
        sys.stderr.write(str(stderr).rstrip("\n") + "\n")
    rc = int(fault.get("exit", 1))
    log_call(ctx, rc)
    del code
    return rc


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[0]).name, sys.argv[1:]))
