"""``airbox install``: the generated files, the plan, and the steps that deploy it.

Order (``command.steps()``): preflight (run before the questions) → check the credentials
and the workspaces to route → register (if asked) → write manifests → pull images (in the
background) → kind cluster → its restart policy → pre-pull verify's connectors → load
images → namespace → Secret → job pods' proxy policy → local object store (without a
``storage`` section) → check the chart against the Secret → ``helm upgrade --install`` →
verify → route workspaces. Each step looks at the real state first and does only what is
missing, so a re-run after a failure or a Ctrl-C finishes the job; a changed setting or
chart version means an upgrade.

The modules, each depending only on those above it in this list:

- ``pulls``: image pulls in the background, the node image from a private registry;
- ``context``: ``Options``, ``Generated`` (where the files go) and the run's ``Context``;
- ``generate``: writing the files, and the local store's credentials;
- ``steps_controlplane``: preflight, credentials, workspaces, register, route;
- ``steps_cluster``: the files, images, kind cluster, its node, the connectors;
- ``steps_kube``: namespace, Secret, job pods' proxy policy, local store;
- ``steps_release``: chart check, Helm release, verify;
- ``command``: the step list, the dry run, ``install_command``.

The names callers use are re-exported here.
"""

from __future__ import annotations

from airbox.ops.install.command import (
    DRY_RUN_DIR,
    install_command,
    plan_dry_run,
    run_install,
    steps,
)
from airbox.ops.install.context import Context, Generated, Options
from airbox.ops.install.generate import write_generated
from airbox.ops.install.pulls import PINNED, Pulls, has_pinned, node_pull, pulls_node
from airbox.ops.install.steps_cluster import (
    Cluster,
    ConnectorImages,
    LoadImages,
    NodeRestartPolicy,
    PullImages,
    WriteManifests,
    wait_for_api,
)
from airbox.ops.install.steps_controlplane import (
    CheckCredentials,
    CheckWorkspaces,
    Preflight,
    Register,
    Route,
)
from airbox.ops.install.steps_kube import JobProxy, LocalStore, Namespace, SecretStep
from airbox.ops.install.steps_release import (
    CheckChart,
    Release,
    Verify,
    _roll_back,
    recover_pending,
)

__all__ = [
    "DRY_RUN_DIR",
    "PINNED",
    "CheckChart",
    "CheckCredentials",
    "CheckWorkspaces",
    "Cluster",
    "ConnectorImages",
    "Context",
    "Generated",
    "JobProxy",
    "LoadImages",
    "LocalStore",
    "Namespace",
    "NodeRestartPolicy",
    "Options",
    "Preflight",
    "PullImages",
    "Pulls",
    "Register",
    "Release",
    "Route",
    "SecretStep",
    "Verify",
    "WriteManifests",
    "_roll_back",
    "has_pinned",
    "install_command",
    "node_pull",
    "plan_dry_run",
    "pulls_node",
    "recover_pending",
    "run_install",
    "steps",
    "wait_for_api",
    "write_generated",
]
