"""install's steps one at a time, in-process, against the fake kind/helm/kubectl.

The end-to-end runs (tests/test_install_fake.py) show the steps compose; here each
promise a step makes is pinned where it is kept: file modes, the half-built cluster
removed, the API wait and its error, the kubeconfig exported again, the chart check,
the rollback target, the stuck-release recovery, the image pulls.
"""

from __future__ import annotations

import io
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airbox import versions
from airbox.cluster import commands
from airbox.cluster.dockerhost import ContainerState
from airbox.cluster.runner import Runner
from airbox.cluster.toolchain import Toolchain
from airbox.config.settings import Settings
from airbox.errors import ClusterError, ToolError
from airbox.fsutil import ensure_private_dir
from airbox.ops import install
from airbox.ops.install import Context, Generated, Options
from airbox.paths import StateDir
from airbox.redact import REDACTOR
from airbox.ui import StepLine, Terminal
from tests.answers_factory import SECRETS, answers
from tests.fake_registry import FakeRegistry, fake_registry  # noqa: F401
from tests.fakes.fixture import FakeK8s
from tests.recording_runner import RecordingRunner


class _RunningNode:
    """Docker as the Cluster step sees it when the node container runs (no daemon needed
    for the kind logic; the real daemon is exercised by tests/test_install_fake.py)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started: list[str] = []

    def container(self, name: str) -> ContainerState:
        return ContainerState(name, "running", restart_policy="unless-stopped")

    def start(self, name: str) -> None:
        self.started.append(name)


def _context(tmp_path: Path, runner: Runner) -> Context:
    name = "s" + uuid.uuid4().hex[:8]
    a = answers("vault", directory=tmp_path, name=name)
    settings = Settings.from_answers(a)
    state = StateDir(tmp_path / "home" / name)
    ensure_private_dir(state.root)
    term = Terminal(out=io.StringIO(), err=io.StringIO(), interactive=False)
    return Context(settings, a, state, Generated(state.root), term, Options(), runner=runner)


@pytest.fixture
def ctx(fake_k8s: FakeK8s, tmp_path: Path) -> Iterator[Context]:
    yield _context(tmp_path, Runner(Toolchain(allow_download=False)))


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Context, RecordingRunner]:
    """A Context whose commands are recorded and answered by the test: no tool runs."""
    runner = RecordingRunner()
    return _context(tmp_path, runner), runner


def _line(ctx: Context) -> StepLine:
    return StepLine(ctx.term, "test")


def _calls(fake: FakeK8s, *words: str) -> list[list[str]]:
    return [c for c in fake.calls() if all(w in c for w in words)]


def _create(ctx: Context) -> None:
    install.write_generated(ctx.settings, ctx.files, dry_run=False)
    install.Cluster().run(ctx, _line(ctx))


# --------------------------------------------------------------------- generated files


def test_generated_files_modes_and_the_secret_values_are_masked(ctx: Context) -> None:
    data = install.write_generated(ctx.settings, ctx.files, dry_run=False)
    assert stat.S_IMODE(ctx.files.secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(ctx.files.values.stat().st_mode) == 0o644
    assert stat.S_IMODE(ctx.files.kind_config.stat().st_mode) == 0o644
    assert stat.S_IMODE(ctx.files.directory.stat().st_mode) == 0o700
    assert data["VAULT_AUTH_TOKEN"] == SECRETS["vault"]
    # Registered for masking as soon as they exist: every later sink masks them.
    for value in (SECRETS["vault"], SECRETS["dp_secret"], SECRETS["dp_id"]):
        assert REDACTOR.mask(f"x {value} y") == "x ******** y"
    assert SECRETS["vault"] not in ctx.files.values.read_text()


def test_a_new_directory_is_private_and_the_local_store_credentials_are_kept_0600(
    ctx: Context, tmp_path: Path
) -> None:
    import os

    from airbox.fsutil import read_json

    # A directory airbox creates is 0700 whatever the umask says (here: 0755 by default).
    files = Generated(tmp_path / "fresh" / "out")
    previous = os.umask(0o022)
    try:
        install.write_generated(ctx.settings, files, dry_run=False, state=ctx.state)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    # No storage configured: airbox runs the store, its generated key pair is the secret.
    saved = read_json(ctx.state.storage_credentials)
    assert stat.S_IMODE(ctx.state.storage_credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.local_store.stat().st_mode) == 0o644
    assert saved["secretAccessKey"] not in files.local_store.read_text()
    assert saved["secretAccessKey"] in files.secret.read_text()
    # Kept: a re-run (or a re-created cluster) finds the data written with the same pair.
    install.write_generated(ctx.settings, files, dry_run=False, state=ctx.state)
    assert read_json(ctx.state.storage_credentials) == saved


# ----------------------------------------------------------------------------- cluster


def test_created_cluster_kubeconfig_is_private_even_if_the_file_was_not(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    ctx.state.kubeconfig.write_text("")
    ctx.state.kubeconfig.chmod(0o644)
    _create(ctx)
    assert ctx.settings.cluster_name in fake_k8s.clusters()
    assert stat.S_IMODE(ctx.state.kubeconfig.stat().st_mode) == 0o600


def test_a_failed_create_deletes_the_half_built_cluster(ctx: Context, fake_k8s: FakeK8s) -> None:
    fake_k8s.add_fault(
        "kind",
        ["create", "cluster"],
        "fail",
        after="work",
        times=1,
        stderr="ERROR: failed to create cluster: node never became ready",
    )
    with pytest.raises(ToolError) as caught:
        _create(ctx)
    assert caught.value.message == f"creating the kind cluster {ctx.settings.cluster_name} failed"
    assert ctx.settings.cluster_name not in fake_k8s.clusters()
    assert len(_calls(fake_k8s, "kind", "delete", "cluster")) == 1
    # A re-run creates it.
    _create(ctx)
    assert ctx.settings.cluster_name in fake_k8s.clusters()


def test_ctrl_c_while_creating_deletes_the_half_built_cluster(
    ctx: Context, fake_k8s: FakeK8s, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ctx.runner.run

    def run(argv: list[str], **kw: Any) -> Any:
        result = real(argv, **kw)
        if argv[:3] == ["kind", "create", "cluster"]:
            raise KeyboardInterrupt  # ^C as kind finishes: the node exists
        return result

    monkeypatch.setattr(ctx.runner, "run", run)
    with pytest.raises(KeyboardInterrupt):
        _create(ctx)
    assert ctx.settings.cluster_name not in fake_k8s.clusters()
    assert len(_calls(fake_k8s, "kind", "delete", "cluster")) == 1


def test_an_existing_cluster_gets_its_lost_kubeconfig_exported_again(
    ctx: Context, fake_k8s: FakeK8s, clock: _Clock
) -> None:
    _create(ctx)
    ctx.state.kubeconfig.unlink()
    ctx._docker = _RunningNode(ctx.settings.node_container)  # type: ignore[assignment]
    install.Cluster().run(ctx, _line(ctx))
    assert len(_calls(fake_k8s, "kind", "create", "cluster")) == 1
    assert len(_calls(fake_k8s, "kind", "export", "kubeconfig")) == 1
    assert ctx.state.kubeconfig.is_file()
    result = ctx.runner.run(ctx.kube.kubectl("get", "nodes", "-o", "name"))
    assert result.stdout.strip() == f"node/{ctx.settings.node_container}"


class _Clock:
    """install's view of ``time``: sleeping advances its clock (and nobody else's)."""

    def __init__(self) -> None:
        import time

        self.now = 1000.0
        self.sleeps: list[float] = []
        self.strftime = time.strftime
        self.gmtime = time.gmtime

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        # The longest wait (120 s, backoff up to 5 s) sleeps some 30 times: far more
        # means it never gives up (fail now rather than poll the fake for minutes).
        if len(self.sleeps) > 60:
            raise AssertionError(f"still waiting after {self.now - 1000.0:.0f}s")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    # wait_for_api reads the clock where it lives.
    monkeypatch.setattr(install.steps_cluster, "time", c)
    return c


def _readyz(ctx: Context) -> list[str]:
    return [
        "kubectl",
        "--kubeconfig",
        str(ctx.state.kubeconfig),
        "--context",
        f"kind-{ctx.settings.cluster_name}",
        "get",
        "--raw",
        "/readyz",
    ]


# The API wait's own logic (what it runs, its backoff, when it gives up, what it says)
# with recorded commands; kubectl's own refusal and a restarting API server's are below,
# against the fake.
def test_the_api_wait_polls_with_backoff_until_the_api_answers(
    recorded: tuple[Context, RecordingRunner], clock: _Clock
) -> None:
    ctx, runner = recorded
    runner.answer(
        "/readyz",
        returncode=1,
        times=3,
        stderr="The connection to the server 127.0.0.1:6443 was refused",
    )
    runner.answer("/readyz", stdout="ok")
    install.wait_for_api(ctx, _line(ctx))
    assert runner.argvs() == [_readyz(ctx)] * 4
    assert clock.sleeps == [0.2, 0.4, 0.8]


def test_the_api_wait_gives_up_with_the_reason(
    recorded: tuple[Context, RecordingRunner], clock: _Clock
) -> None:
    ctx, runner = recorded
    runner.answer(
        "/readyz", returncode=1, stderr="The connection to the server 127.0.0.1:6443 was refused"
    )
    with pytest.raises(ClusterError) as caught:
        install.wait_for_api(ctx, _line(ctx), timeout=20)
    err = caught.value
    assert err.message == (
        f"the Kubernetes API of {ctx.settings.cluster_name} did not become ready"
    )
    assert err.details == ["The connection to the server 127.0.0.1:6443 was refused"]
    assert f"docker logs {ctx.settings.node_container}" in (err.hint or "")
    # Backoff doubles up to 5 s; it stops once the deadline has passed.
    assert clock.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5]
    assert runner.argvs() == [_readyz(ctx)] * 9


def test_the_api_wait_polls_until_the_restarted_api_server_answers(
    ctx: Context, fake_k8s: FakeK8s, clock: _Clock
) -> None:
    _create(ctx)
    fake_k8s.set_scenario(api_delay=3)  # fake seconds; each call ticks one
    fake_k8s.restart_api(ctx.settings.cluster_name)
    install.wait_for_api(ctx, _line(ctx))
    readyz = [r for r in fake_k8s.call_records("kubectl") if "/readyz" in r["argv"]]
    assert [r["exit"] for r in readyz] == [1, 1, 0]
    assert clock.sleeps == [0.2, 0.4]


def test_the_api_wait_gives_up_with_kubectls_refusal_and_exit_5(
    ctx: Context, fake_k8s: FakeK8s, clock: _Clock
) -> None:
    _create(ctx)
    fake_k8s.set_scenario(api_delay=10**6)
    fake_k8s.restart_api(ctx.settings.cluster_name)
    with pytest.raises(ClusterError) as caught:
        install.wait_for_api(ctx, _line(ctx), timeout=20)
    err = caught.value
    assert err.exit_code == 5
    assert err.message == (
        f"the Kubernetes API of {ctx.settings.cluster_name} did not become ready"
    )
    assert err.details[0].endswith("was refused - did you specify the right host or port?")
    assert "The connection to the server 127.0.0.1:" in err.details[0]
    assert len([r for r in fake_k8s.call_records("kubectl") if "/readyz" in r["argv"]]) == 9


# ------------------------------------------------------------------------ chart, helm


def test_a_chart_that_references_a_missing_secret_key_is_stopped(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    a = dict(ctx.answers)
    a["values"] = {"dataPlane": {"clientSecretSecretKey": "NO_SUCH_KEY"}}
    ctx.settings = Settings.from_answers(a)
    _create(ctx)
    with pytest.raises(ClusterError) as caught:
        install.CheckChart().run(ctx, _line(ctx))
    assert "NO_SUCH_KEY" in "\n".join(caught.value.details)
    assert not _calls(fake_k8s, "helm", "upgrade")


def _upgrade(ctx: Context, times: int) -> None:
    install.write_generated(ctx.settings, ctx.files, dry_run=False)
    install.Namespace().run(ctx, _line(ctx))
    install.SecretStep().run(ctx, _line(ctx))
    for _ in range(times):
        result = ctx.runner.run(
            commands.helm_upgrade(ctx.kube, ctx.settings, ctx.files.values), check=False
        )
        assert result.ok, result.stderr


def _revisions(fake: FakeK8s, ctx: Context) -> list[dict[str, Any]]:
    return fake.release(ctx.settings.cluster_name, ctx.settings.release)


def test_a_failed_upgrade_rolls_back_to_the_given_revision(ctx: Context, fake_k8s: FakeK8s) -> None:
    _create(ctx)
    _upgrade(ctx, 3)
    details = install._roll_back(ctx, _line(ctx), 2)
    assert details == ["rolled back to revision 2: the previous settings run again"]
    [call] = _calls(fake_k8s, "helm", "rollback")
    assert call[call.index("rollback") + 2] == "2"
    assert _revisions(fake_k8s, ctx)[-1]["status"] == "deployed"
    assert install._roll_back(ctx, _line(ctx), None)[0].startswith(
        "the failed first install is left in place"
    )


def test_a_stuck_upgrade_rolls_back_to_the_newest_good_revision(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    _create(ctx)
    _upgrade(ctx, 3)
    fake_k8s.pending(ctx.settings.cluster_name, ctx.settings.release, "pending-upgrade")
    assert install.recover_pending(ctx, _line(ctx)) == 2
    [call] = _calls(fake_k8s, "helm", "rollback")
    assert call[call.index("rollback") + 2] == "2"


# recover_pending's decisions, on recorded commands: helm's history is scripted in helm's
# shape (`helm history --output json`, pkg/cmd/history.go); the fake's own history is
# read by the test above and by tests/test_install_fake.py's stuck releases.
def _history(*statuses: str) -> str:
    return json.dumps(
        [
            {
                "revision": n,
                "updated": "2026-12-01T10:00:00.000000000Z",
                "status": status,
                "chart": "airbyte-data-plane-1.8.1",
                "app_version": "1.8.1",
                "description": "Upgrade complete",
            }
            for n, status in enumerate(statuses, 1)
        ]
    )


def _helm(ctx: Context, *args: str) -> list[str]:
    return [
        "helm",
        "--kubeconfig",
        str(ctx.state.kubeconfig),
        "--kube-context",
        f"kind-{ctx.settings.cluster_name}",
        *args,
    ]


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_every_pending_state_is_recovered(
    recorded: tuple[Context, RecordingRunner], status: str
) -> None:
    ctx, runner = recorded
    release, ns = ctx.settings.release, ctx.settings.namespace
    runner.answer("history", stdout=_history("superseded", status))
    runner.answer("rollback", stdout="Rollback was a success! Happy Helming!")
    assert install.recover_pending(ctx, _line(ctx)) == 1
    assert runner.argvs() == [
        _helm(ctx, "history", release, "--namespace", ns, "--output", "json"),
        _helm(ctx, "rollback", release, "1", "--namespace", ns, "--wait", "--timeout", "5m"),
    ]


def test_a_first_install_left_pending_is_removed(recorded: tuple[Context, RecordingRunner]) -> None:
    ctx, runner = recorded
    release, ns = ctx.settings.release, ctx.settings.namespace
    runner.answer("history", stdout=_history("pending-install"))
    runner.answer("uninstall", stdout=f'release "{release}" uninstalled')
    assert install.recover_pending(ctx, _line(ctx)) is None
    assert runner.argvs()[1:] == [
        _helm(ctx, "uninstall", release, "--namespace", ns, "--wait", "--timeout", "5m")
    ]


def test_a_deployed_release_is_left_alone(recorded: tuple[Context, RecordingRunner]) -> None:
    ctx, runner = recorded
    runner.answer("history", stdout=_history("superseded", "deployed"))
    assert install.recover_pending(ctx, _line(ctx)) == 2
    assert [argv[5] for argv in runner.argvs()] == ["history"]


def test_no_release_yet_is_nothing_to_recover(recorded: tuple[Context, RecordingRunner]) -> None:
    ctx, runner = recorded
    runner.answer("history", returncode=1, stderr="Error: release: not found")
    assert install.recover_pending(ctx, _line(ctx)) is None
    assert [argv[5] for argv in runner.argvs()] == ["history"]


class _StoppedNode(_RunningNode):
    def container(self, name: str) -> ContainerState:
        state = "running" if name in self.started else "exited"
        return ContainerState(name, state, restart_policy="unless-stopped")


def test_a_stopped_node_container_is_started_before_the_api_wait(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    _create(ctx)
    node = _StoppedNode(ctx.settings.node_container)
    ctx._docker = node  # type: ignore[assignment]
    install.Cluster().run(ctx, _line(ctx))
    assert node.started == [ctx.settings.node_container]
    assert len(_calls(fake_k8s, "kind", "create", "cluster")) == 1


class _NoNode(_RunningNode):
    def container(self, name: str) -> ContainerState:
        return ContainerState(name, "missing")


def test_a_cluster_without_its_node_container_is_a_cluster_error(ctx: Context) -> None:
    ctx._docker = _NoNode(ctx.settings.node_container)  # type: ignore[assignment]
    with pytest.raises(ClusterError) as caught:
        install.NodeRestartPolicy().done(ctx)
    assert caught.value.exit_code == 5
    assert caught.value.message == (
        f"the kind cluster {ctx.settings.cluster_name} has no node container "
        f"({ctx.settings.node_container} does not exist in Docker)"
    )
    assert caught.value.hint is not None and "airbox uninstall --keep-state" in caught.value.hint


def test_a_failed_upgrade_says_why_then_rolls_back_to_the_last_good_revision(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    _create(ctx)
    _upgrade(ctx, 2)
    fake_k8s.add_fault(
        "helm",
        ["upgrade", "--install"],
        "fail",
        times=1,
        stderr="Error: UPGRADE FAILED: context deadline exceeded",
    )
    with pytest.raises(ClusterError) as caught:
        install.Release().run(ctx, _line(ctx))
    assert caught.value.message == "helm upgrade --install failed"
    assert "rolled back to revision 2: the previous settings run again" in caught.value.details
    [call] = _calls(fake_k8s, "helm", "rollback")
    assert call[call.index("rollback") + 2] == "2"


def _waiting(name: str, reason: str) -> dict[str, Any]:
    """A pod of the release as `kubectl get pods -o json` lists it, one container waiting."""
    return {
        "metadata": {"name": name},
        "status": {
            "phase": "Pending" if "Image" in reason else "Running",
            "containerStatuses": [
                {
                    "name": "launcher",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason}},
                }
            ],
        },
    }


PULL_HINT = (
    "the data plane image could not be pulled: check egress to Docker Hub "
    "(registry-1.docker.io) and its rate limit, then re-run"
)
SECRET_HINT = "a Secret key is missing; re-run `airbox install` to re-apply it"
CRASH_HINT = (
    "the launcher keeps crashing: read `airbox logs`, fix the settings it complains about, "
    "then re-run `airbox install`"
)


@pytest.mark.parametrize(
    ("reasons", "hint"),
    [
        (["ErrImagePull"], PULL_HINT),
        (["CreateContainerConfigError"], SECRET_HINT),
        (["CrashLoopBackOff"], CRASH_HINT),
        # Several pods in trouble: the hint follows the one closest to the root cause, as
        # status's verdict does (it used to follow the last pod listed).
        (["ErrImagePull", "CrashLoopBackOff"], PULL_HINT),
        (["CrashLoopBackOff", "CreateContainerConfigError"], CRASH_HINT),
    ],
)
def test_a_failed_release_is_explained_by_the_pod_closest_to_the_root_cause(
    recorded: tuple[Context, RecordingRunner], reasons: list[str], hint: str
) -> None:
    from airbox.ops.install.steps_release import _explain_release_failure

    ctx, runner = recorded
    pods = [_waiting(f"launcher-{n}", reason) for n, reason in enumerate(reasons)]
    runner.answer("get", "pods", stdout=json.dumps({"items": pods}))
    runner.answer("get", "events", stdout=json.dumps({"items": []}))
    failed = ToolError("helm upgrade --install failed", command=["helm"], returncode=1)
    error = _explain_release_failure(ctx, failed)
    assert error.hint == hint
    assert error.details[-len(reasons) :] == [
        f"pod launcher-{n}: launcher: {reason}" for n, reason in enumerate(reasons)
    ]


def test_verification_fails_when_the_control_plane_rejects_the_launcher(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    from airbox.errors import ControlPlaneError

    _create(ctx)
    fake_k8s.set_scenario(launcher="auth-fail")
    _upgrade(ctx, 1)
    with pytest.raises(ControlPlaneError) as caught:
        install.Verify().run(ctx, _line(ctx))
    assert caught.value.message == (
        "the data plane runs but the control plane rejects its credentials"
    )
    assert caught.value.details


def test_a_first_install_pulls_the_missing_images(
    ctx: Context,
    fake_registry: FakeRegistry,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import contextlib

    from airbox.cluster.dockerhost import DockerHost
    from tests.fakes.fixture import docker_client

    docker_client()  # skips without a Docker daemon
    docker = DockerHost.connect()
    refs = [f"{fake_registry.host}/airbox-test/{uuid.uuid4().hex[:8]}:1.8.1" for _ in range(2)]
    monkeypatch.setattr(Context, "images", lambda self: refs)
    ctx._docker = docker
    step = install.PullImages()
    try:
        assert step.applies(ctx) and step.done(ctx) is None
        step.run(ctx, _line(ctx))
        assert ctx.pulls is not None
        ctx.pulls.wait(_line(ctx))
        assert all(docker.has_image(ref) for ref in refs)
        for ref in refs:
            name = ref.split("/", 1)[1].split(":")[0]
            assert any(f"/v2/{name}/manifests/" in p for p in fake_registry.pulls), ref
        assert step.done(ctx) == "already present"
    finally:
        for ref in refs:
            with contextlib.suppress(Exception):
                docker.client.images.remove(ref, force=True)


class _Daemon(_RunningNode):
    def __init__(self, cgroup: str) -> None:
        super().__init__("")
        self.cgroup = cgroup

    def info(self) -> dict[str, Any]:
        return {"CgroupVersion": self.cgroup}


@pytest.mark.parametrize("cgroup", ["1", "2"])
def test_the_node_image_follows_the_daemons_cgroup_version(ctx: Context, cgroup: str) -> None:
    import yaml

    from airbox import versions

    ctx._docker = _Daemon(cgroup)  # type: ignore[assignment]
    install.WriteManifests().run(ctx, _line(ctx))
    config = yaml.safe_load(ctx.files.kind_config.read_text())
    assert config["nodes"][0]["image"] == versions.node_image(cgroup_v1=cgroup == "1")
    assert config["networking"] == {"apiServerAddress": "127.0.0.1"}


def test_a_missing_namespace_is_created_and_an_existing_one_left_alone(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    _create(ctx)
    step = install.Namespace()
    assert step.done(ctx) is None
    step.run(ctx, _line(ctx))
    assert step.done(ctx) == "exists"
    result = ctx.runner.run(
        ctx.kube.kubectl("get", "namespace", ctx.settings.namespace, "-o", "name")
    )
    assert result.stdout.strip() == f"namespace/{ctx.settings.namespace}"


class _PullFails:
    def pull(self, image: str, progress: Any, auth: Any = None) -> None:
        progress("Downloading")
        raise RuntimeError(f"pull access denied for {image}")


def test_a_failed_image_pull_stops_the_install_with_its_error(ctx: Context) -> None:
    images = ["airbox-test/one:1", "airbox-test/two:1"]
    pulls = install.Pulls(_PullFails(), images)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError) as caught:
        pulls.wait(_line(ctx))
    assert str(caught.value).startswith("pull access denied for airbox-test/")


def test_the_local_store_data_lives_in_the_state_directory_on_the_host(ctx: Context) -> None:
    import yaml

    install.write_generated(ctx.settings, ctx.files, dry_run=False, state=ctx.state)
    config = yaml.safe_load(ctx.files.kind_config.read_text())
    # A re-created cluster finds the data again: it is the host's, mounted into the node.
    assert config["nodes"][0]["extraMounts"] == [
        {"hostPath": str(ctx.state.storage_data), "containerPath": "/var/lib/airbox/storage"}
    ]


def test_the_secret_step_applies_the_registry_pull_secret_on_stdin(
    ctx: Context, fake_k8s: FakeK8s
) -> None:
    import base64
    import json

    password = "registry-password-0f9e8d7c6b5a"
    a = dict(ctx.answers)
    a["images"] = {
        "registry": "registry.corp.example/mirror",
        "pullSecret": {"username": "reader", "password": password},
    }
    ctx.settings = Settings.from_answers(a)
    _create(ctx)
    install.Namespace().run(ctx, _line(ctx))
    install.SecretStep().run(ctx, _line(ctx))
    assert stat.S_IMODE(ctx.files.pull_secret.stat().st_mode) == 0o600
    [pull] = [
        o
        for o in fake_k8s.objects(ctx.settings.cluster_name, "Secret", ctx.settings.namespace)
        if o["metadata"]["name"] == "airbox-registry-credentials"
    ]
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.corp.example"]["password"] == password
    # Through stdin: never on a command line.
    assert not [c for c in fake_k8s.calls() if any(password in word for word in c)]


def test_the_host_pulls_a_private_registrys_images_with_its_credentials(
    ctx: Context,
    fake_registry: FakeRegistry,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import contextlib

    from airbox.cluster.dockerhost import DockerHost
    from tests.fakes.fixture import docker_client

    docker_client()  # skips without a Docker daemon
    password = "registry-password-" + uuid.uuid4().hex[:12]
    fake_registry.credentials = ("mirror-reader", password)
    a = dict(ctx.answers)
    a["images"] = {
        "registry": f"{fake_registry.host}/mirror",
        "pullSecret": {"username": "mirror-reader", "password": password},
    }
    ctx.settings = Settings.from_answers(a)
    ref = f"{fake_registry.host}/mirror/airbox-test/{uuid.uuid4().hex[:8]}:1.8.1"
    monkeypatch.setattr(Context, "images", lambda self: [ref])
    # The node image too, pinned to a digest the loopback registry serves.
    node = f"kindest/node:v1.35.0-{uuid.uuid4().hex[:8]}"
    for pin in ("NODE_IMAGE", "NODE_IMAGE_CGROUP_V1"):
        monkeypatch.setattr(versions, pin, f"{node}@{fake_registry.digest}")
    pinned = f"{fake_registry.host}/mirror/kindest/node@{fake_registry.digest}"
    docker = DockerHost.connect()
    ctx._docker = docker
    try:
        install.PullImages().run(ctx, _line(ctx))
        assert ctx.pulls is not None
        ctx.pulls.wait(_line(ctx))
        assert docker.has_image(ref)
        name = ref.split("/", 1)[1].split(":")[0]
        assert any(f"/v2/{name}/manifests/" in p for p in fake_registry.pulls)
        assert f"/v2/mirror/kindest/node/manifests/{fake_registry.digest}" in fake_registry.pulls
        assert pinned in docker.repo_digests(node)
    finally:
        for made in (ref, node, pinned):
            with contextlib.suppress(Exception):
                docker.client.images.remove(made, noprune=True)
