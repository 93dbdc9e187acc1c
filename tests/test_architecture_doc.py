"""ARCHITECTURE.md's layer table names every module of airbox/, in the order of the layers
tests/test_layers.py enforces (the README's older table had lost five ops modules)."""

from __future__ import annotations

import re

from tests.helpers import REPO
from tests.test_layers import LAYERS, PACKAGE

DOC = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")


def _rows() -> dict[str, str]:
    """First cell (`cli/`, `installed.py`, top level) -> the row's text."""
    section = DOC.split("## The layers", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and not set(cells[0]) <= set("-"):
            rows[cells[0].strip("`")] = cells[1]
    rows.pop("layer", None)
    return rows


def _named(text: str) -> set[str]:
    return set(re.findall(r"`([\w./-]+)`", text))


def test_every_module_is_in_its_layers_row() -> None:
    rows = _rows()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
            if not parts:
                continue
        if len(parts) == 1:
            if f"{parts[0]}.py" in rows or f"{parts[0]}/" in rows:
                continue
            if parts[0] not in _named(rows["top level"]):
                missing.append(f"{parts[0]}.py (top level)")
            continue
        row = rows.get(f"{parts[0]}/", "")
        names = _named(row)
        # airbox/ops/status/probes.py: `status/` and `probes` in the `ops/` row.
        wanted = [f"{p}/" for p in parts[1:-1]] + [
            parts[-1] if path.name != "__init__.py" else f"{parts[-1]}/"
        ]
        if not set(wanted) <= names:
            missing.append("/".join(parts) + f" (row {parts[0]}/)")
    assert not missing, f"name these in ARCHITECTURE.md's layer table: {missing}"


def test_the_rows_follow_the_layers_top_down() -> None:
    order = [
        LAYERS[cell.rstrip("/").removesuffix(".py")] if cell != "top level" else 0
        for cell in _rows()
    ]
    assert order == sorted(order, reverse=True)
    assert {c.rstrip("/").removesuffix(".py") for c in _rows()} == {*LAYERS, "top level"}
