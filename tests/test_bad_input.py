"""Bad input: exit 2, a message naming the field and the fix, and nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import answers_factory as af
from tests.test_dry_run import run


def _mutate(data: dict[str, Any], case: str, tmp_path: Path) -> dict[str, Any]:
    if case == "bad-name":
        data["name"] = "My_Data_Plane"
    elif case == "long-name":
        data["name"] = "a" * 43
    elif case == "bad-url":
        data["controlPlane"] = {"edition": "enterprise", "url": "http://airbyte.example.com"}
        data["licenseKey"] = "license-key-1234"
    elif case == "missing-credential":
        del data["secretsManager"]["vault"]["authToken"]
    elif case == "unknown-secrets-manager":
        data["secretsManager"]["type"] = "KEEPASS"
    elif case == "unreadable-credentials-file":
        data["secretsManager"] = af.secrets_manager("google", tmp_path / "missing.json")
    elif case == "not-a-service-account":
        bad = tmp_path / "bad.json"
        bad.write_text('{"type": "authorized_user"}')
        data["secretsManager"] = af.secrets_manager("google", bad)
    elif case == "unset-var":
        data["dataPlane"]["clientSecret"] = "${NOT_SET_ANYWHERE}"
    elif case == "unknown-key":
        data["secretManager"] = {}
    elif case == "no-credentials":
        del data["dataPlane"]
    elif case == "unpassable-tag":
        data["secretsManager"] = af.secrets_manager("azure-key-vault", tmp_path / "sa.json")
        data["secretsManager"]["azureKeyVault"]["tags"] = {"team": "data,ops"}
    return data


CASES = {
    # case: (field named in the message, words of the fix)
    "bad-name": ("name", "lowercase"),
    "long-name": ("name", "at most 42"),
    "bad-url": ("controlPlane.url", "https://"),
    "missing-credential": ("secretsManager.vault.authToken", "is required"),
    "unknown-secrets-manager": ("secretsManager.type", "AWS_SECRET_MANAGER"),
    "unreadable-credentials-file": (
        "secretsManager.googleSecretManager.credentialsJson",
        "does not exist",
    ),
    "not-a-service-account": (
        "secretsManager.googleSecretManager.credentialsJson",
        "service account",
    ),
    "unset-var": ("dataPlane.clientSecret", "NOT_SET_ANYWHERE"),
    "unknown-key": ("secretManager", "is not a known setting"),
    "no-credentials": ("dataPlane", "AIRBYTE_CLIENT_ID"),
    "unpassable-tag": ("secretsManager.azureKeyVault.tags", "without ','"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_names_the_field_and_writes_nothing(
    tmp_path: Path, isolated: Path, case: str
) -> None:
    data = _mutate(af.answers(directory=tmp_path), case, tmp_path)
    path = af.write_answers(tmp_path / "a.yaml", data)
    for extra in (["--dry-run", "--output-dir", str(tmp_path / "out")], ["--yes"]):
        result = run("install", "--answers", str(path), *extra)
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        field, fix = CASES[case]
        assert f"{field}:" in result.stderr
        assert fix in result.stderr
        assert "nothing was changed" in result.stderr
        assert not (tmp_path / "out").exists()
        assert not (isolated / ".airbyte").exists()
        assert af.find_secrets(result.stdout + result.stderr) == []


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("name: dp1\nsecretsManager:\n  type: VAULT\n   vault: [\n")
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert "malformed YAML at line" in result.stderr
    assert str(path) in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_answers_file(tmp_path: Path) -> None:
    result = run("install", "--answers", str(tmp_path / "nope.yaml"), "--yes")
    assert result.returncode == 2
    assert "--answers: file" in result.stderr and "does not exist" in result.stderr


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    data = af.answers(directory=tmp_path)
    data["name"] = "Bad Name"
    data["secretsManager"]["type"] = "NOPE"
    data["storage"] = {"type": "s3", "s3": {"region": "mars-1"}}
    path = af.write_answers(tmp_path / "a.yaml", data)
    result = run("install", "--answers", str(path), "--yes")
    assert result.returncode == 2
    for field in (
        "name:",
        "secretsManager.type:",
        "storage.s3.region:",
        "storage.s3.accessKeyId:",
        "storage.bucket:",
    ):
        assert field in result.stderr, field


def test_yes_without_answers_lists_what_is_missing(tmp_path: Path) -> None:
    result = run("install", "--yes")
    assert result.returncode == 2
    for field in ("name:", "dataPlane:", "secretsManager.type:"):
        assert field in result.stderr


def test_secret_looking_override_is_refused(tmp_path: Path) -> None:
    data = af.answers(directory=tmp_path)
    data["values"] = {"dataPlane": {"clientSecret": "inline-secret-value"}}
    path = af.write_answers(tmp_path / "a.yaml", data)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert "values.dataPlane.clientSecret:" in result.stderr
    assert "inline-secret-value" not in result.stderr
