"""``airbox bundle create`` and ``airbox bundle inspect``: what the user sees around
``airbox.offline.archive``."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import IO

from airbox import versions
from airbox.errors import EXIT_OK, EXIT_USAGE, InvalidSettings, Problem
from airbox.offline import archive
from airbox.offline import manifest as mf

_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def _problems(
    output: Path, connectors: list[str], chart_file: Path | None, chart_version: str | None
) -> list[Problem]:
    problems = []
    parent = output.absolute().parent
    if output.is_dir():
        problems.append(
            Problem("--output", f"{output} is a directory", "give the path of the file to write")
        )
    elif not parent.is_dir():
        problems.append(
            Problem(
                "--output",
                f"the directory {parent} does not exist",
                f"create it first (mkdir -p {parent}) or write elsewhere",
            )
        )
    elif not os.access(parent, os.W_OK | os.X_OK):
        problems.append(
            Problem(
                "--output",
                f"the directory {parent} is not writable by you",
                "write the bundle elsewhere",
            )
        )
    for ref in connectors:
        problem = mf.reference_problem(ref)
        if problem:
            problems.append(Problem("--connector", f"{ref} {problem}"))
    if chart_version is not None and not _VERSION.match(chart_version):
        problems.append(
            Problem("--chart-version", f"{chart_version} is not a version", "e.g. 1.8.1")
        )
    if chart_file is not None:
        meta = archive.chart_meta(chart_file)
        if not chart_file.is_file():
            problems.append(
                Problem(
                    "--chart",
                    f"{chart_file} is not a file",
                    "give the path of an airbyte-data-plane-<version>.tgz",
                )
            )
        elif meta is None:
            problems.append(
                Problem(
                    "--chart",
                    f"{chart_file} is not a chart archive (no "
                    "Chart.yaml with a name and a version)",
                )
            )
        elif meta[0] != versions.CHART_NAME:
            problems.append(
                Problem(
                    "--chart", f"{chart_file} is the chart {meta[0]}, not {versions.CHART_NAME}"
                )
            )
        elif chart_version is not None and meta[1] != chart_version.lstrip("v"):
            problems.append(
                Problem(
                    "--chart-version",
                    f"{chart_version}, but the chart {chart_file} is version {meta[1]}",
                    "give one of the two",
                )
            )
    return problems


def create_command(
    *,
    output: Path,
    connectors: list[str],
    chart_file: Path | None,
    chart_version: str | None,
    verbose: bool = False,
) -> int:
    from airbox.cluster.dockerhost import DockerHost
    from airbox.cluster.runner import Runner
    from airbox.cluster.toolchain import Toolchain
    from airbox.ui import Terminal

    problems = _problems(output, connectors, chart_file, chart_version)
    if problems:
        raise InvalidSettings(problems)
    term = Terminal(verbose=verbose)
    docker = DockerHost.connect(timeout=120)
    tools = Toolchain()
    runner = Runner(tools, echo=term.debug if verbose else None)
    version = (chart_version or versions.CHART_VERSION).lstrip("v")
    named = connectors or archive.default_connectors()
    with term.step(f"Create the offline bundle {output}") as line:
        made = archive.create(
            output,
            docker=docker,
            connectors=named,
            chart_version=version,
            progress=line.update,
            chart_file=chart_file,
            runner=runner,
            tools=tools,
        )
    size = archive.human_size(output.stat().st_size)
    term.success(
        f"{len(made.items)} items, {size}: chart {made.chart_name} "
        f"{made.chart_version}, {len(made.images())} images, "
        f"{', '.join(made.images('connector')) or 'no connector'}"
    )
    term.info(
        "It holds no secret (readable by all). Check it on the offline machine with "
        f"`airbox bundle inspect {output}`, install with "
        f"`airbox install --bundle {output}`."
    )
    term.print(str(output))
    return EXIT_OK


def manifest_lines(made: mf.Manifest) -> list[str]:
    from airbox.ui import render_table

    head = [
        f"format {made.format}, made by airbox {made.airbox} on {made.created} for {made.platform}",
        f"chart {made.chart_name} {made.chart_version} (appVersion {made.app_version}); "
        f"kind {made.kind_version}; node image {made.node_image}",
        "",
    ]
    rows = [
        {
            "kind": item.kind,
            "name": item.name,
            "size": archive.human_size(item.size),
            "sha256": item.sha256[:12],
        }
        for item in made.items
    ]
    return [*head, render_table(rows, ["kind", "name", "size", "sha256"])]


def inspect_command(path: Path, *, as_json: bool, out: IO[str] | None = None) -> int:
    from airbox.ui import Terminal

    out = out or sys.stdout
    made: mf.Manifest | None = None
    try:
        made = archive.read_manifest(path)
        if not as_json:
            out.write("\n".join(manifest_lines(made)) + "\n")
            out.flush()
        term = Terminal()
        if as_json:
            archive.verify(path)
        else:
            with term.step("Check every item's size and SHA-256") as line:
                archive.verify(path, progress=line.update)
    except archive.BundleDamaged as exc:
        if not as_json:
            raise
        _json(out, made, exc.message)
        return EXIT_USAGE
    if as_json:
        _json(out, made, None)
    else:
        out.write(
            f"every item checks: {len(made.items)} items, {archive.human_size(made.total_size)}\n"
        )
    return EXIT_OK


def _json(out: IO[str], made: mf.Manifest | None, error: str | None) -> None:
    body = {
        "manifest": mf.to_dict(made) if made is not None else None,
        "ok": error is None,
        "error": error,
    }
    out.write(json.dumps(body, indent=2) + "\n")
