"""``FakeK8s``: fake kind/helm/kubectl executables for a test, and the ``fake_k8s`` fixture.

Use it from a conftest::

    from tests.fakes.fixture import docker_client, fake_k8s  # noqa: F401

``fake_k8s`` sets AIRBOX_KIND / AIRBOX_HELM / AIRBOX_KUBECTL, FAKE_K8S_STATE and a private
KUBECONFIG in the environment (monkeypatch), so airbox, in-process or as a subprocess,
runs the fakes; ``env()`` gives the same variables for an explicit ``subprocess`` env.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import admission_model, launcher_model
from .k8s_cluster import admit_pod, delete_obj, get_obj, new_cluster, put
from .k8s_state import add_to_kubeconfig, write_kubeconfig

FAKES_DIR = Path(__file__).resolve().parent
ROOT = FAKES_DIR.parent.parent  # the fakes run as the package tests.fakes
TOOLS = ("kind", "helm", "kubectl")
LABEL_STATE = "fakek8s.state"

# A fake call is a short process of its own, started dozens of times per install, so its
# start-up is kept lean:
# - ``-S``: no ``site`` (the editable install's finder, .pth files); the directories the
#   fakes import from (PyYAML, the Docker SDK, coverage) are put on sys.path instead;
# - a call imports only its own tool's module (fakek8s.MODULES);
# - its bytecode is cached (tests/fakes/__pycache__) even under PYTHONDONTWRITEBYTECODE:
#   compiling the fakes again cost every call about 0.04 s of CPU. Only
#   the fakes': airbox's own modules keep the environment's setting (scripts/mutate.py
#   relies on it).
# COVERAGE_PROCESS_START (set by scripts/fakes_coverage.py) measures the fakes that run as
# executables too; without it the wrapper imports nothing more.
WRAPPER = """#!{python} -S
import os, sys
sys.dont_write_bytecode = False
sys.path[:0] = [{root!r}]
sys.path += {site!r}
if os.environ.get("COVERAGE_PROCESS_START"):
    import coverage
    coverage.process_startup()
from tests.fakes.fakek8s import main
sys.exit(main({tool!r}, sys.argv[1:]))
"""
# Where this interpreter finds its installed packages (a venv's, the system's).
SITE_DIRS = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def _launcher_settings(rec: dict[str, Any], namespace: str) -> dict[str, str]:
    """The plain settings of the launcher helm installed in ``namespace`` (none: {})."""
    objects = rec.get("objects") or {}
    launcher = next(
        (
            o
            for o in objects.values()
            if o.get("kind") == "Deployment"
            and (o.get("_fake") or {}).get("role") == "launcher"
            and o["metadata"].get("namespace") == namespace
        ),
        None,
    )
    if launcher is None:
        return {}
    configmaps = {
        o["metadata"]["name"]: o.get("data") or {}
        for o in objects.values()
        if o.get("kind") == "ConfigMap" and o["metadata"].get("namespace") == namespace
    }
    return launcher_model.launcher_env(launcher, configmaps)


class PodRefused(Exception):
    """The API server refused to create a pod (an admission policy's error)."""


class FakeK8s:
    """Fake ``kind``, ``helm`` and ``kubectl`` sharing one state directory."""

    def __init__(self, state_dir: Path, bin_dir: Path, kubeconfig: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.bin_dir = Path(bin_dir)
        self.kubeconfig = Path(kubeconfig) if kubeconfig else self.state_dir / "kube" / "config"
        self.node_image: str | None = None
        self.monkeypatch: pytest.MonkeyPatch | None = None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        for tool in TOOLS:
            path = self.bin_dir / tool
            path.write_text(
                WRAPPER.format(python=sys.executable, root=str(ROOT), site=SITE_DIRS, tool=tool)
            )
            path.chmod(0o755)
        self.set_scenario(launcher="ok", node_ready=True)

    # -- paths and environment

    @property
    def kind(self) -> Path:
        return self.bin_dir / "kind"

    @property
    def helm(self) -> Path:
        return self.bin_dir / "helm"

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    def env(self) -> dict[str, str]:
        """The variables that point airbox (or anything) at the fakes."""
        env = {
            "AIRBOX_KIND": str(self.kind),
            "AIRBOX_HELM": str(self.helm),
            "AIRBOX_KUBECTL": str(self.kubectl),
            "FAKE_K8S_STATE": str(self.state_dir),
            "KUBECONFIG": str(self.kubeconfig),
        }
        if self.node_image:
            env["FAKE_KIND_NODE_IMAGE"] = self.node_image
        return env

    def full_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """os.environ + env() + extra, with the fakes' bin dir first on PATH."""
        env = {**os.environ, **self.env(), **(extra or {})}
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        if not self.node_image:
            env.pop("FAKE_KIND_NODE_IMAGE", None)
        return env

    def run(
        self,
        tool: str,
        *args: str,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run one fake through its wrapper script (text mode)."""
        data = input.decode() if isinstance(input, bytes) else input
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            input=data,
            text=True,
            capture_output=True,
            env=self.full_env(env),
            timeout=timeout,
            **kw,
        )

    def use_docker(self, node_image: str) -> None:
        """Docker mode: kind clusters get real node containers running ``node_image``
        (build it with ``images.ensure_image``). Also exported when the fixture made us."""
        self.node_image = node_image
        if self.monkeypatch is not None:
            self.monkeypatch.setenv("FAKE_KIND_NODE_IMAGE", node_image)

    # -- state

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with open(self.state_dir / "state.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def state(self) -> dict[str, Any]:
        """A snapshot of state.json (clusters: objects, releases, clock)."""
        with self._locked(exclusive=False):
            data = _read_json(self.state_dir / "state.json", {})
        data.setdefault("clusters", {})
        return dict(data)

    def _update_state(self, fn: Any) -> None:
        with self._locked(exclusive=True):
            path = self.state_dir / "state.json"
            data = _read_json(path, {})
            data.setdefault("clusters", {})
            fn(data)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, path)

    def call_records(self, tool: str | None = None) -> list[dict[str, Any]]:
        """calls.jsonl: {"tool", "argv", "cwd", "stdin_bytes", "env" (names), "pid", "time",
        "exit"} per call."""
        path = self.state_dir / "calls.jsonl"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in records if tool is None or r["tool"] == tool]

    def calls(self, tool: str | None = None) -> list[list[str]]:
        """Invocations in order: ``[tool, *argv]`` each (the tool name first, always)."""
        return [[r["tool"], *r["argv"]] for r in self.call_records(tool)]

    def set_scenario(self, **kw: Any) -> None:
        """Update scenario.json: launcher=ok|crashloop|imagepull|auth-fail, node_ready=bool,
        log_lines=[...] (appended to launcher logs), ready_delay=<fake s> (pods, Deployments
        and Jobs become ready that long after they were made), api_delay=<fake s> (the API
        server answers that long after its cluster or node started), offline=True (no
        registry or chart repository answers: kind needs its node image in the local
        Docker, helm fails on any chart that is not a local file). Read on every call."""
        path = self.state_dir / "scenario.json"
        scen = _read_json(path, {})
        scen.update(kw)
        path.write_text(json.dumps(scen, indent=1) + "\n")

    def add_fault(self, tool: str, match: list[str], action: str = "fail", **kw: Any) -> None:
        """Append a rule to faults.json; see k8s_state.take_fault for the fields.

        kw: exit (1), stderr, stdout, times (omit = forever), after ("before" | "work"),
        seconds (hang length, ≤ 300).
        """
        if action not in ("fail", "interrupt", "hang"):
            raise ValueError(f"unknown fault action {action!r}")
        with self._locked(exclusive=True):
            path = self.state_dir / "faults.json"
            rules = _read_json(path, [])
            rules.append({"tool": tool, "match": list(match), "action": action, **kw})
            path.write_text(json.dumps(rules, indent=1) + "\n")

    def end_hang(self, record: dict[str, Any]) -> None:
        """End the hang of the call ``record`` (from ``call_records``) now: it finishes as
        if the hang had run its full length."""
        os.kill(int(record["pid"]), signal.SIGUSR1)

    def faults(self) -> list[dict[str, Any]]:
        return list(_read_json(self.state_dir / "faults.json", []))

    def clusters(self) -> list[str]:
        """Names of the clusters in state (kind and existing ones)."""
        return sorted(self.state()["clusters"])

    def releases(self, cluster: str) -> dict[str, list[dict[str, Any]]]:
        """``{"namespace/release": [revision, ...]}``; a revision has revision, status, chart,
        chart_version, app_version, config (user values), description, ..."""
        rec = self.state()["clusters"].get(cluster)
        return dict(rec["releases"]) if rec else {}

    def release(
        self, cluster: str, name: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """The revisions of one release (any namespace unless given); [] if none."""
        for key, revs in self.releases(cluster).items():
            ns, rel = key.split("/", 1)
            if rel == name and (namespace is None or ns == namespace):
                return list(revs)
        return []

    def objects(
        self, cluster: str, kind: str | None = None, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored objects (pods without derived status; use kubectl for the live view)."""
        rec = self.state()["clusters"].get(cluster) or {}
        out = []
        for obj in (rec.get("objects") or {}).values():
            if kind and obj["kind"] != kind:
                continue
            if namespace and obj["metadata"].get("namespace") != namespace:
                continue
            out.append(obj)
        return out

    def add_existing_cluster(
        self,
        context: str,
        cluster: str,
        namespace: str | None = None,
        kubeconfig: Path | None = None,
        feature_gates: Mapping[str, bool] | None = None,
        runtime_config: Mapping[str, str] | None = None,
    ) -> Path:
        """A user's existing (non-kind) cluster: registered in state and added as ``context``
        to ``kubeconfig`` (default: this fixture's KUBECONFIG), merged, made current if the file
        had no current context. Returns the kubeconfig path. ``feature_gates`` and
        ``runtime_config``: its API server's --feature-gates and --runtime-config."""
        path = Path(kubeconfig) if kubeconfig else self.kubeconfig
        result: dict[str, str] = {}

        def register(data: dict[str, Any]) -> None:
            used = {c.get("port") for c in data["clusters"].values()}
            port = 6443
            while port in used:
                port += 1
            rec = new_cluster(
                cluster,
                kind=False,
                docker=False,
                port=port,
                nodes=[(f"{cluster}-node-1", "control-plane")],
            )
            rec["server"] = f"https://127.0.0.1:{port}"
            rec["feature_gates"] = dict(feature_gates or {})
            rec["runtime_config"] = dict(runtime_config or {})
            data["clusters"][cluster] = rec
            result["server"] = rec["server"]

        self._update_state(register)
        add_to_kubeconfig(path, context, result["server"], make_current=False, namespace=namespace)
        cfg = yaml.safe_load(path.read_text())
        # the context's cluster entry is named after the cluster, like a cloud kubeconfig
        for entry in cfg["clusters"]:
            if entry["name"] == context:
                entry["name"] = cluster
        for entry in cfg["contexts"]:
            if entry["name"] == context:
                entry["context"]["cluster"] = cluster
        write_kubeconfig(path, cfg)
        return path

    def job_pod(
        self, cluster: str, namespace: str, job: Mapping[str, Any], phase: str | None
    ) -> str:
        """The pod a sync job runs in, as Airbyte's workload launcher names and labels it
        (``replication-job-<job>-attempt-<n>``; labels airbyte=job-pod, job_id, attempt_id,
        connection_id, workspace_id). ``phase``: Running creates it, Succeeded/Failed ends
        it, None deletes it (the launcher removes finished pods). Returns its name.

        Its init container's env is what the launcher installed in ``namespace`` (its
        Deployment and ConfigMaps, as helm left them) would give it
        (``launcher_model``); without a launcher, what one with no settings would. A new
        pod passes the cluster's mutating admission policies (``k8s_cluster.admit_pod``); one
        they refuse is not created and ``PodRefused`` says why, as the API server told
        the launcher."""
        name = f"replication-job-{job['jobId']}-attempt-{job.get('attempt', 0)}"

        def change(data: dict[str, Any]) -> None:
            rec = data["clusters"][cluster]
            if phase is None:
                delete_obj(rec, "Pod", namespace, name)
                return
            pod = get_obj(rec, "Pod", namespace, name)
            if pod is None:
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": {
                            "airbyte": "job-pod",
                            "job_id": str(job["jobId"]),
                            "attempt_id": str(job.get("attempt", 0)),
                            "connection_id": str(job.get("connectionId", "")),
                            "workspace_id": str(job.get("workspaceId", "")),
                        },
                    },
                    "spec": {
                        "initContainers": [
                            launcher_model.init_container(_launcher_settings(rec, namespace))
                        ],
                        "containers": [
                            {"name": "orchestrator", "image": "airbyte/container-orchestrator"},
                            {"name": "source", "image": "airbyte/source-faker"},
                            {"name": "destination", "image": "airbyte/destination-dev-null"},
                        ],
                    },
                    "_fake": {"role": "job"},
                }
                try:
                    pod = admit_pod(rec, pod)
                except admission_model.Denied as exc:
                    refused.append(f'pods "{name}" is forbidden: {exc}')
                    return
            pod["_fake"]["phase"] = phase
            put(rec, pod)

        refused: list[str] = []
        self._update_state(change)
        if refused:
            raise PodRefused(refused[0])
        return name

    def container_env(
        self, cluster: str, namespace: str, pod: str, container: str
    ) -> dict[str, str]:
        """What the kubelet would give ``container`` of ``pod``: its env, each
        ``secretKeyRef`` read from the Secret in the cluster (a missing key: KeyError)."""
        rec = self.state()["clusters"][cluster]
        obj = get_obj(rec, "Pod", namespace, pod)
        assert obj is not None, f"no pod {namespace}/{pod}"
        spec = obj["spec"]
        found = [
            c
            for c in (spec.get("initContainers") or []) + spec["containers"]
            if c["name"] == container
        ]
        assert found, f"no container {container} in {pod}"
        env: dict[str, str] = {}
        for entry in found[0].get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                env[entry["name"]] = str(entry.get("value", ""))
                continue
            secret = get_obj(rec, "Secret", namespace, ref["name"])
            data = (secret or {}).get("data") or {}
            if ref["key"] not in data:
                raise KeyError(f"{ref['name']}/{ref['key']}")
            env[entry["name"]] = base64.b64decode(data[ref["key"]]).decode()
        return env

    def age_cluster(self, cluster: str, kubelet_version: str) -> None:
        """Make a cluster's nodes report an older Kubernetes (one an older airbox made);
        a cluster created again reports the current one."""
        self._update_state(
            lambda data: data["clusters"][cluster].__setitem__("kubelet_version", kubelet_version)
        )

    def restart_api(self, cluster: str) -> None:
        """The API server of ``cluster`` restarts now (a node restart): it refuses
        connections for the scenario's ``api_delay`` fake seconds (calls tick the clock)."""

        def restart(data: dict[str, Any]) -> None:
            rec = data["clusters"][cluster]
            rec["api_born"] = rec.get("clock", 0.0)

        self._update_state(restart)

    def clock(self, cluster: str) -> float:
        """The fake time (seconds) of ``cluster``: each call that reaches it adds one, a
        wait (kubectl wait / rollout status, helm --wait) adds what it waited."""
        return float(self.state()["clusters"][cluster].get("clock", 0.0))

    def remove_cluster(self, cluster: str) -> None:
        """Make a cluster vanish from the fake API (its kubeconfig entries stay)."""
        self._update_state(lambda data: data["clusters"].pop(cluster, None))

    def upgrade_left_pending(self, cluster: str, release: str, namespace: str = "airbyte") -> None:
        """Leave ``release`` as a `helm upgrade` killed half-way does: a new revision (the
        last one's chart and values) pending-upgrade, the last one still deployed. helm
        stores the new revision as pending before it deploys anything and supersedes the
        old one only on success (pkg/action/upgrade.go, performUpgrade). A test needs no
        second install to have a revision to roll back to."""

        def add(data: dict[str, Any]) -> None:
            import copy
            import time

            revs = data["clusters"][cluster]["releases"][f"{namespace}/{release}"]
            last = revs[-1]
            assert last["status"] == "deployed", last["status"]
            revs.append(
                {
                    **copy.deepcopy(last),
                    "revision": last["revision"] + 1,
                    "status": "pending-upgrade",
                    "last_deployed": time.time(),
                    "description": "Preparing upgrade",
                }
            )

        self._update_state(add)

    def pending(
        self,
        cluster: str,
        release: str,
        status: str = "pending-upgrade",
        namespace: str | None = None,
    ) -> None:
        """Force a release's last revision into ``status`` (pending-install|pending-upgrade|
        pending-rollback|failed|...); a release that does not exist gets a pending revision 1."""
        if status not in (
            "pending-install",
            "pending-upgrade",
            "pending-rollback",
            "deployed",
            "failed",
            "superseded",
            "uninstalled",
            "uninstalling",
        ):
            raise ValueError(f"unknown release status {status!r}")

        def force(data: dict[str, Any]) -> None:
            rec = data["clusters"][cluster]
            keys = [
                k
                for k in rec["releases"]
                if k.split("/", 1)[1] == release
                and (namespace is None or k.split("/", 1)[0] == namespace)
            ]
            if keys:
                rec["releases"][keys[0]][-1]["status"] = status
                return
            import time

            t = time.time()
            rec["releases"][f"{namespace or 'airbyte'}/{release}"] = [
                {
                    "revision": 1,
                    "status": status,
                    "chart": "airbyte-data-plane",
                    "chart_version": "1.8.1",
                    "app_version": "1.8.1",
                    "config": {},
                    "first_deployed": t,
                    "last_deployed": t,
                    "description": "Initial install underway",
                    "chart_source": "",
                    "defaults": {},
                }
            ]

        self._update_state(force)

    # -- docker

    def node_containers(self, client: Any) -> list[Any]:
        """This fixture's kind node containers (docker mode)."""
        return list(
            client.containers.list(
                all=True, filters={"label": [f"{LABEL_STATE}={self.state_dir.resolve()}"]}
            )
        )

    def cleanup(self) -> None:
        """Remove every Docker container the fakes created for this state directory."""
        if not self.node_image and not any(
            c.get("docker") for c in self.state()["clusters"].values()
        ):
            return
        try:
            import docker

            client = docker.from_env(timeout=30)
            for c in self.node_containers(client):
                with contextlib.suppress(Exception):
                    c.remove(force=True)
        except Exception:  # the daemon went away: nothing we can remove
            pass


def make_fake_k8s(base: Path) -> FakeK8s:
    """A FakeK8s with its state, bin dir and kubeconfig under ``base``."""
    return FakeK8s(base / "fake-k8s-state", base / "fake-k8s-bin", base / "kube" / "config")


@pytest.fixture
def fake_k8s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeK8s]:
    """Fake kind/helm/kubectl for one test, wired into the environment."""
    fake = make_fake_k8s(tmp_path)
    fake.monkeypatch = monkeypatch
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FAKE_KIND_NODE_IMAGE", raising=False)
    monkeypatch.setenv("PATH", f"{fake.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    try:
        yield fake
    finally:
        fake.cleanup()


def docker_client() -> Any:
    """A connected Docker client, or skip the test."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception:  # no SDK, no socket, daemon down…
        pytest.skip("no Docker daemon reachable")
    return client
