"""Settings for one run, from every source, validated: the front door of ``install``.

Sources, lowest precedence first: defaults < saved settings of the same data plane
< answers file (layered over them: ``layer_over_saved``) < environment < flags; then
prompts for what is still missing, only on a terminal and without ``--yes``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbox.config import answers as sources
from airbox.config.interview import fill_missing, reopen
from airbox.config.prompts import CredentialCheck, Prompter
from airbox.config.review import review
from airbox.config.settings import Settings, hidden_paths, inline_service_account, key_file_paths
from airbox.config.yamlfile import YamlProblem, load_yaml
from airbox.errors import InterviewInterrupted, InvalidSettings, Problem, SavedSettingsUnreadable
from airbox.fsutil import PUBLIC_FILE, SECRET_FILE, atomic_write, ensure_private_dir
from airbox.paths import StateDir, installed_names


@dataclass
class Inputs:
    """What the command line gave: the answers file and flags (None = not given)."""

    answers_file: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    interactive: bool = False
    # Walk every saved answer with it as the default (install --reconfigure).
    reconfigure: bool = False
    # Show the review screen (every answer; edit one) once the questions are done.
    review: bool = False


def flag_answers(flags: Mapping[str, Any]) -> dict[str, Any]:
    """Map install's flags onto answers-file paths."""
    mapping = {
        "name": ("name",),
        "namespace": ("namespace",),
        "edition": ("controlPlane", "edition"),
        "control_plane_url": ("controlPlane", "url"),
        "api_url": ("controlPlane", "apiUrl"),
        "chart_version": ("chart", "version"),
        "chart": ("chart", "source"),
        "kube_context": ("cluster", "kubeContext"),
        "kubeconfig": ("cluster", "kubeconfig"),
        "region": ("registration", "region"),
        "organization_id": ("registration", "organizationId"),
    }
    out: dict[str, Any] = {}
    for flag, path in mapping.items():
        value = flags.get(flag)
        if value not in (None, ""):
            sources.set_path(out, path, str(value))
    workspaces = [str(w) for w in flags.get("workspace") or () if str(w).strip()]
    if workspaces:
        out["workspaces"] = workspaces
    bundle = flags.get("bundle")
    if bundle not in (None, ""):
        # Saved absolute: a later run (a resume, repair) may start elsewhere.
        out["bundle"] = str(Path(str(bundle)).expanduser().absolute())
    return out


def load_saved(state: StateDir) -> dict[str, Any]:
    """The settings an earlier install saved (secrets from their 0600 file).

    A damaged file (edited by hand, non-UTF-8, cut short) is a ``SavedSettingsUnreadable``
    (exit 2) naming the file and the position, never quoting it: one of them holds secrets.
    """
    saved: dict[str, Any] = {}
    for path in (state.settings, state.credentials):
        if path.is_file():
            saved = sources.deep_merge(saved, read_saved_file(state, path))
    sources.register_secrets(saved)
    return saved


def read_saved_file(state: StateDir, path: Path) -> dict[str, Any]:
    """One saved settings file as a mapping, or ``SavedSettingsUnreadable``."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), quote=False)
    except UnicodeDecodeError as exc:
        raise SavedSettingsUnreadable(
            state, path, f"is not UTF-8 text (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise SavedSettingsUnreadable(state, path, f"cannot be read ({exc.strerror})") from None
    except YamlProblem as exc:
        raise SavedSettingsUnreadable(state, path, exc.reason) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SavedSettingsUnreadable(state, path, "is not a mapping of settings")
    return data


def save(state: StateDir, answers: Mapping[str, Any]) -> None:
    """Settings to ``settings.yaml``; the secret values only to ``credentials.yaml`` (0600)."""
    public, secret = sources.split_secrets(answers)
    ensure_private_dir(state.root)
    atomic_write(state.settings, sources.dump_yaml(public), mode=PUBLIC_FILE)
    atomic_write(state.credentials, sources.dump_yaml(secret), mode=SECRET_FILE)


def pick_name(explicit: str | None) -> str | None:
    """The data plane name: given, or the only one installed."""
    if explicit:
        return explicit
    names = installed_names()
    return names[0] if len(names) == 1 else None


KEPT_FILE = "interview.yaml"


def kept_file() -> Path:
    """Answers (never secrets) kept from an interview interrupted before it finished."""
    from airbox.paths import airbox_home

    return airbox_home() / KEPT_FILE


def load_kept() -> dict[str, Any]:
    try:
        data = load_yaml(kept_file().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlProblem):
        return {}
    return data if isinstance(data, dict) else {}


def keep_partial(answers: Mapping[str, Any], memo: Mapping[str, Any] | None = None) -> Path | None:
    """Save the answers given so far without the secrets typed hidden — identifiers (client
    ids, access key ids) and ``memo``'s choices are kept; None when there is nothing."""
    import copy

    public = copy.deepcopy(dict(answers))
    # A service account key pasted as JSON is a secret too; a path to it is not.
    inline = [
        p
        for p in key_file_paths()
        if inline_service_account(sources.get_path(public, p)) is not None
    ]
    for hidden in [*hidden_paths(), *inline]:
        holder = sources.get_path(public, hidden[:-1]) if len(hidden) > 1 else public
        if isinstance(holder, dict):
            holder.pop(hidden[-1], None)
    public = sources.prune(public)
    if not public:
        return None
    public.update(memo or {})
    path = kept_file()
    ensure_private_dir(path.parent)
    atomic_write(path, sources.dump_yaml(public), mode=SECRET_FILE)
    return path


def forget_kept() -> None:
    kept_file().unlink(missing_ok=True)


def layer_over_saved(saved: Mapping[str, Any], file: Mapping[str, Any]) -> dict[str, Any]:
    """The answers file over the saved settings of the same data plane.

    Key by key, the file wins; what it leaves out stays as saved. Where the file makes
    another choice, the saved answers that belonged to the old choice go: a section whose
    ``type`` the file changes (secretsManager, storage), the other kind of credentials
    (dataPlane vs registration) when the file gives a client id, and ``values`` as a whole.
    """
    base = dict(saved)
    for section in ("secretsManager", "storage"):
        given = file.get(section)
        if (
            isinstance(given, Mapping)
            and given.get("type")
            and isinstance(base.get(section), Mapping)
            and base[section].get("type") != given["type"]
        ):
            base.pop(section)
    for root, other in (("dataPlane", "registration"), ("registration", "dataPlane")):
        given = file.get(root)
        if isinstance(given, Mapping) and given.get("clientId"):
            base.pop(other, None)
    if "values" in file:
        base.pop("values", None)
    return sources.deep_merge(base, file)


def settings_problems(answers: Mapping[str, Any], *, asking: bool) -> list[Problem]:
    """One pass over everything: unknown keys (with "did you mean"), wrong types and
    values, and — unless the missing ones are about to be asked — missing answers."""
    return parsed(answers, asking=asking)[1]


def parsed(answers: Mapping[str, Any], *, asking: bool) -> tuple[Settings | None, list[Problem]]:
    """``settings_problems`` and, from the same pass, the settings when there are none."""
    problems: list[Problem] = sources.schema_problems(answers)
    seen = {p.field for p in problems}
    settings, found = Settings.parse(answers)
    problems += [p for p in found if p.field not in seen]
    if asking:
        problems = [p for p in problems if not p.missing]
    return (None if problems else settings), problems


def _unasked(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers the questions never ask (namespace, chart, cluster, values, region…):
    a reconfigure keeps them while it walks the rest."""
    import copy

    base = copy.deepcopy(dict(answers))
    for key in ("licenseKey", "secretsManager", "storage", "dataPlane"):
        base.pop(key, None)
    for section, keys in (
        ("controlPlane", ("edition", "url")),
        ("registration", ("clientId", "clientSecret")),
    ):
        part = base.get(section)
        if isinstance(part, dict):
            for key in keys:
                part.pop(key, None)
            if not part:
                base.pop(section)
    return base


def _reopened(merged: dict[str, Any], prompter: Prompter) -> bool:
    """True when the final check refused answers that the questions can ask again (taken
    out of ``merged``, said why); False when it passes or no question can fix it."""
    import copy

    problems = settings_problems(merged, asking=False)
    if not problems:
        return False
    before = copy.deepcopy(merged)
    return reopen(merged, problems, prompter) and merged != before


def _flag_names(flags: Mapping[str, Any]) -> list[str]:
    return [
        "--" + key.replace("_", "-")
        for key, value in flags.items()
        if value not in (None, "") and key in _FLAG_KEYS
    ]


_FLAG_KEYS = (
    "name",
    "namespace",
    "edition",
    "control_plane_url",
    "api_url",
    "chart_version",
    "chart",
    "kube_context",
    "kubeconfig",
    "region",
    "organization_id",
    "bundle",
)


def gather(
    inputs: Inputs,
    *,
    environ: Mapping[str, str] | None = None,
    prompter: Prompter | None = None,
    check_credentials: CredentialCheck | None = None,
    say: Callable[[str], None] | None = None,
    before_questions: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], Settings]:
    """Merge every source, prompt if allowed, validate; raise listing every problem.

    Sources, lowest first: the saved settings of the data plane (named by --name, the
    answers file, or the only one installed) < the answers file < environment < flags;
    then questions for what is missing (on a terminal). ``say`` hears which sources
    were used.
    """
    environ = os.environ if environ is None else environ
    file_layer: dict[str, Any] = {}
    if inputs.answers_file is not None:
        file_layer = sources.load_answers_file(inputs.answers_file, environ)
    env_layer = sources.env_answers(environ)
    # The proxy variables count at install time only: saved, they are what later commands
    # use (a day-2 command's shell may have none).
    network_layer, proxy_vars = sources.env_network(environ)
    env_layer = sources.deep_merge(env_layer, network_layer)
    flag_layer = flag_answers(inputs.flags)

    used: list[str] = []
    named = flag_layer.get("name") or file_layer.get("name")
    name = pick_name(named if isinstance(named, str) else None)
    saved: dict[str, Any] = {}
    if name and StateDir.for_name(name).exists():
        state = StateDir.for_name(name)
        saved = load_saved(state)
        used.append(f"saved settings of {name} ({state.root})")
    merged = layer_over_saved(saved, file_layer)
    if inputs.answers_file is not None:
        used.append(f"answers file {inputs.answers_file}")
    env_vars = [var for var in sources.ENV_ANSWERS if environ.get(var)] + proxy_vars
    if env_vars:
        used.append("environment (" + ", ".join(env_vars) + ")")
    if flag_layer:
        used.append("flags (" + ", ".join(_flag_names(inputs.flags)) + ")")
    interview = inputs.answers_file is None and not saved
    for layer in (env_layer, flag_layer):
        merged = sources.deep_merge(merged, layer)

    # One pass over every source, in every mode, before any question: a misspelled key
    # is an error with --yes and on a terminal alike, and all problems come at once.
    problems = settings_problems(merged, asking=inputs.interactive)
    if problems:
        error = InvalidSettings(problems, source=str(inputs.answers_file or "the settings"))
        if any(p.missing for p in problems):
            error.hint = (
                "fix the values above; give the missing ones in the answers file, "
                "the environment or flags (or run on a terminal without --yes to "
                "be asked)"
            )
        raise error
    if say is not None and used:
        say("Settings from (later ones win): " + "; ".join(used))
    if before_questions is not None:
        before_questions(merged)

    if inputs.interactive:
        defaults: dict[str, Any] = {}
        if inputs.reconfigure:
            defaults, merged = merged, _unasked(merged)
            for layer in (env_layer, flag_layer):
                merged = sources.deep_merge(merged, layer)
            interview = True
        elif not saved:
            # A new data plane (with or without an answers file): the answers kept from
            # an interrupted run — unless they were another data plane's.
            defaults = load_kept()
            named = merged.get("name")
            if named and defaults.get("name") not in (None, named):
                defaults = {}
            if defaults and say is not None:
                say(
                    f"Offering the answers kept from an interrupted run ({kept_file()}) as defaults"
                )
        prompter = prompter or Prompter()
        accepted: set[tuple[str, str, str]] = set()
        memo: dict[str, Any] = {}

        def ask() -> None:
            # Until the final check passes: what it refuses is asked again, with every
            # other answer (secrets too, in memory only) kept.
            while True:
                fill_missing(
                    merged,
                    prompter,
                    interview=interview,
                    defaults=defaults,
                    check_credentials=check_credentials,
                    accepted=accepted,
                    memo=memo,
                )
                sources.register_secrets(merged)
                if not _reopened(merged, prompter):
                    return

        try:
            ask()
            while inputs.review:
                merged = review(
                    merged,
                    prompter,
                    check_credentials=check_credentials,
                    interview=interview or inputs.reconfigure,
                    accepted=accepted,
                )
                sources.register_secrets(merged)
                if not _reopened(merged, prompter):
                    break
                ask()
        except KeyboardInterrupt:
            if inputs.reconfigure:
                raise InterviewInterrupted(
                    "Interrupted during the questions: nothing was installed or changed; "
                    "the saved settings stay as they were."
                ) from None
            kept = keep_partial(merged, memo)
            if kept is None:
                raise InterviewInterrupted(
                    "Interrupted during the questions: nothing was installed or changed, "
                    "and no answers were given yet."
                ) from None
            raise InterviewInterrupted(
                "Interrupted during the questions: nothing was installed or changed. Your "
                f"answers so far (not the secrets) are kept in {kept}; run the same "
                "command again to continue from them."
            ) from None

    settings, problems = parsed(merged, asking=False)
    if problems or settings is None:
        if not inputs.interactive:
            hint = (
                "give the missing values in the answers file, the environment or flags "
                "(or run on a terminal without --yes to be asked)"
            )
            error = InvalidSettings(problems, source=str(inputs.answers_file or "the settings"))
            error.hint = hint
            raise error
        # No question can fix these (a flag's or a file's value): the typed answers are
        # kept all the same, so fixing them does not mean typing everything again.
        error = InvalidSettings(problems)
        kept = None if inputs.reconfigure else keep_partial(merged, memo)
        if kept is not None:
            error.hint = (
                "fix the values above and run the command again: your answers "
                f"(not the secrets) are kept in {kept}"
            )
        raise error
    return merged, settings
