"""``airbox prune``: remove the connector images no pod uses from the kind node.

Every connector version a sync runs leaves its image in the node's containerd store,
and kind turns kubelet's image garbage collection off, so the disk fills over months.
Only connector images (``*/source-*``, ``*/destination-*``) that no container in the
node uses, running or not, are removed (``crictl rmi`` in the node); the data plane's
own images stay. Sizes before and after are printed.
"""

from __future__ import annotations

import sys
from typing import IO

from airbox import runlog
from airbox.cluster import node as nodefs
from airbox.cluster.node import human_bytes
from airbox.errors import EXIT_FAILURE, EXIT_OK, ClusterError, UsageError
from airbox.installed import Installed
from airbox.ops.session import Session


def prune_command(*, name: str | None, out: IO[str] | None = None) -> int:

    out = out or sys.stdout
    with Session.acting_on(
        name, "prune", "install it first: airbox install", needs_cluster=True, check=_kind_only
    ) as run:
        return _prune(run.inst, out)


def _kind_only(inst: Installed) -> None:
    target = inst.settings.target
    if not target.is_kind:
        raise UsageError(
            f"data plane {inst.name} runs in the existing cluster of context "
            f"{target.kube_context}: its nodes' images are not airbox's to remove",
            hint="use your cluster's own image garbage collection",
        )


def _prune(inst: Installed, out: IO[str]) -> int:
    from airbox.cluster.dockerhost import DockerHost

    container = inst.settings.node_container
    host = DockerHost.connect(timeout=120)
    state = host.container(container)
    if not state.running:
        raise ClusterError(
            f"the node container {container} is {state.status}",
            hint=f"airbox repair --name {inst.name}  (starts it)",
        )
    before = nodefs.image_store(host, container)
    disk_before = nodefs.image_store_disk(host, container)
    unused = before.unused_connectors()

    def write(text: str) -> None:
        out.write(text + "\n")

    if not unused:
        write(
            f"Nothing to prune: the node holds {len(before.images)} images "
            f"({human_bytes(before.total)}); no connector image is unused."
        )
        write(
            f"  image store: {disk_before.percent:.0f}% used "
            f"({human_bytes(disk_before.used)} of {human_bytes(disk_before.total)})"
        )
        return EXIT_OK
    runlog.logger().info("removing %d unused connector images", len(unused))
    problems = nodefs.remove_images(host, container, unused)
    after = nodefs.image_store(host, container)
    disk_after = nodefs.image_store_disk(host, container)
    left = {i.id for i in after.images}
    removed = [i for i in unused if i.id not in left]
    write(
        f"Removed {len(removed)} connector image{'s' if len(removed) != 1 else ''} no pod "
        f"uses ({human_bytes(sum(i.size for i in removed))}):"
    )
    for image in removed:
        write(f"  - {image.label} ({human_bytes(image.size)})")
    write(
        f"  images:      {len(before.images)} ({human_bytes(before.total)}) -> "
        f"{len(after.images)} ({human_bytes(after.total)})"
    )
    write(
        f"  image store: {disk_before.percent:.0f}% used ({human_bytes(disk_before.used)}) "
        f"-> {disk_after.percent:.0f}% used ({human_bytes(disk_after.used)}) of "
        f"{human_bytes(disk_after.total)}"
    )
    if problems:
        write("Could not remove:")
        for problem in problems:
            write(f"  - {problem}")
        runlog.logger().error("prune: %s", "; ".join(problems))
        return EXIT_FAILURE
    return EXIT_OK
