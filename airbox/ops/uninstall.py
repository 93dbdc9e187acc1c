"""``airbox uninstall``: remove what airbox created, and nothing else.

Order: the Helm release (``helm uninstall --wait``), then the kind cluster airbox created
(``kind delete cluster``) — or, in an existing cluster, only what airbox put there: the
release, the Secret ``airbyte-config-secrets``, the job pods' proxy policy and binding
(cluster-scoped), and the namespace if airbox created it
(label ``app.kubernetes.io/managed-by=airbox``) and nothing else lives in it; never the
cluster. With ``--deregister`` the data plane's registration on the control plane goes
too. Last, the local state directory (unless ``--keep-state``), its settings and lock
last of all: interrupted there, the data plane is still found and a re-run finishes.

First it looks at what exists, lists it and asks (``--yes`` skips the question; without a
terminal ``--yes`` is required). Idempotent: what is already gone is not listed, and
when nothing is left it says so and exits 0. A step that fails is reported and the
others still run; the state directory is then kept, since finishing the job (another
``airbox uninstall``) needs the settings and the registration it holds, and the exit
code is 1 with what remains and how to remove it by hand.

What exists, and what the plan lists, is ``uninstall_survey``'s; here are the steps that
remove it and the command.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from airbox import runlog
from airbox.cluster import commands
from airbox.cluster.runner import Runner
from airbox.errors import EXIT_FAILURE, EXIT_OK, AirboxError, UsageError
from airbox.installed import Identified, choose_name, why
from airbox.lock import LOCK_FILE
from airbox.ops.session import Session
from airbox.ops.uninstall_survey import Exists, Item, Survey, docker_host, survey
from airbox.paths import CREDENTIALS_FILE, SETTINGS_FILE, StateDir, airbox_home
from airbox.redact import REDACTOR
from airbox.render.manifests import SECRET_NAME
from airbox.ui import StepLine, Terminal

# ------------------------------------------------------------------------------- steps


class Remover:
    def __init__(self, inst: Identified, runner: Runner) -> None:
        self.inst = inst
        self.runner = runner
        self.settings = inst.settings
        self.kube = inst.kube

    def release(self, line: StepLine) -> None:
        result = self.runner.run(
            commands.helm_uninstall(self.kube, self.settings),
            timeout=360,
            error="helm uninstall failed",
        )
        line.update(result.stdout.strip())

    def cluster(self, line: StepLine) -> None:
        if self.runner.available("kind"):
            self.runner.run(
                commands.kind_delete(self.settings, self.inst.state.kubeconfig),
                timeout=300,
                error="kind delete cluster failed",
            )
            return
        # No kind on this machine: remove the node containers as kind would, by its label.
        removed = docker_host().remove_kind_nodes(self.settings.cluster_name)
        runlog.logger().info(
            "removed the node containers %s (through Docker: no kind)",
            ", ".join(removed) or "(none left)",
        )
        line.update(
            f"removed {', '.join(removed)} through Docker (kind is not installed)"
            if removed
            else "nothing left"
        )

    def secret(self, line: StepLine) -> None:
        self.runner.run(
            commands.kubectl_delete_secret(self.kube, self.settings.namespace, SECRET_NAME),
            timeout=60,
            error=f"deleting the Secret {SECRET_NAME} failed",
        )

    def job_proxy(self, line: StepLine) -> None:
        from airbox.ops.jobproxy import remove

        remove(self.runner, self.kube, self.settings)

    def namespace(self, line: StepLine) -> None:
        line.update("waiting for everything in it to be deleted")
        self.runner.run(
            commands.kubectl_delete_namespace(self.kube, self.settings.namespace),
            timeout=360,
            error=f"deleting the namespace {self.settings.namespace} failed",
        )

    def registration(self, line: StepLine) -> None:
        from airbox.controlplane.registration import deregister

        outcome = deregister(self.settings, self.inst.state)
        line.update(
            {
                "deleted": "deleted on the control plane",
                "already-gone": "already deleted on the control plane",
                "not-registered": "was not registered",
            }[outcome]
        )


def _remove_state(inst: Identified) -> None:
    root = inst.state.root
    # Only ever a data plane's own directory under $AIRBOX_HOME (the name was checked).
    if root.parent.resolve() != airbox_home().resolve() or root.name != inst.name:
        raise UsageError(f"refusing to remove {root}: not a data plane's state directory")
    runlog.stop()
    remove_state_dir(root)


# What marks a directory as an installed data plane goes last, then the lock: an
# interruption anywhere before leaves a data plane that `airbox uninstall` finds and
# finishes (it lists only the local state), never secrets behind a "nothing installed".
_LAST = (CREDENTIALS_FILE, SETTINGS_FILE, LOCK_FILE)


def remove_state_dir(root: Path) -> None:
    """Remove a state directory: everything else, then the settings, then the lock file,
    then the directory. A symlink inside is removed, never followed."""
    for entry in os.scandir(root):
        if entry.name in _LAST:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    for name in _LAST:
        (root / name).unlink(missing_ok=True)
    for _ in range(50):
        try:
            root.rmdir()
            return
        except OSError as exc:
            # A command that waited for the lock may have made a new lock file just now
            # (it then finds nothing installed and leaves): that one goes too.
            if exc.errno != errno.ENOTEMPTY or set(os.listdir(root)) - {LOCK_FILE}:
                raise
            (root / LOCK_FILE).unlink(missing_ok=True)
            time.sleep(0.02)
    root.rmdir()


def _leftover(state: StateDir) -> bool:
    """A state directory an interrupted uninstall left after its settings went: empty, or
    only the lock file."""
    try:
        return (
            state.root.is_dir()
            and not state.root.is_symlink()
            and set(os.listdir(state.root)) <= {LOCK_FILE}
        )
    except OSError:
        return False


# ------------------------------------------------------------------------------ command


def uninstall_command(
    *,
    name: str | None,
    assume_yes: bool,
    deregister: bool,
    keep_state: bool,
    verbose: bool = False,
    interactive: bool | None = None,
    term: Terminal | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> int:
    """0 when nothing of the data plane is left (or nothing was), 1 when something remains.

    ``interactive``: questions may be asked (default: stdin is a terminal);
    ``confirm``: asks the question (default: a questionary prompt).
    """
    term = term or Terminal(verbose=verbose)
    if interactive is None:
        interactive = sys.stdin.isatty()
    # Every state directory counts: with a failed attempt beside a running data plane, a
    # bare `uninstall` must never pick the running one for the user.
    chosen = choose_name(name, "uninstall", any_state=True)
    if chosen is None:
        term.print(f"Nothing to remove: no data plane is installed (no state in {airbox_home()}).")
        return EXIT_OK
    # The lock is held from the first look to the last removal: an install running
    # meanwhile would re-create what this removes (or lose its state directory under it).
    # Damaged saved settings are what an uninstall is for; nothing there is success; the
    # log starts with the first change.
    with Session.acting_on(
        chosen, "uninstall", "", damaged_ok=True, missing_ok=True, log=False, term=term
    ) as run:
        if run is None:
            return _nothing_there(chosen, term)
        return _uninstall(
            run,
            deregister=deregister,
            keep_state=keep_state,
            assume_yes=assume_yes,
            interactive=interactive,
            confirm=confirm,
        )


def _nothing_there(chosen: str, term: Terminal) -> int:
    state = StateDir.for_name(chosen)
    if _leftover(state):
        remove_state_dir(state.root)
        term.print(
            f"Removed what was left of {airbox_home() / chosen} (an earlier "
            "uninstall stopped while removing it)."
        )
    else:
        term.print(
            f"Nothing to remove: no data plane named {chosen} is installed (no state "
            f"in {airbox_home() / chosen})."
        )
    return EXIT_OK


def _uninstall(
    run: Session[Identified],
    *,
    deregister: bool,
    keep_state: bool,
    assume_yes: bool,
    interactive: bool,
    confirm: Callable[[str], bool] | None,
) -> int:
    inst, term, runner = run.inst, run.term, run.runner
    if inst.damaged:
        term.warn(inst.damaged)
        term.info("  uninstalling what the readable files and the name tell")
    plan = survey(inst, runner, deregister=deregister, keep_state=keep_state)
    present = plan.present()
    if not present:
        term.print(f"Nothing to remove: data plane {inst.name} is already uninstalled.")
        for note in plan.notes:
            term.info(f"  {note}")
        return EXIT_OK

    term.print(f"This removes data plane {inst.name}:")
    for item in present:
        term.print(f"  - {item.listing()}")
    for note in plan.notes:
        term.print(f"  Note: {note}.")
    if not assume_yes:
        if not interactive:
            raise UsageError(
                "uninstall needs confirmation, and there is no terminal to ask on",
                hint=f"add --yes to confirm: airbox uninstall --name {inst.name} --yes",
            )
        ask = confirm or _ask
        if not ask(f"Remove data plane {inst.name}?"):
            term.print("Nothing was removed.")
            return EXIT_OK

    # The log starts with the first change: the look around before it is read-only.
    run.start_log()
    log = runlog.logger()
    log.info(
        "airbox uninstall %s (deregister=%s, keep_state=%s): %s",
        inst.name,
        deregister,
        keep_state,
        "; ".join(item.listing() for item in present),
    )
    remover = Remover(inst, runner)
    actions: dict[str, tuple[str, Callable[[StepLine], None]]] = {
        "release": (f"Uninstall the Helm release {inst.settings.release}", remover.release),
        "cluster": (f"Delete the kind cluster {inst.settings.cluster_name}", remover.cluster),
        "secret": (f"Delete the Secret {SECRET_NAME}", remover.secret),
        "job-proxy": ("Delete the job pods' proxy policy", remover.job_proxy),
        "namespace": (f"Delete the namespace {inst.settings.namespace}", remover.namespace),
        "registration": ("Delete the registration on the control plane", remover.registration),
    }
    failed: dict[str, str] = {}
    for item in present:
        if item.key not in actions:
            continue
        title, action = actions[item.key]
        try:
            with term.step(title) as line:
                action(line)
        except AirboxError as exc:
            failed[item.key] = REDACTOR.mask_all(why(exc))
            log.error("%s: %s", title, why(exc))
            term.detail(failed[item.key])

    remaining = _remaining(inst, runner, present, failed)
    for key in failed:
        if key not in {item.key for item in remaining}:
            term.warn(
                f"the {key} step failed, but nothing of it is left "
                + ("(it went with the cluster)" if key == "release" else "(gone anyway)")
            )

    state_item = next((i for i in present if i.key == "state"), None)
    if remaining:
        term.error(f"data plane {inst.name} is partly uninstalled; what remains:")
        for item in remaining:
            term.detail(f"{item.what}: {failed.get(item.key) or item.note or 'still there'}")
            term.detail(f"    by hand: {item.manual}")
        if state_item is not None:
            term.detail(
                f"kept {inst.state.root}: `airbox uninstall --name {inst.name}` needs it to finish"
            )
        term.detail(
            "next: fix the cause, then run `airbox uninstall --name "
            f"{inst.name}` again (it removes only what is left)"
        )
        log_file = runlog.current_file()
        if log_file:
            term.detail(f"log: {log_file}")
        return EXIT_FAILURE

    if state_item is not None:
        try:
            with term.step(f"Remove the local state {inst.state.root}"):
                _remove_state(inst)
        except OSError as exc:
            term.error(f"removing {inst.state.root} failed: {exc}")
            term.detail(f"by hand: {state_item.manual}")
            return EXIT_FAILURE
    term.print(f"Data plane {inst.name} is uninstalled.")
    return EXIT_OK


def _remaining(
    inst: Identified, runner: Runner, present: list[Item], failed: dict[str, str]
) -> list[Item]:
    """Of the items whose removal failed, those still there (looked at again)."""
    if not failed:
        return []
    look = Survey(inst, runner)
    cluster_gone = inst.settings.target.is_kind and "cluster" not in failed
    namespace_gone = (
        not inst.settings.target.is_kind
        and any(i.key == "namespace" for i in present)
        and "namespace" not in failed
    )
    left = []
    for item in present:
        if item.key not in failed:
            continue
        if item.key in ("release", "secret") and (cluster_gone or namespace_gone):
            continue  # it lived in what was deleted
        again: dict[str, Callable[[], tuple[Exists, str]]] = {
            "release": look.release,
            "cluster": look.cluster,
            "secret": look.secret,
            "namespace": look.namespace,
            "registration": look.registration,
            "job-proxy": look.job_proxy,
        }
        exists, _ = again[item.key]()
        if exists is not False:
            left.append(item)
    return left


def _ask(question: str) -> bool:
    from airbox.config.prompts import Prompter

    return Prompter().confirm(question, default=False)
