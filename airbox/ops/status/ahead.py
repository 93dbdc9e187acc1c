"""The checks that look ahead: what will break in the coming weeks, not what is broken now.

The node's (restart policy, certificates, disk, images) run only for a kind cluster whose
node airbox can read (``checks.CHECKS`` gates them with "node"); ``node_view`` is what
they saw, for the report's ``node``. ``versions`` compares with what airbox pins.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airbox.installed import unfinished_renewal
from airbox.ops.connectors import describe
from airbox.ops.status.now import release_view
from airbox.ops.status.probes import Facts
from airbox.ops.status.report import (
    Certificate,
    Check,
    Disk,
    Images,
    Node,
    Pinned,
    UnfinishedRepair,
    Versions,
    from_json,
    skip,
)

DISK_WARN_PERCENT = 80.0
DISK_FAIL_PERCENT = 95.0


def restart_policy(facts: Facts) -> Check:
    from airbox.cluster.dockerhost import NODE_RESTART_POLICY

    node = facts.probes.docker.value.node
    if node.comes_back:
        return Check(
            "restart-policy",
            "ok",
            f"{node.name} comes back after a reboot or a Docker restart "
            f"(restart policy {node.restart_policy})",
        )
    return Check(
        "restart-policy",
        "warn",
        f"{node.name} will stay down after a reboot or a Docker restart "
        f"(restart policy {node.restart_policy})",
        next=f"airbox repair --name {facts.name}  (sets it to {NODE_RESTART_POLICY})",
    )


def unfinished_repair_view(facts: Facts) -> UnfinishedRepair | None:
    """A repair that stopped half-way, as ``progress.json`` records it (repair finishes it)."""
    renewal = unfinished_renewal(facts.inst.state)
    if renewal is None:
        return None
    return UnfinishedRepair(
        "certificate renewal",
        str(renewal["at"]) if renewal.get("at") else None,
        f"airbox repair --name {facts.name}",
    )


def _renewal_unfinished(facts: Facts, renewal: dict[str, Any]) -> Check:
    # Renewed on disk, so the certificates read in the node look fine; until the node
    # restarts and the kubeconfig is exported again, the API server and airbox's
    # kubeconfig may still hold the old ones, which expire soon (or did).
    since = f" at {renewal['at']}" if renewal.get("at") else ""
    first = renewal.get("first")
    return Check(
        "certificates",
        "warn",
        f"a repair renewed the cluster's certificates{since} but did not finish: the "
        "control plane and the kubeconfig may still use the old ones",
        [f"the old ones expire from {first}"] if first else [],
        next=f"airbox repair --name {facts.name}  (finishes it: restarts the node, exports "
        "the kubeconfig)",
    )


def certificates(facts: Facts) -> Check:
    from airbox.cluster.node import RENEW_WITHIN_DAYS

    renewal = unfinished_renewal(facts.inst.state)
    if renewal is not None:
        return _renewal_unfinished(facts, renewal)
    probe = facts.probes.certificates
    if unread := probe.unread("certificates", "could not read them"):
        return unread
    now = dt.datetime.fromtimestamp(facts.now, dt.timezone.utc)
    certs = probe.value
    leaves = [c for c in certs if not c.authority] or certs
    first = min(leaves, key=lambda c: c.expires)
    when = first.expires.strftime("%Y-%m-%d %H:%M UTC")
    days = int(first.days_left(now) // 1)
    expired = [c.name for c in leaves if c.days_left(now) <= 0]
    soon = [
        f"{c.name}: {c.expires.strftime('%Y-%m-%d')}"
        for c in leaves
        if c.days_left(now) < RENEW_WITHIN_DAYS
    ]
    fix = f"airbox repair --name {facts.name}  (renews them)"
    if expired:
        return Check(
            "certificates",
            "fail",
            f"{len(expired)} of the cluster's certificates expired (first: "
            f"{first.name}, {when}): the Kubernetes API refuses every client",
            soon,
            next=fix,
        )
    if soon:
        return Check(
            "certificates",
            "warn",
            f"the cluster's certificates expire in {days} days ({first.name}, "
            f"{when}); then the data plane stops",
            soon,
            next=fix,
        )
    return Check(
        "certificates",
        "ok",
        f"the cluster's certificates are valid for {days} more days (until {when})",
    )


def disk(facts: Facts) -> Check:
    from airbox.cluster.node import human_bytes

    probe = facts.probes.disk
    if unread := probe.unread("disk", "could not read the disk use"):
        return unread
    uses = probe.value
    names = ["the node's image store", "the host's Docker data root"]
    parts = [
        f"{label} {u.percent:.0f}% used ({human_bytes(u.used)} of "
        f"{human_bytes(u.total)}, {u.where})"
        for label, u in zip(names, uses, strict=False)
    ]
    worst = max(uses, key=lambda u: u.percent)
    if worst.percent <= DISK_WARN_PERCENT:
        return Check("disk", "ok", "; ".join(parts))
    state = "fail" if worst.percent >= DISK_FAIL_PERCENT else "warn"
    fix = (
        f"airbox prune --name {facts.name}  (removes connector images no pod uses)"
        if _unused_connectors(facts)
        else "free space on the disk holding Docker's data (docker system prune), or grow it"
    )
    return Check(
        "disk",
        state,
        f"disk {worst.percent:.0f}% used: "
        + (
            "pods will fail to start or write"
            if state == "fail"
            else "it fills up with every connector version syncs use"
        ),
        parts,
        next=fix,
    )


def _unused_connectors(facts: Facts) -> list[Any]:
    probe = facts.probes.images
    if not probe.ok or probe.value is None:
        return []
    unused: list[Any] = probe.value.unused_connectors()
    return unused


def images(facts: Facts) -> Check:
    from airbox.cluster.node import human_bytes

    probe = facts.probes.images
    if unread := probe.unread("images", "could not list the node's images"):
        return unread
    store = probe.value
    unused = store.unused_connectors()
    freed = sum(i.size for i in unused)
    summary = f"{len(store.images)} images in the node ({human_bytes(store.total)})"
    # Which connectors run here (offline: the only ones that can), said last.
    text, _ = describe(facts.inst.settings, store)
    if unused:
        return Check(
            "images",
            "ok",
            f"{summary}; {len(unused)} connector image"
            f"{'s' if len(unused) != 1 else ''} no pod uses "
            f"({human_bytes(freed)}){text}",
            next=f"airbox prune --name {facts.name}  (frees {human_bytes(freed)})",
        )
    return Check("images", "ok", summary + text)


def node_view(facts: Facts) -> Node | None:
    """What the checks above read in the node; None when they could not look."""
    if not facts.inst.settings.target.is_kind or facts.node_blocked:
        return None
    probes = facts.probes
    now = dt.datetime.fromtimestamp(facts.now, dt.timezone.utc)
    found_images = None
    if probes.images.ok:
        store = probes.images.value
        unused = store.unused_connectors()
        _, listed = describe(facts.inst.settings, store)
        found_images = Images(
            count=len(store.images),
            bytes=store.total,
            unused_connectors=[i.label for i in unused],
            unused_connector_bytes=sum(i.size for i in unused),
            connectors=listed["connectors"],
            offline=listed["offline"],
        )
    return Node(
        restart_policy=probes.docker.value.node.restart_policy,
        certificates=[from_json(Certificate, c.as_dict(now)) for c in probes.certificates.value]
        if probes.certificates.ok
        else None,
        disk=[from_json(Disk, u.as_dict()) for u in probes.disk.value] if probes.disk.ok else None,
        images=found_images,
    )


def versions_view(facts: Facts) -> Versions | None:
    """The chart and Kubernetes running, against the ones airbox pins."""
    from airbox import versions as pins

    if facts.blocked:
        return None
    chart = kubernetes_pin = None
    running_release = release_view(facts)
    if running_release is not None:
        chart = Pinned(str(running_release.chart_version or ""), pins.CHART_VERSION)
    probes = facts.probes
    if facts.inst.settings.target.is_kind and probes.nodes.ok and probes.docker.ok:
        kubelets = {
            str(((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")
            for n in probes.nodes.value
        }
        kubernetes_pin = Pinned(
            ", ".join(sorted(k for k in kubelets if k)) or "unknown",
            pins.pinned_kubernetes(cgroup_v1=probes.docker.value.cgroup_v1),
        )
    if chart is None and kubernetes_pin is None:
        return None
    return Versions(chart=chart, kubernetes=kubernetes_pin)


def versions(facts: Facts) -> Check:
    from airbox import versions as pins

    found = versions_view(facts)
    if found is None:
        return skip("versions", "not checked: nothing to compare")
    notes: list[str] = []
    behind = False
    for label, pair in (("chart", found.chart), ("Kubernetes", found.kubernetes)):
        if pair is None:
            continue
        notes.append(
            f"{label} {pair.running}"
            + ("" if pair.running == pair.pinned else f" (airbox pins {pair.pinned})")
        )
        behind = behind or pins.older(pair.running, pair.pinned)
    if behind:
        return Check(
            "versions",
            "ok",
            "; ".join(notes) + ": an upgrade is available",
            next=f"airbox upgrade --name {facts.name} --dry-run",
        )
    return Check("versions", "ok", "; ".join(notes))
