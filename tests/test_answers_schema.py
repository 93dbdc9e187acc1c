"""The answers' shape is described once.

The per-type part of the schema editors use (``assets/answers.schema.json``: the secrets
manager and storage types, each type's fields, the buckets) is generated from the tables
validation, the prompts and the manifests read (``airbox/config/specs.py``); the sections
written by hand name the same fields as their checks in ``airbox/config/validate.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airbox.config import answers, specs, validate, validate_network
from airbox.config.specs import SECRETS_MANAGERS, STORAGES, FieldSpec, TypeSpec

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "assets" / "answers.schema.json"


def test_the_committed_schema_is_the_one_the_tables_generate() -> None:
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert specs.with_type_schemas(committed) == committed, (
        "assets/answers.schema.json disagrees with airbox/config/specs.py: run "
        "scripts/answers_schema.py"
    )
    # What airbox itself validates with is that file, as packaged.
    assert answers.schema() == committed


def test_the_script_says_whether_the_file_agrees(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "answers_schema.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "agrees with the tables" in result.stdout


def test_a_field_added_to_a_table_reaches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generation follows the table: a new storage type brings its enum value, its fields,
    their kinds' types and the secret's description."""
    extra = TypeSpec(
        "r2",
        "r2",
        "Cloudflare R2",
        (
            FieldSpec("accountId", "Account id"),
            FieldSpec("apiToken", "API token", secret_key="R2_TOKEN", values_ref="tokenSecretKey"),
            FieldSpec("mode", "Mode", kind="choice", choices=("a", "b"), doc="a or b"),
        ),
    )
    monkeypatch.setitem(STORAGES, "r2", extra)
    storage = specs.with_type_schemas(answers.schema())["properties"]["storage"]["properties"]
    assert storage["type"] == {"enum": ["s3", "gcs", "azure", "minio", "r2"]}
    assert storage["r2"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accountId": {"type": "string"},
            "apiToken": {"type": "string", "description": specs.SECRET_DOC},
            "mode": {"enum": ["a", "b"], "description": "a or b"},
        },
    }


def _sample(fspec: FieldSpec) -> Any:
    if fspec.kind == "choice":
        return fspec.choices[0]
    if fspec.kind == "tags":
        return {"team": "data"}
    return "x"


_TYPES = [
    (root, spec)
    for root, table in (("secretsManager", SECRETS_MANAGERS), ("storage", STORAGES))
    for spec in table.values()
]


@pytest.mark.parametrize(("root", "spec"), _TYPES, ids=[s.type for _, s in _TYPES])
def test_schema_and_rules_know_the_same_fields(root: str, spec: TypeSpec) -> None:
    """Every field of a type passes the schema and the section check as a field (its value
    may still be wrong), and a field of neither is refused by both."""
    known = answers.schema()["properties"][root]["properties"][spec.section]["properties"]
    assert list(known) == [f.key for f in spec.fields]
    section = {f.key: _sample(f) for f in spec.fields}
    data = {root: {"type": spec.type, spec.section: {**section, "bogus": "x"}}}
    unknown = [p.field for p in answers.schema_problems(data) if "known setting" in p.message]
    assert unknown == [f"{root}.{spec.section}.bogus"]
    check = (
        validate.secrets_manager_problems if root == "secretsManager" else validate.storage_problems
    )
    not_fields = [p.field for p in check(data) if "is not a field" in p.message]
    assert not_fields == [f"{root}.{spec.section}.bogus"]


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        (("images",), validate_network._IMAGES_KEYS),
        (("images", "pullSecret"), validate_network._PULL_KEYS),
        (("network",), validate_network._NETWORK_KEYS),
        (("storage", "bucket"), specs.BUCKET_KEYS),
    ],
)
def test_hand_written_sections_name_the_fields_their_checks_know(
    path: tuple[str, ...], keys: tuple[str, ...]
) -> None:
    node: dict[str, Any] = answers.schema()
    for key in path:
        node = node["properties"][key]
    if "oneOf" in node:  # a bucket: one name, or a mapping of uses
        node = node["oneOf"][1]
    assert sorted(node["properties"]) == sorted(keys)
