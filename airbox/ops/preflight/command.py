"""Running preflight for a data plane: ``airbox preflight`` and install's first step."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbox.config.settings import (
    MAX_NAME_LENGTH,
    Settings,
    is_dns_label,
    url_problem,
)
from airbox.errors import InvalidSettings, PreflightFailed, Problem
from airbox.ops.preflight.checks import DEADLINE, run_checks
from airbox.ops.preflight.facts import Endpoints, HostFacts, Subject
from airbox.ops.preflight.report import Report, failure_details, render, save_report
from airbox.paths import StateDir

if TYPE_CHECKING:
    from airbox.ops.install import Context
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
    report = run_checks(subject, facts=facts, endpoints=endpoints, state=state,
                        environ=environ, deadline=deadline)
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
    problems: list[Problem] = []
    chosen_name = merged.get("name")
    if chosen_name is not None and not (isinstance(chosen_name, str)
                                        and is_dns_label(chosen_name, MAX_NAME_LENGTH)):
        problems.append(Problem("name", f"{chosen_name!r} is not a valid data plane name",
                                f"use at most {MAX_NAME_LENGTH} lowercase letters, digits "
                                "and '-'"))
    url = sources.get_path(merged, ("controlPlane", "url"))
    if url:
        problem = url_problem(url)
        if problem:
            problems.append(Problem("controlPlane.url", problem, "use https://host[/path]"))
    if problems:
        raise InvalidSettings(problems, source=str(answers_file or "the flags"))
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


def install_step(ctx: Context, line: StepLine) -> None:
    """The install pipeline's preflight step: check, save, report, stop on failures."""
    from airbox import runlog
    from airbox.fsutil import ensure_private_dir

    ensure_private_dir(ctx.state.root)
    report = run_preflight(ctx.settings, state=ctx.state)
    log = runlog.logger()
    for result in report.results:
        log.info("preflight %s %s: %s%s", result.outcome, result.id, result.finding,
                 f" (fix: {result.fix})" if result.fix else "")
    for result in report.warnings:
        ctx.term.warn(f"{result.title}: {result.finding}")
        ctx.term.detail(f"fix: {result.fix}")
    failures = report.failures
    counts = (f"{len(report.by_outcome('pass'))} passed, {len(report.warnings)} warnings, "
              f"{len(failures)} failed")
    line.update(counts)
    if not failures:
        return
    noun = "check" if len(failures) == 1 else "checks"
    details = failure_details(report)
    saved = f"results: {ctx.state.preflight}"
    if not ctx.options.ignore_preflight_failures:
        raise PreflightFailed(
            f"{len(failures)} preflight {noun} failed; nothing was installed",
            details=[*details, saved],
            hint="fix the problems above and run `airbox install` again (it resumes); "
                 "--ignore-preflight-failures continues anyway, at your own risk",
        )
    if ctx.options.assume_yes:
        # Confirmed on the command line (--yes): go on, but make it impossible to miss.
        ctx.term.warn(f"IGNORING {len(failures)} FAILED PREFLIGHT {noun.upper()} "
                      "(--ignore-preflight-failures --yes); the install may fail or the data "
                      "plane may not work:")
        for text in details:
            ctx.term.detail(text)
        log.warning("continuing despite failed preflight checks: %s", "; ".join(details))
        return
    if ctx.prompter is not None:
        ctx.term.warn(f"{len(failures)} preflight {noun} failed:")
        for text in details:
            ctx.term.detail(text)
        with line.paused():
            confirmed = ctx.prompter.confirm(
                "Continue anyway? The install may fail or the data plane may not work.",
                default=False)
        if confirmed:
            log.warning("continuing despite failed preflight checks (confirmed)")
            return
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
