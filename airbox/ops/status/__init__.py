"""``airbox status``: is the data plane healthy, and if not, why and what to do next.

``probes`` gathers the facts, all at once (Docker, kubectl, helm, the Airbyte API; a
probe that fails becomes a finding, never a failure of status); ``checks`` (and
``ahead``, the checks that look ahead) turns them into findings through a table of
functions; ``report`` types the ``--json`` document and describes its shape; ``render``
prints it; ``command`` is what the CLI calls.
"""

from __future__ import annotations

from airbox.ops.status.checks import CHECK_IDS
from airbox.ops.status.command import not_installed_report, status_command, status_report
from airbox.ops.status.probes import DockerView, Outcome, Probes, run_probes
from airbox.ops.status.render import render
from airbox.ops.status.report import Check, verdict

__all__ = [
    "CHECK_IDS",
    "Check",
    "DockerView",
    "Outcome",
    "Probes",
    "not_installed_report",
    "render",
    "run_probes",
    "status_command",
    "status_report",
    "verdict",
]
