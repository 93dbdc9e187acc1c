"""Running preflight for a data plane: ``airbox preflight`` and install's first step."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox.config.settings import MAX_NAME_LENGTH, Settings, is_dns_label, url_problem
from airbox.errors import InterviewInterrupted, InvalidSettings, PreflightFailed, Problem
from airbox.ops.preflight.checks import DEADLINE, run_checks
from airbox.ops.preflight.facts import Endpoints, HostFacts, Subject
from airbox.ops.preflight.report import Report, counts_text, failure_details, render, save_report
from airbox.paths import StateDir

if TYPE_CHECKING:
    from airbox.config.prompts import Prompter
    from airbox.ui import StepLine, Terminal


def subject_for(settings_or_name: Settings | Subject | str | None) -> Subject:
    """A Subject from settings, a saved data plane's name, or nothing (Cloud defaults)."""
    if isinstance(settings_or_name, Subject):
        return settings_or_name
    if isinstance(settings_or_name, Settings):
        return Subject.from_settings(settings_or_name)
    if settings_or_name is None:
        return Subject()
    from airbox.config.gather import load_saved

    state = StateDir.for_name(settings_or_name)
    answers = load_saved(state) if state.exists() else {}
    answers["name"] = settings_or_name
    return Subject.from_answers(answers)


def run_preflight(
    settings_or_name: Settings | Subject | str | None = None,
    *,
    facts: HostFacts | None = None,
    endpoints: Endpoints | None = None,
    state: StateDir | None = None,
    save: bool = True,
    environ: Mapping[str, str] | None = None,
    deadline: float = DEADLINE,
) -> Report:
    """Run the checks for a data plane and save them to its state directory if it has one."""
    subject = subject_for(settings_or_name)
    if state is None and subject.name:
        state = StateDir.for_name(subject.name)
    report = run_checks(
        subject, facts=facts, endpoints=endpoints, state=state, environ=environ, deadline=deadline
    )
    if save and state is not None and state.root.is_dir():
        save_report(report, state)
    return report


# ------------------------------------------------------------------------ commands


def subject_from_inputs(
    name: str | None,
    answers_file: Path | None,
    control_plane_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> Subject:
    """``airbox preflight``'s settings: saved < answers file < environment < flags.

    Only what preflight uses is checked (the name and the URL): the machine checks
    are worth running before the rest of the settings are ready.
    """
    from airbox.config import answers as sources
    from airbox.config.gather import load_saved, pick_name

    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    if answers_file is not None:
        merged = sources.load_answers_file(answers_file, environ)
    else:
        chosen = pick_name(name)
        if chosen and StateDir.for_name(chosen).exists():
            merged = load_saved(StateDir.for_name(chosen))
        if chosen:
            merged["name"] = chosen
    merged = sources.deep_merge(merged, sources.env_answers(environ))
    if name is not None:  # "" too: reported as an invalid name below
        merged["name"] = name
    if control_plane_url:
        sources.set_path(merged, ("controlPlane", "url"), control_plane_url)
    # The file's structure is checked as install checks it: a misspelled key is exit 2
    # with its suggestion here too, not a preflight of the wrong settings.
    problems: list[Problem] = sources.schema_problems(merged) if answers_file else []
    chosen_name = merged.get("name")
    if chosen_name is not None and not (
        isinstance(chosen_name, str) and is_dns_label(chosen_name, MAX_NAME_LENGTH)
    ):
        problems.append(
            Problem(
                "name",
                f"{chosen_name!r} is not a valid data plane name",
                f"use at most {MAX_NAME_LENGTH} lowercase letters, digits and '-'",
            )
        )
    url = sources.get_path(merged, ("controlPlane", "url"))
    if url:
        problem = url_problem(url)
        if problem:
            problems.append(Problem("controlPlane.url", problem, "use https://host[/path]"))
    if problems:
        raise InvalidSettings(problems, source=str(answers_file or "the flags"))
    from airbox.installed import use_proxy_answers

    # The network checks go through the data plane's proxy, as its install would.
    merged = sources.deep_merge(merged, sources.env_network(environ)[0])
    use_proxy_answers(merged)
    return Subject.from_answers(merged)


def preflight_command(
    *,
    name: str | None,
    answers_file: Path | None,
    control_plane_url: str | None,
    as_json: bool,
    term: Terminal | None = None,
) -> int:
    """``airbox preflight``: 0 when nothing failed, 3 otherwise."""
    import json

    from airbox.errors import EXIT_OK, EXIT_PREFLIGHT
    from airbox.ui import Terminal

    term = term or Terminal()
    subject = subject_from_inputs(name, answers_file, control_plane_url)
    report = run_preflight(subject)
    if as_json:
        term.print(json.dumps(report.to_json(), indent=2))
    else:
        color = term.color and bool(getattr(term.out, "isatty", lambda: False)())
        for line in render(report, color=color):
            term.print(line)
        if report.failures:
            term.print("Fix the failures above, then run `airbox preflight` again.")
    return EXIT_PREFLIGHT if report.failures else EXIT_OK


def _previous_warnings(state: StateDir | None) -> set[tuple[str, str]] | None:
    """(id, "warn") of the warnings the last saved report had; None without one."""
    if state is None:
        return None
    from airbox.fsutil import read_json

    try:
        data = read_json(state.preflight)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        return None
    return {
        (str(c.get("id")), "warn")
        for c in data["checks"]
        if isinstance(c, dict) and c.get("outcome") == "warn"
    }


SEEN_WARNINGS_FILE = "preflight-warnings.json"


def _seen_warnings() -> set[tuple[str, str]]:
    """The machine's warnings already shown in full by an earlier run (any data plane:
    they are about this machine)."""
    from airbox.fsutil import read_json
    from airbox.paths import airbox_home

    try:
        data = read_json(airbox_home() / SEEN_WARNINGS_FILE)
    except (OSError, ValueError):
        return set()
    if not isinstance(data, list):
        return set()
    return {
        (str(item[0]), str(item[1])) for item in data if isinstance(item, list) and len(item) == 2
    }


def _remember_warnings(shown: set[tuple[str, str]]) -> None:
    from airbox.fsutil import PUBLIC_FILE, ensure_private_dir, write_json
    from airbox.paths import airbox_home

    try:
        ensure_private_dir(airbox_home())
        write_json(
            airbox_home() / SEEN_WARNINGS_FILE,
            sorted([list(item) for item in shown | _seen_warnings()]),
            mode=PUBLIC_FILE,
        )
    except OSError:
        pass  # only decides how much is printed next time


def show_warnings(report: Report, term: Terminal, previous: set[tuple[str, str]] | None) -> None:
    """Each warning with its fix the first time; the same warnings again: one line."""
    warnings = report.warnings
    if not warnings:
        return
    # By check, not by wording: a finding that names a number (free disk) changes a
    # little every run and is still the same warning.
    current = {(r.id, "warn") for r in warnings}
    previous = (previous or set()) | _seen_warnings()
    if current <= previous:
        noun = "warning" if len(warnings) == 1 else "warnings"
        term.info(
            f"preflight: {len(warnings)} {noun}, the same as last time "
            f"({', '.join(r.id for r in warnings)}); `airbox preflight` shows them"
        )
        return
    for result in warnings:
        term.warn(f"{result.title}: {result.finding}")
        term.detail(f"fix: {result.fix}")
    _remember_warnings(current)


def judge(
    report: Report,
    *,
    term: Terminal,
    state: StateDir | None,
    ignore_failures: bool,
    assume_yes: bool,
    prompter: Any = None,
    paused: Any = None,
    previous: set[tuple[str, str]] | None = None,
    confirmed: frozenset[str] = frozenset(),
) -> str:
    """Log and show a report; raise on failures unless confirmed. Returns the counts line.

    ``confirmed``: the ids of failures the user already chose to go on with in this
    install (before the questions): not asked about twice.
    """
    import contextlib

    from airbox import runlog

    log = runlog.logger()
    for result in report.results:
        log.info(
            "preflight %s %s: %s%s",
            result.outcome,
            result.id,
            result.finding,
            f" (fix: {result.fix})" if result.fix else "",
        )
    show_warnings(report, term, previous)
    failures = report.failures
    counts = counts_text(report)
    if not failures:
        return counts
    if ignore_failures and {r.id for r in failures} <= confirmed:
        log.warning("continuing despite failed preflight checks (confirmed before the questions)")
        return counts
    noun = "check" if len(failures) == 1 else "checks"
    details = failure_details(report)
    saved = (
        f"results: {state.preflight}"
        if state is not None and state.root.is_dir()
        else ("run `airbox preflight` to see them again")
    )
    if not ignore_failures:
        raise PreflightFailed(
            f"{len(failures)} preflight {noun} failed; nothing was installed",
            details=[*details, saved],
            hint="fix the problems above and run `airbox install` again (it resumes); "
            "--ignore-preflight-failures continues anyway, at your own risk",
        )
    if assume_yes:
        # Confirmed on the command line (--yes): go on, but make it impossible to miss.
        term.warn(
            f"IGNORING {len(failures)} FAILED PREFLIGHT {noun.upper()} "
            "(--ignore-preflight-failures --yes); the install may fail or the data "
            "plane may not work:"
        )
        for text in details:
            term.detail(text)
        log.warning("continuing despite failed preflight checks: %s", "; ".join(details))
        return counts
    if prompter is not None:
        term.warn(f"{len(failures)} preflight {noun} failed:")
        for text in details:
            term.detail(text)
        with paused() if paused is not None else contextlib.nullcontext():
            confirmed = prompter.confirm(
                "Continue anyway? The install may fail or the data plane may not work.",
                default=False,
            )
        if confirmed:
            log.warning("continuing despite failed preflight checks (confirmed)")
            return counts
        raise PreflightFailed(
            f"stopped: {len(failures)} preflight {noun} failed",
            details=[*details, saved],
            hint="fix the problems above and run `airbox install` again",
        )
    raise PreflightFailed(
        f"{len(failures)} preflight {noun} failed and --ignore-preflight-failures needs "
        "confirmation",
        details=[*details, saved],
        hint="add --yes to confirm continuing without a terminal, or fix the problems above",
    )


def before_questions(
    answers: Mapping[str, Any],
    *,
    term: Terminal,
    ignore_failures: bool,
    assume_yes: bool,
    prompter: Any = None,
) -> Report:
    """``airbox install``'s preflight, run before any question with what is known so far
    (it takes about a second): a machine that cannot work is found before the typing."""
    from airbox.fsutil import ensure_private_dir

    subject = Subject.from_answers(answers)
    state = StateDir.for_name(subject.name) if subject.name else None
    previous = _previous_warnings(state)
    report = run_preflight(subject, state=state, save=False)
    if state is not None and state.exists():
        ensure_private_dir(state.root)
        save_report(report, state)
    try:
        counts = judge(
            report,
            term=term,
            state=state,
            ignore_failures=ignore_failures,
            assume_yes=assume_yes,
            prompter=prompter,
            previous=previous,
        )
    except KeyboardInterrupt as exc:
        # Ctrl-C at "Continue anyway?": nothing has been touched yet, so the generic
        # "what was done is kept" would mislead. SIGTERM/SIGHUP keep their own message.
        from airbox.signals import signal_of

        if signal_of(exc) is not None:
            raise
        raise InterviewInterrupted(
            "Interrupted at the preflight question: nothing was installed or changed."
        ) from None
    term.info(f"Machine checked: {counts}")
    return report


def install_check(
    settings: Settings,
    state: StateDir,
    term: Terminal,
    line: StepLine,
    *,
    ignore_failures: bool,
    assume_yes: bool,
    prompter: Prompter | None,
    early: Report | None,
) -> None:
    """The install pipeline's preflight step: check, save, report, stop on failures.

    When the same checks already ran before the questions (``early``, for the same data
    plane and control plane), their report is reused, not run again.
    """
    from airbox.fsutil import ensure_private_dir

    ensure_private_dir(state.root)
    if early is not None and early.subject == Subject.from_settings(settings):
        save_report(early, state)
        line.update(f"checked before the questions: {counts_text(early)}")
        _overridden(early, line)
        return
    previous = _previous_warnings(state)
    report = run_preflight(settings, state=state)
    confirmed = frozenset(r.id for r in early.failures) if early is not None else frozenset()
    counts = judge(
        report,
        term=term,
        state=state,
        ignore_failures=ignore_failures,
        assume_yes=assume_yes,
        prompter=prompter,
        paused=line.paused,
        previous=previous,
        confirmed=confirmed,
    )
    line.update(counts)
    _overridden(report, line)


def _overridden(report: Report, line: StepLine) -> None:
    """Failures the user chose to go on with: the step ends with "!", not "✓"."""
    if report.failures:
        noun = "check" if len(report.failures) == 1 else "checks"
        line.warn(
            f"{len(report.failures)} failed {noun} overridden: "
            + ", ".join(r.id for r in report.failures)
        )
