"""Image pulls in the background (started by the images step, waited for by the cluster
and load steps, and by upgrade), and the kind node image from a private registry."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from airbox import runlog, versions
from airbox.cluster.dockerhost import DockerHost
from airbox.config.settings import Images, Settings
from airbox.errors import ClusterError, DockerError
from airbox.render.registry import from_registry, registry_auth
from airbox.ui import StepLine


def pulls_node(settings: Settings) -> bool:
    """The kind node image comes from the private registry (pulled by airbox on the host,
    whether or not the data plane's images are preloaded): kind itself would pull it from
    Docker Hub, which a VM whose only registry is the private one cannot reach."""
    return settings.target.is_kind and settings.images is not None and not settings.bundle


def node_pull(settings: Settings, cgroup_v1: bool) -> tuple[str, str]:
    """The pinned node image as the registry serves it, by digest
    (``<registry>/kindest/node@sha256:...``), and the tag kind's config names
    (``manifests.kind_config``)."""
    name, _, digest = versions.node_image(cgroup_v1=cgroup_v1).partition("@")
    repository = name.rsplit(":", 1)[0]
    return f"{from_registry(settings.images, repository)}@{digest}", name


def has_pinned(docker: DockerHost, image: str, pinned: str) -> bool:
    """Docker has ``image`` and it is the pinned one: pulled by the pin's digest from
    whichever registry (a repository digest names the manifest's content)."""
    digest = pinned.partition("@")[2]
    return any(d.endswith("@" + digest) for d in docker.repo_digests(image))


# Images pulled by digest, then tagged with the name the pods use.
PINNED = {versions.MINIO_IMAGE: versions.MINIO_IMAGE_PINNED}


class Pulls:
    """Image pulls on daemon threads: a Ctrl-C must not wait for a pull to finish
    (executor threads would hold the interpreter's exit until they are done)."""

    def __init__(
        self,
        docker: DockerHost,
        images: list[str],
        registry: Images | None = None,
        pinned: Mapping[str, str] = PINNED,
    ) -> None:
        # The private registry's credentials go with its images' pulls (in the API call
        # to the daemon: never in argv or ~/.docker/config.json).
        self._registry = registry.registry + "/" if registry is not None else None
        self._auth = registry_auth(registry)
        # image -> the reference pulled by digest, then tagged with the image's name.
        self._pinned = dict(pinned)
        self.errors: dict[str, BaseException] = {}
        self.progress: dict[str, str] = {}
        self._threads = {
            image: threading.Thread(target=self._pull, args=(docker, image), daemon=True)
            for image in images
        }
        for thread in self._threads.values():
            thread.start()

    def _pull(self, docker: DockerHost, image: str) -> None:
        log = runlog.logger()
        try:
            pinned = self._pinned.get(image)
            ref = pinned or image
            auth = self._auth if self._registry and ref.startswith(self._registry) else None
            try:
                docker.pull(ref, lambda msg: self.progress.__setitem__(image, msg), auth=auth)
            except DockerError as exc:
                if pinned and _DIGEST_REFUSED.search(exc.message):
                    raise not_the_pinned_image(pinned, image) from None
                raise
            if pinned:
                # The pin is the trust anchor: tag only what the daemon recorded under
                # the pinned digest (a mirror serving another image for it is refused).
                if pinned not in docker.repo_digests(pinned):
                    raise not_the_pinned_image(pinned, image)
                docker.tag(pinned, image)
            log.info("pulled %s", ref)
        except BaseException as exc:  # reported by wait(), in the main thread
            self.errors[image] = exc

    def wait(self, line: StepLine, only: str | None = None) -> None:
        """Wait (interruptibly) for every pull, or for the pull of ``only``; raise the
        first failure."""
        for image, thread in self._threads.items():
            if only is not None and image != only:
                continue
            while thread.is_alive():
                thread.join(timeout=0.5)
                busy = [msg for msg in self.progress.values() if "complete" not in msg.lower()]
                if busy:
                    line.update(busy[-1])
        failed = [exc for image, exc in self.errors.items() if only in (None, image)]
        if failed:
            raise failed[0]


# What the daemon answers when a registry serves another manifest than the digest asked
# (moby distribution/pull_v2.go: "manifest verification failed for digest"; containerd's
# image store: "digest mismatch").
_DIGEST_REFUSED = re.compile(
    r"verification failed for digest|digest mismatch|"
    r"unexpected digest",
    re.IGNORECASE,
)


def not_the_pinned_image(pinned: str, image: str) -> ClusterError:
    # Exit 5 (ClusterError): the cluster cannot be built from what the registry serves;
    # not 3, as nothing about this machine is wrong, nor 4, which is the control plane's.
    registry = pinned.split("/", 1)[0]
    return ClusterError(
        f"the registry {registry} does not serve the image airbox pins for {image}: "
        f"{pinned} is another image there",
        hint="mirror the image by its digest (copy it with its manifest, e.g. "
        "`crane copy` or `skopeo copy --all`, not rebuilt or re-pushed by tag), "
        "then run the command again",
    )
