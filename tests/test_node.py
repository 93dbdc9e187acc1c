"""The parsers of what the node's tools print (kubeadm, crictl, df), on their real formats."""

from __future__ import annotations

import datetime as dt

from airbox.cluster import node
from airbox.cluster.kube import expired_certificate as _expired_certificate
from airbox.versions import older as _older
from airbox.versions import pinned_kubernetes

# As kubeadm v1.35 prints it (a cluster whose API server no longer answers).
CHECK_EXPIRATION = """\
[check-expiration] Reading configuration from the cluster...
[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'
[check-expiration] Error reading configuration from the Cluster. Falling back to default configuration

CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Jan 05, 2027 10:15 UTC   <invalid>       ca                      no
apiserver                  Jan 05, 2027 10:15 UTC   <invalid>       ca                      no
apiserver-kubelet-client   Jan 05, 2027 10:15 UTC   <invalid>       ca                      no
front-proxy-client         Feb 20, 2027 08:00 UTC   <invalid>       front-proxy-ca          no
super-admin.conf           Jan 05, 2027 10:15 UTC   <invalid>       ca                      no

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Jan 03, 2036 10:15 UTC   9y              no
front-proxy-ca          Jan 03, 2036 10:15 UTC   9y              no
"""  # noqa: E501


def test_check_expiration_tables() -> None:
    certs = node.parse_check_expiration(CHECK_EXPIRATION)
    assert [c.name for c in certs] == [
        "admin.conf",
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "super-admin.conf",
        "ca",
        "front-proxy-ca",
    ]
    assert [c.authority for c in certs] == [False] * 5 + [True] * 2
    assert certs[1].expires == dt.datetime(2027, 1, 5, 10, 15, tzinfo=dt.timezone.utc)
    now = dt.datetime(2026, 12, 20, tzinfo=dt.timezone.utc)
    # Within 30 days: the four of January; not February's, never a CA.
    assert [c.name for c in node.leaves_expiring(certs, now)] == [
        "admin.conf",
        "apiserver",
        "apiserver-kubelet-client",
        "super-admin.conf",
    ]
    assert certs[0].as_dict(now)["daysLeft"] == 16
    assert node.parse_check_expiration("error: unknown flag") == []


def test_crictl_and_df() -> None:
    images = node.parse_crictl_images(
        '{"images": [{"id": "sha256:a", "repoTags": ["docker.io/airbyte/source-faker:6.2.1"],'
        ' "repoDigests": [], "size": "310000000", "pinned": false},'
        ' {"id": "sha256:b", "repoTags": ["registry.example/team/destination-x:1"],'
        ' "size": "5", "pinned": false},'
        ' {"id": "sha256:c", "repoTags": ["registry.k8s.io/pause:3.10"], "size": "1",'
        ' "pinned": true},'
        ' {"id": "sha256:d", "repoTags": ["localhost:5000/source-mine"], "size": "2"},'
        ' {"id": "sha256:e", "repoTags": [], "size": "3"}]}'
    )
    assert [i.connector for i in images] == [True, True, False, True, False]
    assert images[0].size == 310_000_000 and images[4].label == "sha256:e"
    used = node.parse_crictl_containers(
        '{"containers": [{"imageRef": "sha256:a", "image": {"image": "sha256:a"}}]}'
    )
    store = node.ImageStore(images, used)
    assert [i.id for i in store.unused_connectors()] == ["sha256:b", "sha256:d"]
    disk = node.parse_df(
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
        "/dev/sda1 1000 850 150 85% /var\n",
        "n:/var/lib/containerd",
    )
    assert (disk.total, disk.used, round(disk.percent)) == (1024000, 870400, 85)
    assert node.human_bytes(1_300_000_000) == "1.3 GB" and node.human_bytes(12) == "12 B"


def test_versions_and_certificate_errors() -> None:
    assert pinned_kubernetes(cgroup_v1=False) == "v1.35.0"
    assert pinned_kubernetes(cgroup_v1=True) == "v1.34.0"
    assert _older("v1.34.0", "v1.35.0") and not _older("v1.35.0", "v1.34.0")
    assert not _older("unknown", "v1.35.0")
    assert _older("1.8.0", "1.8.1") and not _older("1.10.0", "1.9.9")
    assert _expired_certificate(
        "Unable to connect to the server: tls: failed to verify "
        "certificate: x509: certificate has expired or is not yet "
        "valid: current time 2027-01-06T00:00:00Z is after "
        "2027-01-05T10:15:00Z"
    )
    assert not _expired_certificate("connection refused")
