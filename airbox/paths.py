"""Where airbox keeps its state: ``$AIRBOX_HOME`` (default ``~/.airbyte/airbox``).

Layout (directories 0700; (s): a secret, 0600). Files named here by a constant of another
module say so; ``tests/test_paths.py`` keeps this list and those constants in step::

    $AIRBOX_HOME/
        bin/                          kind, helm and kubectl airbox downloaded
        interview.yaml (s)            answers of an interrupted interview (gather.KEPT_FILE)
        preflight-warnings.json       warnings already shown in full, any data plane
                                      (preflight.command.SEEN_WARNINGS_FILE)
        <name>/                       one directory per data plane
            settings.yaml             the settings, no secret values
            credentials.yaml (s)      the secret settings
            registration.json (s)     the registered data plane's ids and client
                                      (registration.REGISTRATION_FILE)
            token.json (s)            the cached API access token
            values.yaml kind-config.yaml plan.json   generated, no secrets
            secrets.yaml (s)          the generated Kubernetes Secret
            pull-secret.yaml (s) registry-hosts.toml registry-ca.crt
                                      a private registry: its pull Secret, containerd's
                                      settings and CA for the node
            job-proxy.yaml            with a proxy: the policy that gives job pods its
                                      settings (as references to the Secret)
            storage.yaml storage-credentials.json (s) storage/
                                      the local object store: manifests, keys, data
            kubeconfig (s)            the kind cluster's kubeconfig
            progress.json             the install's steps
            preflight.json            the last preflight results
            lock                      the pid and command changing the data plane now
                                      (lock.LOCK_FILE)
            dry-run/                  ``install --dry-run``'s files once the data plane
                                      is installed (install.DRY_RUN_DIR)
            logs/<time>-<pid>-<command>.log (s)   one per run of a changing command
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SETTINGS_FILE = "settings.yaml"
CREDENTIALS_FILE = "credentials.yaml"
VALUES_FILE = "values.yaml"
SECRET_MANIFEST_FILE = "secrets.yaml"
KIND_CONFIG_FILE = "kind-config.yaml"
PLAN_FILE = "plan.json"
KUBECONFIG_FILE = "kubeconfig"
PROGRESS_FILE = "progress.json"
TOKEN_FILE = "token.json"
PREFLIGHT_FILE = "preflight.json"
STORAGE_MANIFEST_FILE = "storage.yaml"
# The private registry's pull Secret (0600), when the answers give registry credentials.
PULL_SECRET_FILE = "pull-secret.yaml"
# containerd's settings for that registry, mounted into the kind node.
REGISTRY_HOSTS_FILE = "registry-hosts.toml"
# airbox's copy of the registry's CA (the node mounts it; the user's file may move).
REGISTRY_CA_FILE = "registry-ca.crt"
STORAGE_CREDENTIALS_FILE = "storage-credentials.json"
# With a proxy: the MutatingAdmissionPolicy that gives job pods the proxy settings.
JOB_PROXY_FILE = "job-proxy.yaml"
# The local object store's data (mounted into the kind node; survives re-creating it).
STORAGE_DATA_DIR = "storage"


def airbox_home() -> Path:
    configured = os.environ.get("AIRBOX_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".airbyte" / "airbox"


def bin_dir() -> Path:
    return airbox_home() / "bin"


@dataclass(frozen=True)
class StateDir:
    """The state directory of one data plane."""

    root: Path

    @classmethod
    def for_name(cls, name: str) -> StateDir:
        return cls(airbox_home() / name)

    @property
    def name(self) -> str:
        return self.root.name

    def exists(self) -> bool:
        return (self.root / SETTINGS_FILE).is_file()

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def credentials(self) -> Path:
        return self.root / CREDENTIALS_FILE

    @property
    def values(self) -> Path:
        return self.root / VALUES_FILE

    @property
    def secret_manifest(self) -> Path:
        return self.root / SECRET_MANIFEST_FILE

    @property
    def kind_config(self) -> Path:
        return self.root / KIND_CONFIG_FILE

    @property
    def plan(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def kubeconfig(self) -> Path:
        return self.root / KUBECONFIG_FILE

    @property
    def progress(self) -> Path:
        return self.root / PROGRESS_FILE

    @property
    def token(self) -> Path:
        return self.root / TOKEN_FILE

    @property
    def preflight(self) -> Path:
        return self.root / PREFLIGHT_FILE

    @property
    def storage_credentials(self) -> Path:
        return self.root / STORAGE_CREDENTIALS_FILE

    @property
    def storage_data(self) -> Path:
        return self.root / STORAGE_DATA_DIR

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def installed_names() -> list[str]:
    """Names of the data planes that have a state directory, sorted."""
    home = airbox_home()
    if not home.is_dir():
        return []
    return sorted(
        entry.name
        for entry in home.iterdir()
        if entry.is_dir() and (entry / SETTINGS_FILE).is_file()
    )
