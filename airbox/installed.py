"""Which data plane a day-2 command acts on, and its saved state.

Every command after install starts here: ``--name`` (optional when only one data plane
is installed), its state directory and saved settings (``load_installed``), and the
secrets those hold registered for masking before anything is printed or logged.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from airbox.cluster import commands
from airbox.cluster.commands import Kube
from airbox.cluster.runner import Runner
from airbox.config.settings import MAX_NAME_LENGTH, Identity, Settings, is_dns_label
from airbox.errors import AirboxError, NotInstalled, SavedSettingsUnreadable, ToolError, UsageError
from airbox.fsutil import read_json
from airbox.paths import StateDir, installed_names
from airbox.redact import REDACTOR


@dataclass(frozen=True)
class Identified:
    """A data plane airbox can name and find: its state directory and what its saved
    settings tell. From ``load_for_removal`` only: when they are unreadable, that is its
    ``Identity`` alone (what the name tells), never an invented secrets manager or
    storage; ``Installed`` narrows it to whole ``Settings``."""

    state: StateDir
    answers: dict[str, Any]
    settings: Identity
    # Why the saved settings could not be read (only from ``load_for_removal``): the
    # settings are then what could be read, or what the name alone tells (a kind
    # cluster airbox-<name>).
    damaged: str | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def kube(self) -> Kube:
        return commands.kube_for(self.settings, self.state.kubeconfig)


@dataclass(frozen=True)
class Installed(Identified):
    """An installed data plane: its state directory and whole saved settings."""

    settings: Settings


def check_name(name: str) -> None:
    """A ``--name`` must be a data plane name: it becomes a path under $AIRBOX_HOME."""
    if not is_dns_label(name, MAX_NAME_LENGTH):
        raise UsageError(
            f"{name!r} is not a data plane name",
            hint=f"use at most {MAX_NAME_LENGTH} lowercase letters, digits and "
            "'-' (see `airbox status` for the installed ones)",
        )


# The install steps that put something where the data plane runs: once one of them has
# run (or the install finished once), the data plane got a cluster.
_BUILDING_STEPS = ("namespace", "secret", "storage", "release")
_FINISHED = ("done", "skipped")


@dataclass(frozen=True)
class Stopped:
    """Where the first install of a data plane stopped, before it got a cluster."""

    step: str | None  # the step's name in progress.json; None: before the first step
    title: str
    status: str  # failed | interrupted | running (the process died) | done (between steps)

    def sentence(self) -> str:
        """``the install failed at step “Create the kind cluster airbox-x”``."""
        if self.step is None:
            return "the install stopped before its first step"
        if self.status == "done":
            return f"the install stopped after step “{self.title}”"
        verb = {"failed": "failed", "interrupted": "was interrupted"}.get(self.status, "stopped")
        return f"the install {verb} at step “{self.title}”"

    def listing(self) -> str:
        """How the data plane shows in a list of names: ``not installed (failed at …)``."""
        if self.step is None:
            return "not installed (stopped before its first step)"
        if self.status == "done":
            return f"not installed (stopped after step “{self.title}”)"
        verb = {"failed": "failed", "interrupted": "interrupted"}.get(self.status, "stopped")
        return f"not installed ({verb} at step “{self.title}”)"


def read_progress(path: Path) -> dict[str, Any]:
    """A ``progress.json`` as recorded, ``{"steps": {}}`` when missing or unreadable.

    A record edited or damaged by hand is only a record: the real state decides what each
    step does, so a wrong shape is dropped rather than trusted (or crashed on).
    """
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {"steps": {}}
    if not isinstance(data, dict):
        return {"steps": {}}
    steps = data.get("steps")
    data["steps"] = (
        {k: v for k, v in steps.items() if isinstance(v, dict)} if isinstance(steps, dict) else {}
    )
    return data


def install_stopped(state: StateDir) -> Stopped | None:
    """Where the install of ``state`` stopped when it never got a cluster; None when it did
    (finished once, created the kind cluster, or put something in an existing cluster).

    ``install`` saves the settings before its first step, so a state directory alone
    proves nothing: ``progress.json`` tells how far the installs went.
    """
    if not state.progress.is_file():
        # No record at all (made by hand, or by an airbox before progress.json): unknown,
        # so taken as installed, as before; an install writes the record before any step.
        return None
    data = read_progress(state.progress)
    if data.get("installed"):
        return None
    steps: dict[str, dict[str, Any]] = data["steps"]
    if (steps.get("cluster") or {}).get("status") in _FINISHED or any(
        step in steps for step in _BUILDING_STEPS
    ):
        return None
    for step, entry in steps.items():
        if entry.get("status") not in _FINISHED:
            return Stopped(step, str(entry.get("title") or step), str(entry.get("status")))
    if steps:
        step, entry = list(steps.items())[-1]
        return Stopped(step, str(entry.get("title") or step), "done")
    return Stopped(None, "", "")


def unfinished_renewal(state: StateDir) -> dict[str, Any] | None:
    """The certificate renewal a ``repair`` started and has not seen through (``at``,
    ``first``: the first certificate that was expiring, ``nodeStartedAt``), from
    ``progress.json``; None when there is none. Repair finishes it; status reports it."""
    record = read_progress(state.progress).get("repair")
    found = record.get("renewal") if isinstance(record, dict) else None
    return found if isinstance(found, dict) else None


def half_built() -> dict[str, Stopped]:
    """The data planes whose first install never got a cluster, and where each stopped."""
    found = {}
    for name in installed_names():
        stopped = install_stopped(StateDir.for_name(name))
        if stopped is not None:
            found[name] = stopped
    return found


def choose_name(explicit: str | None, command: str, *, any_state: bool = False) -> str | None:
    """The data plane to act on: ``--name``, else the only one; None when none is installed.

    A data plane whose first install never got a cluster is not installed: it counts only
    when nothing else is there (so failed attempts never force ``--name`` on the data
    plane that runs). ``any_state``: every state directory counts (``uninstall``, which
    must never pick the running data plane when a failed attempt was meant). Several and
    no ``--name`` is a usage error listing them.
    """
    if explicit is not None:
        # Also "": an empty --name is an error, never "the only one installed".
        check_name(explicit)
        return explicit
    names = installed_names()
    if len(names) <= 1:
        return names[0] if names else None
    unfinished = half_built()
    built = names if any_state else [n for n in names if n not in unfinished]
    if len(built) == 1:
        return built[0]
    if not built:
        return None
    listed = [f"{n}: {unfinished[n].listing()}" if n in unfinished else n for n in names]
    installed = len([n for n in names if n not in unfinished])
    if installed == len(names):
        head = f"{len(names)} data planes are installed; say which one with --name"
    else:
        head = (
            f"{installed} data plane{'s are' if installed != 1 else ' is'} installed "
            f"and {len(names) - installed} not (an install stopped before the "
            "cluster); say which one with --name"
        )
    raise UsageError(head, details=listed, hint=f"for example: airbox {command} --name {built[0]}")


def not_installed_details() -> list[str]:
    """For "no data plane is installed": the failed first installs, and the way out."""
    return [
        f"{name}: {stopped.listing()}: finish it with `airbox install --name {name}`, "
        f"or remove it with `airbox uninstall --name {name}`"
        for name, stopped in half_built().items()
    ]


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
        from airbox.render.proxy import secret_values

        data = manifest.get("stringData") or {}
        REDACTOR.add(*secret_values({str(k): str(v) for k, v in data.items()}))
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
    # The proxy it was installed with, whatever this shell says.
    use_proxy(settings)
    return Installed(state, answers, settings)


def load_for_removal(name: str, environ: Mapping[str, str] | None = None) -> Identified | None:
    """Like ``load_installed``, but damaged saved settings do not stop an uninstall.

    What can be read is used (``settings.yaml`` without a damaged ``credentials.yaml``:
    an ``Installed``); when the settings themselves are unreadable, the data plane is
    what its name tells (``Identity.named``): the kind cluster ``airbox-<name>`` with the
    release in the default namespace, its secrets manager and storage unknown.
    ``damaged`` says why, for the user.
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
    settings: Identity
    try:
        answers = sources.deep_merge(read_saved_file(state, state.settings), env)
        settings = Settings.from_answers(answers)
        if settings.name != name:
            raise ValueError(name)
    except (SavedSettingsUnreadable, KeyError, TypeError, ValueError, AttributeError):
        answers = sources.deep_merge({"name": name}, env)
        settings = Identity.named(answers)
    with contextlib.suppress(UsageError):  # a damaged registration record: without it
        settings = with_saved_credentials(settings, state)
    register_state_secrets(state)
    if isinstance(settings, Settings):
        return Installed(state, answers, settings, damaged)
    return Identified(state, answers, settings, damaged)


@overload
def require_installed(
    name: str | None,
    command: str,
    hint: str,
    *,
    needs_cluster: bool = False,
    damaged_ok: Literal[False] = False,
) -> Installed: ...


@overload
def require_installed(
    name: str | None,
    command: str,
    hint: str,
    *,
    needs_cluster: bool = False,
    damaged_ok: Literal[True],
) -> Identified: ...


def require_installed(
    name: str | None,
    command: str,
    hint: str,
    *,
    needs_cluster: bool = False,
    damaged_ok: bool = False,
) -> Identified:
    """The data plane ``command`` acts on, or NotInstalled (exit 3) saying ``hint``.

    ``damaged_ok``: damaged saved settings or registration record do not stop the command
    (``load_for_removal``; ``Installed.damaged`` says why) — for the commands a user runs
    precisely when the state is broken (the support bundle).

    ``needs_cluster``: a data plane whose first install never got a cluster is not
    installed either; the message says where its install stopped and that `airbox
    install` finishes it (the one command that moves it forward).
    """
    chosen = choose_name(name, command)
    load: Callable[[str], Identified | None] = load_for_removal if damaged_ok else load_installed
    inst = load(chosen) if chosen else None
    if inst is None:
        raise NotInstalled(
            f"no data plane named {chosen} is installed"
            if chosen
            else "no data plane is installed",
            details=[] if chosen else not_installed_details(),
            hint=hint,
        )
    if needs_cluster:
        stopped = install_stopped(inst.state)
        if stopped is not None:
            raise NotInstalled(
                f"data plane {inst.name} is not installed: {stopped.sentence()}, before "
                "there was a cluster",
                hint=f"airbox install --name {inst.name}  (finishes the install from the "
                "saved settings)",
            )
    return inst


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


# ------------------------------------------------------------------ the proxy
#
# Every HTTP client airbox makes reads the proxy from the process environment (httpx's
# ``trust_env``, as curl and Go programs do), and every tool inherits it
# (``runner.child_environment``: kind copies it into the node's containerd, helm fetches
# the chart through it). So the settings' proxy is put there once the settings are known:
# a day-2 command run from a shell without HTTPS_PROXY uses the proxy the data plane was
# installed with. The metadata service is in NO_PROXY (and its client ignores the
# environment altogether): it is link-local.


def use_proxy(settings: Settings) -> None:
    """Route this process's calls and tools through ``settings``' proxy (if any)."""
    from airbox.render.proxy import proxy_env

    os.environ.update(proxy_env(settings))


def use_proxy_answers(answers: Mapping[str, Any]) -> None:
    """The same from answers not yet validated (preflight before the questions): only a
    proxy URL that parses is used."""
    from airbox.config.settings import (
        CLUSTER_PREFIX,
        DEFAULT_NAMESPACE,
        NODE_SUFFIX,
        network_from,
        network_problems,
    )
    from airbox.render.proxy import env_of, inside

    section = answers.get("network")
    if not isinstance(section, dict) or network_problems(section):
        return
    network = network_from(section)
    if network is None:
        return
    name = answers.get("name")
    node = f"{CLUSTER_PREFIX}{name}{NODE_SUFFIX}" if isinstance(name, str) and name else None
    namespace = str(answers.get("namespace") or DEFAULT_NAMESPACE)
    entries = list(dict.fromkeys([*network.no_proxy, *inside(namespace, node)]))
    os.environ.update(env_of(network, entries))
