"""Every test runs with its own HOME and AIRBOX_HOME and none of the user's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures shared by many test modules (pytest finds them through this import).
from tests.fakes.fixture import fake_k8s  # noqa: F401
from tests.helpers import keys  # noqa: F401
from tests.installer import installer, local_endpoint  # noqa: F401
from tests.leftovers import kill_started_under
from tests.snapshots import installed, installed_plain, templates  # noqa: F401

# Variables that would change what airbox does if they leaked in from the developer's shell.
_SCRUB = (
    "AIRBYTE_CLIENT_ID",
    "AIRBYTE_CLIENT_SECRET",
    "AIRBOX_KIND",
    "AIRBOX_HELM",
    "AIRBOX_KUBECTL",
    "KUBECONFIG",
    "NO_COLOR",
    "DATAPLANE_CLIENT_ID",
    "DATAPLANE_CLIENT_SECRET",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AIRBOX_HOME", str(home / ".airbyte" / "airbox"))
    # Never the real link-local metadata service: a closed local port (not on AWS).
    monkeypatch.setenv("AIRBOX_IMDS_URL", "http://127.0.0.1:9")
    # Nor this machine's firmware: whether the tests run on EC2 changes nothing.
    monkeypatch.setenv("AIRBOX_DMI_DIR", str(tmp_path / "no-dmi"))
    for var in _SCRUB:
        monkeypatch.delenv(var, raising=False)
    from airbox.redact import REDACTOR

    REDACTOR.reset()
    yield home
    REDACTOR.reset()
    # Whatever the test started and left running (an airbox in a session of its own).
    kill_started_under(tmp_path)
