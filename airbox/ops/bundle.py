"""``airbox support-bundle``: one redacted ``.tar.gz`` with what support needs to help.

Contents (under one top directory ``airbox-support-<name>-<time>/``)::

    manifest.json            each collector: ok, seconds, files, error
    errors.txt               only when a collector failed: what and why
    status.json              `airbox status --json`
    helm-values.json         `helm get values -o json`, secret-named keys masked
    events.json              every event in the namespace (`kubectl get events -o json`)
    events-warnings.txt      the Warning events, one per line
    pods-describe.txt        `kubectl describe pods` in the namespace
    pod-logs/<pod>.log       each data plane pod's log (all containers, last 5000 lines)
    pod-logs/<pod>.previous.log   the previous container's, when one exists
    kind-logs/...            `kind export logs` (kind clusters only)
    docker-info.json         the Docker Engine's `info` (kind clusters only)
    airbox-logs/*.log        airbox's own run logs
    state/                   settings.yaml, values.yaml, preflight.json, progress.json,
                             kind-config.yaml (whichever exist)

Never: credentials.yaml, secrets.yaml, registration.json, token.json or the kubeconfig
(files are taken from an allow-list, and a deny-list double-checks it). Before anything
is collected every secret airbox knows is registered with the redactor (the settings,
the generated Secret, the registered data plane's credentials, the API token); then
every text goes through ``REDACTOR.mask_all`` (known values, their base64 forms, and
credential-shaped text such as tokens, keys, passwords and connection strings) and
loses any password written in a URL (``https://user:password@proxy``).

Collectors run concurrently; one that fails is recorded and the others still run.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airbox import __version__
from airbox.cluster import commands, kube
from airbox.cluster.runner import Runner
from airbox.config.yamlfile import YamlProblem, load_yaml
from airbox.errors import EXIT_OK, AirboxError, UsageError
from airbox.fsutil import make_private_dirs, usable_dir
from airbox.installed import Identified, Installed, why
from airbox.ops.session import Session
from airbox.ops.status import status_report
from airbox.redact import MASK, REDACTOR, scrub_mapping
from airbox.timestamps import utc_stamp

LOG_TAIL = 5000
# Files of the state directory a bundle may hold; everything else stays out.
STATE_FILES = (
    "settings.yaml",
    "values.yaml",
    "preflight.json",
    "progress.json",
    "kind-config.yaml",
)
# Never in a bundle, whatever a future change to the allow-list says.
FORBIDDEN = frozenset(
    {"credentials.yaml", "secrets.yaml", "registration.json", "token.json", "kubeconfig"}
)

Files = list[tuple[str, str]]

# A password in a URL (a proxy's, a database's): the redactor's patterns do not know it.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")


def mask(text: str) -> str:
    """Everything a bundle holds goes through this: known secrets, then shapes of them."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", REDACTOR.mask_all(text))


class ForbiddenFile(RuntimeError):
    """A bug: something tried to put a secret-holding file into a bundle."""


@dataclass
class Collected:
    id: str
    files: Files = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ok": self.error is None,
            "seconds": round(self.seconds, 2),
            "files": [path for path, _ in self.files],
            "error": self.error,
        }


@dataclass
class Bundle:
    path: Path
    collected: list[Collected]

    @property
    def failed(self) -> list[Collected]:
        return [c for c in self.collected if c.error is not None]


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


# -------------------------------------------------------------------------- collectors


class Collectors:
    """Each method gathers one part of the bundle; it may raise (its error is recorded)."""

    def __init__(self, inst: Identified, runner: Runner) -> None:
        self.inst = inst
        self.runner = runner
        self.settings = inst.settings
        self.kube = inst.kube

    def all(self) -> dict[str, Callable[[], Files]]:
        jobs: dict[str, Callable[[], Files]] = {
            "status": self.status,
            "helm-values": self.helm_values,
            "events": self.events,
            "pods-describe": self.pods_describe,
            "pod-logs": self.pod_logs,
            "airbox-logs": self.airbox_logs,
            "state": self.state_files,
        }
        if self.settings.target.is_kind:
            jobs["kind-logs"] = self.kind_logs
            jobs["docker-info"] = self.docker_info
        return jobs

    def status(self) -> Files:
        if not isinstance(self.inst, Installed):
            # Status judges against the secrets manager and storage the settings name;
            # unreadable settings name neither, and a guess would report false failures.
            raise AirboxError(
                "not judged: the saved settings are unreadable, so the "
                "secrets manager and storage to check against are unknown"
            )
        return [("status.json", _json(status_report(self.inst, self.runner)))]

    def helm_values(self) -> Files:
        result = self.runner.run(commands.helm_get_values(self.kube, self.settings), timeout=60)
        values = json.loads(result.stdout or "{}")
        return [("helm-values.json", _json(scrub_mapping(values)))]

    def events(self) -> Files:
        data = kube.get_json(
            self.runner,
            self.kube,
            "--namespace",
            self.settings.namespace,
            "get",
            "events",
            timeout=60,
        )
        items = [e for e in data.get("items", []) if isinstance(e, dict)]
        items.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        warnings = []
        for event in items:
            if event.get("type") != "Warning":
                continue
            involved = event.get("involvedObject") or {}
            warnings.append(
                f"{event.get('lastTimestamp') or event.get('eventTime')} "
                f"{event.get('reason')} {str(involved.get('kind') or '').lower()}/"
                f"{involved.get('name')} (x{event.get('count') or 1}): {event.get('message')}"
            )
        return [
            ("events.json", _json(data)),
            (
                "events-warnings.txt",
                "\n".join(warnings) + "\n" if warnings else "no Warning events\n",
            ),
        ]

    def pods_describe(self) -> Files:
        result = self.runner.run(
            commands.kubectl_describe_pods(self.kube, self.settings.namespace), timeout=60
        )
        return [("pods-describe.txt", (result.stdout or result.stderr) + "\n")]

    def pod_logs(self) -> Files:
        pods = kube.pods(
            self.runner,
            self.kube,
            self.settings.namespace,
            kube.release_selector(self.settings.release, self.settings.values),
        )
        files: Files = []
        for pod in pods:
            name = str((pod.get("metadata") or {}).get("name"))
            for previous in (False, True):
                argv = commands.kubectl_logs(
                    self.kube,
                    self.settings.namespace,
                    name,
                    all_containers=True,
                    tail=LOG_TAIL,
                    previous=previous,
                )
                result = self.runner.run(argv, timeout=60, check=False)
                suffix = ".previous.log" if previous else ".log"
                if result.ok:
                    files.append((f"pod-logs/{name}{suffix}", result.stdout + "\n"))
                elif not previous:
                    # A pod that cannot give its log (still pulling its image) says why.
                    files.append(
                        (f"pod-logs/{name}{suffix}", f"(no log: {result.stderr.strip()})\n")
                    )
        if not files:
            files.append(
                (
                    "pod-logs/README.txt",
                    f"no data plane pods in namespace {self.settings.namespace}\n",
                )
            )
        return files

    def kind_logs(self) -> Files:
        files: Files = []
        with tempfile.TemporaryDirectory(prefix="airbox-kind-logs-") as tmp:
            target = Path(tmp) / "export"
            self.runner.run(commands.kind_export_logs(self.settings, target), timeout=300)
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                raw = path.read_bytes()
                if b"\0" in raw[:8192]:
                    continue  # binary: nothing support reads, and nothing we can mask
                files.append(
                    (f"kind-logs/{path.relative_to(target)}", raw.decode("utf-8", errors="replace"))
                )
        return files

    def docker_info(self) -> Files:
        from airbox.cluster.dockerhost import DockerHost

        return [("docker-info.json", _json(DockerHost.connect().info()))]

    def airbox_logs(self) -> Files:
        logs = self.inst.state.logs
        paths = sorted(logs.glob("*.log")) if logs.is_dir() else []
        return [
            (f"airbox-logs/{p.name}", p.read_text(encoding="utf-8", errors="replace"))
            for p in paths
        ]

    def state_files(self) -> Files:
        files: Files = []
        for name in STATE_FILES:
            path = self.inst.state.root / name
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if name.endswith(".yaml"):
                # Belt and braces: these hold no secrets by design; mask secret-named keys
                # anyway, in case a hand edit put one there.
                with contextlib.suppress(YamlProblem):
                    text = yaml.safe_dump(scrub_mapping(load_yaml(text)), sort_keys=False)
            files.append((f"state/{name}", text))
        return files


def _run(collector_id: str, job: Callable[[], Files]) -> Collected:
    started = time.monotonic()
    try:
        files = job()
    except Exception as exc:  # one collector's failure must not stop the others
        return Collected(collector_id, error=mask(why(exc)), seconds=time.monotonic() - started)
    return Collected(collector_id, files, seconds=time.monotonic() - started)


def collect(inst: Identified, runner: Runner) -> list[Collected]:
    jobs = Collectors(inst, runner).all()
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(jobs), thread_name_prefix="airbox-bundle"
    ) as pool:
        futures = [pool.submit(_run, key, job) for key, job in jobs.items()]
        return [future.result() for future in futures]


# ------------------------------------------------------------------------------- archive


def default_path(name: str, directory: Path | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (directory or Path.cwd()) / f"airbox-support-{name}-{stamp}.tar.gz"


def _check_allowed(relative: str) -> None:
    if Path(relative).name in FORBIDDEN:
        raise ForbiddenFile(f"refusing to put {relative} into a support bundle")


def write_archive(path: Path, top: str, files: Files) -> None:
    """Every file masked, into ``path`` (0600) atomically."""
    make_private_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w:gz") as archive:
                now = time.time()
                for relative, text in files:
                    _check_allowed(relative)
                    data = mask(text).encode("utf-8")
                    info = tarfile.TarInfo(f"{top}/{relative}")
                    info.size = len(data)
                    info.mode = 0o600
                    info.mtime = int(now)
                    archive.addfile(info, io.BytesIO(data))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(inst: Identified, runner: Runner, path: Path) -> Bundle:
    collected = collect(inst, runner)
    top = path.name.removesuffix(".tar.gz").removesuffix(".tgz") or "airbox-support"
    files: Files = []
    for item in collected:
        files.extend(item.files)
    manifest = {
        "version": 1,
        "name": inst.name,
        "createdAt": utc_stamp(),
        "airboxVersion": __version__,
        "collectors": [c.as_dict() for c in collected],
    }
    files.insert(0, ("manifest.json", _json(manifest)))
    failed = [c for c in collected if c.error is not None]
    if failed:
        files.insert(1, ("errors.txt", "".join(f"{c.id}: {c.error}\n" for c in failed)))
    write_archive(path, top, files)
    return Bundle(path, collected)


def bundle_command(*, name: str | None, output: Path | None, verbose: bool = False) -> int:
    """``airbox support-bundle``: write the archive, print its path; 0 once it is written."""
    # Run precisely when something is broken: damaged saved settings do not stop it, and
    # it only reads (no lock: a stuck command holding it must not block the diagnosis; no
    # log of its own: it collects the others).
    with Session.acting_on(
        name,
        "support-bundle",
        "a bundle describes an installed data plane; `airbox preflight` checks a machine "
        "before the install",
        damaged_ok=True,
        lock=False,
        log=False,
        verbose=verbose,
    ) as run:
        return _bundle(run, output)


def _bundle(run: Session[Identified], output: Path | None) -> int:
    inst, term = run.inst, run.term
    if inst.damaged:
        term.warn(inst.damaged)
    if output is not None and output.is_dir():
        path = default_path(inst.name, usable_dir(output, "-o"))
    elif output is not None:
        if not output.name.endswith((".tar.gz", ".tgz")):
            raise UsageError(
                f"-o {output}: the bundle is a .tar.gz archive",
                hint="give a file name ending in .tar.gz, or a directory",
            )
        if output.exists() and not output.is_file():
            raise UsageError(
                f"-o {output}: exists and is not a file",
                hint="give a new file name ending in .tar.gz, or a directory",
            )
        # Before collecting anything: a path through a file or without permission is bad
        # input (exit 2), not a failure found after a minute of work.
        usable_dir(output.absolute().parent, "-o")
        path = output
    else:
        path = default_path(inst.name, usable_dir(Path.cwd(), "the current directory"))
    term.info(f"Collecting diagnostics of data plane {inst.name} ...")
    bundle = build(inst, run.runner, path.absolute())
    for item in bundle.failed:
        term.warn(f"{item.id}: {item.error}")
    count = sum(len(c.files) for c in bundle.collected)
    if bundle.failed:
        term.info(
            f"{len(bundle.failed)} of {len(bundle.collected)} collectors failed; the "
            "bundle lists why in errors.txt"
        )
    term.info(f"Wrote {count} files, secrets redacted. Send this file to Airbyte support:")
    term.print(str(bundle.path))
    return EXIT_OK
