"""Which data plane a day-2 command acts on, and its saved state.

Every command after install starts here: ``--name`` (optional when only one data plane
is installed), its state directory and saved settings (``load_installed``), and the
secrets those hold registered for masking before anything is printed or logged.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airbox.cluster import commands
from airbox.cluster.commands import Kube
from airbox.cluster.runner import Runner
from airbox.config.settings import MAX_NAME_LENGTH, Settings, is_dns_label
from airbox.errors import (
    AirboxError,
    NotInstalled,
    SavedSettingsUnreadable,
    ToolError,
    UsageError,
)
from airbox.fsutil import read_json
from airbox.lock import dataplane_lock
from airbox.paths import StateDir, installed_names
from airbox.redact import REDACTOR


@dataclass(frozen=True)
class Installed:
    """An installed data plane: its state directory and saved settings."""

    state: StateDir
    answers: dict[str, Any]
    settings: Settings
    # Why the saved settings could not be read (only from ``load_for_removal``): the
    # settings are then what the name alone tells (a kind cluster airbox-<name>).
    damaged: str | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def kube(self) -> Kube:
        return commands.kube_for(self.settings, self.state.kubeconfig)


def check_name(name: str) -> None:
    """A ``--name`` must be a data plane name: it becomes a path under $AIRBOX_HOME."""
    if not is_dns_label(name, MAX_NAME_LENGTH):
        raise UsageError(f"{name!r} is not a data plane name",
                         hint=f"use at most {MAX_NAME_LENGTH} lowercase letters, digits and "
                              "'-' (see `airbox status` for the installed ones)")


def choose_name(explicit: str | None, command: str) -> str | None:
    """The data plane to act on: ``--name``, else the only one; None when none is installed.

    Several installed and no ``--name`` is a usage error listing them.
    """
    from airbox.config.gather import pick_name

    if explicit is not None:
        # Also "": an empty --name is an error, never "the only one installed".
        check_name(explicit)
    chosen = pick_name(explicit)
    if chosen:
        return chosen
    names = installed_names()
    if len(names) > 1:
        raise UsageError(
            f"{len(names)} data planes are installed; say which one with --name",
            details=names,
            hint=f"for example: airbox {command} --name {names[0]}",
        )
    return None


def register_state_secrets(state: StateDir) -> None:
    """Tell the redactor the secrets the state holds beyond the settings.

    The generated Secret's values (``secrets.yaml``) and the cached API token; the
    settings' own secrets are registered by ``gather.load_saved`` and the data plane's
    registered credentials by ``registration.saved_registration``.
    """
    from airbox.config.yamlfile import YamlProblem, load_yaml

    try:
        manifest = load_yaml(state.secret_manifest.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, YamlProblem):
        manifest = {}
    if isinstance(manifest, dict):
        for value in (manifest.get("stringData") or {}).values():
            REDACTOR.add(str(value))
        for value in (manifest.get("data") or {}).values():
            try:
                REDACTOR.add(base64.b64decode(str(value)).decode())
            except (ValueError, UnicodeDecodeError):
                REDACTOR.add(str(value))
    try:
        token = read_json(state.token)
    except (OSError, ValueError):
        token = None
    if isinstance(token, dict) and isinstance(token.get("accessToken"), str):
        REDACTOR.add(token["accessToken"])


def load_installed(name: str, environ: Mapping[str, str] | None = None) -> Installed | None:
    """The saved settings of data plane ``name``, or None when it has no state.

    Application credentials in the environment (AIRBYTE_CLIENT_ID/SECRET) win over the
    saved ones, as they do for install. Every secret found is registered for masking.
    """
    from airbox.config import answers as sources
    from airbox.config.gather import load_saved
    from airbox.controlplane.registration import with_saved_credentials

    check_name(name)
    state = StateDir.for_name(name)
    if not state.exists():
        return None
    answers = sources.deep_merge(load_saved(state), sources.env_answers(environ))
    try:
        settings = Settings.from_answers(answers)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"the saved settings of {name} ({state.settings}) cannot be read: {exc!r}",
            hint=f"run `airbox install --name {name} --answers <your answers file>` to "
                 "rewrite them",
        ) from None
    settings = with_saved_credentials(settings, state)
    register_state_secrets(state)
    return Installed(state, answers, settings)


def load_for_removal(name: str, environ: Mapping[str, str] | None = None) -> Installed | None:
    """Like ``load_installed``, but damaged saved settings do not stop an uninstall.

    What can be read is used (``settings.yaml`` without a damaged ``credentials.yaml``);
    when the settings themselves are unreadable, the data plane is taken to be what its
    name tells: the kind cluster ``airbox-<name>`` with the release in the default
    namespace. ``Installed.damaged`` says why, for the user.
    """
    from airbox.config import answers as sources
    from airbox.config.gather import read_saved_file
    from airbox.controlplane.registration import with_saved_credentials

    try:
        return load_installed(name, environ)
    except UsageError as exc:  # SavedSettingsUnreadable, or settings of the wrong shape
        damaged = exc.message
    state = StateDir.for_name(name)
    env = sources.env_answers(environ)
    minimal: dict[str, Any] = {"name": name, "secretsManager": {"type": "VAULT"}}
    try:
        answers = sources.deep_merge(read_saved_file(state, state.settings), env)
        settings = Settings.from_answers(answers)
        if settings.name != name:
            raise ValueError(name)
    except (SavedSettingsUnreadable, KeyError, TypeError, ValueError, AttributeError):
        answers = sources.deep_merge(minimal, env)
        settings = Settings.from_answers(answers)
    with contextlib.suppress(UsageError):  # a damaged registration record: without it
        settings = with_saved_credentials(settings, state)
    register_state_secrets(state)
    return Installed(state, answers, settings, damaged)


def require_installed(name: str | None, command: str, hint: str) -> Installed:
    """The data plane ``command`` acts on, or NotInstalled (exit 3) saying ``hint``."""
    chosen = choose_name(name, command)
    inst = load_installed(chosen) if chosen else None
    if inst is None:
        raise NotInstalled(
            f"no data plane named {chosen} is installed" if chosen
            else "no data plane is installed",
            hint=hint,
        )
    return inst


@contextlib.contextmanager
def locked(inst: Installed, command: str, hint: str) -> Iterator[Installed]:
    """Hold ``inst``'s lock for ``command``, and yield its state as read *after* taking it.

    The one place day-2 commands take the lock. A command that waited for it may find the
    data plane changed or gone (an uninstall ran meanwhile): what it read before is stale,
    and acting on it would act on a data plane that no longer exists and re-create the
    removed state directory (a log, a cached token). Gone is NotInstalled (exit 3), with
    nothing created.
    """
    with dataplane_lock(inst.state, command, create=False):
        fresh = load_installed(inst.name)
        if fresh is None:
            raise NotInstalled(
                f"no data plane named {inst.name} is installed any more (it was uninstalled "
                f"while airbox {command} waited for it); nothing was changed",
                hint=hint)
        yield fresh


def tool_runner(verbose: Callable[[str], None] | None = None) -> Runner:
    """A runner for day-2 commands: never downloads a tool (install does that)."""
    from airbox.cluster.toolchain import Toolchain

    return Runner(Toolchain(allow_download=False), echo=verbose)


def why(exc: BaseException) -> str:
    """A failure in one line, for a finding: a tool's own last words when it has them."""
    if isinstance(exc, ToolError):
        lines = [line.strip() for line in exc.output_tail.splitlines() if line.strip()]
        return lines[-1] if lines else exc.message
    if isinstance(exc, AirboxError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def not_found(exc: BaseException) -> bool:
    text = exc.output_tail if isinstance(exc, ToolError) else str(exc)
    return "not found" in text.lower() or "notfound" in text.lower()
