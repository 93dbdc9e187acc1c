"""The proxy reaches every job pod: the MutatingAdmissionPolicy airbox renders, the kind
config that makes its API exist, and the fake cluster applying it to the pods the
launcher creates (tests/fakes/admission_model.py models the API server's plugin)."""

from __future__ import annotations

import dataclasses
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox.config.settings import Network, Settings
from airbox.ops.install import Generated, write_generated
from airbox.paths import StateDir
from airbox.render import jobproxy, manifests
from tests.answers_factory import answers
from tests.fakes.fixture import FakeK8s, PodRefused
from tests.fakes.k8s_cluster import get_obj
from tests.fakes.k8s_kind import load_kind_config
from tests.installer import Installer

PASSWORD = "pr0xy-S3cret-pw"
HTTPS_URL = f"http://squid-user:{PASSWORD}@proxy.corp.example:3128"
HTTP_URL = "http://proxy.corp.example:3128"
NO_PROXY = "localhost,127.0.0.1,.svc,.cluster.local,10.96.0.0/16"
JAVA = "-Dhttps.proxyHost=proxy.corp.example -Dhttps.proxyPort=3128"
# What the Secret holds under the interface's keys (airbox's Secret, or the test's own).
SECRET_VALUES = {
    "HTTPS_PROXY": HTTPS_URL,
    "HTTP_PROXY": HTTP_URL,
    "NO_PROXY": NO_PROXY,
    "JAVA_TOOL_OPTIONS": JAVA,
}


def _settings(
    tmp_path: Path, *, proxy: bool = True, name: str = "dp1", namespace: str | None = None
) -> Settings:
    settings = Settings.from_answers(answers("vault", "s3-keys", directory=tmp_path, name=name))
    if namespace:
        settings = dataclasses.replace(settings, namespace=namespace)
    if not proxy:
        return settings
    return dataclasses.replace(
        settings,
        network=Network(https_proxy=HTTPS_URL, http_proxy=HTTP_URL, no_proxy=("corp.example",)),
    )


# ------------------------------------------------------------------------ the manifests

# One mutation, written out as the API server must receive it (JSON Patch: an apply
# configuration may not set secretKeyRef, an atomic struct).
HTTPS_PROXY_EXPRESSION = """\
object.spec.containers.transformList(i, c,
  !has(c.env) || !c.env.exists(e, e.name == "HTTPS_PROXY"),
  has(c.env)
    ? JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/env/-", value: \
Object.spec.containers.env{name: "HTTPS_PROXY", valueFrom: Object.spec.containers.env.valueFrom\
{secretKeyRef: Object.spec.containers.env.valueFrom.secretKeyRef{name: "the-secret", \
key: "HTTPS_PROXY"}}}}
    : JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/env", value: \
[Object.spec.containers.env{name: "HTTPS_PROXY", valueFrom: Object.spec.containers.env.valueFrom\
{secretKeyRef: Object.spec.containers.env.valueFrom.secretKeyRef{name: "the-secret", \
key: "HTTPS_PROXY"}}}]})
+ (has(object.spec.initContainers) ?
object.spec.initContainers.transformList(i, c,
  !has(c.env) || !c.env.exists(e, e.name == "HTTPS_PROXY"),
  has(c.env)
    ? JSONPatch{op: "add", path: "/spec/initContainers/" + string(i) + "/env/-", value: \
Object.spec.initContainers.env{name: "HTTPS_PROXY", valueFrom: Object.spec.initContainers.env.\
valueFrom{secretKeyRef: Object.spec.initContainers.env.valueFrom.secretKeyRef{name: \
"the-secret", key: "HTTPS_PROXY"}}}}
    : JSONPatch{op: "add", path: "/spec/initContainers/" + string(i) + "/env", value: \
[Object.spec.initContainers.env{name: "HTTPS_PROXY", valueFrom: Object.spec.initContainers.env.\
valueFrom{secretKeyRef: Object.spec.initContainers.env.valueFrom.secretKeyRef{name: \
"the-secret", key: "HTTPS_PROXY"}}}]})
: [])
"""


def _expression(env: str, key: str) -> str:
    return (
        HTTPS_PROXY_EXPRESSION.replace('key: "HTTPS_PROXY"', "key: @KEY@")
        .replace('"HTTPS_PROXY"', f'"{env}"')
        .replace("@KEY@", f'"{key}"')
    )


def test_policy_and_binding_exact() -> None:
    docs = jobproxy.manifests(
        "airbox-job-proxy.ns1.dp1",
        "dp1",
        "ns1",
        secret="the-secret",
        keys=("HTTPS_PROXY", "JAVA_TOOL_OPTIONS"),
    )
    labels = {"app.kubernetes.io/managed-by": "airbox", "airbox.airbyte.io/data-plane": "dp1"}
    assert docs == [
        {
            "apiVersion": "admissionregistration.k8s.io/v1beta1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": "airbox-job-proxy.ns1.dp1", "labels": labels},
            "spec": {
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ns1"}},
                    "objectSelector": {"matchLabels": {"airbyte": "job-pod"}},
                },
                "failurePolicy": "Fail",
                "reinvocationPolicy": "IfNeeded",
                "mutations": [
                    {"patchType": "JSONPatch", "jsonPatch": {"expression": HTTPS_PROXY_EXPRESSION}},
                    {
                        "patchType": "JSONPatch",
                        "jsonPatch": {"expression": _expression("https_proxy", "HTTPS_PROXY")},
                    },
                    {
                        "patchType": "JSONPatch",
                        "jsonPatch": {
                            "expression": _expression("JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS")
                        },
                    },
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1beta1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": "airbox-job-proxy.ns1.dp1", "labels": labels},
            "spec": {"policyName": "airbox-job-proxy.ns1.dp1"},
        },
    ]


def test_every_secret_key_reaches_the_pods_and_the_proxies_under_both_cases(tmp_path: Path) -> None:
    from airbox.render.proxy import PROXY_SECRET_KEYS

    keys = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "JAVA_TOOL_OPTIONS")
    assert jobproxy.env_entries(keys) == [
        ("HTTPS_PROXY", "HTTPS_PROXY"),
        ("https_proxy", "HTTPS_PROXY"),
        ("HTTP_PROXY", "HTTP_PROXY"),
        ("http_proxy", "HTTP_PROXY"),
        ("NO_PROXY", "NO_PROXY"),
        ("no_proxy", "NO_PROXY"),
        ("JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS"),
    ]
    # For the settings: the Secret airbox writes, every key the interface names.
    policy, binding = jobproxy.for_settings(_settings(tmp_path))
    assert (
        policy["metadata"]["name"]
        == binding["spec"]["policyName"]
        == "airbox-job-proxy.airbyte.dp1"
    )
    refs = {
        m["jsonPatch"]["expression"].split('key: "')[1].split('"')[0]
        for m in policy["spec"]["mutations"]
    }
    assert refs == set(PROXY_SECRET_KEYS)
    assert len(policy["spec"]["mutations"]) == len(jobproxy.env_entries(PROXY_SECRET_KEYS))


def test_two_data_planes_never_share_the_cluster_scoped_objects(tmp_path: Path) -> None:
    names = {
        jobproxy.object_name(_settings(tmp_path, name=n, namespace=ns))
        for n, ns in (("dp1", "airbyte"), ("dp2", "airbyte"), ("dp1", "other"))
    }
    assert len(names) == 3


def test_kind_config_enables_the_api_only_with_a_proxy(tmp_path: Path) -> None:
    plain = manifests.kind_config(_settings(tmp_path, proxy=False))
    assert "featureGates" not in plain and "runtimeConfig" not in plain
    config = manifests.kind_config(_settings(tmp_path))
    assert config["featureGates"] == {"MutatingAdmissionPolicy": True}
    assert config["runtimeConfig"] == {"admissionregistration.k8s.io/v1beta1": "true"}


def test_generated_files_carry_the_policy_and_never_the_password(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    files = Generated(tmp_path / "out")
    write_generated(settings, files, dry_run=True, state=StateDir(tmp_path / "state"))
    assert stat.S_IMODE(files.job_proxy.stat().st_mode) == 0o644
    docs = [d for d in yaml.safe_load_all(files.job_proxy.read_text()) if d]
    assert docs == jobproxy.for_settings(settings)
    # kind reads its config strictly: runtimeConfig's values are strings in the file.
    assert load_kind_config(str(files.kind_config))["runtimeConfig"] == {
        "admissionregistration.k8s.io/v1beta1": "true"
    }
    for path in files.directory.iterdir():
        if path == files.secret:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            continue
        assert PASSWORD not in path.read_text(), path
    # Without a proxy the file goes (a proxy removed since the last run).
    write_generated(
        _settings(tmp_path, proxy=False), files, dry_run=True, state=StateDir(tmp_path / "state")
    )
    assert not files.job_proxy.exists()


# ------------------------------------------------------------- the fake cluster applies it


def _kind_cluster(fake: FakeK8s, tmp_path: Path, settings: Settings) -> list[str]:
    """A kind cluster made from the kind config airbox writes; kubectl's connection flags."""
    files = Generated(tmp_path / f"gen-{settings.name}")
    write_generated(settings, files, dry_run=True, state=StateDir(tmp_path / "state"))
    kubeconfig = tmp_path / f"kc-{settings.name}"
    made = fake.run(
        "kind",
        "create",
        "cluster",
        "--name",
        settings.cluster_name,
        "--config",
        str(files.kind_config),
        "--kubeconfig",
        str(kubeconfig),
    )
    assert made.returncode == 0, made.stderr
    return ["--kubeconfig", str(kubeconfig), "--context", f"kind-{settings.cluster_name}"]


def _apply(fake: FakeK8s, kubectl: list[str], *docs: dict[str, Any]) -> str:
    text = "".join("---\n" + yaml.safe_dump(d) for d in docs)
    result = fake.run("kubectl", *kubectl, "apply", "-f", "-", input=text)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _namespace_and_secret(fake: FakeK8s, kubectl: list[str], namespace: str) -> None:
    _apply(
        fake,
        kubectl,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "airbyte-config-secrets", "namespace": namespace},
            "stringData": SECRET_VALUES,
        },
    )


def _proxy_cluster(fake: FakeK8s, tmp_path: Path, settings: Settings) -> list[str]:
    kubectl = _kind_cluster(fake, tmp_path, settings)
    _namespace_and_secret(fake, kubectl, settings.namespace)
    out = _apply(fake, kubectl, *jobproxy.for_settings(settings))
    assert "mutatingadmissionpolicy.admissionregistration.k8s.io/airbox-job-proxy" in out
    return kubectl


def _expected_env(keys: tuple[str, ...]) -> dict[str, str]:
    return {env: SECRET_VALUES[key] for env, key in jobproxy.env_entries(keys)}


JOB = {"jobId": 7, "attempt": 0, "connectionId": "c1", "workspaceId": "w1"}


def test_a_job_pod_gets_the_proxy_in_every_container(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    from airbox.render.proxy import PROXY_SECRET_KEYS

    settings = _settings(tmp_path)
    _proxy_cluster(fake_k8s, tmp_path, settings)
    pod = fake_k8s.job_pod(settings.cluster_name, "airbyte", JOB, "Running")
    want = _expected_env(PROXY_SECRET_KEYS)
    for container in ("init", "orchestrator", "source", "destination"):
        env = fake_k8s.container_env(settings.cluster_name, "airbyte", pod, container)
        assert {k: env[k] for k in want} == want, container
    # The init container keeps what the launcher gave it; the proxy comes after.
    stored = get_obj(fake_k8s.state()["clusters"][settings.cluster_name], "Pod", "airbyte", pod)
    assert stored is not None
    init = stored["spec"]["initContainers"][0]["env"]
    assert [e["name"] for e in init][-len(want) :] == list(want)
    assert all("value" not in e for e in init[-len(want) :])


def test_a_variable_a_container_has_is_kept_and_not_repeated(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    kubectl = _proxy_cluster(fake_k8s, tmp_path, settings)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "check-1", "namespace": "airbyte", "labels": {"airbyte": "job-pod"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "airbyte/source-faker",
                    "env": [{"name": "NO_PROXY", "value": "mine"}],
                }
            ]
        },
    }
    _apply(fake_k8s, kubectl, pod)
    stored = get_obj(
        fake_k8s.state()["clusters"][settings.cluster_name], "Pod", "airbyte", "check-1"
    )
    assert stored is not None
    names = [e["name"] for e in stored["spec"]["containers"][0]["env"]]
    assert names.count("NO_PROXY") == 1 and len(names) == len(set(names))
    env = fake_k8s.container_env(settings.cluster_name, "airbyte", "check-1", "main")
    assert env["NO_PROXY"] == "mine" and env["https_proxy"] == HTTPS_URL
    assert "initContainers" not in stored["spec"]


def test_pods_without_the_label_or_in_another_namespace_are_left_alone(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    kubectl = _proxy_cluster(fake_k8s, tmp_path, settings)
    _namespace_and_secret(fake_k8s, kubectl, "elsewhere")

    def pod(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        }

    _apply(
        fake_k8s,
        kubectl,
        pod("launcher-like", "airbyte", {"app": "launcher"}),
        pod("other-job", "elsewhere", {"airbyte": "job-pod"}),
    )
    rec = fake_k8s.state()["clusters"][settings.cluster_name]
    for name, ns in (("launcher-like", "airbyte"), ("other-job", "elsewhere")):
        stored = get_obj(rec, "Pod", ns, name)
        assert stored is not None and "env" not in stored["spec"]["containers"][0], name


def test_a_cluster_made_without_a_proxy_has_no_such_api(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    """What a kind config without the gate gives: the policy cannot even be created."""
    settings = _settings(tmp_path)
    kubectl = _kind_cluster(fake_k8s, tmp_path, _settings(tmp_path, proxy=False))
    text = jobproxy.dump(jobproxy.for_settings(settings))
    result = fake_k8s.run("kubectl", *kubectl, "apply", "-f", "-", input=text)
    assert result.returncode == 1
    assert (
        'no matches for kind "MutatingAdmissionPolicy" in version '
        '"admissionregistration.k8s.io/v1beta1"'
    ) in result.stderr
    raw = fake_k8s.run(
        "kubectl", *kubectl, "get", "--raw", "/apis/admissionregistration.k8s.io/v1beta1"
    )
    assert raw.returncode == 1 and "NotFound" in raw.stderr


def test_the_runtime_config_alone_serves_no_policies(fake_k8s: FakeK8s) -> None:
    kubeconfig = fake_k8s.add_existing_cluster(
        "half", "half-cluster", runtime_config={"admissionregistration.k8s.io/v1beta1": "true"}
    )
    raw = fake_k8s.run(
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "half",
        "get",
        "--raw",
        "/apis/admissionregistration.k8s.io/v1beta1",
    )
    assert raw.returncode == 0, raw.stderr
    names = {r["name"] for r in json.loads(raw.stdout)["resources"]}
    assert "mutatingadmissionpolicies" not in names
    assert "validatingadmissionpolicies" in names


def test_a_policy_that_errs_refuses_the_pod(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    """failurePolicy Fail: the pod is not created, and the error says which policy."""
    settings = _settings(tmp_path)
    kubectl = _proxy_cluster(fake_k8s, tmp_path, settings)
    policy, _ = jobproxy.for_settings(settings)
    policy["spec"]["mutations"][0]["jsonPatch"]["expression"] = (
        '[JSONPatch{op: "add", path: "/spec/nothing/here", value: "x"}]'
    )
    _apply(fake_k8s, kubectl, policy)
    with pytest.raises(
        PodRefused,
        match=re.escape(
            "policy 'airbox-job-proxy.airbyte.dp1' with binding "
            "'airbox-job-proxy.airbyte.dp1' denied request: JSONPath: add operation does not "
            "apply: doc is missing path: /spec/nothing/here"
        ),
    ):
        fake_k8s.job_pod(settings.cluster_name, "airbyte", JOB, "Running")
    assert fake_k8s.objects(settings.cluster_name, "Pod", "airbyte") == []


# ------------------------------------------------------------- the install step, in-process


def _context(tmp_path: Path, settings: Settings) -> Any:
    import io

    from airbox.cluster.runner import Runner
    from airbox.cluster.toolchain import Toolchain
    from airbox.ops.install import Context, Options
    from airbox.ui import Terminal

    state = StateDir(tmp_path / "state")
    state.root.mkdir(exist_ok=True)
    term = Terminal(out=io.StringIO(), err=io.StringIO())
    return Context(
        settings,
        {},
        state,
        Generated(state.root),
        term,
        Options(),
        runner=Runner(Toolchain(allow_download=False)),
    )


def _run_step(ctx: Any) -> dict[str, Any]:
    from airbox.ops.install import JobProxy
    from airbox.ops.pipeline import Progress, execute

    progress = Progress(ctx.state.progress)
    execute([JobProxy()], ctx, ctx.term, progress)
    return progress.load()


def _kind_for(fake: FakeK8s, tmp_path: Path, settings: Settings, ctx: Any) -> None:
    files = Generated(tmp_path / "kind")
    write_generated(settings, files, dry_run=True, state=StateDir(tmp_path / "state"))
    made = fake.run(
        "kind",
        "create",
        "cluster",
        "--name",
        settings.cluster_name,
        "--config",
        str(files.kind_config),
        "--kubeconfig",
        str(ctx.state.kubeconfig),
    )
    assert made.returncode == 0, made.stderr
    kubectl = [
        "--kubeconfig",
        str(ctx.state.kubeconfig),
        "--context",
        f"kind-{settings.cluster_name}",
    ]
    _namespace_and_secret(fake, kubectl, settings.namespace)


def _objects(fake: FakeK8s, cluster: str) -> list[tuple[str, str]]:
    return sorted(
        (o["kind"], o["metadata"]["name"])
        for o in fake.objects(cluster)
        if o["kind"].startswith("MutatingAdmissionPolicy")
    )


def test_the_step_applies_keeps_and_removes_the_objects(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ctx = _context(tmp_path, settings)
    _kind_for(fake_k8s, tmp_path, settings, ctx)
    name = "airbox-job-proxy.airbyte.dp1"

    def applies() -> int:
        return len([c for c in fake_k8s.calls("kubectl") if "apply" in c])

    before = applies()
    progress = _run_step(ctx)
    assert progress["steps"]["job-proxy"]["status"] == "done"
    assert progress["jobProxy"] == {"name": name}
    assert _objects(fake_k8s, settings.cluster_name) == [
        ("MutatingAdmissionPolicy", name),
        ("MutatingAdmissionPolicyBinding", name),
    ]
    assert applies() == before + 1

    # Again: found as rendered, nothing applied.
    progress = _run_step(ctx)
    assert progress["steps"]["job-proxy"]["status"] == "skipped"
    assert applies() == before + 1

    # Changed by hand (the binding gone): applied again.
    gone = fake_k8s.run(
        "kubectl",
        "--kubeconfig",
        str(ctx.state.kubeconfig),
        "--context",
        f"kind-{settings.cluster_name}",
        "delete",
        "mutatingadmissionpolicybinding",
        name,
    )
    assert gone.returncode == 0, gone.stderr
    assert _run_step(ctx)["steps"]["job-proxy"]["status"] == "done"
    assert len(_objects(fake_k8s, settings.cluster_name)) == 2

    # The proxy removed from the settings: the objects go, the record too; then the
    # step has nothing to do and does not run.
    ctx.settings = _settings(tmp_path, proxy=False)
    progress = _run_step(ctx)
    assert progress["steps"]["job-proxy"]["status"] == "done"
    assert _objects(fake_k8s, settings.cluster_name) == []
    assert not progress["jobProxy"]
    from airbox.ops.install import JobProxy

    assert not JobProxy().applies(ctx)


def test_the_step_on_a_kind_cluster_made_without_the_gate(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    from airbox.errors import ClusterError

    settings = _settings(tmp_path)
    ctx = _context(tmp_path, settings)
    _kind_for(fake_k8s, tmp_path, _settings(tmp_path, proxy=False), ctx)
    with pytest.raises(ClusterError) as caught:
        _run_step(ctx)
    assert caught.value.message == (
        "the kind cluster airbox-dp1 does not serve MutatingAdmissionPolicy "
        "(admissionregistration.k8s.io), which gives job pods the proxy (the workload "
        "launcher passes them no proxy settings): it was created before the proxy was set, "
        "without the feature gate MutatingAdmissionPolicy"
    )
    assert caught.value.hint == (
        "`airbox upgrade --name dp1` re-creates the cluster with it (the state directory "
        "and the local object store's data stay)"
    )
    assert _objects(fake_k8s, settings.cluster_name) == []


def _existing(fake: FakeK8s, tmp_path: Path, served: bool) -> Settings:
    gates: dict[str, Any] = {
        "feature_gates": {"MutatingAdmissionPolicy": True},
        "runtime_config": {"admissionregistration.k8s.io/v1beta1": "true"},
    }
    kubeconfig = fake.add_existing_cluster("prod", "prod-cluster", **(gates if served else {}))
    settings = dataclasses.replace(
        _settings(tmp_path),
        target=dataclasses.replace(
            _settings(tmp_path).target, kube_context="prod", kubeconfig=str(kubeconfig)
        ),
    )
    _namespace_and_secret(
        fake, ["--kubeconfig", str(kubeconfig), "--context", "prod"], settings.namespace
    )
    return settings


def test_an_existing_cluster_without_the_api_stops_the_install(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    from airbox.errors import EXIT_CLUSTER, ClusterError

    settings = _existing(fake_k8s, tmp_path, served=False)
    with pytest.raises(ClusterError) as caught:
        _run_step(_context(tmp_path, settings))
    error = caught.value
    assert error.exit_code == EXIT_CLUSTER
    assert error.message.startswith(
        "the cluster of context prod does not serve MutatingAdmissionPolicy"
    )
    assert error.details == [
        "Kubernetes 1.34 and 1.35: kube-apiserver needs --feature-gates="
        "MutatingAdmissionPolicy=true and --runtime-config="
        "admissionregistration.k8s.io/v1beta1=true",
        "Kubernetes 1.36 and later serve it by default (admissionregistration.k8s.io/v1); "
        "before 1.34 there is no usable version",
    ]


def test_an_existing_cluster_with_the_api_gets_the_policy_and_status_sees_it(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    from airbox.ops.jobproxy import judge, live_objects

    settings = _existing(fake_k8s, tmp_path, served=True)
    ctx = _context(tmp_path, settings)
    assert _run_step(ctx)["steps"]["job-proxy"]["status"] == "done"
    assert len(_objects(fake_k8s, "prod-cluster")) == 2
    pod = fake_k8s.job_pod("prod-cluster", "airbyte", JOB, "Running")
    env = fake_k8s.container_env("prod-cluster", "airbyte", pod, "orchestrator")
    assert env["HTTPS_PROXY"] == env["https_proxy"] == HTTPS_URL

    check = judge(settings, live_objects(ctx.runner, ctx.kube, settings), None)
    assert (check.id, check.state) == ("job-proxy", "ok")
    assert check.summary.startswith("job pods get HTTPS_PROXY, https_proxy, HTTP_PROXY")
    removed = fake_k8s.run(
        "kubectl",
        "--kubeconfig",
        str(settings.target.kubeconfig),
        "--context",
        "prod",
        "delete",
        "mutatingadmissionpolicy",
        "airbox-job-proxy.airbyte.dp1",
    )
    assert removed.returncode == 0, removed.stderr
    check = judge(settings, live_objects(ctx.runner, ctx.kube, settings), None)
    assert (check.state, check.details) == (
        "fail",
        ["MutatingAdmissionPolicy airbox-job-proxy.airbyte.dp1 is missing"],
    )
    assert check.next == "airbox install --name dp1  (applies them again)"
    check = judge(_settings(tmp_path, proxy=False), None, None)
    assert (check.state, check.summary) == ("skip", "no proxy: job pods reach the network directly")


# ------------------------------------------------------------------- the real airbox


def _airbox(inst: Installer, *args: str, timeout: float = 180) -> Any:
    import subprocess

    from tests.helpers import airbox_bin

    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _proxy_answers(inst: Installer, **overrides: Any) -> dict[str, Any]:
    data = inst.answers(**overrides)
    data["network"] = {"httpsProxy": HTTPS_URL, "httpProxy": HTTP_URL, "noProxy": ".corp.example"}
    return data


def _saved_secret(inst: Installer) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((inst.state / "secrets.yaml").read_text())["stringData"]
    return data


def _status_check(inst: Installer) -> dict[str, Any] | None:
    result = _airbox(inst, "status", "--name", inst.name, "--json")
    assert result.returncode in (0, 1, 2), result.stderr
    checks = json.loads(result.stdout)["checks"]
    found = [c for c in checks if c["id"] == "job-proxy"]
    return found[0] if found else None


def test_an_install_behind_a_proxy_gives_every_job_pod_the_proxy(installer: Installer) -> None:
    from airbox.render.proxy import PROXY_SECRET_KEYS

    inst = installer
    result = inst.run(answers=inst.write(_proxy_answers(inst)))
    assert result.returncode == 0, result.stdout + result.stderr
    progress = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["job-proxy"]["status"] == "done"
    # The kind cluster was made with the policy's API.
    config = yaml.safe_load((inst.state / "kind-config.yaml").read_text())
    assert config["featureGates"] == {"MutatingAdmissionPolicy": True}
    name = f"airbox-job-proxy.airbyte.{inst.name}"
    assert _objects(inst.fake, inst.cluster) == [
        ("MutatingAdmissionPolicy", name),
        ("MutatingAdmissionPolicyBinding", name),
    ]

    # A sync's pod, as the launcher creates it after the install: every container gets
    # each proxy key of the Secret airbox wrote, with its exact value.
    secret = _saved_secret(inst)
    assert secret["HTTPS_PROXY"] == HTTPS_URL
    want = {env: secret[key] for env, key in jobproxy.env_entries(PROXY_SECRET_KEYS)}
    pod = inst.fake.job_pod(inst.cluster, "airbyte", JOB, "Running")
    for container in ("init", "orchestrator", "source", "destination"):
        env = inst.fake.container_env(inst.cluster, "airbyte", pod, container)
        assert {k: env[k] for k in want} == want, container
    assert want["https_proxy"] == HTTPS_URL and want["NO_PROXY"].startswith(".corp.example,")

    # The password: in the Secret's manifest and the credentials (0600), nowhere else.
    for path in inst.state.rglob("*"):
        if path.is_file() and path.name not in ("secrets.yaml", "credentials.yaml"):
            assert PASSWORD not in path.read_text(errors="replace"), path
    for record in inst.fake.call_records():
        assert PASSWORD not in " ".join(record["argv"])
    for obj in inst.fake.objects(inst.cluster):
        if obj["kind"] != "Secret":
            assert PASSWORD not in json.dumps(obj), obj["kind"]

    check = _status_check(inst)
    assert check is not None and check["state"] == "ok", check

    # The proxy removed (`network: null`; left out, the saved one stays): the next install
    # takes the policy away (the cluster stays).
    result = inst.run(answers=inst.write(inst.answers(network=None)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _objects(inst.fake, inst.cluster) == []
    assert not (inst.state / "job-proxy.yaml").exists()
    assert inst.kind_creates() == 1
    check = _status_check(inst)
    assert check is not None and check["state"] == "skip", check
    second = inst.fake.job_pod(inst.cluster, "airbyte", {**JOB, "attempt": 1}, "Running")
    env = inst.fake.container_env(inst.cluster, "airbyte", second, "orchestrator")
    assert "HTTPS_PROXY" not in env


def test_interrupted_while_applying_the_policy_then_rerun_finishes(installer: Installer) -> None:
    inst = installer
    # The third `kubectl apply` without a namespace flag of its own... namespace, Secret,
    # then the policy (the Secret's carries --namespace: all three match, in order).
    inst.fake.add_fault(
        "kubectl",
        ["--context", f"kind-{inst.cluster}", "apply", "-f", "-"],
        "interrupt",
        after="work",
        times=1,
        skip=2,
    )
    answers = inst.write(_proxy_answers(inst))
    first = inst.run(answers=answers)
    assert first.returncode == 130, first.stdout + first.stderr
    progress = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["job-proxy"]["status"] == "interrupted"
    second = inst.run(answers=answers)
    assert second.returncode == 0, second.stdout + second.stderr
    pod = inst.fake.job_pod(inst.cluster, "airbyte", JOB, "Running")
    env = inst.fake.container_env(inst.cluster, "airbyte", pod, "source")
    assert env["HTTPS_PROXY"] == HTTPS_URL


def test_a_proxy_added_later_needs_the_cluster_made_again(installer: Installer) -> None:
    """The kind cluster made without a proxy has no policy API: install stops and says
    how; `airbox upgrade` plans and does the re-creation."""
    inst = installer
    assert inst.run(answers=inst.write(inst.answers())).returncode == 0
    result = inst.run(answers=inst.write(_proxy_answers(inst)))
    assert result.returncode == 5, result.stdout + result.stderr
    assert (
        f"the kind cluster {inst.cluster} does not serve MutatingAdmissionPolicy" in result.stderr
    )
    assert f"airbox upgrade --name {inst.name}" in result.stderr

    plan = _airbox(inst, "upgrade", "--name", inst.name, "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert (
        f"the kind cluster {inst.cluster} is re-created from the saved settings: the "
        "proxy needs the MutatingAdmissionPolicy API, which the cluster was created "
        "without"
    ) in plan.stdout
    assert inst.kind_creates() == 1

    done = _airbox(inst, "upgrade", "--name", inst.name, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert inst.kind_creates() == 2
    pod = inst.fake.job_pod(inst.cluster, "airbyte", JOB, "Running")
    env = inst.fake.container_env(inst.cluster, "airbyte", pod, "init")
    assert env["HTTPS_PROXY"] == HTTPS_URL
    again = _airbox(inst, "upgrade", "--name", inst.name, "--dry-run")
    assert again.stdout.startswith("Nothing to upgrade"), again.stdout


def test_an_existing_cluster_needs_the_api_and_uninstall_removes_the_policy(
    installer: Installer,
) -> None:
    inst = installer
    plain = inst.fake.add_existing_cluster("plain", "plain-cluster")
    result = inst.run(
        "--kube-context",
        "plain",
        "--kubeconfig",
        str(plain),
        answers=inst.write(_proxy_answers(inst)),
    )
    assert result.returncode == 5, result.stdout + result.stderr
    assert "the cluster of context plain does not serve MutatingAdmissionPolicy" in (result.stderr)
    assert "--feature-gates=MutatingAdmissionPolicy=true" in result.stderr
    assert inst.fake.release("plain-cluster", inst.name, "airbyte") == []
    removed = _airbox(inst, "uninstall", "--name", inst.name, "--yes")
    assert removed.returncode == 0, removed.stdout + removed.stderr

    served = inst.fake.add_existing_cluster(
        "prod",
        "prod-cluster",
        feature_gates={"MutatingAdmissionPolicy": True},
        runtime_config={"admissionregistration.k8s.io/v1beta1": "true"},
    )
    result = inst.run(
        "--kube-context",
        "prod",
        "--kubeconfig",
        str(served),
        answers=inst.write(_proxy_answers(inst)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    name = f"airbox-job-proxy.airbyte.{inst.name}"
    assert len(_objects(inst.fake, "prod-cluster")) == 2
    pod = inst.fake.job_pod("prod-cluster", "airbyte", JOB, "Running")
    assert (
        inst.fake.container_env("prod-cluster", "airbyte", pod, "destination")["https_proxy"]
        == HTTPS_URL
    )

    gone = _airbox(inst, "uninstall", "--name", inst.name, "--yes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"  - MutatingAdmissionPolicy and binding {name}" in gone.stdout
    assert _objects(inst.fake, "prod-cluster") == []
    assert "prod-cluster" in inst.fake.clusters()
