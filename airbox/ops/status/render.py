"""``airbox status`` on a terminal: the verdict first, then one line per check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airbox.ops.status.report import DEGRADED, HEALTHY, NOT_INSTALLED, UNHEALTHY

_SYMBOLS = {"ok": ("✓", "32"), "warn": ("!", "33"), "fail": ("✗", "31"), "skip": ("-", "2")}
_VERDICT_STATE = {HEALTHY: "ok", DEGRADED: "warn", UNHEALTHY: "fail", NOT_INSTALLED: "fail"}


def render(report: Mapping[str, Any], *, color: bool = False) -> list[str]:
    """The report's JSON document (what ``--json`` prints) as lines: the verdict first,
    then one line per check (details and next steps under problems)."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    symbol, code = _SYMBOLS[_VERDICT_STATE[report["verdict"]]]
    lines = [paint(f"{symbol} {report['verdict']}: {report['reason']}", code + ";1")]
    if report.get("next"):
        lines.append(f"  next: {report['next']}")
    checks = report.get("checks") or []
    if checks:
        lines.append("")
        width = max(len(c["id"]) for c in checks)
        for check in checks:
            symbol, code = _SYMBOLS[check["state"]]
            text = f"{check['id'].ljust(width)}  {check['summary']}"
            # A skipped check is dimmed whole; the others colour only their symbol.
            lines.append(
                paint(f"{symbol} {text}", code)
                if check["state"] == "skip"
                else f"{paint(symbol, code)} {text}"
            )
            if check["state"] in ("warn", "fail"):
                lines.extend(f"    {d}" for d in check["details"])
    return lines
