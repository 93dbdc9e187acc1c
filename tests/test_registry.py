"""A private registry or mirror (answers ``images``): every image the data plane runs comes
from it, pods pull with a Secret airbox creates, and the kind node knows how to reach it.

Rendered on the real airbyte-data-plane chart (as tests/test_chart_contract.py does) and
run through the real airbox executable for what a user sees.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox import versions
from airbox.config import chart as chartnames
from airbox.config.settings import Settings, validate
from airbox.render import chartcheck, manifests
from tests import answers_factory as af
from tests.helpers import airbox_bin, airbox_env
from tests.test_chart_contract import generated, launcher_env, pinned, render

__all__ = ["pinned"]  # the module-scoped fixture of the real chart

REGISTRY = "registry.corp.example:5443/airbyte-mirror"
HOST = "registry.corp.example:5443"
USER = "mirror-reader"
PASSWORD = "registry-password-6e5d4c3b2a19"
AUTH = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# Every image the launcher sets for its job pods (chart _workloadLauncher.tpl).
JOB_IMAGE_ENVS = (
    "CONTAINER_ORCHESTRATOR_IMAGE",
    "CONNECTOR_SIDECAR_IMAGE",
    "WORKLOAD_INIT_IMAGE",
    "CONNECTOR_PROFILER_IMAGE",
)


def ca_file(directory: Path) -> Path:
    path = directory / "corp-ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n")
    return path


def with_registry(tmp_path: Path, st: str = "default", **images: Any) -> dict[str, Any]:
    answers = af.answers("vault", st, directory=tmp_path)
    answers["images"] = {
        "registry": REGISTRY,
        "pullSecret": {"username": USER, "password": PASSWORD},
        **images,
    }
    return answers


@pytest.mark.parametrize("st", ["default", "s3-keys"])
def test_the_real_chart_runs_every_image_from_the_registry(
    pinned: Any, tmp_path: Path, st: str
) -> None:
    answers = with_registry(tmp_path, st)
    assert validate(answers) == []
    settings = Settings.from_answers(answers)
    _, secret, values = generated(settings)
    docs = render(pinned, values, settings.release, settings.namespace)
    assert chartcheck.pod_problems(docs, secret) == []
    images = chartcheck.images(docs)
    # The launcher and its job pods' images, each at its Docker Hub name under the
    # registry (the launcher's own image is not prefixed by the chart's image.registry).
    assert sorted(images) == sorted(
        f"{REGISTRY}/{name}:{versions.CHART_VERSION}"
        for name in (
            "airbyte/workload-launcher",
            "airbyte/container-orchestrator",
            "airbyte/connector-sidecar",
            "airbyte/workload-init-container",
        )
    )
    # What airbox preloads is what the chart runs.
    assert chartnames.images(values, versions.CHART_VERSION) == images
    env = launcher_env(docs)
    assert [env[var].split("/airbyte/")[0] for var in JOB_IMAGE_ENVS] == [REGISTRY] * 4
    # Every container the chart renders, whatever its kind (Deployment, hooks, tests).
    assert {c.spec["image"].split("/airbyte/")[0] for c in chartcheck.containers(docs)} == {
        REGISTRY
    }
    assert env["JOB_KUBE_CONNECTOR_IMAGE_REGISTRY"] == REGISTRY
    # The launcher splits this on ',' into its job pods' pull secrets: exactly airbox's
    # (the chart alone renders "map[name:...],", which names no Secret).
    assert [s for s in env["JOB_KUBE_MAIN_CONTAINER_IMAGE_PULL_SECRET"].split(",") if s] == [
        manifests.PULL_SECRET_NAME
    ]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["imagePullSecrets"] == [
        {"name": manifests.PULL_SECRET_NAME}
    ]
    # Nothing of the credentials in what Helm keeps.
    assert PASSWORD not in yaml.safe_dump(values) + yaml.safe_dump_all(docs)
    assert AUTH not in yaml.safe_dump_all(docs)


def test_the_local_object_store_comes_from_the_registry(tmp_path: Path) -> None:
    settings = Settings.from_answers(with_registry(tmp_path))
    for doc in manifests.local_store_manifests(settings):
        spec = chartcheck._pod_spec(doc)
        if spec is None:
            continue
        assert [c["image"] for c in spec["containers"]] == [
            f"{REGISTRY}/minio/minio:{versions.MINIO_TAG}"
        ]
        assert spec["imagePullSecrets"] == [{"name": manifests.PULL_SECRET_NAME}]


def test_the_pull_secret_holds_exactly_the_registry_credentials(tmp_path: Path) -> None:
    settings = Settings.from_answers(with_registry(tmp_path))
    secret = manifests.pull_secret_manifest(settings)
    assert secret is not None
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == manifests.PULL_SECRET_NAME
    assert secret["metadata"]["namespace"] == settings.namespace
    assert json.loads(secret["stringData"][".dockerconfigjson"]) == {
        "auths": {HOST: {"username": USER, "password": PASSWORD, "auth": AUTH}}
    }


def test_a_docker_config_is_used_as_given(tmp_path: Path) -> None:
    config = json.dumps({"auths": {HOST: {"auth": AUTH}}})
    answers = with_registry(tmp_path, pullSecret={"dockerConfigJson": config})
    assert validate(answers) == []
    secret = manifests.pull_secret_manifest(Settings.from_answers(answers))
    assert secret is not None
    assert secret["stringData"] == {".dockerconfigjson": config}


def test_without_credentials_there_is_no_pull_secret(pinned: Any, tmp_path: Path) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["images"] = {"registry": REGISTRY}
    settings = Settings.from_answers(answers)
    assert manifests.pull_secret_manifest(settings) is None
    _, _, values = generated(settings)
    docs = render(pinned, values, settings.release, settings.namespace)
    assert "imagePullSecrets" not in values
    env = launcher_env(docs)
    assert env["JOB_KUBE_CONNECTOR_IMAGE_REGISTRY"] == REGISTRY
    assert env["JOB_KUBE_MAIN_CONTAINER_IMAGE_PULL_SECRET"] == ""


def test_without_images_nothing_changes(tmp_path: Path) -> None:
    settings = Settings.from_answers(af.answers("vault", "default", directory=tmp_path))
    values = manifests.helm_values(settings)
    assert "image" not in values and "imagePullSecrets" not in values
    env = {e["name"] for e in values.get("workloadLauncher", {}).get("extraEnv", [])}
    assert not env & {manifests.CONNECTOR_REGISTRY_ENV, manifests.JOB_PULL_SECRET_ENV}
    assert "containerdConfigPatches" not in manifests.kind_config(settings)
    assert manifests.pull_secret_manifest(settings) is None


NODE_DIR = f"/etc/containerd/certs.d/{HOST}"


def test_the_kind_node_trusts_the_registrys_ca(tmp_path: Path) -> None:
    ca = ca_file(tmp_path)
    settings = Settings.from_answers(with_registry(tmp_path, caFile=str(ca)))
    images = settings.images
    assert images is not None
    # containerd (kind >= v0.20) reads registries from hosts.toml files under config_path.
    assert manifests.registry_hosts_toml(images) == (
        f'server = "https://{HOST}"\n\n[host."https://{HOST}"]\n'
        f'  capabilities = ["pull", "resolve"]\n  ca = "{NODE_DIR}/ca.crt"\n'
    )
    config = manifests.kind_config(
        settings, registry_hosts="/state/registry-hosts.toml", registry_ca="/state/registry-ca.crt"
    )
    assert config["containerdConfigPatches"] == [
        '[plugins."io.containerd.grpc.v1.cri".registry]\n'
        '  config_path = "/etc/containerd/certs.d"\n'
    ]
    assert config["nodes"][0]["extraMounts"] == [
        {
            "hostPath": "/state/registry-hosts.toml",
            "containerPath": f"{NODE_DIR}/hosts.toml",
            "readOnly": True,
        },
        {
            "hostPath": "/state/registry-ca.crt",
            "containerPath": f"{NODE_DIR}/ca.crt",
            "readOnly": True,
        },
    ]


@pytest.mark.parametrize("cgroup_v1", [False, True])
def test_the_node_image_is_pulled_from_the_registry_by_digest_and_kind_given_its_tag(
    tmp_path: Path, cgroup_v1: bool
) -> None:
    from airbox.ops import install

    pin = versions.node_image(cgroup_v1=cgroup_v1)
    name, _, digest = pin.partition("@")
    settings = Settings.from_answers(with_registry(tmp_path))
    assert install.pulls_node(settings)
    # kind finds the tag in Docker (a mirror's pull records only the mirror's digest).
    assert install.node_pull(settings, cgroup_v1) == (f"{REGISTRY}/kindest/node@{digest}", name)
    assert manifests.kind_config(settings, cgroup_v1=cgroup_v1)["nodes"][0]["image"] == name
    # Without a registry: kind pulls the pinned reference itself.
    public = Settings.from_answers(af.answers("vault", "default", directory=tmp_path))
    assert not install.pulls_node(public)
    assert manifests.kind_config(public, cgroup_v1=cgroup_v1)["nodes"][0]["image"] == pin


def test_plain_http_only_when_insecure(tmp_path: Path) -> None:
    plain = Settings.from_answers(with_registry(tmp_path, insecure=True)).images
    tls = Settings.from_answers(with_registry(tmp_path)).images
    assert plain is not None and tls is not None
    assert manifests.registry_hosts_toml(plain) == (
        f'server = "http://{HOST}"\n\n[host."http://{HOST}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )
    assert manifests.registry_hosts_toml(tls) == (
        f'server = "https://{HOST}"\n\n[host."https://{HOST}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )


def test_every_images_problem_at_once(tmp_path: Path) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["images"] = {
        "registry": "https://registry.corp.example",
        "insecure": "yes",
        "caFile": str(tmp_path / "missing.pem"),
        "mirror": 1,
        "pullSecret": {"username": USER, "token": "x"},
    }
    problems = {p.field: p.message for p in validate(answers)}
    assert set(problems) == {
        "images.registry",
        "images.insecure",
        "images.caFile",
        "images.mirror",
        "images.pullSecret.token",
        "images.pullSecret.password",
    }
    answers["images"] = {
        "registry": REGISTRY,
        "caFile": str(ca_file(tmp_path)),
        "insecure": True,
        "pullSecret": {"dockerConfigJson": "{not json " + PASSWORD},
    }
    problems = {p.field: p.message for p in validate(answers)}
    assert set(problems) == {"images.insecure", "images.pullSecret.dockerConfigJson"}
    assert PASSWORD not in " ".join(problems.values())


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=airbox_env(**env),
        cwd=cwd,
        timeout=60,
    )


def test_a_dry_run_keeps_the_registry_password_in_the_0600_secret_files(tmp_path: Path) -> None:
    answers = with_registry(tmp_path, caFile=str(ca_file(tmp_path)))
    answers["images"]["pullSecret"]["password"] = "${REGISTRY_PASSWORD}"
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install",
        "--answers",
        str(path),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
        REGISTRY_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert "pull-secret.yaml" in {p.name for p in out.iterdir()}
    pull = yaml.safe_load((out / "pull-secret.yaml").read_text())
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(pull["stringData"][".dockerconfigjson"])["auths"][HOST]["password"] == (
        PASSWORD
    )
    for file in out.iterdir():
        text = file.read_text()
        if PASSWORD in text or AUTH in text:
            assert file.name == "pull-secret.yaml"
            assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert PASSWORD not in result.stdout + result.stderr
    assert AUTH not in result.stdout + result.stderr
    values = yaml.safe_load((out / "values.yaml").read_text())
    assert values["image"]["registry"] == REGISTRY
    kind_config = yaml.safe_load((out / "kind-config.yaml").read_text())
    # The node mounts containerd's settings for the registry and the CA, airbox's copies.
    mounts = {m["containerPath"]: m["hostPath"] for m in kind_config["nodes"][0]["extraMounts"]}
    assert mounts[f"{NODE_DIR}/hosts.toml"] == str(out / "registry-hosts.toml")
    assert mounts[f"{NODE_DIR}/ca.crt"] == str(out / "registry-ca.crt")
    assert f'ca = "{NODE_DIR}/ca.crt"' in (out / "registry-hosts.toml").read_text()
    assert (out / "registry-ca.crt").read_text() == (tmp_path / "corp-ca.pem").read_text()
    # The Secret is applied with the others, on stdin (never on a command line).
    plan = json.loads((out / "plan.json").read_text())
    assert PASSWORD not in json.dumps(plan)


def test_bad_images_answers_exit_2_naming_every_problem(tmp_path: Path) -> None:
    answers = with_registry(tmp_path, insecure="yes")
    answers["images"]["registry"] = "http://registry.corp.example"
    answers["images"]["pullSecret"] = {"username": USER}
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    for field in ("images.registry", "images.insecure", "images.pullSecret.password"):
        assert field in output
    assert not (tmp_path / "out").exists()


def test_the_registry_credentials_are_kept_and_masked_as_secrets(tmp_path: Path) -> None:
    from airbox.config.answers import register_secrets, split_secrets
    from airbox.redact import REDACTOR

    config = json.dumps({"auths": {HOST: {"auth": AUTH}}})
    for pull in ({"username": USER, "password": PASSWORD}, {"dockerConfigJson": config}):
        answers = with_registry(tmp_path, pullSecret=pull)
        public, secret = split_secrets(answers)
        # settings.yaml keeps the registry and the user name; credentials.yaml (0600)
        # the password or the whole Docker config.
        assert public["images"]["registry"] == REGISTRY
        assert PASSWORD not in json.dumps(public) and AUTH not in json.dumps(public)
        assert secret["images"]["pullSecret"] == {k: v for k, v in pull.items() if k != "username"}
        register_secrets(answers)
    for value in (PASSWORD, AUTH, config):
        assert REDACTOR.mask(f"x {value} y") == "x ******** y"


def test_the_host_preloads_the_images_the_pods_name(tmp_path: Path) -> None:
    import io

    from airbox.ops.install import Context, Generated, Options
    from airbox.paths import StateDir
    from airbox.ui import Terminal

    answers = with_registry(tmp_path)
    settings = Settings.from_answers(answers)
    ctx = Context(
        settings,
        answers,
        StateDir(tmp_path / "state"),
        Generated(tmp_path),
        Terminal(out=io.StringIO(), err=io.StringIO(), interactive=False),
        Options(),
    )
    store = [
        c["image"]
        for doc in manifests.local_store_manifests(settings)
        for c in (chartcheck._pod_spec(doc) or {}).get("containers", [])
    ]
    assert set(store) == {f"{REGISTRY}/minio/minio:{versions.MINIO_TAG}"}
    assert ctx.images() == [
        *chartnames.images(manifests.helm_values(settings), versions.CHART_VERSION),
        store[0],
    ]
    assert all(image.startswith(REGISTRY + "/") for image in ctx.images())


def test_the_host_pulls_with_the_pull_secrets_credentials(tmp_path: Path) -> None:
    settings = Settings.from_answers(with_registry(tmp_path))
    assert manifests.registry_auth(settings.images) == {"username": USER, "password": PASSWORD}
    for entry in ({"auth": AUTH}, {"username": USER, "password": PASSWORD}):
        config = json.dumps({"auths": {HOST: entry}})
        given = Settings.from_answers(
            with_registry(tmp_path, pullSecret={"dockerConfigJson": config})
        )
        assert manifests.registry_auth(given.images) == {"username": USER, "password": PASSWORD}
    other = json.dumps({"auths": {"elsewhere.example": {"auth": AUTH}}})
    assert (
        manifests.registry_auth(
            Settings.from_answers(
                with_registry(tmp_path, pullSecret={"dockerConfigJson": other})
            ).images
        )
        is None
    )


def test_a_missing_registry_is_one_problem_with_its_fix(tmp_path: Path) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["images"] = {"pullSecret": {"username": USER, "password": PASSWORD}}
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "1 problem" in result.stdout + result.stderr
    assert "images.registry: is required with images" in result.stdout + result.stderr
