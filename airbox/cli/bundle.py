"""``airbox support-bundle``: one redacted archive of diagnostics for support."""

from __future__ import annotations

from pathlib import Path

import click

from airbox.cli.options import name_option, verbose_option

EXAMPLES = """\b
Examples:
  airbox support-bundle                        # ./airbox-support-<name>-<time>.tar.gz
  airbox support-bundle --name us-west-1-dp -o /tmp/dp.tar.gz
  airbox support-bundle -o /tmp                # default file name, in /tmp
  tar -tzf airbox-support-*.tar.gz             # see what is in it

\b
It holds: status (JSON), the Helm values, the namespace's events (all, and the
warnings), `kubectl describe pods`, each data plane pod's logs (current and
previous container), `kind export logs` and `docker info` (kind clusters),
airbox's own run logs, preflight results, settings.yaml and values.yaml.
Never credentials.yaml, secrets.yaml, registration.json, token.json or the
kubeconfig; every secret airbox knows, and anything shaped like a credential,
is masked. A part that cannot be collected is listed in errors.txt and
manifest.json; the rest is still written. The file is readable only by you
(0600).
"""


@click.command(epilog=EXAMPLES)
@name_option()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The archive to write (.tar.gz), or a directory for the default name.",
)
@verbose_option
def support_bundle(name: str | None, output: Path | None, verbose: bool) -> int:
    """Write one redacted .tar.gz of diagnostics to send to Airbyte support.

    Prints the archive's path.
    """
    from airbox.ops.bundle import bundle_command

    return bundle_command(name=name, output=output, verbose=verbose)
