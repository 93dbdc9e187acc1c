"""Every test runs with its own HOME and AIRBOX_HOME and none of the user's settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets"

# Variables that would change what airbox does if they leaked in from the developer's shell.
_SCRUB = ("AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET", "AIRBOX_KIND", "AIRBOX_HELM",
          "AIRBOX_KUBECTL", "KUBECONFIG", "NO_COLOR", "DATAPLANE_CLIENT_ID",
          "DATAPLANE_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AIRBOX_HOME", str(home / ".airbyte" / "airbox"))
    for var in _SCRUB:
        monkeypatch.delenv(var, raising=False)
    from airbox.redact import REDACTOR

    REDACTOR.reset()
    yield home
    REDACTOR.reset()


def airbox_env(**extra: str) -> dict[str, str]:
    """The environment for running the airbox executable as a subprocess."""
    env = dict(os.environ)
    env.update(extra)
    return env


def airbox_bin() -> str:
    return str(Path(sys.executable).with_name("airbox"))
