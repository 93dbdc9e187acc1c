"""Masking of every form a secret takes, by value: what is masked and what is left."""

from __future__ import annotations

import base64
import json

import pytest

from airbox.redact import MASK, REDACTOR, Redactor, is_secret_key, scrub_mapping

SECRET = "s3cr3t-Value-0123"


def test_known_value_and_its_base64_form_are_masked() -> None:
    r = Redactor()
    r.add(SECRET)
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert r.mask(f"a {SECRET} b") == f"a {MASK} b"
    assert r.mask(f"data:\n  KEY: {encoded}\n") == f"data:\n  KEY: {MASK}\n"
    assert r.mask_all(f"x={encoded}") == f"x={MASK}"


def test_short_values_are_not_registered_but_eight_characters_are() -> None:
    r = Redactor()
    r.add("abcdefg", "", None, "stuvwxyz")
    assert r.mask("abcdefg stuvwxyz") == f"abcdefg {MASK}"
    assert "abcdefg" not in r.known()


def test_each_long_line_of_a_multi_line_secret_is_masked_alone() -> None:
    key = {
        "type": "service_account",
        "private_key": "-----BEGIN KEY-----\\nMIIEabcdef",
        "client_email": "svc@proj.iam.gserviceaccount.com",
    }
    text = json.dumps(key, indent=2)
    r = Redactor()
    r.add(text)
    line = '"client_email": "svc@proj.iam.gserviceaccount.com"'
    assert r.mask(f"log: {line}") == f"log: {MASK}"
    # Short lines ("{", "}") stay: they would mask innocent text.
    assert r.mask("{ }") == "{ }"


def test_a_secret_containing_another_is_masked_whole() -> None:
    r = Redactor()
    r.add("abcd-efg", "abcd-efgh-ijkl")
    assert r.mask("v=abcd-efgh-ijkl;") == f"v={MASK};"


def test_mask_all_masks_known_values_that_match_no_pattern() -> None:
    r = Redactor()
    r.add("plainvalue-42")
    assert r.mask_all("the value plainvalue-42 here") == f"the value {MASK} here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.abc-def_123", f"Authorization: Bearer {MASK}"),
        ("authorization: bearer tok/en+x=", f"authorization: bearer {MASK}"),
        ('{"access_token": "abc.def"}', f'{{"access_token": "{MASK}"}}'),
        ("key AKIAABCDEFGHIJKLMNOP used", f"key {MASK} used"),
        ("password=hunter22 user=bob", f"password={MASK} user=bob"),
        ("client_secret: topsecret1", f"client_secret: {MASK}"),
        ('"authToken": "hvs.abcdef"', f'"authToken": "{MASK}"'),
        (
            "AccountName=acct;AccountKey=Zm9vYmFy==;EndpointSuffix=core",
            f"AccountName=acct;AccountKey={MASK};EndpointSuffix=core",
        ),
        (
            "pull https://bob:pa55word@registry.example/x failed",
            f"pull https://bob:{MASK}@registry.example/x failed",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY----- tail",
            f"{MASK} tail",
        ),
    ],
)
def test_credential_shapes_in_foreign_text_are_masked(text: str, expected: str) -> None:
    assert Redactor().mask_all(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/path@v1",  # no user info
        "passwordless login enabled",
        "AKIA is a prefix",
        "clientSecretSecretKey: DATAPLANE_CLIENT_SECRET",  # names a key: not a secret
    ],
)
def test_innocent_text_is_left_alone(text: str) -> None:
    assert Redactor().mask_all(text) == text


def test_mask_argv_masks_known_values_in_each_argument() -> None:
    r = Redactor()
    r.add(SECRET)
    assert r.mask_argv(["helm", f"--set=x={SECRET}", "y"]) == ["helm", f"--set=x={MASK}", "y"]


def test_a_url_password_is_masked_and_detected() -> None:
    from airbox.redact import looks_like_credential

    assert looks_like_credential("https://bob:pa55word@host/x")
    assert not looks_like_credential("https://host/x@v1")


def test_reset_forgets_every_value() -> None:
    r = Redactor()
    r.add(SECRET)
    r.reset()
    assert r.mask(SECRET) == SECRET


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("clientSecret", True),
        ("password", True),
        ("authToken", True),
        ("licenseKey", True),
        ("connectionString", True),
        ("credentialsJson", True),
        ("accessKeyId", True),
        ("private_key", True),
        ("secretsManager", True),
        ("AUTH_TOKEN", True),
        ("tokens", True),
        ("apiKey2", True),
        ("passwordPolicy", True),
        ("tokenizer", False),
        ("TOKENIZER_MODEL", False),
        ("secretary", False),
        ("clientSecretSecretKey", False),
        ("secretName", False),
        ("credentialsSecretKey", False),
        ("clientId", False),
        ("bucket", False),
        ("region", False),
        # The workload launcher's settings naming a Secret and key (typos its own).
        ("VAULT_AUTH_TOKEN_REF_NAME", False),
        ("AWS_SECRET_MANAGER_SECRET_ACCESS_KEY_REF_KEY", False),
        ("AB_AZURE_KEY_VAULT_CLIENT_SECRET_REF_REF_NAME", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_scrub_mapping_masks_secret_keys_at_any_depth_and_keeps_the_rest() -> None:
    data = {
        "dataPlane": {
            "clientSecret": "x1",
            "clientSecretSecretKey": "DATAPLANE_CLIENT_SECRET",
            "clientId": "id-1",
        },
        "vault": {"authToken": "hvs.1", "address": "https://v"},
        "list": [{"password": "p"}, {"name": "n"}],
        "empty": {"secret": ""},
        "none": {"token": None},
    }
    assert scrub_mapping(data) == {
        "dataPlane": {
            "clientSecret": MASK,
            "clientSecretSecretKey": "DATAPLANE_CLIENT_SECRET",
            "clientId": "id-1",
        },
        "vault": {"authToken": MASK, "address": "https://v"},
        "list": [{"password": MASK}, {"name": "n"}],
        "empty": {"secret": ""},
        "none": {"token": None},
    }


def test_the_process_registry_is_one_redactor() -> None:
    REDACTOR.add(SECRET)
    assert REDACTOR.mask(SECRET) == MASK


def test_every_occurrence_of_a_known_value_is_masked() -> None:
    r = Redactor()
    r.add(SECRET)
    assert r.mask(f"{SECRET} then {SECRET}\n{SECRET}") == f"{MASK} then {MASK}\n{MASK}"


def test_a_url_password_without_a_user_name_is_a_credential() -> None:
    from airbox.redact import looks_like_credential

    # A token as the password of an empty user (https://:token@host) still authenticates.
    assert looks_like_credential("https://:ghp0123456789abcdef@git.example/repo.git")
    assert not looks_like_credential("https://git.example/repo.git")


def test_the_password_of_a_url_with_no_user_name_is_masked() -> None:
    assert Redactor().mask_all("connect redis://:hunter2hunter@cache:6379/0 failed") == (
        f"connect redis://:{MASK}@cache:6379/0 failed"
    )


def test_mask_shapes_masks_known_values_and_credential_shapes_but_not_field_names() -> None:
    r = Redactor()
    r.add(SECRET)
    text = (
        f"values.db.password: looks like a credential ({SECRET}); "
        "key AKIAABCDEFGHIJKLMNOP, https://bob:pa55word@host/x"
    )
    assert r.mask_shapes(text) == (
        f"values.db.password: looks like a credential ({MASK}); "
        f"key {MASK}, https://bob:{MASK}@host/x"
    )
