"""What airbox generates runs on the real airbyte-data-plane chart, not just renders.

The chart archives are Airbyte's (ELv2) and are not part of this repository: every
developer and CI run has them in ``../shared/charts/`` beside the project (or wherever
``AIRBOX_TEST_CHARTS`` points; a worktree one folder deeper looks one level up). They
are rendered with Helm's own Go template engine through ``helm-python-sdk`` (a test
dependency), so no helm binary is needed. Without
the folder (someone else's clone) these tests skip saying so; in CI (``CI`` set) a
missing folder is a failure, never a silent skip.

Checked for every secrets manager × storage × edition, and for release names with and
without the chart's name in them: every ``secretKeyRef``/``configMapKeyRef`` resolves
to a key that exists, every credentials file an env var names is mounted from a Secret
key that exists (in the launcher and in the job pods it starts), the Deployment airbox
addresses is the one the chart renders, and the images airbox preloads are the ones
the chart runs. tests/fakes/chart_model.py (the fake helm's model) is checked against
the same renders.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox import versions
from airbox.cluster import commands
from airbox.config import chart as chartnames
from airbox.config.settings import Settings, validate
from airbox.render import chartcheck, manifests
from tests import answers_factory as af
from tests.fakes import chart_model, launcher_model

ROOT = Path(__file__).resolve().parent.parent
# ../shared/charts beside the project; a git worktree kept one folder deeper (as in
# <dir>/wt/<branch>) finds the same folder one level up.
CHARTS = Path(
    os.environ.get("AIRBOX_TEST_CHARTS")
    or next(
        (
            p
            for p in (ROOT.parent / "shared" / "charts", ROOT.parent.parent / "shared" / "charts")
            if p.is_dir()
        ),
        ROOT.parent / "shared" / "charts",
    )
)
PINNED = CHARTS / f"airbyte-data-plane-{versions.CHART_VERSION}.tgz"
PREVIOUS = CHARTS / "airbyte-data-plane-1.8.0.tgz"

if not PINNED.is_file():
    if os.environ.get("CI"):
        raise RuntimeError(
            f"CI must render the real chart, but {PINNED} is missing "
            "(a copy of shared/ belongs beside the clone)"
        )
    pytest.skip(
        f"the real chart archives are not at {CHARTS} (set AIRBOX_TEST_CHARTS to "
        "the folder holding airbyte-data-plane-*.tgz)",
        allow_module_level=True,
    )

import helm_python  # noqa: E402  (a test dependency; only needed once the charts are here)


@pytest.fixture(scope="module")
def pinned() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(PINNED) as loaded:
        yield loaded


def render(
    chart: helm_python.Chart,
    values: dict[str, Any],
    release: str = "dp1",
    namespace: str = "airbyte",
) -> list[dict[str, Any]]:
    rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    return [
        doc
        for text in rendered.values()
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict)
    ]


def settings_for(
    tmp_path: Path,
    sm: str = "vault",
    st: str = "s3-keys",
    *,
    edition: str = "cloud",
    name: str = "dp1",
    **extra: Any,
) -> Settings:
    answers = af.answers(sm, st, directory=tmp_path, edition=edition, name=name)
    answers.update(extra)
    return Settings.from_answers(answers)


LOCAL_CREDENTIALS = ("airbox-test-store-id", "test-store-secret-0123456789abcdef")


def generated(settings: Settings) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    # Without a storage section airbox runs the store, with credentials of this install.
    local = LOCAL_CREDENTIALS if settings.runs_local_store else None
    data = manifests.secret_data(settings, local_credentials=local)
    return data, manifests.secret_manifest(settings, data), manifests.helm_values(settings)


def launcher_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    container = next(c for c in chartcheck.containers(docs) if c.workload.startswith("Deploy"))
    return chartcheck.env_values(container, chartcheck.configmap_data(docs))


# ------------------------------------------------------------------ every configuration


@pytest.mark.parametrize("release", ["dp1", "airbyte-data-plane-eu"])
@pytest.mark.parametrize("edition", ["cloud", "enterprise"])
@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_every_configuration_starts_on_the_real_chart(
    pinned: helm_python.Chart, tmp_path: Path, edition: str, sm: str, st: str, release: str
) -> None:
    answers = af.answers(sm, st, directory=tmp_path, edition=edition, name=release)
    if st == "default" and edition == "enterprise":
        # A self-managed control plane reads the job logs from its own storage: a store
        # inside the VM cannot serve, and validation says so before anything happens.
        assert [p.field for p in validate(answers)] == ["storage"]
        return
    settings = Settings.from_answers(answers)
    _, secret, values = generated(settings)
    docs = render(pinned, values, settings.release, settings.namespace)
    assert chartcheck.pod_problems(docs, secret) == []
    assert chartcheck.deployments(docs) == [commands.deployment_name(settings)]
    # Credentials come from our Secret, never the chart's own (whose values are empty,
    # or for MinIO a placeholder instead of the chart's well-known default).
    assert {ref.secret for ref in chartcheck.secret_refs(docs)} == {manifests.SECRET_NAME}
    assert "minio123" not in yaml.safe_dump_all(docs)
    env = launcher_env(docs)
    if st == "default":
        assert_store_is_one_airbox_runs(settings, env)
    # The launcher starts job pods in the namespace its Role covers.
    assert env["WORKLOADS_NAMESPACE"] == settings.namespace
    assert env["AIRBYTE_EDITION"] == edition
    # The images airbox preloads are the ones the chart runs.
    assert chartcheck.images(docs) == chartnames.images(values, versions.CHART_VERSION)
    # No secret value in anything Helm stores (values, its own Secret, the ConfigMap).
    assert af.find_secrets(yaml.safe_dump(values)) == []
    assert af.find_secrets(yaml.safe_dump_all(docs)) == []


def assert_store_is_one_airbox_runs(settings: Settings, env: dict[str, str]) -> None:
    """The MinIO endpoint the chart gives the launcher (and, through it, the job pods)
    names a Service airbox creates, in its namespace, on its port."""
    from urllib.parse import urlsplit

    assert env["STORAGE_TYPE"] == "minio"
    endpoint = urlsplit(env["MINIO_ENDPOINT"])
    host = str(endpoint.hostname)
    service_name, _, namespace = host.partition(".")
    services = {
        (d["metadata"]["name"], d["metadata"]["namespace"]): d
        for d in manifests.local_store_manifests(settings)
        if d["kind"] == "Service"
    }
    assert (service_name, namespace) in services, (host, list(services))
    ports = [p["port"] for p in services[(service_name, namespace)]["spec"]["ports"]]
    assert endpoint.port in ports
    # Every bucket the chart is given is one the store's Job makes.
    job = next(d for d in manifests.local_store_manifests(settings) if d["kind"] == "Job")
    script = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    for key in ("LOG", "STATE", "WORKLOAD_OUTPUT", "ACTIVITY_PAYLOAD"):
        assert f"store/{env['STORAGE_BUCKET_' + key]}" in script


@pytest.mark.parametrize("release", ["dp1", "airbyte-data-plane-eu"])
@pytest.mark.parametrize("namespace", ["airbyte", "data-plane"])
def test_the_minio_endpoint_names_a_service_airbox_creates(
    pinned: helm_python.Chart, tmp_path: Path, release: str, namespace: str
) -> None:
    settings = settings_for(tmp_path, "vault", "default", name=release, namespace=namespace)
    assert settings.runs_local_store
    _, secret, values = generated(settings)
    docs = render(pinned, values, settings.release, settings.namespace)
    assert chartcheck.pod_problems(docs, secret) == []
    assert_store_is_one_airbox_runs(settings, launcher_env(docs))
    # The store reads its credentials from the same Secret keys as the data plane.
    for doc in manifests.local_store_manifests(settings):
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                refs = [
                    e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
                ]
                assert {(r["name"], r["key"]) for r in refs} == {
                    (manifests.SECRET_NAME, "AWS_ACCESS_KEY_ID"),
                    (manifests.SECRET_NAME, "AWS_SECRET_ACCESS_KEY"),
                }
                assert all(r["key"] in secret["stringData"] for r in refs)


def test_gcs_credentials_are_a_file_in_the_launcher_and_its_job_pods(
    pinned: helm_python.Chart, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, "google", "gcs")
    data, secret, values = generated(settings)
    docs = render(pinned, values)
    path = launcher_env(docs)["GOOGLE_APPLICATION_CREDENTIALS"]
    assert path == "/secrets/gcp-creds/gcp.json"
    # The key file's JSON, under the file's name, in the Secret the pods mount.
    key_file = (tmp_path / "sa.json").read_text()
    assert data["gcp.json"] == key_file
    assert secret["stringData"]["gcp.json"] == key_file
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    mount = next(
        m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/secrets/gcp-creds"
    )
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == manifests.SECRET_NAME
    env = launcher_env(docs)
    assert env["CONTAINER_ORCHESTRATOR_SECRET_NAME"] == manifests.SECRET_NAME
    assert env["CONTAINER_ORCHESTRATOR_SECRET_MOUNT_PATH"] == "/secrets/gcp-creds"
    # Google Secret Manager's credentials are read from the env var itself (the JSON),
    # not from a file: the Secret key is enough.
    assert data["SECRET_STORE_GCP_CREDENTIALS"] == key_file


def test_gcs_without_the_file_is_caught(pinned: helm_python.Chart, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "vault", "gcs")
    data, _, values = generated(settings)
    del data["gcp.json"]
    problems = chartcheck.pod_problems(
        render(pinned, values), manifests.secret_manifest(settings, data)
    )
    assert problems == [
        "Deployment/dp1-airbyte-data-plane container airbyte-data-plane: "
        "GOOGLE_APPLICATION_CREDENTIALS=/secrets/gcp-creds/gcp.json: the Secret "
        "'airbyte-config-secrets' has no key 'gcp.json'",
        "Deployment/dp1-airbyte-data-plane container airbyte-data-plane: the job pods it "
        "starts read /secrets/gcp-creds/gcp.json, but the Secret 'airbyte-config-secrets' "
        "has no key 'gcp.json'",
    ]
    # A values: override that drops the launcher's volume is caught too.
    values["workloadLauncher"]["volumeMounts"] = []
    problems = chartcheck.pod_problems(
        render(pinned, values), manifests.secret_manifest(settings, data)
    )
    assert (
        "Deployment/dp1-airbyte-data-plane container airbyte-data-plane: "
        "GOOGLE_APPLICATION_CREDENTIALS=/secrets/gcp-creds/gcp.json: no volume is mounted "
        "there"
    ) in problems


def test_a_users_extra_volumes_keep_the_credentials_volume(
    pinned: helm_python.Chart, tmp_path: Path
) -> None:
    own = {"name": "certs", "configMap": {"name": "ca"}}
    own_mount = {"name": "certs", "mountPath": "/etc/ssl/extra"}
    settings = settings_for(
        tmp_path,
        "vault",
        "gcs",
        values={"workloadLauncher": {"volumes": [own], "volumeMounts": [own_mount]}},
    )
    _, secret, values = generated(settings)
    pod = next(d for d in render(pinned, values) if d["kind"] == "Deployment")["spec"]["template"][
        "spec"
    ]
    assert [v["name"] for v in pod["volumes"]] == ["certs", "airbox-gcp-creds"]
    assert chartcheck.pod_problems(render(pinned, values), secret) == []


def test_a_missing_secret_key_is_caught(pinned: helm_python.Chart, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "aws-instance-profile", "s3-instance-profile")
    data, _, values = generated(settings)
    # Dropping the empty instance-profile keys is the mistake the chart punishes.
    del data["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]
    missing = chartcheck.unresolved_refs(
        render(pinned, values), manifests.secret_manifest(settings, data)
    )
    assert [ref.key for ref in missing] == ["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]


def test_a_missing_configmap_key_or_envfrom_source_is_caught(
    pinned: helm_python.Chart, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    _, secret, values = generated(settings)
    docs = render(pinned, values)
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    del configmap["data"]["WORKLOADS_NAMESPACE"]
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["envFrom"] = [
        {"secretRef": {"name": "nowhere"}},
        {"configMapRef": {"name": "dp1-airbyte-data-plane-env"}},
    ]
    where = "Deployment/dp1-airbyte-data-plane container airbyte-data-plane"
    assert chartcheck.pod_problems(docs, secret) == [
        f"{where}: env WORKLOADS_NAMESPACE needs key 'WORKLOADS_NAMESPACE' of ConfigMap "
        "'dp1-airbyte-data-plane-env'",
        f"{where}: envFrom needs the Secret 'nowhere', which nothing creates",
    ]


# ------------------------------------------------------------------------- release names


@pytest.mark.parametrize(
    "release",
    [
        "dp1",
        "airbyte-data-plane",
        "airbyte-data-plane-eu",
        "eu-airbyte-data-plane-1",
        "airbyte-data",
        "a" * 42,
    ],
)
def test_the_deployment_airbox_addresses_is_the_one_the_chart_renders(
    pinned: helm_python.Chart, tmp_path: Path, release: str
) -> None:
    settings = settings_for(tmp_path, name=release)
    _, secret, values = generated(settings)
    docs = render(pinned, values, release)
    assert chartcheck.deployments(docs) == [commands.deployment_name(settings)]
    assert chartcheck.pod_problems(docs, secret) == []
    # The fake helm's model names it the same way.
    model = chart_model.render(release, settings.namespace, values, versions.CHART_VERSION)
    assert names(model) == names(docs)


@pytest.mark.parametrize("overrides", [{"fullnameOverride": "launcher"}, {"nameOverride": "dp"}])
def test_name_overrides_in_values_are_followed(
    pinned: helm_python.Chart, tmp_path: Path, overrides: dict[str, str]
) -> None:
    settings = settings_for(tmp_path, values=overrides)
    _, _, values = generated(settings)
    docs = render(pinned, values)
    assert chartcheck.deployments(docs) == [commands.deployment_name(settings)]
    pod_labels = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["metadata"][
        "labels"
    ]
    from airbox.cluster import kube

    selector = dict(
        part.split("=")
        for part in kube.release_selector(settings.release, settings.values).split(",")
    )
    assert selector.items() <= pod_labels.items()


def names(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["kind"] in ("Deployment", "Secret", "ConfigMap")
    }


# -------------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"image": {"tag": "1.8.1-patched"}},
        {"image": {"registry": "mirror.example.com/"}},
        {
            "image": {
                "repository": "mirror.example.com/airbyte/workload-launcher",
                "registry": "mirror.example.com",
                "tag": "dev",
            }
        },
        {
            "workloadLauncher": {
                "containerOrchestrator": {"image": {"repository": "acme/orchestrator", "tag": "7"}}
            }
        },
        {
            "workloadLauncher": {"connectorSidecar": {"image": "acme/sidecar:2"}},
            "image": {"registry": "r.example.com"},
        },
    ],
)
def test_preloaded_images_follow_app_version_and_overrides(
    pinned: helm_python.Chart, tmp_path: Path, overrides: dict[str, Any]
) -> None:
    settings = settings_for(tmp_path, values=overrides)
    _, _, values = generated(settings)
    assert (
        chartnames.app_version(versions.CHART_VERSION, str(PINNED)) == pinned.metadata["appVersion"]
    )
    expected = chartcheck.images(render(pinned, values))
    assert chartnames.images(values, pinned.metadata["appVersion"]) == expected
    assert len(expected) == 4


def test_app_version_is_read_from_a_local_chart(tmp_path: Path) -> None:
    assert chartnames.app_version("1.8.0", str(PREVIOUS)) == "1.8.0"
    assert chartnames.read_app_version(PINNED) == "1.8.1"
    # Unpacked, with an appVersion that differs from the version.
    directory = tmp_path / "airbyte-data-plane"
    directory.mkdir()
    (directory / "Chart.yaml").write_text(
        "apiVersion: v2\nname: airbyte-data-plane\nversion: 1.9.0\nappVersion: 1.9.3\n"
    )
    assert chartnames.app_version("1.9.0", str(directory)) == "1.9.3"
    # From the repository: the pinned chart's appVersion.
    assert chartnames.app_version(versions.CHART_VERSION, None) == "1.8.1"


def test_chart_1_8_0_does_not_render(tmp_path: Path) -> None:
    """1.8.0's secret.yaml includes a template 1.8.0 lacks: it can never be installed,
    which is why airbox pins 1.8.1 (and why no upgrade from 1.8.0 exists to test)."""
    settings = settings_for(tmp_path)
    with (
        helm_python.Chart.load(PREVIOUS) as previous,
        pytest.raises(helm_python.HelmRenderError, match=r"workloadApiServer\.secrets"),
    ):
        previous.render(
            manifests.helm_values(settings), name="dp1", namespace="airbyte", is_install=True
        )


# --------------------------------------------------------------------- what is not read


def test_azure_key_vault_tags_reach_the_launcher(pinned: helm_python.Chart, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "azure-key-vault")
    assert dict(settings.secrets_manager.options["tags"]) == {"team": "data", "env": "prod"}
    _, secret, values = generated(settings)
    # The chart has no value for Azure tags; the launcher reads this env var.
    assert "tags" not in values["secretsManager"]["azureKeyVault"]
    docs = render(pinned, values)
    assert launcher_env(docs)["AB_AZURE_KEY_VAULT_TAGS"] == "team=data,env=prod"
    assert chartcheck.pod_problems(docs, secret) == []


# ----------------------------------------------------------- the fake helm's chart model


@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_the_fake_helms_model_matches_the_real_chart(
    pinned: helm_python.Chart, tmp_path: Path, sm: str, st: str
) -> None:
    settings = settings_for(tmp_path, sm, st, edition="enterprise")
    _, _, values = generated(settings)
    real = render(pinned, values)
    model = chart_model.render(settings.release, settings.namespace, values, versions.CHART_VERSION)

    def wiring(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(ref.env, ref.secret, ref.key) for ref in chartcheck.secret_refs(docs)}

    assert wiring(model) == wiring(real)
    assert names(model) == names(real)
    # What the fakes' job pods are built from (tests/fakes/launcher_model.py): the
    # launcher's settings for the secrets manager and the data plane's credentials.
    read = {
        "SECRET_PERSISTENCE",
        "DATAPLANE_CLIENT_ID_SECRET_NAME",
        "DATAPLANE_CLIENT_ID_SECRET_KEY",
        "DATAPLANE_CLIENT_SECRET_SECRET_NAME",
        "DATAPLANE_CLIENT_SECRET_SECRET_KEY",
        *launcher_model.SECRET_REFS,
        *(s for pair in launcher_model.SECRET_REFS.values() for s in pair),
    }
    model_env, real_env = launcher_env(model), launcher_env(real)
    assert {k: v for k, v in model_env.items() if k in read} == {
        k: v for k, v in real_env.items() if k in read
    }
    assert chartcheck.images(model)[0] == chartcheck.images(real)[0]
    model_secret = next(d for d in model if d["kind"] == "Secret")
    real_secret = next(d for d in real if d["kind"] == "Secret")
    assert set(model_secret["stringData"]) == set(real_secret["stringData"])
    mutated = copy.deepcopy(values)
    mutated["image"] = {"tag": "x"}
    assert (
        chartcheck.images(chart_model.render("dp1", "airbyte", mutated, "1.8.1"))[0]
        == chartcheck.images(render(pinned, mutated))[0]
    )


# ------------------------------------------- secrets-manager credentials in the job pods

# The workload launcher hands the secrets manager's credentials to a job pod's init
# container (the one that hydrates connector secrets) only as secretKeyRefs it builds
# from these settings, each pair naming a Secret and a key. The platform's own names,
# typos included, as airbytehq/airbyte-platform has them:
#   airbyte-workload-launcher/src/main/resources/application.yml (airbyte.secret.store.*:
#     *-ref-name / *-ref-key), read by
#   airbyte-workload-launcher/src/main/kotlin/config/EnvVarConfigBeanFactory.kt
#     (secretPersistenceSecretsEnvMap; the variable names from constants/EnvVarConstants.kt).
# manager -> [(init container variable, Secret-name setting, key setting)]
PLATFORM_REFS: dict[str, list[tuple[str, str, str]]] = {
    "AWS_SECRET_MANAGER": [
        (
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID",
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME",
            "AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_KEY",
        ),
        (
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY",
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_NAME",
            "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY",
        ),
    ],
    "GOOGLE_SECRET_MANAGER": [
        (
            "SECRET_STORE_GCP_CREDENTIALS",
            "SECRET_STORE_GCP_SECRET_NAME",
            "SECRET_STORE_GCP_SECRET_KEY",
        )
    ],
    "VAULT": [("VAULT_AUTH_TOKEN", "VAULT_AUTH_TOKEN_REF_NAME", "VAULT_AUTH_TOKEN_REF_KEY")],
    "AZURE_KEY_VAULT": [
        (
            "AB_AZURE_KEY_VAULT_CLIENT_ID",
            "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME",
            "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY",
        ),
        (
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET",
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME",
            "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY",
        ),
    ],
}
EVERY_REF_SETTING = {name for refs in PLATFORM_REFS.values() for _, n, k in refs for name in (n, k)}
# Each manager's credentials as the answers give them (tests/answers_factory.py).
CREDENTIALS: dict[str, dict[str, str]] = {
    "aws-keys": {
        "AWS_SECRET_MANAGER_ACCESS_KEY_ID": af.SECRETS["sm_access"],
        "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY": af.SECRETS["sm_secret"],
    },
    "aws-instance-profile": {},
    "google": {"SECRET_STORE_GCP_CREDENTIALS": "<the key file>"},
    "vault": {"VAULT_AUTH_TOKEN": af.SECRETS["vault"]},
    "azure-key-vault": {
        "AB_AZURE_KEY_VAULT_CLIENT_ID": af.SECRETS["akv_id"],
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET": af.SECRETS["akv_secret"],
    },
}


def test_airbox_reads_the_launcher_settings_the_platform_names() -> None:
    """The one table in airbox (render/secretrefs.py) is the platform's, name for name,
    and says where it comes from."""
    from airbox.render import secretrefs

    table = {(r.manager, r.variable, r.ref_name, r.ref_key) for r in secretrefs.CREDENTIAL_REFS}
    assert table == {(manager, *row) for manager, rows in PLATFORM_REFS.items() for row in rows}
    assert secretrefs.PLATFORM_SOURCES == (
        "airbyte-workload-launcher/src/main/resources/application.yml",
        "airbyte-workload-launcher/src/main/kotlin/config/EnvVarConfigBeanFactory.kt",
    )
    # The fakes model the launcher from the same names (not from airbox's table).
    assert {v: pair for v, pair in launcher_model.SECRET_REFS.items()} == {
        variable: (name, key) for rows in PLATFORM_REFS.values() for variable, name, key in rows
    }


@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
def test_the_launcher_gets_every_setting_that_hands_credentials_to_job_pods(
    pinned: helm_python.Chart, tmp_path: Path, sm: str
) -> None:
    settings = settings_for(tmp_path, sm, "s3-keys")
    _, secret, values = generated(settings)
    docs = render(pinned, values)
    assert chartcheck.pod_problems(docs, secret) == []
    env = launcher_env(docs)
    expected = CREDENTIALS[sm]
    if "SECRET_STORE_GCP_CREDENTIALS" in expected:
        expected = {"SECRET_STORE_GCP_CREDENTIALS": (tmp_path / "sa.json").read_text()}
    refs = PLATFORM_REFS[settings.secrets_manager.type]
    if not expected:
        # Keyless (an instance profile): nothing is handed over, the AWS default chain
        # applies in the job pod.
        assert EVERY_REF_SETTING.isdisjoint(env), sorted(EVERY_REF_SETTING & set(env))
        return
    for variable, name_setting, key_setting in refs:
        # Each names airbox's Secret and a key in it that holds this very credential.
        assert env[name_setting] == manifests.SECRET_NAME, name_setting
        assert secret["stringData"][env[key_setting]] == expected[variable], key_setting
    # Nothing for another manager.
    ours = {name for _, n, k in refs for name in (n, k)}
    assert (EVERY_REF_SETTING - ours).isdisjoint(env)


@pytest.mark.parametrize(
    ("sm", "st"),
    [
        ("aws-instance-profile", "s3-instance-profile"),
        ("aws-instance-profile", "default"),
        ("vault", "s3-instance-profile"),
    ],
)
def test_with_an_instance_profile_every_reference_resolves_to_a_key_of_airboxs_secret(
    pinned: helm_python.Chart, tmp_path: Path, sm: str, st: str
) -> None:
    """The chart renders the access-key references whatever the authentication type:
    the keys must be in airbox's Secret (empty), or the launcher never starts."""
    settings = settings_for(tmp_path, sm, st)
    _, secret, values = generated(settings)
    docs = render(pinned, values)
    refs = chartcheck.secret_refs(docs)
    assert refs
    for ref in refs:
        assert ref.secret == manifests.SECRET_NAME, ref
        assert ref.key in secret["stringData"], ref.describe()
    # The instance-profile keys are there, and empty: no stray credential.
    empty = (
        {"AWS_SECRET_MANAGER_ACCESS_KEY_ID", "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"}
        if sm.startswith("aws")
        else set()
    )
    if st == "s3-instance-profile":
        empty |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert {k: secret["stringData"][k] for k in empty} == dict.fromkeys(empty, "")
    assert {k for k in empty if k in {r.key for r in refs}} == empty
