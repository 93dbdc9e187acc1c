"""Every hand-written mutant still applies: its ``original`` text occurs exactly once.

A mutant whose text drifted away from the code is silently not run by ``scripts/mutate.py``
(three did after the round-4 changes); this keeps the list honest at every commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_mutant_applies_exactly_once() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from mutants import MUTANTS
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    drifted = [
        f"{m.module}: {m.description} ({(ROOT / m.path).read_text().count(m.original)}x)"
        for m in MUTANTS
        if (ROOT / m.path).read_text().count(m.original) != 1
    ]
    assert drifted == []
