"""Small helpers shared by test modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets"


def airbox_env(**extra: str) -> dict[str, str]:
    """The environment for running the airbox executable as a subprocess."""
    env = dict(os.environ)
    env.update(extra)
    return env


def airbox_bin() -> str:
    return str(Path(sys.executable).with_name("airbox"))
