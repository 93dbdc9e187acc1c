"""Inside the kind node: kubeadm's certificates, containerd's images, the node's disk.

Everything here runs in the node container through ``docker exec`` (the Docker SDK),
so it works while the Kubernetes API is down — which is exactly when an expired
certificate or a full disk needs looking at. The parsers take the tools' own output
(``kubeadm certs check-expiration``, ``crictl ... -o json``, ``df -Pk``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from airbox.cluster.dockerhost import DockerHost, ExecResult
from airbox.errors import ClusterError

# Where containerd keeps the node's images (kind's node image).
IMAGE_STORE = "/var/lib/containerd"
RENEW_WITHIN_DAYS = 30

KUBEADM_CHECK = ["kubeadm", "certs", "check-expiration"]
KUBEADM_RENEW = ["kubeadm", "certs", "renew", "all"]
CRICTL_IMAGES = ["crictl", "images", "-o", "json"]
CRICTL_CONTAINERS = ["crictl", "ps", "-a", "-o", "json"]
DF_IMAGE_STORE = ["df", "-Pk", IMAGE_STORE]

# "Dec 02, 2027 04:36 UTC", as kubeadm prints an expiry.
_EXPIRY = re.compile(r"([A-Z][a-z]{2} \d{2}, \d{4} \d{2}:\d{2} UTC)")


# ----------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certificate:
    name: str
    expires: dt.datetime
    authority: bool  # a CA (kubeadm renews only the leaf certificates)

    def days_left(self, now: dt.datetime) -> float:
        return (self.expires - now).total_seconds() / 86400

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "expires": self.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "daysLeft": int(self.days_left(now) // 1),
            "authority": self.authority,
        }


def parse_check_expiration(text: str) -> list[Certificate]:
    """The certificates in ``kubeadm certs check-expiration``'s two tables."""
    found: list[Certificate] = []
    authority = False
    for line in text.splitlines():
        if line.startswith("CERTIFICATE AUTHORITY"):
            authority = True
            continue
        match = _EXPIRY.search(line)
        if not match or line.startswith("["):
            continue
        name = line.split()[0]
        expires = dt.datetime.strptime(match.group(1), "%b %d, %Y %H:%M UTC").replace(
            tzinfo=dt.timezone.utc
        )
        found.append(Certificate(name, expires, authority))
    return found


def certificates(docker: DockerHost, container: str) -> list[Certificate]:
    result = docker.exec(container, KUBEADM_CHECK)
    certs = parse_check_expiration(result.stdout)
    if not certs:
        raise ClusterError(f"cannot read the certificates in {container}: {result.last_words()}")
    return certs


def leaves_expiring(
    certs: list[Certificate], now: dt.datetime, days: int = RENEW_WITHIN_DAYS
) -> list[Certificate]:
    """The renewable certificates that expire within ``days`` (or already have)."""
    return [c for c in certs if not c.authority and c.days_left(now) < days]


def renew_certificates(docker: DockerHost, container: str) -> ExecResult:
    result = docker.exec(container, KUBEADM_RENEW)
    if not result.ok:
        raise ClusterError(
            f"`kubeadm certs renew all` failed in {container}: {result.last_words()}"
        )
    return result


# ----------------------------------------------------------------------------- images


@dataclass(frozen=True)
class NodeImage:
    id: str
    tags: list[str]
    size: int
    pinned: bool = False

    @property
    def connector(self) -> bool:
        """A connector's image: ``.../source-*`` or ``.../destination-*``."""
        for tag in self.tags:
            repository = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
            base = repository.rsplit("/", 1)[-1]
            if base.startswith(("source-", "destination-")):
                return True
        return False

    @property
    def label(self) -> str:
        return self.tags[0] if self.tags else self.id[:19]


@dataclass
class ImageStore:
    images: list[NodeImage]
    used_ids: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(i.size for i in self.images)

    def unused_connectors(self) -> list[NodeImage]:
        """Connector images no container in the node (running or not) uses.

        The newest image of each connector `airbox verify` runs is not counted: install
        pre-pulls them so that verify does not wait for a pull, and removing them would
        undo that (they are two images, not a growing pile).
        """
        kept = self._verify_connectors()
        return [
            i
            for i in self.images
            if i.connector and not i.pinned and i.id not in self.used_ids and i.id not in kept
        ]

    def _verify_connectors(self) -> set[str]:
        from airbox.versions import VERIFY_CONNECTORS

        newest: dict[str, tuple[tuple[int, ...], str]] = {}
        for image in self.images:
            for tag in image.tags:
                repository, _, version = tag.rpartition(":")
                for wanted in VERIFY_CONNECTORS:
                    if repository == wanted or repository.endswith("/" + wanted):
                        key = _version_key(version)
                        if wanted not in newest or key > newest[wanted][0]:
                            newest[wanted] = (key, image.id)
        return {image_id for _, image_id in newest.values()}


def _version_key(version: str) -> tuple[int, ...]:
    """``6.2.21`` → (6, 2, 21); what is not a number counts as 0 (``dev`` is oldest)."""
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.\-+]", version))


def parse_crictl_images(text: str) -> list[NodeImage]:
    data = json.loads(text or "{}")
    out = []
    for item in data.get("images") or []:
        out.append(
            NodeImage(
                str(item.get("id") or ""),
                [str(t) for t in item.get("repoTags") or []],
                int(item.get("size") or 0),
                bool(item.get("pinned")),
            )
        )
    return out


def parse_crictl_containers(text: str) -> set[str]:
    """The image ids (and references) the node's containers use."""
    data = json.loads(text or "{}")
    used: set[str] = set()
    for item in data.get("containers") or []:
        for ref in (item.get("imageRef"), (item.get("image") or {}).get("image")):
            if ref:
                used.add(str(ref))
    return used


def image_store(docker: DockerHost, container: str) -> ImageStore:
    images = docker.exec(container, CRICTL_IMAGES)
    if not images.ok:
        raise ClusterError(f"cannot list the images in {container}: {images.last_words()}")
    containers = docker.exec(container, CRICTL_CONTAINERS)
    if not containers.ok:
        raise ClusterError(f"cannot list the containers in {container}: {containers.last_words()}")
    try:
        store = ImageStore(
            parse_crictl_images(images.stdout), parse_crictl_containers(containers.stdout)
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ClusterError(f"crictl's answer in {container} cannot be read: {exc}") from None
    # A container may name its image by tag: count those images as used too.
    for image in store.images:
        if any(tag in store.used_ids for tag in image.tags):
            store.used_ids.add(image.id)
    return store


def remove_images(docker: DockerHost, container: str, images: list[NodeImage]) -> list[str]:
    """``crictl rmi`` each image; the problems, one line each (the rest are removed)."""
    problems = []
    for image in images:
        result = docker.exec(container, ["crictl", "rmi", image.id])
        if not result.ok:
            problems.append(f"{image.label}: {result.last_words()}")
    return problems


# ------------------------------------------------------------------------------- disk


@dataclass(frozen=True)
class DiskUse:
    where: str
    total: int  # bytes
    used: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.where,
            "totalBytes": self.total,
            "usedBytes": self.used,
            "percent": round(self.percent, 1),
        }


def parse_df(text: str, where: str) -> DiskUse:
    """``df -Pk PATH``: the second line's total and used 1K blocks."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError(f"unexpected df output: {text.strip()[:200]!r}")
    fields = lines[-1].split()
    return DiskUse(where, int(fields[1]) * 1024, int(fields[2]) * 1024)


def image_store_disk(docker: DockerHost, container: str) -> DiskUse:
    result = docker.exec(container, DF_IMAGE_STORE)
    if not result.ok:
        raise ClusterError(f"cannot read the disk use in {container}: {result.last_words()}")
    try:
        return parse_df(result.stdout, f"{container}:{IMAGE_STORE}")
    except (ValueError, IndexError) as exc:
        raise ClusterError(str(exc)) from None


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
