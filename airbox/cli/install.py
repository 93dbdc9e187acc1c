"""``airbox install``: gather settings, then plan (``--dry-run``) or deploy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from airbox.cli.options import common_options

EXAMPLES = """\b
Examples:
  airbox install
  airbox install --answers dp.yaml --yes
  airbox install --reconfigure          # every question again, saved answers as defaults
  DATAPLANE_CLIENT_SECRET=... airbox install   # a corrected secret over the saved settings
  AIRBYTE_CLIENT_ID=... AIRBYTE_CLIENT_SECRET=... airbox install --answers dp.yaml
  airbox install --answers dp.yaml --dry-run --output-dir out
  airbox install --answers dp.yaml --kube-context prod-eks   # an existing cluster
  airbox install --answers dp.yaml --chart ./airbyte-data-plane-1.8.1.tgz
  airbox install --answers dp.yaml --workspace analytics-eu   # route a workspace here
  airbox install --answers dp.yaml --bundle airbox-1.8.1.bundle   # no internet at all
"""


@click.command(epilog=EXAMPLES)
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Answers file (YAML) with the data plane's settings.",
)
@click.option("--namespace", help="Kubernetes namespace (default: airbyte).")
@click.option(
    "--edition",
    type=click.Choice(["cloud", "enterprise"]),
    help="cloud (Enterprise Flex) or enterprise (self-managed control plane).",
)
@click.option("--control-plane-url", help="Control plane URL (required for enterprise).")
@click.option("--api-url", help="Airbyte public API base URL.")
@click.option("--region", help="Region (name or id) to register the data plane in.")
@click.option("--organization-id", help="Organization to register the data plane in.")
@click.option("--chart-version", help="airbyte-data-plane chart version (default: 1.8.1).")
@click.option("--chart", "chart", help="A local chart directory/.tgz or chart URL to install.")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Install from an offline bundle (airbox bundle create): images, chart "
    "and tools from FILE; only the control plane is contacted.",
)
@click.option("--kube-context", help="Install into this existing cluster instead of kind.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    help="Kubeconfig for --kube-context (default: kubectl's).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the generated files and plan.json, print the plan; change nothing.",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    help="With --dry-run: where to write the files (default: the state directory).",
)
@click.option(
    "--ignore-preflight-failures",
    is_flag=True,
    help="Continue although preflight checks fail (asks for confirmation).",
)
@click.option(
    "--reconfigure",
    is_flag=True,
    help="Ask every question again, the saved answers as defaults (a terminal).",
)
@click.option(
    "--no-preload-images",
    is_flag=True,
    help="Let the cluster pull images itself instead of pulling them on the host.",
)
@click.option(
    "--workspace",
    "workspace",
    multiple=True,
    help="Route this workspace (name or id) to the data plane's region; repeatable.",
)
@click.option(
    "--force-route",
    is_flag=True,
    help="Move the named workspaces even when they use another self-managed region.",
)
@common_options
def install(
    answers_file: Path | None,
    name: str | None,
    assume_yes: bool,
    verbose: bool,
    dry_run: bool,
    output_dir: Path | None,
    ignore_preflight_failures: bool,
    no_preload_images: bool,
    force_route: bool,
    reconfigure: bool,
    **flags: Any,
) -> int:
    """Install or upgrade an Airbyte data plane on this machine.

    Settings come from the saved settings of the data plane, the answers file (layered
    over them), the environment (AIRBYTE_CLIENT_ID, AIRBYTE_CLIENT_SECRET,
    DATAPLANE_CLIENT_ID, DATAPLANE_CLIENT_SECRET) and flags; what is still missing is
    asked on a terminal (never with --yes). Re-running is safe: it resumes, or upgrades
    when a setting or the chart version changed.
    """
    from airbox.ops.install import install_command

    if output_dir is not None and not dry_run:
        raise click.UsageError("--output-dir goes with --dry-run")
    interactive = sys.stdin.isatty() and not assume_yes
    if reconfigure and not interactive:
        raise click.UsageError(
            "--reconfigure asks questions: run it on a terminal without "
            "--yes (or change the answers file instead)"
        )
    flags["name"] = name
    return install_command(
        answers_file=answers_file,
        flags=flags,
        assume_yes=assume_yes,
        verbose=verbose,
        dry_run=dry_run,
        output_dir=output_dir,
        ignore_preflight_failures=ignore_preflight_failures,
        preload_images=not no_preload_images,
        interactive=interactive,
        force_route=force_route,
        reconfigure=reconfigure,
    )
