"""Whether job pods get the secrets manager's credentials: verify's and status's checks.

The pods and launcher settings here are the fakes' model of the workload launcher
(tests/fakes/launcher_model.py, written from the platform's EnvVarConfigBeanFactory),
fed with the launcher env airbox's values give on the fake chart — so a change to what
airbox passes, to the model, or to the checks shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airbox import versions
from airbox.config.settings import Settings
from airbox.ops import hydration
from airbox.render import chartcheck, manifests
from tests import answers_factory as af
from tests.fakes import chart_model, launcher_model

S = manifests.SECRET_NAME


def _settings(tmp_path: Path, sm: str, **values: Any) -> Settings:
    answers = af.answers(sm, "s3-keys", directory=tmp_path)
    if values:
        answers["values"] = values
    return Settings.from_answers(answers)


def _launcher_env(settings: Settings) -> dict[str, str]:
    """The launcher's plain settings, as the fake chart renders airbox's values."""
    docs = chart_model.render(
        settings.release,
        settings.namespace,
        manifests.helm_values(settings),
        versions.CHART_VERSION,
    )
    container = next(chartcheck.containers(docs))
    return chartcheck.env_values(container, chartcheck.configmap_data(docs))


def _job_pod(launcher: dict[str, str], name: str = "replication-job-7-attempt-0") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "initContainers": [launcher_model.init_container(launcher)],
            "containers": [{"name": "orchestrator"}],
        },
    }


def _keys(settings: Settings) -> set[str]:
    return set(manifests.secret_data(settings))


NEEDS = {
    "aws-keys": ["AWS_SECRET_MANAGER_ACCESS_KEY_ID", "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"],
    "google": ["SECRET_STORE_GCP_CREDENTIALS"],
    "azure-key-vault": ["AB_AZURE_KEY_VAULT_CLIENT_ID", "AB_AZURE_KEY_VAULT_CLIENT_SECRET"],
    "vault": ["VAULT_AUTH_TOKEN"],
}


@pytest.mark.parametrize("sm", sorted(NEEDS))
def test_job_pods_of_airboxs_launcher_get_every_credential(tmp_path: Path, sm: str) -> None:
    settings = _settings(tmp_path, sm)
    env = _launcher_env(settings)
    pod = _job_pod(env)
    init = {e["name"]: e for e in pod["spec"]["initContainers"][0]["env"]}
    for variable in NEEDS[sm]:
        assert init[variable]["valueFrom"]["secretKeyRef"] == {"name": S, "key": variable}
    section = settings.secrets_manager
    assert hydration.pod_problems(section, pod, _keys(settings)) == []
    assert hydration.launcher_problems(section, env, _keys(settings)) == []
    assert hydration.arrives(section) == (
        ", ".join(NEEDS[sm]) + f" from Secret {S} (keys " + ", ".join(NEEDS[sm]) + ")"
    )


def test_an_instance_profile_needs_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "aws-instance-profile")
    env = _launcher_env(settings)
    pod = _job_pod(env)
    # Nothing handed over: the init container uses the AWS default credentials chain.
    init = {e["name"] for e in pod["spec"]["initContainers"][0]["env"]}
    assert not init & {"AWS_SECRET_MANAGER_ACCESS_KEY_ID", "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"}
    section = settings.secrets_manager
    assert hydration.pod_problems(section, pod, set()) == []
    assert hydration.launcher_problems(section, env, set()) == []
    assert hydration.arrives(section) == (
        "AWS Secrets Manager without keys: job pods use the "
        "default credentials chain (nothing to hand over)"
    )
    check = hydration.PodCheck(section, lambda: pytest.fail("no Secret to read"))
    assert check.check(pod) == [] and check.problems == []


def test_a_blank_setting_leaves_the_job_pod_without_the_credential(tmp_path: Path) -> None:
    # A values: override with the same name wins over airbox's entry.
    settings = _settings(
        tmp_path,
        "vault",
        workloadLauncher={"extraEnv": [{"name": "VAULT_AUTH_TOKEN_REF_NAME", "value": ""}]},
    )
    env = _launcher_env(settings)
    pod = _job_pod(env)
    section = settings.secrets_manager
    assert hydration.pod_problems(section, pod, _keys(settings)) == [
        "job pod replication-job-7-attempt-0: its init container gets no VAULT_AUTH_TOKEN "
        "(HashiCorp Vault), so connector secrets cannot be read (the launcher's "
        "VAULT_AUTH_TOKEN_REF_NAME and VAULT_AUTH_TOKEN_REF_KEY hand it over)"
    ]
    assert hydration.launcher_problems(section, env, _keys(settings)) == [
        "the launcher has no VAULT_AUTH_TOKEN_REF_NAME: job pods would get no "
        "VAULT_AUTH_TOKEN (HashiCorp Vault)"
    ]


def test_azure_needs_the_launchers_own_names(tmp_path: Path) -> None:
    """The chart's AB_AZURE_KEY_CLIENT_ID_REF_NAME-style names are not the launcher's."""
    settings = _settings(tmp_path, "azure-key-vault")
    env = _launcher_env(settings)
    for name in (
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME",
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY",
    ):
        env[name.replace("KEY_VAULT_CLIENT", "KEY_CLIENT").replace("_REF_REF_", "_REF_")] = env.pop(
            name
        )
    section = settings.secrets_manager
    assert hydration.launcher_problems(section, env, _keys(settings)) == [
        "the launcher has no AB_AZURE_KEY_VAULT_CLIENT_ID_REF_NAME or "
        "AB_AZURE_KEY_VAULT_CLIENT_ID_REF_REF_KEY: job pods would get no "
        "AB_AZURE_KEY_VAULT_CLIENT_ID (Azure Key Vault)",
        "the launcher has no AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME or "
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_KEY: job pods would get no "
        "AB_AZURE_KEY_VAULT_CLIENT_SECRET (Azure Key Vault)",
    ]
    pod = _job_pod(env)
    assert [
        p.split(": ", 1)[1].split(",")[0]
        for p in hydration.pod_problems(section, pod, _keys(settings))
    ] == [
        "its init container gets no AB_AZURE_KEY_VAULT_CLIENT_ID (Azure Key Vault)",
        "its init container gets no AB_AZURE_KEY_VAULT_CLIENT_SECRET (Azure Key Vault)",
    ]


def test_a_reference_to_another_secret_or_a_missing_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "aws-keys")
    env = _launcher_env(settings)
    env["AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME"] = "someone-elses"
    env["AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY"] = "AWS_SECRET_KEY_TYPO"
    section = settings.secrets_manager
    keys = _keys(settings)
    assert hydration.launcher_problems(section, env, keys) == [
        "in the job pods, AWS_SECRET_MANAGER_ACCESS_KEY_ID (AWS Secrets Manager) is read "
        f"from Secret 'someone-elses', not airbox's '{S}'",
        "in the job pods, AWS_SECRET_MANAGER_SECRET_ACCESS_KEY (AWS Secrets Manager) is "
        f"read from key 'AWS_SECRET_KEY_TYPO', which Secret {S} lacks",
    ]
    pod = _job_pod(env)
    where = "job pod replication-job-7-attempt-0: "
    assert hydration.pod_problems(section, pod, keys) == [
        where + "AWS_SECRET_MANAGER_ACCESS_KEY_ID (AWS Secrets Manager) is read from "
        f"Secret 'someone-elses', not airbox's '{S}'",
        where + "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY (AWS Secrets Manager) is read from "
        f"key 'AWS_SECRET_KEY_TYPO', which Secret {S} lacks",
    ]
    # A Secret whose keys could not be read: only the references are checked.
    assert len(hydration.pod_problems(section, pod, None)) == 1
    # A key airbox's Secret lost (the cluster's Secret, not airbox's file, is asked).
    keys.discard("AWS_SECRET_MANAGER_ACCESS_KEY_ID")
    env["AWS_SECRET_MANAGER_ACCESS_KEY_ID_REF_NAME"] = S
    env["AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY"] = "AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"
    assert hydration.pod_problems(section, _job_pod(env), keys) == [
        where + "AWS_SECRET_MANAGER_ACCESS_KEY_ID (AWS Secrets Manager) is read from key "
        f"'AWS_SECRET_MANAGER_ACCESS_KEY_ID', which Secret {S} lacks"
    ]


def test_a_plain_value_or_no_init_container(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "vault")
    section = settings.secrets_manager
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [
                {
                    "name": "init",
                    "env": [{"name": "VAULT_AUTH_TOKEN", "value": "vaultAuthTokenForTest"}],
                }
            ]
        },
    }
    assert hydration.pod_problems(section, pod, _keys(settings)) == [
        "job pod p: its init container's VAULT_AUTH_TOKEN (HashiCorp Vault) is not read "
        "from a Secret"
    ]
    bare = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]}}
    assert hydration.pod_problems(section, bare, _keys(settings))[0].startswith(
        "job pod p: its init container gets no VAULT_AUTH_TOKEN"
    )


def test_each_pod_is_checked_once_and_the_secret_read_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "vault")
    reads: list[int] = []

    def read() -> set[str]:
        reads.append(1)
        return _keys(settings)

    check = hydration.PodCheck(settings.secrets_manager, read)
    pod = _job_pod(_launcher_env(settings))
    assert check.check(pod) == [
        "job pod replication-job-7-attempt-0: its init container gets VAULT_AUTH_TOKEN from "
        f"Secret {S} (keys VAULT_AUTH_TOKEN)"
    ]
    assert check.check(pod) == []
    broken = _job_pod({}, name="replication-job-7-attempt-1")
    [problem] = check.check(broken)
    assert "gets no VAULT_AUTH_TOKEN" in problem
    assert check.problems == [problem] and len(reads) == 1
