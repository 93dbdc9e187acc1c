"""The settings' rules, by value: what validation accepts and refuses, what the model
derives, and which answers are secret (saved only to credentials.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airbox.config.answers import split_secrets
from airbox.config.settings import (
    MAX_NAME_LENGTH,
    Settings,
    default_api_url,
    load_service_account,
    normalize_buckets,
    url_problem,
    validate,
)
from tests.answers_factory import SECRETS, answers


def _paths(data: dict[str, Any]) -> set[str]:
    return {p.field for p in validate(data)}


def _base(tmp_path: Path, sm: str = "vault", st: str = "default", **kw: Any) -> dict[str, Any]:
    return answers(sm, st, directory=tmp_path, **kw)


def test_every_example_answers_set_is_valid(tmp_path: Path) -> None:
    for sm in ("aws-keys", "aws-instance-profile", "google", "azure-key-vault", "vault"):
        for st in ("default", "s3-keys", "s3-instance-profile", "gcs", "azure"):
            assert validate(_base(tmp_path, sm, st)) == [], (sm, st)


# ------------------------------------------------------------------ secret split


def test_the_application_secret_and_every_credential_go_to_credentials_only(tmp_path: Path) -> None:
    a = _base(tmp_path, "aws-keys", "s3-keys", edition="enterprise")
    a["registration"] = {"clientId": "app-client-id-1234", "clientSecret": "app-secret-5678"}
    public, secret = split_secrets(a)
    assert secret == {
        "dataPlane": {"clientId": SECRETS["dp_id"], "clientSecret": SECRETS["dp_secret"]},
        "registration": {"clientSecret": "app-secret-5678"},
        "licenseKey": SECRETS["license"],
        "secretsManager": {
            "awsSecretManager": {
                "accessKeyId": SECRETS["sm_access"],
                "secretAccessKey": SECRETS["sm_secret"],
            }
        },
        "storage": {
            "s3": {"accessKeyId": SECRETS["s3_access"], "secretAccessKey": SECRETS["s3_secret"]}
        },
    }
    text = json.dumps(public)
    for value in (*SECRETS.values(), "app-secret-5678"):
        assert value not in text
    # What is not secret stays in the settings.
    assert public["registration"] == {"clientId": "app-client-id-1234"}
    assert public["storage"]["s3"] == {"region": "us-west-2", "authenticationType": "credentials"}


def test_section_secrets_of_every_type_are_split(tmp_path: Path) -> None:
    for sm, key, value in (
        ("azure-key-vault", "clientSecret", SECRETS["akv_secret"]),
        ("vault", "authToken", SECRETS["vault"]),
    ):
        public, secret = split_secrets(_base(tmp_path, sm))
        section = next(iter(secret["secretsManager"].values()))
        assert section[key] == value
        assert value not in json.dumps(public)
    public, secret = split_secrets(_base(tmp_path, "vault", "azure"))
    assert secret["storage"] == {"azure": {"connectionString": SECRETS["azure_conn"]}}


# -------------------------------------------------------------------------- name


def test_name_length_leaves_room_for_the_node_host_name(tmp_path: Path) -> None:
    assert MAX_NAME_LENGTH == 42
    ok = "a" * 42
    assert len(f"airbox-{ok}-control-plane") == 63
    assert "name" not in _paths(_base(tmp_path, name=ok))
    assert "name" in _paths(_base(tmp_path, name="a" * 43))


@pytest.mark.parametrize("name", ["dp-", "-dp", "Dp1", "dp_1", "dp.1", ""])
def test_names_that_are_not_dns_labels_are_refused(tmp_path: Path, name: str) -> None:
    assert "name" in _paths(_base(tmp_path, name=name))


def test_namespace_defaults_to_airbyte(tmp_path: Path) -> None:
    assert Settings.from_answers(_base(tmp_path)).namespace == "airbyte"
    a = _base(tmp_path)
    a["namespace"] = "Bad_NS"
    assert "namespace" in _paths(a)


# --------------------------------------------------------------------------- urls


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://airbyte.example.com", True),
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:8000", True),
        ("http://airbyte.example.com", False),
        ("http://10.0.0.5:8000", False),
        ("http://192.168.1.10", False),
        ("https://user@airbyte.example.com", False),
        ("https://user:pw@airbyte.example.com", False),
        ("ftp://airbyte.example.com", False),
        ("airbyte.example.com", False),
    ],
)
def test_control_plane_url_rules(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


def test_http_never_and_any() -> None:
    assert url_problem("http://127.0.0.1", allow_http="never") is not None
    assert url_problem("http://vault.internal:8200", allow_http="any") is None


def test_api_url_is_derived_per_edition(tmp_path: Path) -> None:
    assert default_api_url("cloud", "https://cloud.airbyte.com") == "https://api.airbyte.com/v1"
    assert (
        default_api_url("enterprise", "https://ab.example.com/")
        == "https://ab.example.com/api/public/v1"
    )
    s = Settings.from_answers(_base(tmp_path, edition="enterprise"))
    assert s.control_plane.api_url == "https://airbyte.example.com/api/public/v1"


def test_enterprise_needs_a_license_key(tmp_path: Path) -> None:
    a = _base(tmp_path, edition="enterprise")
    del a["licenseKey"]
    assert "licenseKey" in _paths(a)


def test_some_credential_is_required_unless_a_dry_run_says_otherwise(tmp_path: Path) -> None:
    a = _base(tmp_path)
    del a["dataPlane"]
    assert "dataPlane" in _paths(a)
    assert "dataPlane" not in {p.field for p in validate(a, require_credentials=False)}


# ------------------------------------------------------------------------ sections


@pytest.mark.parametrize(
    ("region", "ok"),
    [
        ("us-west-2", True),
        ("eu-central-1", True),
        ("us-gov-west-1", True),
        ("us-west", False),
        ("uswest2", False),
        ("US-WEST-2", False),
        ("moon", False),
    ],
)
def test_aws_region(tmp_path: Path, region: str, ok: bool) -> None:
    a = _base(tmp_path, "aws-keys")
    a["secretsManager"]["awsSecretManager"]["region"] = region
    assert ("secretsManager.awsSecretManager.region" not in _paths(a)) is ok


def test_access_keys_are_required_when_authentication_is_left_to_its_default(
    tmp_path: Path,
) -> None:
    a = _base(tmp_path, "aws-keys")
    section = a["secretsManager"]["awsSecretManager"]
    del section["authenticationType"], section["accessKeyId"], section["secretAccessKey"]
    assert {
        "secretsManager.awsSecretManager.accessKeyId",
        "secretsManager.awsSecretManager.secretAccessKey",
    } <= _paths(a)
    section["authenticationType"] = "instanceProfile"
    assert not any(p.startswith("secretsManager") for p in _paths(a))


def test_a_misspelt_field_is_named(tmp_path: Path) -> None:
    a = _base(tmp_path)
    a["secretsManager"]["vault"]["adress"] = "https://x"
    assert "secretsManager.vault.adress" in _paths(a)


def test_buckets_left_out_fall_back_to_the_first_given() -> None:
    assert normalize_buckets("b") == dict.fromkeys(
        ("log", "state", "workloadOutput", "activityPayload"), "b"
    )
    assert normalize_buckets({"state": "s", "log": "l"}) == {
        "log": "l",
        "state": "s",
        "workloadOutput": "s",
        "activityPayload": "s",
    }


# ----------------------------------------------------------- service account files


def _key_file(tmp_path: Path, **data: Any) -> str:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_service_account_key_file_rules(tmp_path: Path) -> None:
    good = {"type": "service_account", "project_id": "p", "private_key": "k", "client_email": "e@p"}
    content, problem = load_service_account(_key_file(tmp_path, **good))
    assert problem is None and json.loads(content or "") == good
    assert load_service_account(_key_file(tmp_path, **{**good, "type": "user"}))[1]
    missing = {k: v for k, v in good.items() if k != "private_key"}
    _, problem = load_service_account(_key_file(tmp_path, **missing))
    assert problem is not None and "private_key" in problem
    assert load_service_account(str(tmp_path / "nope.json"))[1]
    (tmp_path / "bad.json").write_text("{")
    assert load_service_account(str(tmp_path / "bad.json"))[1]


# -------------------------------------------------------------------- chart, values


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.8.1", True),
        ("1.8.0", True),
        ("2.0.0-rc.1", True),
        ("1.8", False),
        ("1.8.1 x", False),
        ("v1.8.1", False),
        ("latest", False),
    ],
)
def test_chart_version_shape(tmp_path: Path, version: str, ok: bool) -> None:
    a = _base(tmp_path)
    a["chart"] = {"version": version}
    assert ("chart.version" not in _paths(a)) is ok


def test_default_chart_version(tmp_path: Path) -> None:
    assert Settings.from_answers(_base(tmp_path)).chart.version == "1.8.1"


@pytest.mark.parametrize(
    "values",
    [
        {"global": {"auth": {"password": "plain-pass-123"}}},
        {"x": {"apiKey": "abcdefgh12345"}},
        {"env": [{"name": "MY_SECRET", "value": "v-123456789"}]},
    ],
)
def test_a_credential_in_plain_values_is_refused(tmp_path: Path, values: dict[str, Any]) -> None:
    a = _base(tmp_path)
    a["values"] = values
    assert any(p.startswith("values.") for p in _paths(a))


def test_plain_values_and_secret_references_are_accepted(tmp_path: Path) -> None:
    a = _base(tmp_path)
    a["values"] = {
        "workloads": {"namespace": "x"},
        "dataPlane": {"clientSecretSecretKey": "DATAPLANE_CLIENT_SECRET"},
    }
    assert not any(p.startswith("values") for p in _paths(a))


def test_a_service_account_key_given_as_json_is_kept_with_the_secrets(tmp_path: Path) -> None:
    a = answers("google", "gcs", directory=tmp_path)
    path = a["storage"]["gcs"]["credentialsJson"]
    key = json.loads(Path(path).read_text())
    a["secretsManager"]["googleSecretManager"]["credentialsJson"] = key
    public, secret = split_secrets(a)
    assert secret["secretsManager"]["googleSecretManager"]["credentialsJson"] == key
    assert "credentialsJson" not in public["secretsManager"]["googleSecretManager"]
    # A path is no secret: it stays in the settings.
    assert public["storage"]["gcs"]["credentialsJson"] == path
    assert load_service_account(json.dumps(key))[0] == json.dumps(key)
