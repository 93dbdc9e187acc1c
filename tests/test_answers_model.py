"""The typed settings answer the questions every command asks of them, in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from airbox.config.settings import Settings
from airbox.render import manifests
from tests.answers_factory import answers


@pytest.mark.parametrize(("storage", "context", "local"), [
    ("default", None, True),
    ("s3-keys", None, False),
    ("azure", None, False),
    ("s3-keys", "prod", False),
    # Validation refuses it; the model still never claims a store it cannot run.
    ("default", "prod", False),
])
def test_one_predicate_says_whether_airbox_runs_the_object_store(
    tmp_path: Path, storage: str, context: str | None, local: bool,
) -> None:
    """MinIO runs only in the kind cluster airbox makes, and only without a storage
    section; the Helm values point at it exactly then, never at a store nothing deploys."""
    data = answers("vault", storage, directory=tmp_path)
    if context:
        data["cluster"] = {"kubeContext": context}
    settings = Settings.from_answers(data)
    assert settings.runs_local_store is local
    values = manifests.helm_values(settings)
    endpoint = values.get("storage", {}).get("minio", {}).get("endpoint", "")
    assert (manifests.LOCAL_STORE in endpoint) is local, values.get("storage")
