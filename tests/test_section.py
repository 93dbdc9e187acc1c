"""The secrets manager and storage sections: checked and built in one pass, from their rows.

``Settings.parse`` gives the settings or every problem (what ``install`` and the prompts
use); ``Settings.from_answers`` (saved settings) builds the same settings through the same
parse. A storage type's bucket naming rule is a row of its table like its fields'.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airbox.config.answers import schema_problems
from airbox.config.settings import STORAGES, Settings, bucket_problem, field_problem, validate
from airbox.errors import Problem
from tests.answers_factory import SECRETS_MANAGERS, answers

ALL_USES = ("log", "state", "workloadOutput", "activityPayload")


@pytest.mark.parametrize("sm", SECRETS_MANAGERS)
@pytest.mark.parametrize("st", ["default", "s3-keys", "s3-instance-profile", "gcs", "azure"])
def test_parse_builds_the_settings_from_answers_builds(tmp_path: Path, sm: str, st: str) -> None:
    a = answers(sm, st, directory=tmp_path)
    assert Settings.parse(a) == (Settings.from_answers(a), [])


def test_parse_gives_every_problem_and_no_settings(tmp_path: Path) -> None:
    a = answers("vault", "s3-keys", directory=tmp_path)
    a["storage"]["bucket"] = {"log": "Acme_Airbyte", "stat": "x"}
    a["secretsManager"]["vault"]["address"] = "ftp://vault"
    settings, problems = Settings.parse(a)
    assert settings is None
    assert problems == validate(a)
    assert [p.field for p in problems] == [
        "secretsManager.vault.address",
        "storage.bucket.stat",
        "storage.bucket.log",
    ]


def test_a_storage_keeps_the_bucket_of_each_use(tmp_path: Path) -> None:
    a = answers("vault", "s3-keys", directory=tmp_path)
    a["storage"]["bucket"] = {"state": "state-bucket", "log": "log-bucket"}
    settings, problems = Settings.parse(a)
    assert problems == []
    assert settings is not None and settings.storage is not None
    assert dict(settings.storage.buckets or {}) == {
        "log": "log-bucket",
        "state": "state-bucket",
        "workloadOutput": "state-bucket",
        "activityPayload": "state-bucket",
    }
    assert settings.secrets_manager.buckets is None


def test_each_storage_types_bucket_rule_is_its_row() -> None:
    assert {t: s.bucket.kind if s.bucket else None for t, s in STORAGES.items()} == {
        "s3": "s3-bucket",
        "gcs": "gcs-bucket",
        "azure": "azure-container",
        "minio": None,
    }
    s3 = STORAGES["s3"].bucket
    assert s3 is not None
    assert field_problem(s3, "Acme_Airbyte") == bucket_problem("s3", "Acme_Airbyte")
    assert bucket_problem("s3", "Acme_Airbyte") == (
        "'Acme_Airbyte' is not a valid name",
        "S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting and ending "
        "with a letter or digit",
    )
    assert bucket_problem("gcs", "goog-data") is not None
    assert bucket_problem("azure", "a--b") is not None
    # A store of the user's own names its buckets as it likes.
    assert bucket_problem("minio", "Acme_Airbyte") is None
    assert bucket_problem("s3", "acme-airbyte") is None


def test_a_bucket_of_neither_form_is_refused_in_the_schemas_own_words() -> None:
    problems = schema_problems({"storage": {"type": "s3", "bucket": ["a", "b"]}})
    assert Problem("storage.bucket", "must be a bucket name or a mapping of uses to names") in (
        problems
    )


def test_saved_settings_without_a_secrets_manager_or_with_an_unknown_type_cannot_be_built(
    tmp_path: Path,
) -> None:
    a = answers("vault", "s3-keys", directory=tmp_path)
    for broken in (
        {k: v for k, v in a.items() if k != "secretsManager"},
        {**a, "secretsManager": {"type": "KEYRING"}},
        {**a, "storage": {**a["storage"], "type": "ftp"}},
        {**a, "storage": {**a["storage"], "s3": "not a mapping"}},
    ):
        with pytest.raises(KeyError):
            Settings.from_answers(broken)
    # Not refused for what may have changed since it was checked (a key file moved).
    gone = answers("google", "gcs", directory=tmp_path)
    (tmp_path / "sa.json").unlink()
    assert Settings.parse(gone)[0] is None
    assert Settings.from_answers(gone).storage is not None
