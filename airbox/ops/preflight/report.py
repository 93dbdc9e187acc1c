"""Preflight outcomes: a verdict per check, the report saved to ``preflight.json``
(its stable JSON shape) and its rendering for the terminal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from airbox import __version__
from airbox.fsutil import PUBLIC_FILE, write_json
from airbox.ops.preflight.facts import Subject
from airbox.paths import StateDir

Outcome = Literal["pass", "warn", "fail", "skip"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "warn", "fail", "skip")
SCHEMA_VERSION = 1


# -------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    finding: str
    fix: str | None = None


def passed(finding: str) -> Verdict:
    return Verdict("pass", finding)


def warned(finding: str, fix: str) -> Verdict:
    return Verdict("warn", finding, fix)


def failed(finding: str, fix: str) -> Verdict:
    return Verdict("fail", finding, fix)


def skipped(finding: str) -> Verdict:
    return Verdict("skip", finding)


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    outcome: Outcome
    finding: str
    fix: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome,
            "finding": self.finding,
            "fix": self.fix,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    subject: Subject
    results: list[Result]
    started_at: str
    seconds: float

    def by_outcome(self, outcome: Outcome) -> list[Result]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def failures(self) -> list[Result]:
        return self.by_outcome("fail")

    @property
    def warnings(self) -> list[Result]:
        return self.by_outcome("warn")

    @property
    def outcome(self) -> Outcome:
        if self.failures:
            return "fail"
        return "warn" if self.warnings else "pass"

    def result(self, check_id: str) -> Result:
        return next(r for r in self.results if r.id == check_id)

    def to_json(self) -> dict[str, Any]:
        """The documented, stable shape of ``preflight.json`` and ``--json``."""
        subject = self.subject
        target: dict[str, Any] = (
            {"type": "kind", "cluster": subject.cluster_name}
            if subject.is_kind
            else {
                "type": "existing",
                "context": subject.kube_context,
                "kubeconfig": subject.kubeconfig,
            }
        )
        return {
            "schemaVersion": SCHEMA_VERSION,
            "airboxVersion": __version__,
            "name": subject.name,
            "target": target,
            "controlPlaneUrl": subject.control_plane_url,
            "startedAt": self.started_at,
            "seconds": round(self.seconds, 3),
            "outcome": self.outcome,
            "counts": {o: len(self.by_outcome(o)) for o in OUTCOMES},
            "checks": [r.to_json() for r in self.results],
        }


def save_report(report: Report, state: StateDir) -> Path:
    # Nothing in a report is secret (URLs, sizes, versions): readable like values.yaml.
    return write_json(state.preflight, report.to_json(), mode=PUBLIC_FILE)


# --------------------------------------------------------------------------- output

SYMBOLS: dict[Outcome, tuple[str, str]] = {
    "pass": ("✓", "32"),
    "warn": ("!", "33"),
    "fail": ("✗", "31"),
    "skip": ("-", "2"),
}


def render(report: Report, *, color: bool = False) -> list[str]:
    """The results as lines: symbol, title, finding, and the fix under each problem."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    subject = report.subject
    where = (
        f"kind cluster {subject.cluster_name}"
        if subject.is_kind and subject.cluster_name
        else "a kind cluster"
        if subject.is_kind
        else f"the existing cluster {subject.kube_context}"
    )
    name = f"data plane {subject.name}" if subject.name else "a data plane"
    lines = [f"Preflight for {name} in {where}, control plane {subject.control_plane_url}"]
    fixes, summary = summarise_dns(report)
    for result in report.results:
        symbol, code = SYMBOLS[result.outcome]
        text = f"{paint(symbol, code)} {result.title} — {result.finding}"
        lines.append(paint(text, "2") if result.outcome == "skip" else text)
        fix = fixes.get(result.id, result.fix) if result.outcome == "fail" else result.fix
        if fix and result.outcome in ("warn", "fail"):
            lines.append(f"    fix: {fix}")
    if summary is not None:
        symbol, code = SYMBOLS["fail"]
        lines.append(f"{paint(symbol, code)} Name resolution — {summary[0]}")
        lines.append(f"    fix: {summary[1]}")
    lines.append(f"{counts_text(report, skipped=True)} ({report.seconds:.1f}s)")
    return lines


def failure_details(report: Report) -> list[str]:
    fixes, summary = summarise_dns(report)
    details = [
        f"{r.title} [{r.id}]: {r.finding}" + (f" — fix: {fixes[r.id]}" if fixes.get(r.id) else "")
        for r in report.failures
    ]
    if summary is not None:
        details.append(f"{summary[0]} — fix: {summary[1]}")
    return details


def counts_text(report: Report, *, skipped: bool = False) -> str:
    """ "3 passed, 1 warning, 2 failed" (and the skipped ones when asked)."""
    counts = {o: len(report.by_outcome(o)) for o in OUTCOMES}
    warnings = "warning" if counts["warn"] == 1 else "warnings"
    text = f"{counts['pass']} passed, {counts['warn']} {warnings}, {counts['fail']} failed"
    return text + (f", {counts['skip']} skipped" if skipped else "")


# How a failure's fix says a host does not resolve (checks._egress_fix writes it).
DNS_FIX = "check DNS (/etc/resolv.conf) or, behind a proxy, set HTTPS_PROXY"
_DNS_SEGMENT = re.compile(r"this machine cannot resolve (\S+): " + re.escape(DNS_FIX))
_SEE_BELOW = "fix name resolution (below)"


def summarise_dns(report: Report) -> tuple[dict[str, str | None], tuple[str, str] | None]:
    """One cause for many failures: when two or more hosts do not resolve, the failures'
    fixes drop the repeated DNS advice (None when nothing else is left), and the one
    summary (finding, fix) names every host: a user reads one problem, not four."""
    fixes: dict[str, str | None] = {r.id: r.fix for r in report.failures}
    hosts: list[str] = []
    for result in report.failures:
        for host in _DNS_SEGMENT.findall(result.fix or ""):
            if host not in hosts:
                hosts.append(host)
    if len(hosts) < 2:
        return fixes, None
    either = _SEE_BELOW + ", or "
    for result in report.failures:
        fix = _DNS_SEGMENT.sub(_SEE_BELOW, result.fix or "")
        parts = fix.split("; ")
        if len(parts) > 1 and all(part.startswith(either) for part in parts):
            # "fix DNS, or install kind; fix DNS, or install helm": say the first once.
            fix = either + "; ".join(part[len(either) :] for part in parts)
        fixes[result.id] = None if fix == _SEE_BELOW else fix
    return fixes, (
        f"this machine resolves none of {', '.join(hosts)}: DNS or outbound "
        "traffic is blocked (one cause for the failures above)",
        f"{DNS_FIX}; the README's Network egress lists every host airbox needs",
    )
