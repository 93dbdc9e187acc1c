"""Interactive questions for whatever the other sources left out.

Only what is missing is asked; choices are lists, input is checked as it is typed,
secrets are hidden, defaults are shown, and each question has one line of help saying
where the value is found. The questions go through ``prompts.Prompter``.

``Interview`` can also walk answers given earlier (``airbox install --reconfigure``,
or the answers kept from an interrupted run) with each one as the default, check
credentials the moment they are typed (``CredentialCheck``, supplied by the layer that
can reach the control plane), and ask again what the final check refused (``reopen``).
The review screen, from which any answer can be edited, is ``review``'s.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airbox.config.answers import get_path, set_path
from airbox.config.prompts import CredentialCheck, Prompter, Validator
from airbox.config.settings import (
    CHOICE_LABELS,
    MAX_NAME_LENGTH,
    SECRETS_MANAGERS,
    STORAGES,
    FieldSpec,
    TypeSpec,
    bucket_problem,
    field_problem,
    is_dns_label,
    load_service_account,
    url_problem,
    validate,
)
from airbox.errors import Problem

# --------------------------------------------------------------------------- checks


def _required(value: str) -> bool | str:
    return True if value.strip() else "a value is required"


def _name_check(value: str) -> bool | str:
    if is_dns_label(value.strip(), MAX_NAME_LENGTH):
        return True
    return (
        f"lowercase letters, digits and '-', at most {MAX_NAME_LENGTH}, "
        "starting and ending with a letter or digit"
    )


def _url_check(allow_http: str) -> Validator:
    def check(value: str) -> bool | str:
        problem = url_problem(value.strip(), allow_http=allow_http)
        return True if problem is None else problem

    return check


def _json_file_check(value: str) -> bool | str:
    _, problem = load_service_account(value.strip())
    return True if problem is None else problem


def _field_check(fspec: FieldSpec, *, optional: bool = False) -> Validator:
    def check(value: str) -> bool | str:
        value = value.strip()
        if not value:
            return True if optional else "a value is required"
        if fspec.kind == "json-file":
            return _json_file_check(value)
        found = field_problem(fspec, value)
        if found is None:
            return True
        message, fix = found
        return f"{message}: {fix}" if fix else message

    return check


def _bucket_check(storage_type: str) -> Validator:
    def check(value: str) -> bool | str:
        value = value.strip()
        if not value:
            return "a value is required"
        found = bucket_problem(storage_type, value)
        return True if found is None else f"{found[0]}: {found[1]}"

    return check


def _keep_or_required(value: str) -> bool | str:
    return True  # an empty answer keeps the value given before


def rule_problem(answers: Mapping[str, Any], path: tuple[str, ...], value: str) -> str | None:
    """What the final check would say about ``value`` at ``path``, given the other answers
    so far: the same rules (length, shape, cross-field) as the answers file, at the
    question. Missing answers elsewhere are not this question's business."""
    trial = copy.deepcopy(dict(answers))
    set_path(trial, path, value)
    where = ".".join(path)
    for problem in validate(trial):
        if problem.missing or not (problem.field == where or problem.field.startswith(where + ".")):
            continue
        message = "it " + problem.message if problem.message.startswith("is ") else problem.message
        return f"{message}: {problem.fix}" if problem.fix else message
    return None


# ----------------------------------------------------------------------------- flow


def _missing(answers: Mapping[str, Any], *path: str) -> bool:
    return get_path(answers, path) in (None, "", {})


WHERE_APPLICATION = (
    "Airbyte > Settings > Applications (User settings on Cloud): create one "
    "and copy its client id and secret"
)
WHERE_DATA_PLANE = (
    "the client id and secret shown when the data plane was registered "
    "(Airbyte's data plane API answer)"
)


@dataclass
class Interview:
    """One pass of questions over ``answers`` (changed in place).

    ``defaults``: earlier answers offered as each question's default (reconfigure,
    answers kept from an interrupted run). ``interview``: also ask the choices that
    have a default (control plane, storage); off when an answers file was given,
    whose leaving them out chose the defaults.
    """

    answers: dict[str, Any]
    prompter: Prompter
    interview: bool = True
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check_credentials: CredentialCheck | None = None
    # Credentials the control plane accepted in this run: not checked twice.
    accepted: set[tuple[str, str, str]] = field(default_factory=set)
    # Choices that are no answer of their own (registered data plane or a new one):
    # kept with the answers of an interrupted run, so the re-run offers them too.
    memo: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers

    def _default(self, *path: str) -> Any:
        value = get_path(self.defaults, path)
        return None if value in (None, "", {}) else value

    def _help(self, text: str) -> None:
        if text:
            self.prompter.note("  " + text)

    def _text(
        self,
        path: tuple[str, ...],
        message: str,
        *,
        validate: Validator,
        where: str = "",
        default: str | None = None,
    ) -> None:
        self._help(where)
        shown = self._default(*path)
        initial = str(shown) if shown is not None else (default or "")
        set_path(
            self.answers,
            path,
            self.prompter.text(message, default=initial, validate=self._ruled(path, validate)),
        )

    def _ruled(
        self, path: tuple[str, ...], first: Validator, *, empty_ok: bool = False
    ) -> Validator:
        """``first``, then the rules every source is held to (``rule_problem``)."""

        def check(value: str) -> bool | str:
            if empty_ok and not value:
                return True
            verdict = first(value)
            if verdict is not True:
                return verdict
            problem = rule_problem(self.answers, path, value.strip())
            return True if problem is None else problem

        return check

    def _secret(
        self,
        path: tuple[str, ...],
        message: str,
        *,
        where: str = "",
        validate: Validator = _required,
    ) -> None:
        self._help(where)
        kept = self._default(*path)
        if kept is not None:
            value = self.prompter.password(
                message + " (Enter keeps the one given before)",
                validate=self._ruled(path, _keep_or_required, empty_ok=True),
            )
            set_path(self.answers, path, value or kept)
            return
        set_path(
            self.answers,
            path,
            self.prompter.password(message, validate=self._ruled(path, validate)),
        )

    def _select(
        self,
        path: tuple[str, ...],
        message: str,
        choices: Sequence[tuple[str, str]],
        default: str,
        where: str = "",
    ) -> str:
        self._help(where)
        shown = self._default(*path)
        values = [value for value, _ in choices]
        chosen = self.prompter.select(
            message, choices, default=str(shown) if shown in values else default
        )
        return chosen

    # --------------------------------------------------------------------- flow

    def run(self) -> dict[str, Any]:
        answers = self.answers
        if _missing(answers, "name"):
            self._text(
                ("name",),
                "Data plane name",
                default="data-plane-1",
                validate=_name_check,
                where="any name you like, e.g. us-west-1-dp: lowercase letters, digits "
                "and '-'; Airbyte shows it in Settings > Data planes",
            )

        if (
            self.interview
            and _missing(answers, "controlPlane", "edition")
            and _missing(answers, "controlPlane", "url")
        ):
            edition = self._select(
                ("controlPlane", "edition"),
                "Where does your Airbyte run?",
                [
                    ("cloud", "Airbyte Cloud (cloud.airbyte.com, Enterprise Flex)"),
                    ("enterprise", "Your own Airbyte (self-managed Enterprise)"),
                ],
                "cloud",
                where="Enterprise Flex customers use Airbyte Cloud",
            )
            set_path(answers, ("controlPlane", "edition"), edition)
        edition = get_path(answers, ("controlPlane", "edition")) or "cloud"
        if edition == "enterprise" and _missing(answers, "controlPlane", "url"):
            self._text(
                ("controlPlane", "url"),
                "Airbyte URL",
                validate=_url_check("loopback"),
                where="the address you open Airbyte at, e.g. https://airbyte.example.com",
            )

        self._credentials()

        if edition == "enterprise" and _missing(answers, "licenseKey"):
            self._secret(
                ("licenseKey",),
                "Airbyte license key",
                where="sent by Airbyte with your Enterprise contract",
            )

        if _missing(answers, "secretsManager", "type"):
            sm_type = self._select(
                ("secretsManager", "type"),
                "Secrets manager",
                [(key, spec.label) for key, spec in SECRETS_MANAGERS.items()],
                "AWS_SECRET_MANAGER",
                where="the one your Airbyte stores connector passwords in; ask your Airbyte "
                "admin (Airbyte Cloud: the one agreed for your Enterprise Flex)",
            )
            set_path(answers, ("secretsManager", "type"), sm_type)
        sm_type = get_path(answers, ("secretsManager", "type"))
        if sm_type in SECRETS_MANAGERS:
            self._section("secretsManager", SECRETS_MANAGERS[sm_type])

        # Required by the rules (a self-managed control plane, an existing cluster): asked
        # even when an answers file left it out, and "None" is not offered.
        required = next((p for p in validate(answers) if p.field == "storage"), None)
        if (self.interview or required) and "storage" not in answers:
            shown = self._default("storage", "type")
            if required is None:
                self._help(
                    "where syncs keep logs and state; without one, inside the "
                    "cluster (fine to try airbox, not for production)"
                )
            else:
                self._help("where syncs keep logs and state — storage " + required.message)
            none = [] if required else [("", "None: keep them inside the cluster")]
            st_type = self.prompter.select(
                "Storage for logs and state",
                none + [(k, s.label) for k, s in STORAGES.items()],
                default=str(shown) if shown in STORAGES else "" if none else "s3",
            )
            if st_type:
                set_path(answers, ("storage", "type"), st_type)
        st_type = get_path(answers, ("storage", "type"))
        if st_type in STORAGES:
            if _missing(answers, "storage", "bucket"):
                noun = "Container" if st_type == "azure" else "Bucket"
                self._text(
                    ("storage", "bucket"),
                    f"{noun} (one for logs, state and workload output)",
                    validate=_bucket_check(str(st_type)),
                    where=f"an existing {noun.lower()}'s name, as the "
                    f"{STORAGES[st_type].label} console lists it",
                )
            self._same_credentials(str(sm_type), str(st_type))
            self._section("storage", STORAGES[st_type])
        return answers

    def _credentials(self) -> None:
        answers = self.answers
        has_dp = not _missing(answers, "dataPlane", "clientId")
        has_reg = not _missing(answers, "registration", "clientId")
        if has_dp or has_reg:
            self._drop_stray("registration" if has_dp else "dataPlane")
        else:
            earlier = self._default("credentials")
            if earlier not in ("existing", "register"):
                earlier = "existing" if self._default("dataPlane", "clientId") else "register"
            mode = self._select(
                ("credentials",),
                "How should airbox connect this data plane to Airbyte?",
                [
                    (
                        "register",
                        "Register a new data plane (needs an Airbyte application's "
                        "client id and secret)",
                    ),
                    ("existing", "Use a data plane already registered (its client id and secret)"),
                ],
                str(earlier),
                where="registering needs an organization admin's application",
            )
            self.memo["credentials"] = mode
            root = "registration" if mode == "register" else "dataPlane"
            self._drop_stray("dataPlane" if mode == "register" else "registration")
            self._ask_credentials(root)
        for root in ("dataPlane", "registration"):
            if not _missing(answers, root, "clientId") and _missing(answers, root, "clientSecret"):
                self._ask_credentials(root, id_known=True)
            elif not _missing(answers, root, "clientId"):
                # Given by a file, the environment or saved settings: still checked, so a
                # wrong saved secret is asked again instead of failing the install later.
                self._verify(root)

    def _drop_stray(self, root: str) -> None:
        """A secret of the credentials not chosen (a DATAPLANE_CLIENT_SECRET left in the
        shell while registering): said and left out, never a review row that then fails."""
        part = self.answers.get(root)
        if (
            not isinstance(part, dict)
            or _missing(part, "clientSecret")
            or not _missing(part, "clientId")
        ):
            return
        what, var = (
            ("data plane", "DATAPLANE_CLIENT_SECRET")
            if root == "dataPlane"
            else ("Airbyte application", "AIRBYTE_CLIENT_SECRET")
        )
        self.prompter.note(
            f"! a {what} client secret without its client id (from {var} "
            "or the answers file) is not used: the other credentials are",
            style="fg:ansiyellow",
        )
        self.answers.pop(root)

    def _ask_credentials(self, root: str, *, id_known: bool = False) -> None:
        what = "Airbyte application" if root == "registration" else "Data plane"
        where = WHERE_APPLICATION if root == "registration" else WHERE_DATA_PLANE
        if not id_known:
            self._text((root, "clientId"), f"{what} client id", validate=_required, where=where)
        self._secret((root, "clientSecret"), f"{what} client secret", validate=_required)
        self._verify(root)

    def _verify(self, root: str) -> None:
        """Ask again until the control plane accepts the credentials (or cannot tell)."""
        if self.check_credentials is None:
            return
        doubted: tuple[str, str, str] | None = None
        while True:
            key = (
                root,
                str(get_path(self.answers, (root, "clientId"))),
                str(get_path(self.answers, (root, "clientSecret"))),
            )
            if key in self.accepted:
                return
            if key == doubted:
                # The same credentials typed again after a "wrong, or failed" answer: the
                # user vouches for them; the install's last step checks them for real.
                self.prompter.note(
                    "! kept as typed: if they are wrong after all, the "
                    "install's verify step says so",
                    style="fg:ansiyellow",
                )
                self.accepted.add(key)
                return
            problem = self.check_credentials(root, self.answers)
            if problem is None:
                self.accepted.add(key)
                return
            if problem.certain:
                self.prompter.note("✗ " + problem.message + ": type them again", style="fg:ansired")
            else:
                doubted = key
                self.prompter.note(
                    "✗ " + problem.message + ". Type them again (the same ones again keep them)",
                    style="fg:ansired",
                )
            what = "Airbyte application" if root == "registration" else "Data plane"
            typed = str(get_path(self.answers, (root, "clientId")) or "")
            set_path(
                self.answers,
                (root, "clientId"),
                self.prompter.text(
                    f"{what} client id",
                    default=typed,
                    validate=self._ruled((root, "clientId"), _required),
                ),
            )
            set_path(
                self.answers,
                (root, "clientSecret"),
                self.prompter.password(
                    f"{what} client secret", validate=self._ruled((root, "clientSecret"), _required)
                ),
            )

    def _same_credentials(self, sm_type: str, st_type: str) -> None:
        """S3 after AWS Secrets Manager (or GCS after Google): offer the same sign-in."""
        pairs = {
            ("AWS_SECRET_MANAGER", "s3"): ("awsSecretManager", "s3"),
            ("GOOGLE_SECRET_MANAGER", "gcs"): ("googleSecretManager", "gcs"),
        }
        pair = pairs.get((sm_type, st_type))
        if pair is None or not _missing(self.answers, "storage", pair[1]):
            return
        source = get_path(self.answers, ("secretsManager", pair[0])) or {}
        keys = [f.key for f in STORAGES[st_type].fields]
        shared = {k: v for k, v in source.items() if k in keys and v not in (None, "")}
        if not shared:
            return
        label = SECRETS_MANAGERS[sm_type].label
        if self.prompter.confirm(
            f"Use the same credentials as {label} for {STORAGES[st_type].label}?", default=True
        ):
            set_path(self.answers, ("storage", pair[1]), copy.deepcopy(shared))

    def _section(self, root: str, spec: TypeSpec) -> None:
        for fspec in spec.fields:
            path = (root, spec.section, fspec.key)
            section = get_path(self.answers, (root, spec.section)) or {}
            if not _missing(self.answers, *path):
                continue
            message = f"{spec.label}: {fspec.label}"
            if fspec.kind == "choice" and fspec.default is not None:
                # Choices with a default are asked: they decide which fields follow.
                value = self._select(
                    path,
                    message,
                    [(c, CHOICE_LABELS.get(c, c)) for c in fspec.choices],
                    fspec.default,
                    where=fspec.where,
                )
                set_path(self.answers, path, value)
                continue
            if not fspec.applies(section):
                continue
            if not fspec.required:
                # Optional: asked only when walking earlier answers that have it, so a
                # reconfigure keeps (or changes) it instead of dropping it.
                earlier = self._default(*path)
                if earlier is None:
                    continue
                if fspec.kind == "tags" or not isinstance(earlier, (str, int)):
                    set_path(self.answers, path, copy.deepcopy(earlier))
                    continue
                self._text(
                    path,
                    message + " (empty for none)",
                    validate=_field_check(fspec, optional=True),
                    where=fspec.where,
                )
                if get_path(self.answers, path) == "":
                    holder = get_path(self.answers, path[:-1])
                    if isinstance(holder, dict):
                        holder.pop(path[-1], None)
                continue
            if fspec.masked:
                self._secret(path, message, where=fspec.where)
            else:
                self._text(path, message, validate=_field_check(fspec), where=fspec.where)


def fill_missing(
    answers: dict[str, Any],
    prompter: Prompter,
    *,
    interview: bool = True,
    defaults: Mapping[str, Any] | None = None,
    check_credentials: CredentialCheck | None = None,
    accepted: set[tuple[str, str, str]] | None = None,
    memo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ask for every required answer that is still missing, in a natural order.

    ``accepted``: credentials already accepted in this run (shared with ``review``).
    ``memo``: receives the choices that are no answer (see ``Interview.memo``).
    """
    return Interview(
        answers,
        prompter,
        interview,
        dict(defaults or {}),
        check_credentials,
        accepted if accepted is not None else set(),
        memo if memo is not None else {},
    ).run()


# Answers no question asks (they come from flags, files or defaults): a problem with one
# of them cannot be fixed by asking again.
_UNASKED = {
    ("controlPlane", "apiUrl"),
    ("registration", "organizationId"),
    ("registration", "region"),
}
_ASKED_ROOTS = (
    "name",
    "controlPlane",
    "dataPlane",
    "registration",
    "licenseKey",
    "secretsManager",
    "storage",
)


def reopen(answers: dict[str, Any], problems: Sequence[Problem], prompter: Prompter) -> bool:
    """Take out the answers the final check refused, saying why, so that the questions ask
    them again with every other answer kept. False (nothing changed) when one of them is
    no question's: it came from a flag or a file, and is reported as such."""
    paths: list[tuple[str, ...]] = []
    for problem in problems:
        path = tuple(problem.field.split("."))
        if path[0] not in _ASKED_ROOTS or path[:2] in _UNASKED:
            return False
        if path[0] in ("dataPlane", "registration") and (problem.missing or len(path) == 1):
            path = path[:1]  # the pair is asked again, from the choice on
        elif path[:2] == ("controlPlane", "edition") or path[-1] == "type":
            path = path[:1]  # a choice: what follows from it is asked again too
        elif path[:2] == ("storage", "bucket"):
            path = path[:2]
        paths.append(path)
    for problem in problems:
        prompter.note("✗ " + problem.render() + " — asked again", style="fg:ansired")
    for path in paths:
        holder = get_path(answers, path[:-1]) if len(path) > 1 else answers
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    return True
