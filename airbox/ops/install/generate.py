"""The generated files: values.yaml, secrets.yaml (0600), kind-config.yaml, storage.yaml,
job-proxy.yaml and the registry's, with the local object store's credentials kept once
per install."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airbox import runlog
from airbox.config.answers import dump_yaml
from airbox.config.settings import Settings
from airbox.errors import ClusterError
from airbox.fsutil import (
    PUBLIC_FILE,
    SECRET_FILE,
    atomic_write,
    ensure_private_dir,
    make_private_dirs,
    read_json,
    write_json,
)
from airbox.ops.install.context import Context, Generated
from airbox.paths import StateDir
from airbox.redact import REDACTOR
from airbox.render import jobproxy, manifests, proxy, registry
from airbox.ui import StepLine

# In storage-credentials.json: a pair made because the saved one was missing or
# unreadable, not yet checked against the cluster's Secret (``settle_store_credentials``).
UNCONFIRMED = "unconfirmed"
# ... and the launcher is still to restart with a changed pair (``LocalStore``).
RESTART_LAUNCHER = "restartLauncher"


def save_store_pair(state: StateDir, pair: tuple[str, str], **marks: Any) -> None:
    ensure_private_dir(state.root)
    write_json(
        state.storage_credentials,
        {"accessKeyId": pair[0], "secretAccessKey": pair[1], **marks},
        mode=SECRET_FILE,
    )


def saved_store_pair(state: StateDir) -> tuple[str, str] | None:
    try:
        saved = read_json(state.storage_credentials)
    except (OSError, ValueError):
        return None
    if (
        isinstance(saved, dict)
        and isinstance(saved.get("accessKeyId"), str)
        and isinstance(saved.get("secretAccessKey"), str)
        and saved["accessKeyId"]
        and saved["secretAccessKey"]
    ):
        return str(saved["accessKeyId"]), str(saved["secretAccessKey"])
    return None


def local_store_credentials(state: StateDir, *, dry_run: bool) -> tuple[str, str]:
    """The local store's access key id and secret: generated once per install and kept
    (0600) so that re-runs and a re-created cluster find the data they wrote. A dry run
    generates a pair it does not keep.

    A pair made because the saved one is missing or unreadable is kept marked
    ``unconfirmed``: the store may still run with the old one, which install's Secret
    step reads back from the cluster (``settle_store_credentials``) before anything
    uses the new one.
    """
    import secrets

    if not dry_run:
        saved = saved_store_pair(state)
        if saved is not None:
            return saved
    # Hex only: the pair also travels inside a URL (mc's MC_HOST_<alias>).
    pair = ("airbox-" + secrets.token_hex(8), secrets.token_hex(24))
    if not dry_run:
        why = "unreadable" if state.storage_credentials.exists() else "missing"
        save_store_pair(state, pair, **{UNCONFIRMED: why})
    return pair


def _cluster_store_pair(ctx: Context) -> tuple[str, str] | None:
    """The pair the cluster's Secret gives the data plane's pods; None when there is no
    Secret (a new cluster or namespace) or it holds no pair."""
    import base64

    argv = ctx.kube.kubectl(
        "--namespace", ctx.settings.namespace, "get", "secret", manifests.SECRET_NAME, "-o", "json"
    )
    # Its data are secrets airbox does not know yet: never logged.
    result = ctx.runner.run(argv, check=False, timeout=30, secret_output=True)
    if not result.ok:
        if "NotFound" in result.stderr or "not found" in result.stderr:
            return None
        raise ClusterError(
            "the local object store's saved credentials are missing or unreadable, and "
            f"the Secret {manifests.SECRET_NAME} that holds the ones it runs with could "
            "not be read",
            details=[REDACTOR.mask_all(result.stderr.strip()[-300:])],
            hint=f"`airbox status --name {ctx.settings.name}` shows what is wrong with the "
            "cluster; then run `airbox install` again (it reads them back)",
        )
    try:
        data = json.loads(result.stdout or "{}").get("data") or {}
        pair = tuple(
            base64.b64decode(str(data[key])).decode()
            for key in (manifests.STORAGE_ACCESS_KEY_KEY, manifests.STORAGE_SECRET_KEY_KEY)
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    REDACTOR.add(*pair)
    return (pair[0], pair[1]) if all(pair) else None


def settle_store_credentials(ctx: Context, line: StepLine) -> None:
    """Before the Secret is applied: a store pair made because the saved one was missing
    or unreadable must not replace the one the store runs with. When the cluster's Secret
    holds a pair, that one is restored (and the generated files written again with it);
    only without one does the new pair stand."""
    try:
        saved = read_json(ctx.state.storage_credentials)
    except (OSError, ValueError):
        return
    if not (isinstance(saved, dict) and saved.get(UNCONFIRMED)):
        return
    live = _cluster_store_pair(ctx)
    pair = live or saved_store_pair(ctx.state)
    if pair is None:
        return
    save_store_pair(ctx.state, pair)
    why = f"{ctx.state.storage_credentials} was {saved[UNCONFIRMED]}"
    if live is None:
        runlog.logger().warning("local store: new credentials (%s, no Secret holds any)", why)
        return
    write_generated(
        ctx.settings, ctx.files, dry_run=False, cgroup_v1=docker_cgroup_v1(ctx), state=ctx.state
    )
    with line.paused():
        ctx.term.warn(
            f"{why}: the local object store's credentials were read back from the "
            f"Secret {manifests.SECRET_NAME} (the store keeps running with them)"
        )


def write_generated(
    settings: Settings,
    files: Generated,
    *,
    dry_run: bool,
    cgroup_v1: bool = False,
    state: StateDir | None = None,
) -> dict[str, str]:
    """Write values.yaml, secrets.yaml (0600), kind-config.yaml and, when airbox runs the
    object store, storage.yaml; return the Secret data."""
    state = state or StateDir.for_name(settings.name)
    local = settings.runs_local_store
    credentials = local_store_credentials(state, dry_run=dry_run) if local else None
    data = manifests.secret_data(
        settings, placeholder_credentials=dry_run, local_credentials=credentials
    )
    REDACTOR.add(*proxy.secret_values(data))
    # Created 0700 when missing; an existing directory (an --output-dir) keeps its mode.
    make_private_dirs(files.directory)
    secret = f"the Secret {manifests.SECRET_NAME} (secrets.yaml)"
    hosts, ca = _write_registry_files(settings, files)
    atomic_write(
        files.values,
        _headed(
            f"Helm values of data plane {settings.name} (chart airbyte-data-plane), written by "
            f"airbox. No credentials here: they are in {secret}.",
            _explain_placeholders(dump_yaml(manifests.helm_values(settings))),
        ),
        mode=PUBLIC_FILE,
    )
    atomic_write(
        files.secret,
        _headed(
            f"The Kubernetes Secret {manifests.SECRET_NAME} of data plane {settings.name}, "
            "written by airbox: every credential it uses. Keep this file private (0600).",
            dump_yaml(manifests.secret_manifest(settings, data)),
        ),
        mode=SECRET_FILE,
    )
    if settings.target.is_kind:
        store_dir = str(state.storage_data) if local else None
        atomic_write(
            files.kind_config,
            _headed(
                f"kind cluster {settings.cluster_name} of data plane {settings.name}, written by "
                "airbox (node image, API on 127.0.0.1"
                + (", the local object store's host directory" if local else "")
                + "). No credentials here.",
                dump_yaml(
                    manifests.kind_config(
                        settings,
                        cgroup_v1=cgroup_v1,
                        store_dir=store_dir,
                        registry_hosts=hosts,
                        registry_ca=ca,
                    )
                ),
            ),
            mode=PUBLIC_FILE,
        )
    if jobproxy.wanted(settings):
        atomic_write(
            files.job_proxy,
            _headed(
                f"The MutatingAdmissionPolicy and binding that give the job pods of data plane "
                f"{settings.name} (label airbyte=job-pod) the proxy settings, as references to "
                f"keys of {secret}. No credentials here. Applied as "
                f"{jobproxy.API_VERSION}; a cluster that serves {jobproxy.GROUP}/v1 gets v1.",
                jobproxy.dump(jobproxy.for_settings(settings)),
            ),
            mode=PUBLIC_FILE,
        )
    else:
        files.job_proxy.unlink(missing_ok=True)
    if local:
        atomic_write(
            files.local_store,
            _headed(
                f"The local object store (MinIO) of data plane {settings.name}, run by airbox "
                f"because no storage is configured. Its credentials are in {secret}.",
                apply_documents(
                    *manifests.local_store_manifests(
                        settings, uid=os.getuid(), gid=os.getgid(), pair=credentials
                    )
                ),
            ),
            mode=PUBLIC_FILE,
        )
    else:
        files.local_store.unlink(missing_ok=True)
    return data


def _write_registry_files(settings: Settings, files: Generated) -> tuple[str | None, str | None]:
    """With a private registry: its pull Secret (0600), containerd's hosts.toml and a copy
    of its CA for the kind node; return the paths of the last two (or None)."""
    pull = registry.pull_secret_manifest(settings)
    if pull is not None and settings.images is not None:
        REDACTOR.add(*registry.pull_secret_values(settings.images))
        atomic_write(
            files.pull_secret,
            _headed(
                f"The Kubernetes Secret {registry.PULL_SECRET_NAME} of data plane "
                f"{settings.name}, written by airbox: the credentials of the registry "
                f"{settings.images.registry}. Keep this file private (0600).",
                dump_yaml(pull),
            ),
            mode=SECRET_FILE,
        )
    else:
        files.pull_secret.unlink(missing_ok=True)
    hosts = ca = None
    images = settings.images
    if images is not None and settings.target.is_kind:
        atomic_write(
            files.registry_hosts,
            "# containerd's settings for the registry "
            f"{images.registry}, mounted into the kind node by airbox.\n"
            + registry.registry_hosts_toml(images),
            mode=PUBLIC_FILE,
        )
        hosts = str(files.registry_hosts.absolute())
    else:
        files.registry_hosts.unlink(missing_ok=True)
    if images is not None and images.ca_file and settings.target.is_kind:
        atomic_write(
            files.registry_ca,
            Path(images.ca_file).expanduser().read_text(encoding="utf-8"),
            mode=PUBLIC_FILE,
        )
        ca = str(files.registry_ca.absolute())
    else:
        files.registry_ca.unlink(missing_ok=True)
    return hosts, ca


def _headed(comment: str, text: str) -> str:
    """``text`` under a comment saying what the file is and where its secrets live."""
    import textwrap

    return "".join(f"# {line}\n" for line in textwrap.wrap(comment, 88)) + text


def _explain_placeholders(values: str) -> str:
    """A comment over each "(in Secret …)" value: it reads like a credential, and is not."""
    lines: list[str] = []
    explained = False
    for line in values.splitlines(keepends=True):
        if line.lstrip().startswith("accessKeyId: " + manifests.NOT_HERE) and not explained:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(
                f"{indent}# Not the keys (they are in the Secret): a placeholder, so "
                "the chart's own copy never holds its well-known default keys.\n"
            )
            explained = True
        lines.append(line)
    return "".join(lines)


def apply_documents(*docs: dict[str, Any]) -> str:
    return "".join("---\n" + dump_yaml(doc) for doc in docs)


def docker_cgroup_v1(ctx: Context) -> bool:
    if not ctx.settings.target.is_kind:
        return False
    # The daemon's view counts (Docker Desktop runs a VM with its own kernel).
    cgroup_v1 = str(ctx.docker.info().get("CgroupVersion") or "2") == "1"
    return cgroup_v1
