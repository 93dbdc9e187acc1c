"""Every pinned version in one place: tools, node image, chart, images.

Checksums are the SHA-256 of the downloaded file (the binary for kind and kubectl,
the .tar.gz archive for helm), as the projects publish them next to each release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIND_VERSION = "v0.31.0"
KUBECTL_VERSION = "v1.35.0"
HELM_VERSION = "v3.20.1"

# kind's own default node image for KIND_VERSION, pinned by digest.
NODE_IMAGE = (
    "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"
)
# From Kubernetes 1.35 the kubelet refuses cgroup v1 hosts (KEP-5573) and kind's 1.35+
# node images dropped them; on such hosts (RHEL/Rocky 8, Amazon Linux 2, older Docker
# setups) airbox runs the last node image that supports cgroup v1: kind v0.30.0's default.
NODE_IMAGE_CGROUP_V1 = (
    "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
)


def node_image(*, cgroup_v1: bool) -> str:
    return NODE_IMAGE_CGROUP_V1 if cgroup_v1 else NODE_IMAGE


def pinned_kubernetes(*, cgroup_v1: bool) -> str:
    """The Kubernetes version of the node image airbox pins for this host."""
    return node_image(cgroup_v1=cgroup_v1).split("@", 1)[0].rsplit(":", 1)[-1]


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(g) for g in match.groups()) if match else None


def older(running: str, pinned: str) -> bool:
    """``running`` is an older x.y.z than ``pinned`` (False when either is not one)."""
    have, want = _version_tuple(running), _version_tuple(pinned)
    return have is not None and want is not None and have < want


CHART_NAME = "airbyte-data-plane"
CHART_REPO = "https://airbytehq.github.io/helm-charts"
CHART_VERSION = "1.8.1"
# appVersion of each chart version airbox knows (read from the published archives); the
# images the data plane runs are tagged with it, not with the chart version.
CHART_APP_VERSIONS = {"1.8.1": "1.8.1", "1.8.0": "1.8.0"}

# The object store airbox runs in the kind cluster when no storage is configured. MinIO's
# server image also carries its client (mc), which creates the buckets: one image to
# pin and preload. Pulled on the host by digest, then tagged: pods and `kind load` use
# the tag (a digest-only reference does not survive `kind load`'s save and import).
MINIO_REPOSITORY = "quay.io/minio/minio"
MINIO_TAG = "RELEASE.2025-09-07T16-13-09Z"
MINIO_DIGEST = "sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e"
MINIO_IMAGE = f"{MINIO_REPOSITORY}:{MINIO_TAG}"
MINIO_IMAGE_PINNED = f"{MINIO_REPOSITORY}@{MINIO_DIGEST}"

# Tool versions airbox accepts when found on PATH (major.minor lower bounds).
MIN_KIND = (0, 27)
MIN_KUBECTL = (1, 30)
MIN_HELM = (3, 14)


@dataclass(frozen=True)
class Download:
    url: str
    sha256: str
    # For archives: the member that is the binary.
    member: str | None = None


_KIND_SHA = {
    ("linux", "amd64"): "eb244cbafcc157dff60cf68693c14c9a75c4e6e6fedaf9cd71c58117cb93e3fa",
    ("linux", "arm64"): "8e1014e87c34901cc422a1445866835d1e666f2a61301c27e722bdeab5a1f7e4",
    ("darwin", "amd64"): "a8b3cf77b2ad77aec5bf710d1a2589d9117576132af812885cad41e9dede4d4e",
    ("darwin", "arm64"): "88bf554fe9da6311c9f8c2d082613c002911a476f6b5090e9420b35d84e70c5c",
}
_KUBECTL_SHA = {
    ("linux", "amd64"): "a2e984a18a0c063279d692533031c1eff93a262afcc0afdc517375432d060989",
    ("linux", "arm64"): "58f82f9fe796c375c5c4b8439850b0f3f4d401a52434052f2df46035a8789e25",
    ("darwin", "amd64"): "2447cb78911b10a667202b078eeb30541ec78d1280c3682921dc81607e148d96",
    ("darwin", "arm64"): "cf699c56340dc775230fde4ef84237d27563ea6ef52164c7d078072b586c3918",
}
_HELM_SHA = {
    ("linux", "amd64"): "0165ee4a2db012cc657381001e593e981f42aa5707acdd50658326790c9d0dc3",
    ("linux", "arm64"): "56b9d1b0e0efbb739be6e68a37860ace8ec9c7d3e6424e3b55d4c459bc3a0401",
    ("darwin", "amd64"): "580515b544d5c966edc6f782c9ae88e21a9e10c786a7d6c5fd4b52613f321076",
    ("darwin", "arm64"): "75cc96ac3fe8b8b9928eb051e55698e98d1e026967b6bffe4f0f3c538a551b65",
}

PLATFORMS = tuple(_KIND_SHA)


def download_for(tool: str, os_name: str, arch: str) -> Download:
    """The pinned download of ``tool`` for a platform; KeyError if unsupported."""
    key = (os_name, arch)
    if tool == "kind":
        return Download(
            f"https://github.com/kubernetes-sigs/kind/releases/download/{KIND_VERSION}/"
            f"kind-{os_name}-{arch}",
            _KIND_SHA[key],
        )
    if tool == "kubectl":
        return Download(
            f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{os_name}/{arch}/kubectl",
            _KUBECTL_SHA[key],
        )
    if tool == "helm":
        return Download(
            f"https://get.helm.sh/helm-{HELM_VERSION}-{os_name}-{arch}.tar.gz",
            _HELM_SHA[key],
            member=f"{os_name}-{arch}/helm",
        )
    raise KeyError(tool)


# The connectors `airbox verify` runs (faker → dev-null), pre-pulled into the node during
# install so the first verify's discover does not wait for them. These tags are used when
# the workspace's own definitions cannot be read (no application credentials, or no
# answer in time); otherwise the definitions' dockerImageTag wins.
VERIFY_CONNECTORS = {"airbyte/source-faker": "6.2.21", "airbyte/destination-dev-null": "0.7.21"}


def data_plane_images(app_version: str) -> list[str]:
    """Images the launcher and its first sync's job pods pull (connectors aside)."""
    return [
        f"airbyte/workload-launcher:{app_version}",
        f"airbyte/workload-init-container:{app_version}",
        f"airbyte/connector-sidecar:{app_version}",
        f"airbyte/container-orchestrator:{app_version}",
    ]
