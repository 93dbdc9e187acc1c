"""Interactive questions for whatever the other sources left out.

Only what is missing is asked; choices are lists, input is checked as it is typed,
secrets are hidden, defaults are shown. ``Prompter`` wraps questionary so tests can
drive it through prompt_toolkit's pipe input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airbox.config.answers import get_path, set_path
from airbox.config.settings import (
    MAX_NAME_LENGTH,
    SECRETS_MANAGERS,
    STORAGES,
    FieldSpec,
    TypeSpec,
    is_dns_label,
    load_service_account,
    url_problem,
)

Validator = Callable[[str], "bool | str"]


class Prompter:
    """questionary, with optional prompt_toolkit input/output (for tests)."""

    def __init__(
        self,
        *,
        input: Any = None,
        output: Any = None,
        before_each: Callable[[], None] | None = None,
    ) -> None:
        # before_each: called as each question opens (tests type its keys then).
        self._before = before_each or (lambda: None)
        self._io: dict[str, Any] = {}
        if input is not None:
            self._io["input"] = input
        if output is not None:
            self._io["output"] = output

    def text(self, message: str, *, default: str = "", validate: Validator | None = None) -> str:
        import questionary

        self._before()
        answer = questionary.text(
            message, default=default, validate=validate, **self._io
        ).unsafe_ask()
        return str(answer).strip()

    def password(self, message: str, *, validate: Validator | None = None) -> str:
        import questionary

        self._before()
        return str(questionary.password(message, validate=validate, **self._io).unsafe_ask())

    def select(
        self, message: str, choices: Sequence[tuple[str, str]], *, default: str | None = None
    ) -> str:
        """``choices``: (value, label) pairs; returns the chosen value."""
        import questionary

        self._before()
        items = [questionary.Choice(title=label, value=value) for value, label in choices]
        chosen = next((c for c in items if c.value == default), None)
        answer = questionary.select(
            message, choices=items, default=chosen, use_shortcuts=False, **self._io
        ).unsafe_ask()
        return str(answer)

    def autocomplete(
        self, message: str, choices: Sequence[str], *, validate: Validator | None = None
    ) -> str:
        """Free text with completion from ``choices`` (a filterable list)."""
        import questionary

        self._before()
        answer = questionary.autocomplete(
            message, choices=list(choices), validate=validate, match_middle=True, **self._io
        ).unsafe_ask()
        return str(answer).strip()

    def checkbox(self, message: str, choices: Sequence[tuple[str, str, bool]]) -> list[str]:
        """``choices``: (value, label, checked) triples; returns the checked values."""
        import questionary

        self._before()
        items = [questionary.Choice(title=label, value=value, checked=checked)
                 for value, label, checked in choices]
        answer = questionary.checkbox(message, choices=items, **self._io).unsafe_ask()
        return [str(value) for value in answer or []]

    def confirm(self, message: str, *, default: bool = False) -> bool:
        import questionary

        self._before()
        return bool(questionary.confirm(message, default=default, **self._io).unsafe_ask())


# --------------------------------------------------------------------------- checks


def _required(value: str) -> bool | str:
    return True if value.strip() else "a value is required"


def _name_check(value: str) -> bool | str:
    if is_dns_label(value, MAX_NAME_LENGTH):
        return True
    return (f"lowercase letters, digits and '-', at most {MAX_NAME_LENGTH}, "
            "starting and ending with a letter or digit")


def _url_check(allow_http: str) -> Validator:
    def check(value: str) -> bool | str:
        problem = url_problem(value.strip(), allow_http=allow_http)
        return True if problem is None else problem

    return check


def _json_file_check(value: str) -> bool | str:
    _, problem = load_service_account(value.strip())
    return True if problem is None else problem


def _field_check(fspec: FieldSpec) -> Validator:
    if fspec.kind == "url":
        return _url_check("any")
    if fspec.kind == "json-file":
        return _json_file_check
    if fspec.kind == "aws-region":
        import re

        def region(value: str) -> bool | str:
            ok = re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", value.strip())
            return True if ok else "an AWS region such as us-west-2"

        return region
    return _required


# ----------------------------------------------------------------------------- flow


def _missing(answers: dict[str, Any], *path: str) -> bool:
    return get_path(answers, path) in (None, "", {})


def fill_missing(
    answers: dict[str, Any], prompter: Prompter, *, interview: bool = True
) -> dict[str, Any]:
    """Ask for every required answer that is still missing, in a natural order.

    ``interview``: also ask the choices that have a default (control plane, storage).
    Off when an answers file was given: leaving them out of it chose the defaults.
    """
    if _missing(answers, "name"):
        set_path(answers, ("name",), prompter.text(
            "Data plane name", default="data-plane-1", validate=_name_check))

    if interview and _missing(answers, "controlPlane", "edition") and _missing(
        answers, "controlPlane", "url"
    ):
        edition = prompter.select(
            "Control plane",
            [("cloud", "Airbyte Cloud (Enterprise Flex)"),
             ("enterprise", "Self-managed Airbyte Enterprise")],
            default="cloud",
        )
        set_path(answers, ("controlPlane", "edition"), edition)
    edition = get_path(answers, ("controlPlane", "edition")) or "cloud"
    if edition == "enterprise" and _missing(answers, "controlPlane", "url"):
        set_path(answers, ("controlPlane", "url"), prompter.text(
            "Airbyte URL (e.g. https://airbyte.example.com)", validate=_url_check("loopback")))

    has_dp = not _missing(answers, "dataPlane", "clientId")
    has_reg = not _missing(answers, "registration", "clientId")
    if not has_dp and not has_reg:
        mode = prompter.select(
            "Data plane credentials",
            [("register", "Register a new data plane (Airbyte application client id/secret)"),
             ("existing", "Use an already registered data plane's client id/secret")],
            default="register",
        )
        root = "registration" if mode == "register" else "dataPlane"
        what = "Airbyte application" if mode == "register" else "Data plane"
        set_path(answers, (root, "clientId"),
                 prompter.text(f"{what} client id", validate=_required))
        set_path(answers, (root, "clientSecret"),
                 prompter.password(f"{what} client secret", validate=_required))
    for root in ("dataPlane", "registration"):
        if not _missing(answers, root, "clientId") and _missing(answers, root, "clientSecret"):
            set_path(answers, (root, "clientSecret"),
                     prompter.password(f"{root} client secret", validate=_required))

    if edition == "enterprise" and _missing(answers, "licenseKey"):
        set_path(answers, ("licenseKey",),
                 prompter.password("Airbyte license key", validate=_required))

    if _missing(answers, "secretsManager", "type"):
        sm_type = prompter.select(
            "Secrets manager (must match the control plane's)",
            [(key, spec.label) for key, spec in SECRETS_MANAGERS.items()],
            default="AWS_SECRET_MANAGER",
        )
        set_path(answers, ("secretsManager", "type"), sm_type)
    sm_type = get_path(answers, ("secretsManager", "type"))
    if sm_type in SECRETS_MANAGERS:
        _fill_section(answers, "secretsManager", SECRETS_MANAGERS[sm_type], prompter)

    if interview and "storage" not in answers:
        st_type = prompter.select(
            "Storage for logs and state",
            [("", "The chart's default")] + [(k, s.label) for k, s in STORAGES.items()],
            default="",
        )
        if st_type:
            set_path(answers, ("storage", "type"), st_type)
    st_type = get_path(answers, ("storage", "type"))
    if st_type in STORAGES:
        if _missing(answers, "storage", "bucket"):
            set_path(answers, ("storage", "bucket"),
                     prompter.text("Bucket (one for logs, state and workload output)",
                                   validate=_required))
        _fill_section(answers, "storage", STORAGES[st_type], prompter)
    return answers


def _fill_section(answers: dict[str, Any], root: str, spec: TypeSpec, prompter: Prompter) -> None:
    for fspec in spec.fields:
        path = (root, spec.section, fspec.key)
        section = get_path(answers, (root, spec.section)) or {}
        if not _missing(answers, *path):
            continue
        if fspec.kind == "choice" and fspec.default is not None:
            # Choices with a default are asked: they decide which fields follow.
            value = prompter.select(f"{spec.label}: {fspec.label}",
                                    [(c, c) for c in fspec.choices], default=fspec.default)
            set_path(answers, path, value)
            continue
        if not fspec.required or not fspec.applies(section):
            continue
        message = f"{spec.label}: {fspec.label}"
        if fspec.secret and fspec.kind != "json-file":
            value = prompter.password(message, validate=_required)
        else:
            value = prompter.text(message, validate=_field_check(fspec))
        set_path(answers, path, value)
