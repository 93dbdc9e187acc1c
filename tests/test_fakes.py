"""Tests of the fake kind / helm / kubectl (tests/fakes), driven through their executables."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # until tests/ is a package on the rootdir path
    sys.path.insert(0, str(ROOT))

from tests.fakes import fixture as fakes  # noqa: E402
from tests.fakes.fixture import FakeK8s, docker_client  # noqa: E402
from tests.fakes.images import ensure_image, remove_tags, tag_images  # noqa: E402

fake_k8s = fakes.fake_k8s  # the fixture (a conftest may import it instead)

REPO = "https://airbytehq.github.io/charts"
NS = "airbyte"

SECRET_MANIFEST = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NS}
---
apiVersion: v1
kind: Secret
metadata:
  name: airbox-creds
  namespace: {NS}
type: Opaque
stringData:
  DATAPLANE_CLIENT_ID: client-id
  DATAPLANE_CLIENT_SECRET: s3cr3t
data:
  EXTRA: {base64.b64encode(b"extra").decode()}
"""


NAMESPACE_MANIFEST = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n"


def kind_config(tmp_path: Path, name: str | None = None) -> Path:
    path = tmp_path / "kind-config.yaml"
    cfg = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{"role": "control-plane"}],
    }
    if name:
        cfg["name"] = name
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def cluster(fake_k8s: FakeK8s, tmp_path: Path) -> Path:
    """A kind cluster "airbox-t" and its kubeconfig."""
    kubeconfig = tmp_path / "kubeconfig"
    p = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        "airbox-t",
        "--config",
        str(kind_config(tmp_path, "airbox-t")),
        "--kubeconfig",
        str(kubeconfig),
    )
    assert p.returncode == 0, p.stderr
    return kubeconfig


def kubectl(
    fake: FakeK8s, kc: Path, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return fake.run("kubectl", "--kubeconfig", str(kc), *args, input=input)


def helm(fake: FakeK8s, kc: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return fake.run("helm", "--kubeconfig", str(kc), *args)


def install(
    fake: FakeK8s, kc: Path, *extra: str, release: str = "airbox-t"
) -> subprocess.CompletedProcess[str]:
    return helm(
        fake,
        kc,
        "upgrade",
        "--install",
        release,
        "airbyte-data-plane",
        "--repo",
        REPO,
        "--namespace",
        NS,
        "--create-namespace",
        "--wait",
        "--timeout",
        "10m",
        *extra,
    )


def values(fake: FakeK8s, text: str) -> list[str]:
    """``-f FILE`` giving helm these values (airbox passes its values as a file)."""
    path = (
        fake.state_dir.parent / f"values-{len(list(fake.state_dir.parent.glob('values-*')))}.yaml"
    )
    path.write_text(text)
    return ["-f", str(path)]


def launcher_pod(fake: FakeK8s, kc: Path) -> dict[str, Any]:
    p = kubectl(
        fake,
        kc,
        "get",
        "pods",
        "-n",
        NS,
        "-l",
        "app.kubernetes.io/name=airbyte-data-plane",
        "-o",
        "json",
    )
    assert p.returncode == 0, p.stderr
    items: list[dict[str, Any]] = json.loads(p.stdout)["items"]
    assert len(items) == 1
    return items[0]


# -- flags, versions, wrappers


def test_wrappers_and_env(fake_k8s: FakeK8s) -> None:
    env = fake_k8s.env()
    for tool in ("kind", "helm", "kubectl"):
        path = Path(env[f"AIRBOX_{tool.upper()}"])
        assert os.access(path, os.X_OK)
        # This interpreter, without site (the wrapper adds the package directories).
        assert path.read_text().startswith(f"#!{sys.executable} -S\n")
        assert os.environ[f"AIRBOX_{tool.upper()}"] == str(path)
    assert env["FAKE_K8S_STATE"] == os.environ["FAKE_K8S_STATE"]


def test_versions(fake_k8s: FakeK8s) -> None:
    assert fake_k8s.run("kind", "version").stdout == "kind v0.31.0 go1.24.0 linux/amd64\n"
    out = json.loads(fake_k8s.run("kubectl", "version", "--client", "-o", "json").stdout)
    assert out["clientVersion"]["gitVersion"] == "v1.35.0"
    assert fake_k8s.run("helm", "version", "--short").stdout.startswith("v3.20.1+g")


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("kind", ["create", "cluster", "--foo"], "ERROR: unknown flag: --foo"),
        ("kind", ["get", "clusterz"], 'ERROR: unknown command "clusterz" for "kind get"'),
        ("kubectl", ["get", "pods", "--foo=1"], "error: unknown flag: --foo"),
        ("kubectl", ["get", "pods", "-Z"], "error: unknown shorthand flag: 'Z' in -Z"),
        ("kubectl", ["frobnicate"], 'error: unknown command "frobnicate" for "kubectl"'),
        # commands airbox never runs are not modelled: a new call fails loudly
        ("kubectl", ["config", "view"], 'error: unknown command "config" for "kubectl"'),
        ("helm", ["list"], 'Error: unknown command "list" for "helm"'),
        ("kind", ["get", "kubeconfig"], 'ERROR: unknown command "kubeconfig" for "kind get"'),
        ("helm", ["upgrade", "--install", "r", "c", "--wiat"], "Error: unknown flag: --wiat"),
        # real flags airbox never passes are not modelled either: refused the same way
        ("helm", ["upgrade", "--install", "r", "c", "--atomic"], "Error: unknown flag: --atomic"),
        ("kubectl", ["get", "pods", "--sort-by", "x"], "error: unknown flag: --sort-by"),
        (
            "helm",
            ["upgrade", "--install", "r", "c", "--timeout", "soon"],
            'Error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"',
        ),
        (
            "helm",
            ["upgrade", "--wait=maybe", "r", "c"],
            'invalid argument "maybe" for "--wait" flag',
        ),
        ("helm", ["upgrade", "r"], 'Error: "helm upgrade" requires 2 arguments'),
        ("kind", ["create", "cluster", "--name"], "ERROR: flag needs an argument: --name"),
    ],
)
def test_rejects_what_the_real_tools_reject(
    fake_k8s: FakeK8s, tool: str, args: list[str], message: str
) -> None:
    p = fake_k8s.run(tool, *args)
    assert p.returncode == 1
    assert message in p.stderr
    assert fake_k8s.calls(tool)[-1] == [tool, *args]


def test_flag_forms(fake_k8s: FakeK8s, cluster: Path) -> None:
    for args in (
        ["get", "ns", "-o", "name"],
        ["get", "ns", "-oname"],
        ["get", "ns", "-o=name"],
        ["get", "ns", "--output=name"],
        ["-n", "default", "get", "ns", "--output", "name"],
    ):
        p = kubectl(fake_k8s, cluster, *args)
        assert p.returncode == 0, (args, p.stderr)
        assert "namespace/kube-system" in p.stdout.splitlines()


# -- kind


def test_kind_cluster_lifecycle(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    p = fake_k8s.run("kind", "get", "clusters")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "No kind clusters found.\n")

    kc = tmp_path / "kc"
    other = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "mine",
        "clusters": [{"name": "mine", "cluster": {"server": "https://example.invalid"}}],
        "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "t"}}],
    }
    kc.write_text(yaml.safe_dump(other))
    kc.chmod(0o640)
    cfg = kind_config(tmp_path, "airbox-a")
    p = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        "airbox-a",
        "--config",
        str(cfg),
        "--kubeconfig",
        str(kc),
        "--wait",
        "5m",
    )
    assert p.returncode == 0, p.stderr
    assert 'Creating cluster "airbox-a" ...' in p.stderr
    assert "Waiting ≤ 5m0s for control-plane = Ready" in p.stderr

    data = yaml.safe_load(kc.read_text())
    assert data["current-context"] == "kind-airbox-a"
    assert {c["name"] for c in data["contexts"]} == {"mine", "kind-airbox-a"}  # merged
    server = next(c for c in data["clusters"] if c["name"] == "kind-airbox-a")["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:")
    # Like kind (Go's os.WriteFile(path, data, 0600)): an existing file keeps its mode,
    # which is why airbox makes its kubeconfig private itself.
    assert kc.stat().st_mode & 0o777 == 0o640

    assert fake_k8s.run("kind", "get", "clusters").stdout == "airbox-a\n"
    again = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        "airbox-a",
        "--config",
        str(cfg),
        "--kubeconfig",
        str(kc),
    )
    assert again.returncode == 1
    assert again.stderr == (
        "ERROR: failed to create cluster: node(s) already exist for a cluster "
        'with the name "airbox-a"\n'
    )

    nodes = kubectl(fake_k8s, kc, "get", "nodes", "-o", "json")
    node = json.loads(nodes.stdout)["items"][0]
    assert node["metadata"]["name"] == "airbox-a-control-plane"
    assert {"type": "Ready", "status": "True"}.items() <= node["status"]["conditions"][0].items()

    p = fake_k8s.run("kind", "delete", "cluster", "--name", "airbox-a", "--kubeconfig", str(kc))
    assert (p.returncode, p.stderr) == (0, 'Deleting cluster "airbox-a" ...\n')
    data = yaml.safe_load(kc.read_text())
    assert [c["name"] for c in data["contexts"]] == ["mine"]
    assert fake_k8s.clusters() == []
    p = fake_k8s.run("kind", "delete", "cluster", "--name", "airbox-a")  # absent: not an error
    assert p.returncode == 0


def test_kind_config_validation(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    missing = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        "x",
        "--config",
        str(tmp_path / "nope.yaml"),
        "--kubeconfig",
        str(tmp_path / "kc"),
    )
    assert missing.returncode == 1
    assert "error reading file" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n")
    p = fake_k8s.run("kind", "create", "cluster", "--config", str(bad))
    assert "unknown apiVersion: kind.x-k8s.io/v1alpha3" in p.stderr
    p = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        "b",
        "--config",
        str(kind_config(tmp_path, "a")),
        "--kubeconfig",
        str(tmp_path / "kc"),
    )
    assert p.returncode == 1
    assert '--name "b" does not match name "a"' in p.stderr
    assert fake_k8s.clusters() == []


def test_kind_load_and_export_logs(fake_k8s: FakeK8s, cluster: Path, tmp_path: Path) -> None:
    client = docker_client()
    tag_images(client, ensure_image(client), ["airbyte/workload-launcher:1.8.1"])
    p = fake_k8s.run(
        "kind", "load", "docker-image", "airbyte/workload-launcher:1.8.1", "--name", "nope"
    )
    assert (p.returncode, p.stderr) == (1, 'ERROR: no nodes found for cluster "nope"\n')
    p = fake_k8s.run(
        "kind", "load", "docker-image", "airbyte/workload-launcher:1.8.1", "--name", "airbox-t"
    )
    assert p.returncode == 0
    assert 'not yet present on node "airbox-t-control-plane", loading...' in p.stderr
    node = fake_k8s.state()["clusters"]["airbox-t"]["nodes"][0]
    assert "airbyte/workload-launcher:1.8.1" in node["images"]

    out = tmp_path / "logs"
    p = fake_k8s.run("kind", "export", "logs", str(out), "--name", "airbox-t")
    assert p.returncode == 0
    assert p.stdout == f"{out}\n"
    assert 'Exporting logs for cluster "airbox-t" to:' in p.stderr
    assert (out / "airbox-t-control-plane" / "kubelet.log").is_file()
    assert (out / "docker-info.txt").is_file()


# -- kubectl


def test_apply_secret_then_get(fake_k8s: FakeK8s, cluster: Path) -> None:
    p = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=SECRET_MANIFEST)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "namespace/airbyte created\nsecret/airbox-creds created\n"
    assert fake_k8s.call_records("kubectl")[-1]["stdin_bytes"] == len(SECRET_MANIFEST)
    assert "s3cr3t" not in (fake_k8s.state_dir / "calls.jsonl").read_text()

    again = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=SECRET_MANIFEST)
    assert again.stdout == "namespace/airbyte unchanged\nsecret/airbox-creds unchanged\n"
    changed = SECRET_MANIFEST.replace("s3cr3t", "n3w")
    again = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=changed)
    assert again.stdout == "namespace/airbyte unchanged\nsecret/airbox-creds configured\n"

    secret = json.loads(
        kubectl(fake_k8s, cluster, "get", "secret", "airbox-creds", "-n", NS, "-o", "json").stdout
    )
    assert secret["kind"] == "Secret" and "stringData" not in secret
    assert base64.b64decode(secret["data"]["DATAPLANE_CLIENT_SECRET"]) == b"n3w"
    assert base64.b64decode(secret["data"]["EXTRA"]) == b"extra"
    assert base64.b64decode(secret["data"]["DATAPLANE_CLIENT_ID"]) == b"client-id"


def test_apply_errors(fake_k8s: FakeK8s, cluster: Path) -> None:
    doc = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ghost\n"
        "stringData:\n  a: b\n"
    )
    p = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=doc)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        'Error from server (NotFound): error when creating "STDIN": namespaces "ghost" not found'
    )
    typed = doc.replace("ghost", "default").replace("a: b", "port: 5432")
    p = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=typed)
    assert p.returncode == 1
    assert (
        "cannot unmarshal number into Go struct field Secret.stringData of type string" in p.stderr
    )
    p = kubectl(
        fake_k8s,
        cluster,
        "apply",
        "-f",
        "-",
        input=doc.replace("namespace: ghost", "namespace: default").replace(
            "stringData:\n  a: b", "data:\n  a: not*base64"
        ),
    )
    assert "illegal base64 data at input byte 3" in p.stderr


def test_get_shapes_and_not_found(fake_k8s: FakeK8s, cluster: Path) -> None:
    p = kubectl(fake_k8s, cluster, "get", "pods", "nope", "-n", "default")
    assert (p.returncode, p.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    p = kubectl(fake_k8s, cluster, "get", "deployment/nope", "-n", "default", "--ignore-not-found")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    p = kubectl(fake_k8s, cluster, "get", "deploy", "nope", "-n", "default")
    assert 'deployments.apps "nope" not found' in p.stderr
    p = kubectl(fake_k8s, cluster, "get", "pods", "-n", "empty")
    assert (p.returncode, p.stderr) == (0, "No resources found in empty namespace.\n")
    listed = json.loads(kubectl(fake_k8s, cluster, "get", "ns", "-o", "json").stdout)
    assert listed["apiVersion"] == "v1" and listed["kind"] == "List"
    assert "kube-system" in [i["metadata"]["name"] for i in listed["items"]]
    assert kubectl(fake_k8s, cluster, "get", "--raw", "/readyz").stdout == "ok"
    nodes = json.loads(kubectl(fake_k8s, cluster, "get", "nodes", "-o", "json").stdout)
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["airbox-t-control-plane"]
    [ready] = [c for c in nodes["items"][0]["status"]["conditions"] if c["type"] == "Ready"]
    assert ready["status"] == "True"
    # What airbox never asks for is not modelled, and the fake says so (exit 2).
    for fmt in (
        "jsonpath={.items[0].metadata.name}",
        "custom-columns=NAME:.metadata.name",
        "go-template={{.kind}}",
    ):
        p = kubectl(fake_k8s, cluster, "get", "nodes", "-o", fmt)
        assert (p.returncode, p.stdout) == (2, ""), fmt
        assert f"kubectl -o {fmt.split('=')[0]} is not implemented" in p.stderr
    # What no kubectl has is its own error.
    p = kubectl(fake_k8s, cluster, "get", "nodes", "-o", "xml")
    assert p.returncode == 1
    assert 'unable to match a printer suitable for the output format "xml"' in p.stderr
    wait = kubectl(
        fake_k8s,
        cluster,
        "wait",
        "--for=condition=Ready",
        "node/airbox-t-control-plane",
        "--timeout",
        "60s",
    )
    assert wait.stdout == "node/airbox-t-control-plane condition met\n"


def test_kubeconfig_and_context_errors(fake_k8s: FakeK8s, cluster: Path, tmp_path: Path) -> None:
    p = fake_k8s.run("kubectl", "--kubeconfig", str(tmp_path / "missing"), "get", "pods")
    assert (p.returncode, p.stderr) == (
        1,
        f"error: stat {tmp_path / 'missing'}: no such file or directory\n",
    )
    p = kubectl(fake_k8s, cluster, "--context", "kind-other", "get", "pods")
    assert (p.returncode, p.stderr) == (1, 'error: context "kind-other" does not exist\n')
    cfg = yaml.safe_load(cluster.read_text())
    assert [c["name"] for c in cfg["contexts"]] == ["kind-airbox-t"]
    assert cfg["current-context"] == "kind-airbox-t"


def test_existing_cluster(fake_k8s: FakeK8s) -> None:
    kc = fake_k8s.add_existing_cluster("prod", "prod-cluster", namespace="team")
    assert kc == Path(os.environ["KUBECONFIG"])
    p = fake_k8s.run("kubectl", "--context", "prod", "get", "ns", "-o", "name")
    assert p.returncode == 0, p.stderr
    assert "namespace/default" in p.stdout.splitlines()
    assert "prod-cluster" in fake_k8s.clusters()
    assert fake_k8s.run("kind", "get", "clusters").stdout == ""  # not a kind cluster
    fake_k8s.remove_cluster("prod-cluster")
    p = fake_k8s.run("helm", "--kube-context", "prod", "status", "airbox")
    assert p.returncode == 1
    assert p.stderr.startswith('Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:')
    assert "connect: connection refused" in p.stderr


# -- helm


def test_helm_install_status_history(fake_k8s: FakeK8s, cluster: Path) -> None:
    p = install(fake_k8s, cluster)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(
        'Release "airbox-t" does not exist. Installing it now.\nNAME: airbox-t\n'
    )
    assert "STATUS: deployed\nREVISION: 1\n" in p.stdout

    status = json.loads(
        helm(fake_k8s, cluster, "status", "airbox-t", "-n", NS, "-o", "json").stdout
    )
    assert status["name"] == "airbox-t" and status["namespace"] == NS and status["version"] == 1
    assert status["info"]["status"] == "deployed"
    assert status["chart"]["metadata"] == status["chart"]["metadata"] | {
        "name": "airbyte-data-plane",
        "version": "1.8.1",
        "appVersion": "1.8.1",
    }

    assert [
        (r["revision"], r["status"], r["chart"], r["chart_version"], r["app_version"])
        for r in fake_k8s.release("airbox-t", "airbox-t")
    ] == [(1, "deployed", "airbyte-data-plane", "1.8.1", "1.8.1")]

    values = tmp_values = fake_k8s.state_dir.parent / "values.yaml"
    tmp_values.write_text("global:\n  airbyteUrl: https://example.airbyte.com\n")
    p = install(fake_k8s, cluster, "-f", str(values), "--version", "1.8.0")
    assert p.stdout.startswith('Release "airbox-t" has been upgraded. Happy Helming!\n')
    history = json.loads(
        helm(fake_k8s, cluster, "history", "airbox-t", "-n", NS, "-o", "json").stdout
    )
    assert [(h["revision"], h["status"], h["chart"]) for h in history] == [
        (1, "superseded", "airbyte-data-plane-1.8.1"),
        (2, "deployed", "airbyte-data-plane-1.8.0"),
    ]
    got = json.loads(
        helm(fake_k8s, cluster, "get", "values", "airbox-t", "-n", NS, "-o", "json").stdout
    )
    assert got == {"global": {"airbyteUrl": "https://example.airbyte.com"}}

    pod = launcher_pod(fake_k8s, cluster)
    assert pod["spec"]["containers"][0]["image"] == "airbyte/workload-launcher:1.8.0"
    assert pod["metadata"]["labels"]["app.kubernetes.io/instance"] == "airbox-t"
    objects = {
        (o["kind"], o["metadata"]["name"]) for o in fake_k8s.objects("airbox-t", namespace=NS)
    }
    assert {
        ("Deployment", "airbox-t-airbyte-data-plane"),
        ("Secret", "airbox-t-airbyte-data-plane-secrets"),
        ("ConfigMap", "airbox-t-airbyte-data-plane-env"),
    } <= objects
    rollout = kubectl(
        fake_k8s,
        cluster,
        "rollout",
        "status",
        "deployment/airbox-t-airbyte-data-plane",
        "-n",
        NS,
        "--timeout",
        "60s",
    )
    assert rollout.stdout == 'deployment "airbox-t-airbyte-data-plane" successfully rolled out\n'


def test_helm_errors(fake_k8s: FakeK8s, cluster: Path, tmp_path: Path) -> None:
    p = helm(
        fake_k8s, cluster, "upgrade", "r", "airbyte-data-plane", "--repo", REPO, "-n", "default"
    )
    assert p.stderr == 'Error: UPGRADE FAILED: "r" has no deployed releases\n'
    p = helm(
        fake_k8s,
        cluster,
        "upgrade",
        "--install",
        "r",
        "airbyte-data-plane",
        "--repo",
        REPO,
        "-n",
        "ghost",
    )
    assert p.stderr == 'Error: create: failed to create: namespaces "ghost" not found\n'
    p = helm(
        fake_k8s, cluster, "upgrade", "--install", "r", str(tmp_path / "chart"), "-n", "default"
    )
    assert p.stderr == f'Error: path "{tmp_path / "chart"}" not found\n'
    p = helm(
        fake_k8s,
        cluster,
        "upgrade",
        "--install",
        "r",
        "airbyte-data-plane",
        "--repo",
        REPO,
        "-f",
        str(tmp_path / "values.yaml"),
    )
    assert p.stderr == f"Error: open {tmp_path / 'values.yaml'}: no such file or directory\n"
    p = helm(fake_k8s, cluster, "status", "r")
    assert (p.returncode, p.stderr) == (1, "Error: release: not found\n")
    p = helm(fake_k8s, cluster, "uninstall", "r")
    assert p.stderr == "Error: uninstall: Release not loaded: r: release: not found\n"
    assert helm(fake_k8s, cluster, "uninstall", "r", "--ignore-not-found").returncode == 0


def test_local_chart(fake_k8s: FakeK8s, cluster: Path, tmp_path: Path) -> None:
    chart = tmp_path / "airbyte-data-plane"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: airbyte-data-plane\nversion: 1.9.0\nappVersion: 1.9.0-rc.1\n"
    )
    p = helm(fake_k8s, cluster, "upgrade", "--install", "local", str(chart), "-n", "default")
    assert p.returncode == 0, p.stderr
    assert fake_k8s.release("airbox-t", "local")[-1]["app_version"] == "1.9.0-rc.1"


def test_pending_release_blocks_upgrade_until_rollback(fake_k8s: FakeK8s, cluster: Path) -> None:
    assert install(fake_k8s, cluster).returncode == 0
    assert install(fake_k8s, cluster, *values(fake_k8s, "x: 1")).returncode == 0
    fake_k8s.pending("airbox-t", "airbox-t", "pending-upgrade")
    p = install(fake_k8s, cluster)
    assert (p.returncode, p.stderr) == (
        1,
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n",
    )
    status = json.loads(
        helm(fake_k8s, cluster, "status", "airbox-t", "-n", NS, "-o", "json").stdout
    )
    assert status["info"]["status"] == "pending-upgrade"

    p = helm(fake_k8s, cluster, "rollback", "airbox-t", "1", "-n", NS, "--wait", "--timeout", "5m")
    assert (p.returncode, p.stdout) == (0, "Rollback was a success! Happy Helming!\n")
    revs = fake_k8s.release("airbox-t", "airbox-t")
    assert [(r["revision"], r["status"]) for r in revs] == [
        (1, "superseded"),
        (2, "pending-upgrade"),
        (3, "deployed"),
    ]
    assert revs[-1]["description"] == "Rollback to 1" and revs[-1]["config"] == {}
    assert install(fake_k8s, cluster).returncode == 0


def test_uninstall(fake_k8s: FakeK8s, cluster: Path) -> None:
    assert install(fake_k8s, cluster).returncode == 0
    p = helm(fake_k8s, cluster, "uninstall", "airbox-t", "-n", NS, "--wait", "--timeout", "2m")
    assert p.stdout == 'release "airbox-t" uninstalled\n'
    assert fake_k8s.releases("airbox-t") == {}
    assert not [o for o in fake_k8s.objects("airbox-t", namespace=NS) if o["kind"] != "Namespace"]
    p = kubectl(fake_k8s, cluster, "get", "pods", "-n", NS)
    assert p.stderr == f"No resources found in {NS} namespace.\n"


def test_ownership_conflict(fake_k8s: FakeK8s, cluster: Path) -> None:
    clash = SECRET_MANIFEST.replace("airbox-creds", "airbox-t-airbyte-data-plane-secrets")
    assert kubectl(fake_k8s, cluster, "apply", "-f", "-", input=clash).returncode == 0
    p = install(fake_k8s, cluster)
    assert p.returncode == 1
    assert p.stderr.startswith(
        "Error: Unable to continue with install: Secret "
        '"airbox-t-airbyte-data-plane-secrets" in namespace "airbyte" exists'
    )


# -- scenarios


def test_scenarios_change_pod_status_and_logs(fake_k8s: FakeK8s, cluster: Path) -> None:
    assert install(fake_k8s, cluster).returncode == 0
    pod = launcher_pod(fake_k8s, cluster)
    name = pod["metadata"]["name"]
    assert name.startswith("airbox-t-airbyte-data-plane-")
    assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"][0]["ready"]
    logs = kubectl(fake_k8s, cluster, "logs", name, "-n", NS, "--tail", "100").stdout
    assert "INFO  Starting workload launcher" in logs
    assert "INFO  Heartbeat sent to control plane" in logs

    fake_k8s.set_scenario(launcher="crashloop")
    cs = launcher_pod(fake_k8s, cluster)["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["restartCount"] == 6
    assert cs["lastState"]["terminated"] == cs["lastState"]["terminated"] | {
        "reason": "Error",
        "exitCode": 1,
    }
    logs = kubectl(
        fake_k8s, cluster, "logs", "deployment/airbox-t-airbyte-data-plane", "-n", NS, "--previous"
    ).stdout
    assert "Exception" in logs and logs.rstrip().splitlines()[-1].startswith("\t")
    events = json.loads(
        kubectl(
            fake_k8s,
            cluster,
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "type=Warning",
            "-o",
            "json",
        ).stdout
    )["items"]
    assert any(
        e["reason"] == "BackOff" and "Back-off restarting failed container" in e["message"]
        for e in events
    )
    p = install(fake_k8s, cluster, *values(fake_k8s, "a: b"))
    assert (p.returncode, p.stderr) == (1, "Error: UPGRADE FAILED: context deadline exceeded\n")
    assert fake_k8s.release("airbox-t", "airbox-t")[-1]["status"] == "failed"

    fake_k8s.set_scenario(launcher="imagepull")
    pod = launcher_pod(fake_k8s, cluster)  # the failed upgrade rolled out a new pod
    name = pod["metadata"]["name"]
    cs = pod["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "ImagePullBackOff"
    events = json.loads(kubectl(fake_k8s, cluster, "get", "events", "-n", NS, "-o", "json").stdout)
    assert any(
        "toomanyrequests: You have reached your pull rate limit" in e["message"]
        for e in events["items"]
        if e["type"] == "Warning" and e["reason"] == "Failed"
    )
    p = kubectl(fake_k8s, cluster, "logs", name, "-n", NS)
    assert p.returncode == 1 and "is waiting to start" in p.stderr

    fake_k8s.set_scenario(launcher="auth-fail")
    # ready, so --wait passes
    assert install(fake_k8s, cluster, *values(fake_k8s, "a: c")).returncode == 0
    logs = kubectl(
        fake_k8s, cluster, "logs", "deployment/airbox-t-airbyte-data-plane", "-n", NS
    ).stdout
    assert "ERROR Failed to authenticate with the control plane: 401 Unauthorized" in logs

    fake_k8s.set_scenario(node_ready=False, launcher="ok")
    node = json.loads(kubectl(fake_k8s, cluster, "get", "nodes", "-o", "json").stdout)["items"][0]
    assert node["status"]["conditions"][0]["status"] == "False"
    assert launcher_pod(fake_k8s, cluster)["status"]["phase"] == "Pending"


def test_a_missing_secret_fails_the_wait_until_it_is_applied(
    fake_k8s: FakeK8s, cluster: Path
) -> None:
    secret_name = values(fake_k8s, "dataPlane:\n  secretName: airbox-creds\n")
    p = install(fake_k8s, cluster, *secret_name)
    assert (p.returncode, p.stderr) == (1, "Error: context deadline exceeded\n")
    cs = launcher_pod(fake_k8s, cluster)["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": 'secret "airbox-creds" not found',
    }
    assert kubectl(fake_k8s, cluster, "apply", "-f", "-", input=SECRET_MANIFEST).returncode == 0
    assert launcher_pod(fake_k8s, cluster)["status"]["containerStatuses"][0]["ready"]
    p = install(fake_k8s, cluster, *secret_name)
    assert p.returncode == 0, p.stderr  # the failed first revision is upgraded
    assert [r["status"] for r in fake_k8s.release("airbox-t", "airbox-t")] == [
        "superseded",
        "deployed",
    ]


def test_namespace_delete_cascades(fake_k8s: FakeK8s, cluster: Path) -> None:
    assert install(fake_k8s, cluster).returncode == 0
    p = kubectl(fake_k8s, cluster, "delete", "namespace", NS, "--timeout", "60s")
    assert p.stdout == f'namespace "{NS}" deleted\n'
    assert fake_k8s.releases("airbox-t") == {}
    p = kubectl(fake_k8s, cluster, "delete", "secret", "gone", "-n", "default")
    assert p.stderr == 'Error from server (NotFound): secrets "gone" not found\n'
    p = kubectl(fake_k8s, cluster, "delete", "ns", "default")
    assert "this namespace may not be deleted" in p.stderr


# -- faults


def test_fault_fail_once(fake_k8s: FakeK8s, cluster: Path) -> None:
    fake_k8s.add_fault(
        "kubectl",
        ["apply"],
        "fail",
        exit=1,
        times=1,
        stderr="Unable to connect to the server: net/http: TLS handshake timeout",
    )
    p = kubectl(fake_k8s, cluster, "apply", "-f", "-", input=SECRET_MANIFEST)
    assert (p.returncode, p.stderr) == (
        1,
        "Unable to connect to the server: net/http: TLS handshake timeout\n",
    )
    assert fake_k8s.faults() == []
    assert kubectl(fake_k8s, cluster, "get", "ns", NS).returncode == 1  # nothing was applied
    assert kubectl(fake_k8s, cluster, "apply", "-f", "-", input=SECRET_MANIFEST).returncode == 0


_PARENT = (
    "import subprocess, sys\n"
    "try:\n"
    "    sys.exit(subprocess.run(sys.argv[1:]).returncode)\n"
    "except KeyboardInterrupt:\n"
    "    sys.exit(130)\n"
)


def run_in_own_group(
    fake: FakeK8s, argv: list[str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    # The fake's Ctrl-C goes to its caller's process group too: the caller must be a
    # throwaway parent in a session of its own, never pytest itself.
    if argv[0] != sys.executable:
        argv = [sys.executable, "-c", _PARENT, *argv]
    # A shell that started pytest in the background (nohup, `&`) leaves SIGINT ignored,
    # and the child would inherit that: the simulated Ctrl-C must reach it as a user's does.
    return subprocess.run(
        argv,
        input=input,
        text=True,
        capture_output=True,
        env=fake.full_env(),
        start_new_session=True,
        timeout=30,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_fault_interrupt_helm_leaves_pending(fake_k8s: FakeK8s, cluster: Path) -> None:
    fake_k8s.add_fault("helm", ["upgrade", "--install"], "interrupt", after="work", times=1)
    p = run_in_own_group(
        fake_k8s,
        [
            str(fake_k8s.helm),
            "--kubeconfig",
            str(cluster),
            "upgrade",
            "--install",
            "airbox-t",
            "airbyte-data-plane",
            "--repo",
            REPO,
            "-n",
            "default",
            "--wait",
        ],
    )
    assert p.returncode == 130
    assert fake_k8s.call_records("helm")[-1]["exit"] == 130
    assert [r["status"] for r in fake_k8s.release("airbox-t", "airbox-t")] == ["pending-install"]
    p = helm(
        fake_k8s,
        cluster,
        "upgrade",
        "--install",
        "airbox-t",
        "airbyte-data-plane",
        "--repo",
        REPO,
        "-n",
        "default",
    )
    assert "another operation (install/upgrade/rollback) is in progress" in p.stderr


def test_fault_interrupt_signals_the_process_group(fake_k8s: FakeK8s, cluster: Path) -> None:
    fake_k8s.add_fault("kubectl", ["apply"], "interrupt", after="work")
    parent = (
        "import subprocess, sys\n"
        "try:\n"
        "    subprocess.run(sys.argv[1:], input=sys.stdin.read(), text=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('parent interrupted')\n"
    )
    p = run_in_own_group(
        fake_k8s,
        [
            sys.executable,
            "-c",
            parent,
            str(fake_k8s.kubectl),
            "--kubeconfig",
            str(cluster),
            "apply",
            "-f",
            "-",
        ],
        input=SECRET_MANIFEST,
    )
    assert "parent interrupted" in p.stdout
    # the first document only
    assert kubectl(fake_k8s, cluster, "get", "ns", NS, "-o", "name").returncode == 0
    assert kubectl(fake_k8s, cluster, "get", "secret", "airbox-creds", "-n", NS).returncode == 1


def test_fault_interrupt_kind_create_skips_kubeconfig(fake_k8s: FakeK8s, tmp_path: Path) -> None:
    fake_k8s.add_fault("kind", ["create", "cluster"], "interrupt", after="work", times=1)
    kc = tmp_path / "kc"
    p = run_in_own_group(
        fake_k8s,
        [str(fake_k8s.kind), "create", "cluster", "--name", "half", "--kubeconfig", str(kc)],
    )
    assert p.returncode == 130
    assert fake_k8s.clusters() == ["half"] and not kc.exists()


def test_fault_hang(fake_k8s: FakeK8s) -> None:
    fake_k8s.add_fault("helm", ["status"], "hang")
    proc = subprocess.Popen(
        [str(fake_k8s.helm), "status", "x"],
        env=fake_k8s.full_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # A hanging call is logged (exit null) before it hangs: wait for that event.
        for _ in range(6000):
            if [r for r in fake_k8s.call_records("helm") if r["argv"] == ["status", "x"]]:
                break
            assert proc.poll() is None, "the hanging fake ended"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.01)  # the poll interval: returns early if it ends
        (record,) = [r for r in fake_k8s.call_records("helm") if r["argv"] == ["status", "x"]]
        assert record["exit"] is None
        # the lock was released: other calls run while it hangs
        assert fake_k8s.run("helm", "version", "--short").returncode == 0
        assert proc.poll() is None  # and it still hangs (for 300 s unless told otherwise)
    finally:
        proc.kill()
        proc.wait()


# -- docker mode


@pytest.fixture
def docker_mode(fake_k8s: FakeK8s) -> Iterator[Any]:
    client = docker_client()
    image = "fakek8s/node:sleep"
    ensure_image(client, image)
    fake_k8s.use_docker(image)
    yield client
    fake_k8s.cleanup()


def test_docker_mode_node_container(fake_k8s: FakeK8s, docker_mode: Any, tmp_path: Path) -> None:
    client = docker_mode
    name = f"fk-{os.getpid()}"
    kc = tmp_path / "kc"
    p = fake_k8s.run(
        "kind",
        "create",
        "cluster",
        "--name",
        name,
        "--config",
        str(kind_config(tmp_path, name)),
        "--kubeconfig",
        str(kc),
    )
    assert p.returncode == 0, p.stderr
    container = client.containers.get(f"{name}-control-plane")
    assert container.status == "running"
    assert container.labels["io.x-k8s.kind.cluster"] == name
    assert container.labels["io.x-k8s.kind.role"] == "control-plane"
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")
    assert fake_k8s.run("kind", "get", "clusters").stdout == f"{name}\n"
    assert kubectl(fake_k8s, kc, "get", "--raw", "/readyz").stdout == "ok"

    launcher = "airbyte/workload-launcher:fakek8s-test"
    p = fake_k8s.run("kind", "load", "docker-image", launcher, "--name", name)
    assert (p.returncode, p.stderr) == (1, f'ERROR: image: "{launcher}" not present locally\n')
    tag_images(client, "fakek8s/node:sleep", [launcher])
    try:
        p = fake_k8s.run("kind", "load", "docker-image", launcher, "--name", name)
        assert p.returncode == 0 and "loading..." in p.stderr
    finally:
        remove_tags(client, [launcher])

    container.stop(timeout=1)
    port = yaml.safe_load(kc.read_text())["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1]
    p = kubectl(fake_k8s, kc, "get", "pods")
    assert p.returncode == 1
    assert p.stderr.splitlines()[-1] == (
        f"The connection to the server 127.0.0.1:{port} was "
        "refused - did you specify the right host or port?"
    )
    p = helm(fake_k8s, kc, "status", "airbox-t")
    assert p.stderr == (
        f'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:{port}/version": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused\n"
    )

    assert (
        fake_k8s.run(
            "kind", "delete", "cluster", "--name", name, "--kubeconfig", str(kc)
        ).returncode
        == 0
    )
    assert fake_k8s.node_containers(client) == []
    assert fake_k8s.run("kind", "get", "clusters").stderr == "No kind clusters found.\n"


def test_docker_mode_container_removed_behind_kinds_back(
    fake_k8s: FakeK8s, docker_mode: Any, tmp_path: Path
) -> None:
    name = f"fk2-{os.getpid()}"
    kc = tmp_path / "kc"
    assert (
        fake_k8s.run(
            "kind", "create", "cluster", "--name", name, "--kubeconfig", str(kc)
        ).returncode
        == 0
    )
    docker_mode.containers.get(f"{name}-control-plane").remove(force=True)
    assert fake_k8s.run("kind", "get", "clusters").stdout == ""
    assert kubectl(fake_k8s, kc, "get", "ns").returncode == 1
    assert fake_k8s.clusters() == []


def test_concurrent_calls_share_state(fake_k8s: FakeK8s, cluster: Path) -> None:
    env = fake_k8s.full_env()
    argv = [str(fake_k8s.kubectl), "--kubeconfig", str(cluster), "apply", "-f", "-"]
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for i, proc in enumerate(procs):
        assert proc.stdin is not None
        proc.stdin.write(NAMESPACE_MANIFEST.replace(NS, f"ns{i}"))
        proc.stdin.close()
    assert [p.wait(timeout=30) for p in procs] == [0] * 6
    names = kubectl(fake_k8s, cluster, "get", "ns", "-o", "name").stdout.splitlines()
    assert {f"namespace/ns{i}" for i in range(6)} <= set(names)
    records = fake_k8s.call_records("kubectl")
    assert len([r for r in records if r["argv"][2:] == ["apply", "-f", "-"]]) == 6
    assert set(records[0]) == {
        "tool",
        "argv",
        "cwd",
        "stdin_bytes",
        "env",
        "pid",
        "time",
        "exit",
        "clock",
    }


def test_helm_knows_only_chart_versions_that_exist(fake_k8s: FakeK8s, cluster: Path) -> None:
    """A typo in chart.version must fail as the real repository fails it."""
    p = install(fake_k8s, cluster, "--version", "1.8.10")
    assert p.returncode == 1
    assert 'version "1.8.10" not found' in p.stderr
    for version in ("1.8.0", "1.8.1"):
        assert install(fake_k8s, cluster, "--version", version).returncode == 0, version
    oci = helm(
        fake_k8s,
        cluster,
        "template",
        "x",
        "oci://registry-1.docker.io/airbytehq/airbyte-data-plane",
        "--version",
        "9.9.9",
    )
    assert oci.returncode == 1 and "not found" in oci.stderr


def test_kubectl_get_raw_takes_no_arguments(fake_k8s: FakeK8s, cluster: Path) -> None:
    p = kubectl(fake_k8s, cluster, "get", "--raw", "/readyz", "pods")
    assert p.returncode == 1
    assert p.stderr.strip() == "error: arguments may not be passed when --raw is specified"
    assert kubectl(fake_k8s, cluster, "get", "--raw", "/readyz").stdout == "ok"


# -- fake time: waits take (fake) time, and fail as the real tools do when it runs out


def clock_of(fake: FakeK8s) -> float:
    """The fake time (seconds) of the cluster the last call reached."""
    return float(fake.call_records()[-1]["clock"])


def test_helm_wait_runs_fake_time_until_the_pods_are_ready(
    fake_k8s: FakeK8s, cluster: Path
) -> None:
    fake_k8s.set_scenario(ready_delay=40)
    p = install(fake_k8s, cluster, "--timeout", "30s")
    assert (p.returncode, p.stderr) == (1, "Error: context deadline exceeded\n")
    assert fake_k8s.release("airbox-t", "airbox-t")[-1]["status"] == "failed"
    start = clock_of(fake_k8s)
    cs = launcher_pod(fake_k8s, cluster)["status"]["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}} and not cs["ready"]

    # the same pods, 40 s after they were made: a second wait sees them ready in time
    p = install(fake_k8s, cluster, "--timeout", "5m")
    assert p.returncode == 0, p.stderr
    assert fake_k8s.release("airbox-t", "airbox-t")[-1]["status"] == "deployed"
    waited = clock_of(fake_k8s) - start
    assert 1 <= waited <= 40  # it stopped waiting once they were ready, not at 5m
    assert launcher_pod(fake_k8s, cluster)["status"]["containerStatuses"][0]["ready"]


def test_rollout_status_waits_its_timeout_then_fails_like_kubectl(
    fake_k8s: FakeK8s, cluster: Path
) -> None:
    assert install(fake_k8s, cluster).returncode == 0
    fake_k8s.set_scenario(ready_delay=20)
    dep = "deployment/airbox-t-airbyte-data-plane"
    assert kubectl(fake_k8s, cluster, "rollout", "restart", dep, "-n", NS).returncode == 0
    start = clock_of(fake_k8s)
    p = kubectl(fake_k8s, cluster, "rollout", "status", dep, "-n", NS, "--timeout=5s")
    assert (p.returncode, p.stderr) == (1, "error: timed out waiting for the condition\n")
    assert p.stdout == (
        'Waiting for deployment "airbox-t-airbyte-data-plane" rollout to finish: 0 of 1 '
        "updated replicas are available...\n"
    )
    assert clock_of(fake_k8s) - start == 1 + 5  # the call's tick, then the whole timeout
    # no --timeout: kubectl waits as long as it takes
    p = kubectl(fake_k8s, cluster, "rollout", "status", dep, "-n", NS)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == (
        'deployment "airbox-t-airbyte-data-plane" successfully rolled out'
    )
    assert clock_of(fake_k8s) - start == 20  # the pods were restarted at start


JOB_MANIFEST = f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: make-bucket
  namespace: {NS}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: mc
        image: minio/mc
"""


def test_kubectl_wait_for_a_job_takes_fake_time(fake_k8s: FakeK8s, cluster: Path) -> None:
    assert kubectl(fake_k8s, cluster, "apply", "-f", "-", input=NAMESPACE_MANIFEST).returncode == 0
    fake_k8s.set_scenario(ready_delay=10)
    assert kubectl(fake_k8s, cluster, "apply", "-f", "-", input=JOB_MANIFEST).returncode == 0
    p = kubectl(
        fake_k8s,
        cluster,
        "wait",
        "--for=condition=complete",
        "job/make-bucket",
        "-n",
        NS,
        "--timeout=3s",
    )
    assert (p.returncode, p.stderr) == (
        1,
        "error: timed out waiting for the condition on jobs/make-bucket\n",
    )
    # --timeout=0 looks once
    p = kubectl(
        fake_k8s,
        cluster,
        "wait",
        "--for=condition=complete",
        "job/make-bucket",
        "-n",
        NS,
        "--timeout=0",
    )
    assert p.returncode == 1
    p = kubectl(
        fake_k8s,
        cluster,
        "wait",
        "--for=condition=complete",
        "job/make-bucket",
        "-n",
        NS,
        "--timeout=60s",
    )
    assert (p.returncode, p.stdout) == (0, "job.batch/make-bucket condition met\n")


def test_the_api_answers_api_delay_seconds_after_the_cluster_started(
    fake_k8s: FakeK8s, tmp_path: Path
) -> None:
    fake_k8s.set_scenario(api_delay=3)
    kc = tmp_path / "kc"
    p = fake_k8s.run("kind", "create", "cluster", "--name", "slow-api", "--kubeconfig", str(kc))
    assert p.returncode == 0, p.stderr
    answers = [kubectl(fake_k8s, kc, "get", "--raw", "/readyz") for _ in range(4)]
    assert [a.returncode for a in answers] == [1, 1, 0, 0]
    assert "The connection to the server 127.0.0.1:" in answers[0].stderr
    assert "was refused - did you specify the right host or port?" in answers[0].stderr
    assert answers[2].stdout == "ok"

    # kind create --wait waits for the API (fake time), so the cluster answers at once
    kc2 = tmp_path / "kc2"
    p = fake_k8s.run(
        "kind", "create", "cluster", "--name", "waited", "--kubeconfig", str(kc2), "--wait", "1m"
    )
    assert p.returncode == 0 and " • Ready after " in p.stderr, p.stderr
    assert kubectl(fake_k8s, kc2, "get", "--raw", "/readyz").returncode == 0
    # a wait shorter than the API's start: kind warns and succeeds, like kind
    kc3 = tmp_path / "kc3"
    fake_k8s.set_scenario(api_delay=90)
    p = fake_k8s.run(
        "kind", "create", "cluster", "--name", "short", "--kubeconfig", str(kc3), "--wait", "30s"
    )
    assert p.returncode == 0 and " • WARNING: Timed out waiting for Ready ⚠️" in p.stderr
    assert kubectl(fake_k8s, kc3, "get", "--raw", "/readyz").returncode == 1


def test_kind_load_wants_images_docker_has(fake_k8s: FakeK8s, cluster: Path) -> None:
    """kind looks each image up in the local Docker before it loads anything (kind's
    load docker-image: `image: %q not present locally`)."""
    client = docker_client()
    present = "airbyte/workload-launcher:1.8.1"
    tag_images(client, ensure_image(client), [present])
    missing = f"fakek8s/never-pulled:{os.getpid()}"
    p = fake_k8s.run("kind", "load", "docker-image", present, missing, "--name", "airbox-t")
    assert (p.returncode, p.stderr) == (1, f'ERROR: image: "{missing}" not present locally\n')
    assert fake_k8s.state()["clusters"]["airbox-t"]["nodes"][0]["images"] == {}
    # before the cluster is looked at: a missing image wins over a missing cluster
    p = fake_k8s.run("kind", "load", "docker-image", missing, "--name", "nope")
    assert p.stderr == f'ERROR: image: "{missing}" not present locally\n'
    p = fake_k8s.run("kind", "load", "docker-image", "--name", "airbox-t")
    assert (p.returncode, p.stderr) == (1, "ERROR: a list of image names is required\n")
