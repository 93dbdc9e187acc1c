"""The exact command lines airbox runs, built in one place.

The dry-run plan and the real install both take their argv from here, so what
``--dry-run`` shows is what ``install`` runs. Each builder starts with the tool's
bare name; the runner swaps in the resolved binary. No argv ever holds a secret:
secrets travel on stdin (``kubectl apply -f -``) or in 0600 files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airbox import versions
from airbox.config import chart
from airbox.config.settings import Identity

HELM_TIMEOUT = "10m"
KIND_WAIT = "120s"
LAUNCHER_CONTAINER = versions.CHART_NAME


@dataclass(frozen=True)
class Kube:
    """How to reach the cluster: the kubeconfig file and context to pass every time."""

    kubeconfig: str | None
    context: str | None

    def kubectl(self, *args: str) -> list[str]:
        argv = ["kubectl"]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        if self.context:
            argv += ["--context", self.context]
        return argv + list(args)

    def helm(self, *args: str) -> list[str]:
        argv = ["helm"]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        if self.context:
            argv += ["--kube-context", self.context]
        return argv + list(args)


def kube_for(settings: Identity, kind_kubeconfig: Path) -> Kube:
    if settings.target.is_kind:
        return Kube(str(kind_kubeconfig), "kind-" + settings.cluster_name)
    return Kube(settings.target.kubeconfig, settings.target.kube_context)


def deployment_name(settings: Identity) -> str:
    """The launcher's Deployment, named as the chart names it (rollout, logs, status)."""
    return chart.fullname(settings.release, settings.values)


# ----------------------------------------------------------------------------- kind


def kind_get_clusters() -> list[str]:
    return ["kind", "get", "clusters"]


def kind_create(settings: Identity, config: Path, kubeconfig: Path) -> list[str]:
    return [
        "kind",
        "create",
        "cluster",
        "--name",
        settings.cluster_name,
        "--config",
        str(config),
        "--kubeconfig",
        str(kubeconfig),
        "--wait",
        KIND_WAIT,
    ]


def kind_export_kubeconfig(settings: Identity, kubeconfig: Path) -> list[str]:
    return [
        "kind",
        "export",
        "kubeconfig",
        "--name",
        settings.cluster_name,
        "--kubeconfig",
        str(kubeconfig),
    ]


def kind_load(settings: Identity, images: list[str]) -> list[str]:
    return ["kind", "load", "docker-image", "--name", settings.cluster_name, *images]


def kind_delete(settings: Identity, kubeconfig: Path) -> list[str]:
    return [
        "kind",
        "delete",
        "cluster",
        "--name",
        settings.cluster_name,
        "--kubeconfig",
        str(kubeconfig),
    ]


def kind_export_logs(settings: Identity, directory: Path) -> list[str]:
    return ["kind", "export", "logs", str(directory), "--name", settings.cluster_name]


# -------------------------------------------------------------------------- kubectl


def kubectl_apply_stdin(kube: Kube, namespace: str | None = None) -> list[str]:
    args = ["apply", "-f", "-"]
    if namespace:
        args = ["--namespace", namespace, *args]
    return kube.kubectl(*args)


def kubectl_rollout_status(kube: Kube, settings: Identity, timeout: str = "120s") -> list[str]:
    return kube.kubectl(
        "--namespace",
        settings.namespace,
        "rollout",
        "status",
        f"deployment/{deployment_name(settings)}",
        f"--timeout={timeout}",
    )


def kubectl_launcher_logs(kube: Kube, settings: Identity, since: str = "10m") -> list[str]:
    return kube.kubectl(
        "--namespace",
        settings.namespace,
        "logs",
        f"deployment/{deployment_name(settings)}",
        "--container",
        LAUNCHER_CONTAINER,
        f"--since={since}",
        "--tail=500",
    )


# ----------------------------------------------------------------------------- helm


def chart_args(settings: Identity) -> list[str]:
    """The chart reference: the public repository at a version, or a local/mirrored chart."""
    if settings.chart.source:
        return [settings.chart.source, "--version", settings.chart.version]
    return [versions.CHART_NAME, "--repo", versions.CHART_REPO, "--version", settings.chart.version]


def helm_template(kube: Kube, settings: Identity, values: Path) -> list[str]:
    return [
        "helm",
        "template",
        settings.release,
        *chart_args(settings),
        "--namespace",
        settings.namespace,
        "--values",
        str(values),
    ]


def helm_upgrade(kube: Kube, settings: Identity, values: Path) -> list[str]:
    # No --atomic: its rollback deletes the failed pods before airbox can say why they
    # failed. airbox collects the diagnosis first, then rolls back itself.
    return kube.helm(
        "upgrade",
        "--install",
        settings.release,
        *chart_args(settings),
        "--namespace",
        settings.namespace,
        "--create-namespace",
        "--values",
        str(values),
        "--wait",
        "--timeout",
        HELM_TIMEOUT,
        "--history-max",
        "10",
    )


def helm_status(kube: Kube, settings: Identity) -> list[str]:
    return kube.helm(
        "status", settings.release, "--namespace", settings.namespace, "--output", "json"
    )


def helm_history(kube: Kube, settings: Identity) -> list[str]:
    return kube.helm(
        "history", settings.release, "--namespace", settings.namespace, "--output", "json"
    )


def helm_rollback(kube: Kube, settings: Identity, revision: int) -> list[str]:
    return kube.helm(
        "rollback",
        settings.release,
        str(revision),
        "--namespace",
        settings.namespace,
        "--wait",
        "--timeout",
        "5m",
    )


def helm_uninstall(kube: Kube, settings: Identity) -> list[str]:
    return kube.helm(
        "uninstall",
        settings.release,
        "--namespace",
        settings.namespace,
        "--wait",
        "--timeout",
        "5m",
    )


# ------------------------------------------------------------- day 2: status, logs, bundle


def kubectl_logs(
    kube: Kube,
    namespace: str,
    target: str,
    *,
    container: str | None = None,
    all_containers: bool = False,
    follow: bool = False,
    since: str | None = None,
    tail: int | None = None,
    previous: bool = False,
) -> list[str]:
    """``kubectl logs`` of a pod or ``TYPE/NAME`` (a deployment: one of its pods)."""
    args = ["--namespace", namespace, "logs", target]
    if container:
        args += ["--container", container]
    if all_containers:
        args.append("--all-containers")
    if follow:
        args.append("--follow")
    if since:
        args.append(f"--since={since}")
    if tail is not None:
        args.append(f"--tail={tail}")
    if previous:
        args.append("--previous")
    return kube.kubectl(*args)


def kubectl_describe_pods(kube: Kube, namespace: str) -> list[str]:
    return kube.kubectl("--namespace", namespace, "describe", "pods")


def helm_get_values(kube: Kube, settings: Identity) -> list[str]:
    return kube.helm(
        "get", "values", settings.release, "--namespace", settings.namespace, "--output", "json"
    )


# ---------------------------------------------------------------------- day 2: uninstall


def kubectl_delete_secret(kube: Kube, namespace: str, name: str) -> list[str]:
    return kube.kubectl("--namespace", namespace, "delete", "secret", name, "--ignore-not-found")


def kubectl_delete_namespace(kube: Kube, namespace: str, timeout: str = "5m") -> list[str]:
    return kube.kubectl(
        "delete", "namespace", namespace, "--ignore-not-found", f"--timeout={timeout}"
    )
