"""Settings for one run, from every source, validated: the front door of ``install``.

Sources, lowest precedence first: defaults < saved settings of an earlier run
(only when no answers file is given: a file replaces them) < answers file <
environment < flags; then prompts for what is still missing, only on a terminal
and without ``--yes``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbox.config import answers as sources
from airbox.config.prompts import Prompter, fill_missing
from airbox.config.settings import Settings, validate
from airbox.config.yamlfile import YamlProblem, load_yaml
from airbox.errors import InvalidSettings, Problem, SavedSettingsUnreadable
from airbox.fsutil import PUBLIC_FILE, SECRET_FILE, atomic_write, ensure_private_dir
from airbox.paths import StateDir, installed_names


@dataclass
class Inputs:
    """What the command line gave: the answers file and flags (None = not given)."""

    answers_file: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    interactive: bool = False


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
        raise SavedSettingsUnreadable(state, path, f"is not UTF-8 text (byte {exc.start})"
                                      ) from None
    except OSError as exc:
        raise SavedSettingsUnreadable(state, path, f"cannot be read ({exc.strerror})"
                                      ) from None
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


def gather(
    inputs: Inputs,
    *,
    environ: Mapping[str, str] | None = None,
    prompter: Prompter | None = None,
) -> tuple[dict[str, Any], Settings]:
    """Merge every source, prompt if allowed, validate; raise listing every problem."""
    environ = os.environ if environ is None else environ
    file_layer: dict[str, Any] = {}
    if inputs.answers_file is not None:
        file_layer = sources.load_answers_file(inputs.answers_file, environ)
    env_layer = sources.env_answers(environ)
    flag_layer = flag_answers(inputs.flags)

    merged: dict[str, Any] = {}
    if inputs.answers_file is None:
        name = pick_name(flag_layer.get("name"))
        if name:
            merged = load_saved(StateDir.for_name(name))
    interview = inputs.answers_file is None and not merged
    for layer in (file_layer, env_layer, flag_layer):
        merged = sources.deep_merge(merged, layer)

    if inputs.interactive:
        fill_missing(merged, prompter or Prompter(), interview=interview)
        sources.register_secrets(merged)

    problems: list[Problem] = sources.schema_problems(merged)
    seen = {p.field for p in problems}
    problems += [p for p in validate(merged) if p.field not in seen]
    if problems:
        if not inputs.interactive:
            hint = ("give the missing values in the answers file, the environment or flags "
                    "(or run on a terminal without --yes to be asked)")
            error = InvalidSettings(problems, source=str(inputs.answers_file or "the settings"))
            error.hint = hint
            raise error
        raise InvalidSettings(problems)
    return merged, Settings.from_answers(merged)
