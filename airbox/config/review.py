"""The review screen: every answer on one screen, secrets masked, any of them editable
(its question asked again, with what it implies) before anything changes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airbox.config.answers import get_path
from airbox.config.interview import Interview
from airbox.config.prompts import CredentialCheck, Prompter
from airbox.config.settings import (
    INLINE_KEY,
    SECRETS_MANAGERS,
    STORAGES,
    inline_service_account,
    key_file_paths,
)

MASK = "********"

# Labels of the answers outside the field tables, for the review screen.
LABELS: dict[tuple[str, ...], str] = {
    ("name",): "Data plane name",
    ("namespace",): "Kubernetes namespace",
    ("controlPlane", "edition"): "Control plane",
    ("controlPlane", "url"): "Airbyte URL",
    ("controlPlane", "apiUrl"): "Airbyte API URL",
    ("registration", "clientId"): "Airbyte application client id",
    ("registration", "clientSecret"): "Airbyte application client secret",
    ("registration", "organizationId"): "Organization id",
    ("registration", "region"): "Region",
    ("dataPlane", "clientId"): "Data plane client id",
    ("dataPlane", "clientSecret"): "Data plane client secret",
    ("licenseKey",): "Airbyte license key",
    ("secretsManager", "type"): "Secrets manager",
    ("storage", "type"): "Storage for logs and state",
    ("storage", "bucket"): "Bucket",
    ("chart", "version"): "Chart version",
    ("chart", "source"): "Chart",
    ("cluster", "kubeContext"): "Existing cluster (kube context)",
    ("cluster", "kubeconfig"): "Kubeconfig",
}
_MASKED = {("registration", "clientSecret"), ("dataPlane", "clientSecret"), ("licenseKey",)}


# The review says values in the questions' words, not the YAML's.
REVIEW_WORDS: dict[tuple[str, str], str] = {
    ("edition", "cloud"): "Airbyte Cloud",
    ("edition", "enterprise"): "Your own Airbyte (self-managed)",
    ("authenticationType", "credentials"): "Access keys",
    ("authenticationType", "instanceProfile"): "This VM's IAM role",
}
# Short names where a type's label is long (the review fits 80 columns).
SHORT_LABELS = {"minio": "S3-compatible store"}


def _short(label: str) -> str:
    """A field label without its example or "(optional...)": the value shows it."""
    import re

    return re.sub(r" \((e\.g\.|optional).*\)$", "", label)


@dataclass(frozen=True)
class Row:
    """One line of the review: the answer's path, its label (indented under its section),
    the value in words (secrets masked), and the label of its "Edit" choice."""

    path: tuple[str, ...]
    label: str
    shown: str
    edit: str


def review_rows(answers: Mapping[str, Any]) -> list[Row]:
    """Every answer, secrets masked, in interview order."""
    rows: list[Row] = []

    def add(path: tuple[str, ...], label: str, masked: bool = False, *, edit: str = "") -> None:
        value = get_path(answers, path)
        if value in (None, "", {}):
            return
        if masked:
            shown = MASK
        elif path in key_file_paths() and inline_service_account(value) is not None:
            shown = INLINE_KEY + " " + MASK
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            shown = REVIEW_WORDS.get((path[-1], str(value)), str(value))
        rows.append(Row(path, label, shown, edit or label.strip()))

    for path, label in LABELS.items():
        if path[0] in ("secretsManager", "storage"):
            if path[1] == "type":
                table = SECRETS_MANAGERS if path[0] == "secretsManager" else STORAGES
                kind = str(get_path(answers, path))
                spec = table.get(kind)
                add(path, label)
                if spec is not None:
                    name = SHORT_LABELS.get(kind, spec.label)
                    rows[-1] = Row(path, label, name, label)
                    if path[0] == "storage":
                        noun = "Container" if kind == "azure" else "Bucket"
                        add(("storage", "bucket"), "  " + noun, edit=noun)
                    for fspec in spec.fields:
                        add(
                            (path[0], spec.section, fspec.key),
                            "  " + _short(fspec.label),
                            fspec.masked,
                            edit=f"{name}: {_short(fspec.label)}",
                        )
            continue
        add(path, label, path in _MASKED)
    if "storage" not in answers:
        rows.append(
            Row(
                ("storage",),
                "Storage for logs and state",
                "none (inside the cluster)",
                "Storage for logs and state",
            )
        )
    return rows


def review(
    answers: dict[str, Any],
    prompter: Prompter,
    *,
    check_credentials: CredentialCheck | None = None,
    interview: bool = True,
    accepted: set[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """Every answer on one screen; "edit" one to ask it again, until the user goes on."""
    accepted = accepted if accepted is not None else set()
    while True:
        rows = review_rows(answers)
        width = max(len(row.label) for row in rows)
        prompter.note("")
        prompter.note("Review the settings (nothing has changed yet):", style="bold")
        for row in rows:
            prompter.note(f"  {row.label.ljust(width)}  {row.shown}", style="")
        choices = [("", "Install with these settings")] + [
            (".".join(row.path), f"Edit: {row.edit}") for row in rows
        ]
        chosen = prompter.select("Install, or edit an answer?", choices, default="")
        if not chosen:
            return answers
        answers = edit(
            answers,
            tuple(chosen.split(".")),
            prompter,
            check_credentials=check_credentials,
            interview=interview,
            accepted=accepted,
        )


def edit(
    answers: dict[str, Any],
    path: tuple[str, ...],
    prompter: Prompter,
    *,
    check_credentials: CredentialCheck | None = None,
    interview: bool = True,
    accepted: set[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """Ask the answer at ``path`` again (the old value as default), then what it implies."""
    before = copy.deepcopy(answers)
    changed = copy.deepcopy(answers)
    parent = get_path(changed, path[:-1]) if len(path) > 1 else changed
    # A choice decides the questions after it: those are asked again too.
    if path in (("secretsManager", "type"), ("storage", "type"), ("storage",)):
        changed.pop(path[0], None)
    elif path == ("controlPlane", "edition"):
        changed.pop("controlPlane", None)
        changed.pop("licenseKey", None)
    elif path[-1] == "clientId" and path[0] in ("dataPlane", "registration"):
        changed.pop(path[0], None)
    elif isinstance(parent, dict):
        parent.pop(path[-1], None)
    keep = dict(before)
    if path[-1] in ("clientSecret",) or path == ("licenseKey",):
        # Editing a secret means typing a new one, not keeping the old.
        keep = copy.deepcopy(before)
        holder = get_path(keep, path[:-1]) if len(path) > 1 else keep
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    # Only the edited choice is asked again, not the other choices with a default.
    choice = path in (("storage",), ("storage", "type"), ("controlPlane", "edition"))
    Interview(
        changed,
        prompter,
        interview and choice,
        keep,
        check_credentials,
        accepted if accepted is not None else set(),
    ).run()
    return changed
