"""`airbox install --dry-run`: run as a user runs it, then read what it wrote and printed."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from airbox import versions
from tests import answers_factory as af
from tests.helpers import ASSETS, airbox_bin, airbox_env


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=env or airbox_env(),
        cwd=cwd,
        input=stdin,
        timeout=60,
    )


def test_demo_example_dry_run_writes_the_five_files(tmp_path: Path) -> None:
    result = run(
        "install",
        "--answers",
        str(ASSETS / "demo.yaml"),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    # storage.yaml: the demo has no storage section, so airbox runs the store.
    assert sorted(p.name for p in out.iterdir()) == [
        "kind-config.yaml",
        "plan.json",
        "secrets.yaml",
        "storage.yaml",
        "values.yaml",
    ]
    assert stat.S_IMODE((out / "secrets.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    kind_config = yaml.safe_load((out / "kind-config.yaml").read_text())
    assert kind_config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert kind_config["name"] == "airbox-demo-dp"
    # The node image is pinned by digest, and fits this host's cgroup version.
    image = kind_config["nodes"][0]["image"]
    cgroup_v1 = not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    assert image == (versions.NODE_IMAGE_CGROUP_V1 if cgroup_v1 else versions.NODE_IMAGE)
    assert "@sha256:" in image
    # The plan lists the real commands, in order.
    plan = json.loads((out / "plan.json").read_text())
    steps = [entry["step"] for entry in plan]
    assert steps.index("cluster") < steps.index("secret") < steps.index("release")
    release = next(e for e in plan if e["step"] == "release")["commands"][0]
    assert release[:5] == [
        "helm",
        "--kubeconfig",
        release[2],
        "--kube-context",
        "kind-airbox-demo-dp",
    ]
    assert release[5:9] == ["upgrade", "--install", "demo-dp", "airbyte-data-plane"]
    assert "--version" in release and "1.8.1" in release
    assert "demo-client-secret-not-real" not in result.stdout + result.stderr
    # Nothing else was touched: no state directory, no log.
    assert not (tmp_path / "home" / ".airbyte").exists()


@pytest.mark.parametrize("example", sorted(p.name for p in ASSETS.glob("*.yaml")))
def test_every_example_is_valid_given_its_variables(tmp_path: Path, example: str) -> None:
    sa = af.service_account_file(tmp_path)
    env = airbox_env(
        AIRBYTE_CLIENT_ID="app-id",
        AIRBYTE_CLIENT_SECRET="app-secret-0001",
        DATAPLANE_CLIENT_ID="dp-id-0001",
        DATAPLANE_CLIENT_SECRET="dp-secret-0001",
        AWS_SECRET_MANAGER_ACCESS_KEY_ID="AKIA0000000000000001",
        AWS_SECRET_MANAGER_SECRET_ACCESS_KEY="sm-secret-0001",
        AWS_ACCESS_KEY_ID="AKIA0000000000000002",
        AWS_SECRET_ACCESS_KEY="s3-secret-0001",
        GOOGLE_APPLICATION_CREDENTIALS=str(sa),
        AZURE_CLIENT_ID="6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b",
        AZURE_CLIENT_SECRET="az-secret-0001",
        AZURE_STORAGE_CONNECTION_STRING="conn-0001",
        AIRBYTE_LICENSE_KEY="license-0001",
        VAULT_AUTH_TOKEN="vault-token-0001",
    )
    result = run(
        "install",
        "--answers",
        str(ASSETS / example),
        "--dry-run",
        "--output-dir",
        str(tmp_path / "out"),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    values = (tmp_path / "out" / "values.yaml").read_text()
    for secret in (
        "app-secret-0001",
        "dp-secret-0001",
        "sm-secret-0001",
        "s3-secret-0001",
        "az-secret-0001",
        "conn-0001",
        "license-0001",
        "vault-token-0001",
    ):
        assert secret not in values
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_no_secret_in_values_plan_or_output(tmp_path: Path, sm: str, st: str) -> None:
    answers = af.write_answers(tmp_path / "a.yaml", af.answers(sm, st, directory=tmp_path))
    result = run(
        "install",
        "--answers",
        str(answers),
        "--dry-run",
        "--output-dir",
        str(tmp_path / "out"),
        "-v",
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    for public in ("values.yaml", "plan.json", "kind-config.yaml"):
        assert af.find_secrets((out / public).read_text()) == [], public
    assert af.find_secrets(result.stdout + result.stderr) == []
    # ...and every credential is in the Secret.
    secret = yaml.safe_load((out / "secrets.yaml").read_text())
    data = secret["stringData"]
    assert data["DATAPLANE_CLIENT_SECRET"] == af.SECRETS["dp_secret"]
    assert secret["metadata"] == {
        "name": "airbyte-config-secrets",
        "namespace": "airbyte",
        "labels": {"app.kubernetes.io/managed-by": "airbox", "airbox.airbyte.io/data-plane": "dp1"},
    }


def test_secret_holds_every_credential(tmp_path: Path) -> None:
    answers = af.answers("aws-keys", "s3-keys", directory=tmp_path, edition="enterprise")
    path = af.write_answers(tmp_path / "a.yaml", answers)
    assert (
        run(
            "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
        ).returncode
        == 0
    )
    data = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    assert data == {
        "DATAPLANE_CLIENT_ID": af.SECRETS["dp_id"],
        "DATAPLANE_CLIENT_SECRET": af.SECRETS["dp_secret"],
        "AIRBYTE_LICENSE_KEY": af.SECRETS["license"],
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID": af.SECRETS["sm_access"],
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY": af.SECRETS["sm_secret"],
        "AWS_ACCESS_KEY_ID": af.SECRETS["s3_access"],
        "AWS_SECRET_ACCESS_KEY": af.SECRETS["s3_secret"],
    }
    values = yaml.safe_load((tmp_path / "out" / "values.yaml").read_text())
    assert values["edition"] == "enterprise"
    assert values["airbyteUrl"] == "https://airbyte.example.com"
    assert values["enterprise"] == {
        "secretName": "airbyte-config-secrets",
        "licenseKeySecretKey": "AIRBYTE_LICENSE_KEY",
    }
    # Job pods go where the chart's Role lets the launcher start them.
    assert values["workloads"]["namespace"] == "airbyte"
    assert values["secretsManager"]["awsSecretManager"]["tags"] == [
        {"key": "team", "value": "data"}
    ]


def test_values_overrides_are_merged_last(tmp_path: Path) -> None:
    answers = af.answers(directory=tmp_path)
    answers["values"] = {
        "workloadLauncher": {"replicaCount": 2},
        "workloads": {"namespace": "jobs-elsewhere"},
    }
    path = af.write_answers(tmp_path / "a.yaml", answers)
    assert (
        run(
            "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
        ).returncode
        == 0
    )
    values = yaml.safe_load((tmp_path / "out" / "values.yaml").read_text())
    # Merged with what airbox adds there (the Vault token's settings for the job pods).
    assert values["workloadLauncher"] == {
        "replicaCount": 2,
        "extraEnv": [
            {"name": "VAULT_AUTH_TOKEN_REF_NAME", "value": "airbyte-config-secrets"},
            {"name": "VAULT_AUTH_TOKEN_REF_KEY", "value": "VAULT_AUTH_TOKEN"},
        ],
    }
    assert values["workloads"] == {
        "namespace": "jobs-elsewhere",
        "containerOrchestrator": {"secretName": "airbyte-config-secrets"},
    }


def test_dry_run_without_output_dir_writes_to_the_state_directory(
    tmp_path: Path, isolated: Path
) -> None:
    path = af.write_answers(tmp_path / "a.yaml", af.answers(directory=tmp_path))
    assert run("install", "--answers", str(path), "--dry-run").returncode == 0
    state = isolated / ".airbyte" / "airbox" / "dp1"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert (state / "secrets.yaml").is_file()
    assert stat.S_IMODE((state / "secrets.yaml").stat().st_mode) == 0o600


def test_existing_cluster_dry_run_has_no_kind_steps(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    # An existing cluster needs a storage section (airbox runs a store only in kind).
    path = af.write_answers(tmp_path / "a.yaml", af.answers(directory=tmp_path, st="s3-keys"))
    result = run(
        "install",
        "--answers",
        str(path),
        "--dry-run",
        "--output-dir",
        str(tmp_path / "out"),
        "--kube-context",
        "prod",
        "--kubeconfig",
        str(kubeconfig),
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    argvs = [argv for entry in plan for argv in entry["commands"]]
    assert not any(argv[0] in ("kind", "docker") for argv in argvs)
    helm = next(argv for argv in argvs if argv[0] == "helm" and "upgrade" in argv)
    assert helm[:5] == ["helm", "--kubeconfig", str(kubeconfig), "--kube-context", "prod"]
    assert not (tmp_path / "out" / "kind-config.yaml").exists()


def test_images_to_preload_follow_the_charts_app_version_and_overrides(tmp_path: Path) -> None:
    # A local chart whose appVersion is not its version, and image overrides in values:.
    chart = tmp_path / "airbyte-data-plane"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: airbyte-data-plane\nversion: 1.9.0\nappVersion: 1.9.4\n"
    )
    answers = af.answers("vault", "s3-keys", directory=tmp_path)
    answers["chart"] = {"version": "1.9.0", "source": str(chart)}
    answers["values"] = {
        "image": {"registry": "mirror.example.com"},
        "workloadLauncher": {
            "connectorSidecar": {"image": {"repository": "acme/sidecar", "tag": "5"}}
        },
    }
    result = run(
        "install",
        "--answers",
        str(af.write_answers(tmp_path / "a.yaml", answers)),
        "--dry-run",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    pulls = next(e for e in plan if e["step"] == "images")["commands"]
    assert pulls == [
        ["docker", "pull", "airbyte/workload-launcher:1.9.4"],
        ["docker", "pull", "mirror.example.com/airbyte/workload-init-container:1.9.4"],
        ["docker", "pull", "mirror.example.com/acme/sidecar:5"],
        ["docker", "pull", "mirror.example.com/airbyte/container-orchestrator:1.9.4"],
    ]
    load = next(e for e in plan if e["step"] == "load-images")["commands"][0]
    assert load[-4:] == [argv[2] for argv in pulls]


# ------------------------------------------------------------- storage left out


def _docs(path: Path) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_without_storage_the_store_the_pods_use_is_one_airbox_runs(tmp_path: Path) -> None:
    """The chart's default names http://airbyte-minio-svc.<ns>:9000 (which nothing
    deploys) with minio/minio123; airbox runs its own MinIO and points the chart at it."""
    home = tmp_path / "airbox-home"
    env = airbox_env(AIRBOX_HOME=str(home))
    result = run(
        "install",
        "--answers",
        str(ASSETS / "demo.yaml"),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    values = yaml.safe_load((out / "values.yaml").read_text())
    storage = values["storage"]
    assert storage["type"] == "minio"
    endpoint = storage["minio"]["endpoint"]
    # The endpoint names a Service airbox creates, in the release namespace, on its port.
    docs = _docs(out / "storage.yaml")
    by_kind = {str(d["kind"]): d for d in docs}
    assert set(by_kind) == {"Deployment", "Service", "Job"}
    service = by_kind["Service"]
    meta = service["metadata"]
    assert isinstance(meta, dict)
    port = service["spec"]["ports"][0]["port"]  # type: ignore[index]
    assert endpoint == f"http://{meta['name']}.{meta['namespace']}:{port}"
    assert meta["namespace"] == "airbyte"
    # The Service selects the store's pods.
    deployment = by_kind["Deployment"]
    template = deployment["spec"]["template"]  # type: ignore[index]
    selector = service["spec"]["selector"]  # type: ignore[index]
    assert selector.items() <= template["metadata"]["labels"].items()
    # The Job makes every bucket the chart is given.
    script = " ".join(
        by_kind["Job"]["spec"]["template"]["spec"]["containers"][0][  # type: ignore[index]
            "command"
        ]
    )
    for bucket in set(storage["bucket"].values()):
        assert f"store/{bucket}" in script
    # Credentials: generated for this install, in the Secret, referenced by key; never
    # the chart's well-known defaults, and never in values or the store's manifests.
    secret = yaml.safe_load((out / "secrets.yaml").read_text())["stringData"]
    key_id, key = secret["AWS_ACCESS_KEY_ID"], secret["AWS_SECRET_ACCESS_KEY"]
    assert len(key) >= 32 and key_id not in ("", "minio") and key != "minio123"
    assert storage["minio"]["accessKeyIdSecretKey"] == "AWS_ACCESS_KEY_ID"
    assert storage["minio"]["secretAccessKeySecretKey"] == "AWS_SECRET_ACCESS_KEY"
    assert storage["secretName"] == "airbyte-config-secrets"
    everything = "".join(
        (out / name).read_text()
        for name in ("values.yaml", "storage.yaml", "kind-config.yaml", "plan.json")
    )
    assert "minio123" not in everything and "minio123" not in (out / "secrets.yaml").read_text()
    assert key not in everything and key not in result.stdout + result.stderr
    for doc in (deployment, by_kind["Job"]):
        for container in doc["spec"]["template"]["spec"]["containers"]:  # type: ignore[index]
            for env_var in container["env"]:
                ref = env_var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "airbyte-config-secrets" and ref["key"] in secret
    # Its image is pinned (by digest on the host) and preloaded with the others.
    image = template["spec"]["containers"][0]["image"]
    assert image == versions.MINIO_IMAGE
    plan = json.loads((out / "plan.json").read_text())
    commands = {e["step"]: e["commands"] for e in plan}
    assert ["docker", "pull", versions.MINIO_IMAGE_PINNED] in commands["images"]
    assert "@sha256:" in versions.MINIO_IMAGE_PINNED
    assert versions.MINIO_IMAGE in commands["load-images"][0]
    steps = [e["step"] for e in plan]
    assert steps.index("secret") < steps.index("storage") < steps.index("release")
    # Its data lives in a host directory the kind node mounts where the pod reads it.
    node = yaml.safe_load((out / "kind-config.yaml").read_text())["nodes"][0]
    [mount] = node["extraMounts"]
    assert mount["hostPath"] == str(home / "demo-dp" / "storage")
    volume = template["spec"]["volumes"][0]
    assert volume["hostPath"]["path"] == mount["containerPath"]
    # Nothing was touched: the credentials of a dry run are not kept anywhere.
    assert not home.exists()
    again = run(
        "install",
        "--answers",
        str(ASSETS / "demo.yaml"),
        "--dry-run",
        "--output-dir",
        "out2",
        cwd=tmp_path,
        env=env,
    )
    assert again.returncode == 0, again.stderr
    other = yaml.safe_load((tmp_path / "out2" / "secrets.yaml").read_text())["stringData"]
    assert other["AWS_SECRET_ACCESS_KEY"] != key


@pytest.mark.parametrize("where", ["enterprise", "existing-cluster"])
def test_without_storage_where_no_local_store_serves_is_refused(tmp_path: Path, where: str) -> None:
    answers = af.answers(
        directory=tmp_path, edition="enterprise" if where == "enterprise" else "cloud"
    )
    args = ["--kube-context", "somewhere"] if where == "existing-cluster" else []
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", "out", *args, cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stdout + result.stderr
    if where == "enterprise":
        assert "storage: is required with a self-managed (enterprise) control plane" in text
        assert "reads each sync's logs" in text
    else:
        assert "storage: is required when installing into an existing cluster" in text
    assert not (tmp_path / "out").exists()


def test_an_existing_s3_compatible_store_by_its_endpoint(tmp_path: Path) -> None:
    answers = af.answers(directory=tmp_path)
    answers["storage"] = {
        "type": "minio",
        "bucket": "logs",
        "minio": {
            "endpoint": "http://minio.internal:9000",
            "accessKeyId": "onprem-key-0001",
            "secretAccessKey": "onprem-secret-0001",
        },
    }
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    values = yaml.safe_load((out / "values.yaml").read_text())["storage"]
    assert values["type"] == "minio"
    assert values["minio"]["endpoint"] == "http://minio.internal:9000"
    assert values["bucket"]["log"] == "logs"
    secret = yaml.safe_load((out / "secrets.yaml").read_text())["stringData"]
    assert secret["AWS_ACCESS_KEY_ID"] == "onprem-key-0001"
    assert secret["AWS_SECRET_ACCESS_KEY"] == "onprem-secret-0001"
    # airbox runs no store of its own then, and mounts nothing into the node.
    assert not (out / "storage.yaml").exists()
    assert "extraMounts" not in yaml.safe_load((out / "kind-config.yaml").read_text())["nodes"][0]
    assert "onprem-secret-0001" not in (out / "values.yaml").read_text()
    assert "minio123" not in (out / "values.yaml").read_text()


# ------------------------------------------- a Google service account key given as JSON


def _key_answers(tmp_path: Path, key: object, *, storage: bool) -> Path:
    data = af.answers("google", "gcs" if storage else "default", directory=tmp_path)
    data["secretsManager"]["googleSecretManager"]["credentialsJson"] = key
    if storage:
        data["storage"]["gcs"]["credentialsJson"] = key
    return af.write_answers(tmp_path / "key-inline.yaml", data)


@pytest.mark.parametrize("form", ["mapping", "text from a variable"])
def test_credentials_json_given_as_the_key_itself_works_and_is_never_echoed(
    tmp_path: Path, form: str
) -> None:
    key = json.loads(af.service_account_file(tmp_path).read_text())
    text = json.dumps(key)
    env = airbox_env(GSA_KEY_JSON=text)
    value: object = key if form == "mapping" else "${GSA_KEY_JSON}"
    answers = _key_answers(tmp_path, value, storage=True)
    result = run(
        "install",
        "--answers",
        str(answers),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    secret = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    # The Secret holds the key itself, for the secrets manager and for the storage.
    assert json.loads(secret["SECRET_STORE_GCP_CREDENTIALS"]) == key
    assert json.loads(secret["GOOGLE_APPLICATION_CREDENTIALS_JSON"]) == key
    shown = result.stdout + result.stderr + (tmp_path / "out" / "values.yaml").read_text()
    shown += (tmp_path / "out" / "plan.json").read_text()
    for field in (af.SECRETS["gsa_private_key"], key["client_email"]):
        assert field not in shown


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"type": "authorized_user"}, "is not a service account key"),
        ({"private_key": None}, "lacks private_key"),
        ({"client_email": ""}, "lacks client_email"),
    ],
)
def test_a_bad_key_given_as_json_is_named_not_echoed(
    tmp_path: Path, broken: dict[str, object], problem: str
) -> None:
    key = json.loads(af.service_account_file(tmp_path).read_text())
    key.update(broken)
    answers = _key_answers(tmp_path, "${GSA_KEY_JSON}", storage=False)
    result = run(
        "install",
        "--answers",
        str(answers),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
        env=airbox_env(GSA_KEY_JSON=json.dumps(key)),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "secretsManager.googleSecretManager.credentialsJson: the service account key "
        f"given as JSON {problem}"
    ) in result.stderr
    assert "File name too long" not in result.stderr
    assert af.SECRETS["gsa_private_key"] not in result.stdout + result.stderr
    assert "airbyte@my-project" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_generated_files_say_what_they_are_and_where_the_secrets_live(tmp_path: Path) -> None:
    result = run(
        "install",
        "--answers",
        str(ASSETS / "demo.yaml"),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    heads = {
        name: (out / name).read_text().split("\n---\n")[0].split("\n")[:2]
        for name in ("values.yaml", "secrets.yaml", "kind-config.yaml", "storage.yaml")
    }
    for name, head in heads.items():
        assert head[0].startswith("# "), (name, head)
    joined = {name: " ".join(line.lstrip("# ") for line in head) for name, head in heads.items()}
    assert "Helm values of data plane demo-dp" in joined["values.yaml"]
    assert "the Secret airbyte-config-secrets (secrets.yaml)" in joined["values.yaml"]
    assert "Keep this file private" in joined["secrets.yaml"]
    assert "kind cluster airbox-demo-dp" in joined["kind-config.yaml"]
    assert "the Secret airbyte-config-secrets" in joined["storage.yaml"]
    # The placeholder that reads like a credential says what it is.
    values = (out / "values.yaml").read_text().splitlines()
    at = next(
        i for i, line in enumerate(values) if line.strip().startswith("accessKeyId: (in Secret")
    )
    assert values[at - 1].strip().startswith("# Not the keys (they are in the Secret)")
    # No YAML anchors/aliases where a value repeats (the store's labels).
    storage = (out / "storage.yaml").read_text()
    assert "&id0" not in storage and "*id0" not in storage
    # Still what the tools read: the same data as before.
    assert yaml.safe_load((out / "values.yaml").read_text())["storage"]["type"] == "minio"
