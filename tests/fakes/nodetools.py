# ruff: noqa: E501  (the fake tools are shell scripts printing the real tools' long lines)
"""A fake kind node image that also answers ``docker exec`` with kubeadm, crictl and df.

The fake kind nodes are real containers; airbox looks inside them with ``docker exec``
(the Docker SDK). This image packs this machine's ``sleep``, ``dash`` (as ``/bin/sh``),
``cat``, ``rm`` and ``date`` with their libraries, plus three shell scripts standing in
for the node's tools. They keep their state in the container under ``/fake``:

- ``/fake/certs-expire``: when kubeadm's leaf certificates expire (epoch seconds; a year
  from the first look when missing). ``kubeadm certs check-expiration`` prints kubeadm's
  tables from it; ``kubeadm certs renew all`` moves it a year ahead of now.
- ``/fake/images/<id>.json``: one crictl image object each; ``crictl images -o json``
  lists them, ``crictl rmi ID`` removes one (and refuses one a container uses),
  ``crictl pull REF`` adds one (or, with ``/fake/registry``, waits for a harness to).
- ``/fake/containers.json``: what ``crictl ps -a -o json`` answers.
- ``/fake/df``: what ``df`` prints.
- ``/fake/calls``: one line per call, for the tests to read.
- ``/fake/hold-renew``: while it exists, ``kubeadm certs renew all`` waits (``hold_renew``).

``seed`` writes those files into a running node with ``put_archive``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

from docker.errors import ImageNotFound
from docker.utils import parse_repository_tag

from . import images

KUBEADM = r"""#!/bin/sh
echo "kubeadm $*" >> /fake/calls
row() { printf '%-26s %-24s %-15s %-23s %s\n' "$1" "$2" "$3" "$4" "$5"; }
case "$1 $2 $3" in
  "certs check-expiration "*)
    now=$(date +%s)
    if [ ! -f /fake/certs-expire ]; then echo $((now + 365 * 86400)) > /fake/certs-expire; fi
    exp=$(cat /fake/certs-expire)
    when=$(date -u -d "@$exp" "+%b %d, %Y %H:%M UTC")
    ca=$(date -u -d "@$((exp + 9 * 365 * 86400))" "+%b %d, %Y %H:%M UTC")
    if [ "$exp" -le "$now" ]; then left="<invalid>"; else left="$(((exp - now) / 86400))d"; fi
    echo "[check-expiration] Reading configuration from the cluster..."
    echo "[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'"
    echo
    row CERTIFICATE EXPIRES "RESIDUAL TIME" "CERTIFICATE AUTHORITY" "EXTERNALLY MANAGED"
    for c in admin.conf apiserver apiserver-etcd-client apiserver-kubelet-client \
             controller-manager.conf etcd-healthcheck-client etcd-peer etcd-server \
             front-proxy-client scheduler.conf super-admin.conf; do
      row "$c" "$when" "$left" ca no
    done
    echo
    printf '%-23s %-24s %-15s %s\n' "CERTIFICATE AUTHORITY" EXPIRES "RESIDUAL TIME" "EXTERNALLY MANAGED"
    for c in ca etcd-ca front-proxy-ca; do
      printf '%-23s %-24s %-15s %s\n' "$c" "$ca" 9y no
    done
    ;;
  "certs renew all")
    # A test holds the renewal here (airbox's `docker exec` waiting on it) and lets it
    # finish after stopping airbox: Docker runs an exec to its end whoever waits for it.
    while [ -f /fake/hold-renew ]; do sleep 0.05; done
    echo $(($(date +%s) + 365 * 86400)) > /fake/certs-expire
    echo "[renew] Reading configuration from the cluster..."
    for c in admin.conf apiserver apiserver-etcd-client apiserver-kubelet-client \
             controller-manager.conf etcd-healthcheck-client etcd-peer etcd-server \
             front-proxy-client scheduler.conf super-admin.conf; do
      echo "certificate embedded in the kubeconfig file for $c renewed"
    done
    echo
    echo "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates."
    ;;
  *)
    echo "unknown command \"$*\" for \"kubeadm\"" >&2
    exit 1
    ;;
esac
"""

CRICTL = r"""#!/bin/sh
echo "crictl $*" >> /fake/calls
case "$1" in
  images)
    printf '{"images": ['
    first=1
    for f in /fake/images/*.json; do
      [ -f "$f" ] || continue
      [ $first = 1 ] || printf ','
      cat "$f"
      first=0
    done
    printf ']}\n'
    ;;
  ps)
    if [ -f /fake/containers.json ]; then cat /fake/containers.json
    else echo '{"containers": []}'; fi
    ;;
  pull)
    # The node's containerd pulls the image. Here it is there at once, unless
    # /fake/registry exists: then a harness plays the registry (it sees this call in
    # /fake/calls, fetches the image and writes its entry) and the pull waits for it,
    # as a real pull blocks until the image is in.
    name=${2#docker.io/}
    h=$(printf '%s' "$name" | sha256sum)
    h=${h%% *}
    if [ -f /fake/registry ]; then
      while [ ! -f "/fake/images/sha256:$h.json" ]; do sleep 0.2; done
    else
      printf '{"id": "sha256:%s", "repoTags": ["docker.io/%s"], "repoDigests": [], "size": "1000", "uid": null, "username": "", "spec": null, "pinned": false}' "$h" "$name" > "/fake/images/sha256:$h.json"
    fi
    echo "Image is up to date for sha256:$h"
    ;;
  rmi)
    shift
    for id in "$@"; do
      if [ -f "/fake/used/$id" ]; then
        echo "E0101 00:00:00.000000 1 remote_image.go:1] \"RemoveImage from image service failed\" err=\"rpc error: code = Unknown desc = image is in use by a container\" image=\"$id\"" >&2
        exit 1
      fi
      if [ ! -f "/fake/images/$id.json" ]; then
        echo "E0101 00:00:00.000000 1 remote_image.go:1] no such image \"$id\" present" >&2
        exit 1
      fi
      rm "/fake/images/$id.json"
      echo "Deleted: $id"
    done
    ;;
  *)
    echo "crictl: unknown command $1" >&2
    exit 1
    ;;
esac
"""

DF = r"""#!/bin/sh
echo "df $*" >> /fake/calls
if [ -f /fake/df ]; then cat /fake/df; exit 0; fi
echo "Filesystem     1024-blocks    Used Available Capacity Mounted on"
echo "overlay          104857600 10485760  94371840      10% /"
"""

SCRIPTS = {"/usr/bin/kubeadm": KUBEADM, "/usr/bin/crictl": CRICTL, "/usr/bin/df": DF}
BINARIES = {
    "/bin/sh": "dash",
    "/usr/bin/cat": "cat",
    "/usr/bin/rm": "rm",
    "/usr/bin/date": "date",
    "/usr/bin/sha256sum": "sha256sum",
}


def _tag(slow_registry: bool = False) -> str:
    digest = hashlib.sha256("".join(SCRIPTS.values()).encode()).hexdigest()[:12]
    return f"fakek8s/node:tools-{digest}" + ("-slow-registry" if slow_registry else "")


def _rootfs(slow_registry: bool = False) -> bytes:
    base = io.BytesIO(images.rootfs_tar())
    out = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=base) as src, tarfile.open(fileobj=out, mode="w") as tar:
        for member in src.getmembers():
            seen.add(member.name)
            tar.addfile(member, src.extractfile(member) if member.isfile() else None)
        for target, program in BINARIES.items():
            found = shutil.which(program)
            if found is None:
                raise RuntimeError(f"no {program} on this machine")
            binary = Path(found)
            images._add_file(tar, target, binary, 0o755, seen)
            for lib in images._shared_libraries(binary):
                images._add_file(tar, str(lib), lib, 0o755, seen)
                if lib.resolve() != lib:
                    images._add_file(tar, str(lib.resolve()), lib.resolve(), 0o755, seen)
        for target, text in SCRIPTS.items():
            data = text.encode()
            images._add_dirs(tar, target, seen)
            info = tarfile.TarInfo(target.strip("/"))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
            seen.add(info.name)
        images._add_dirs(tar, "/fake/images/x", seen)
        if slow_registry:
            info = tarfile.TarInfo("fake/registry")
            tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


def ensure_tools_image(client: Any, *, slow_registry: bool = False) -> str:
    """Build the image once (its tag follows the scripts); return its reference.

    ``slow_registry``: ``crictl pull`` waits for a harness to bring the image (see the
    script), forever if none does: a node whose registry is slow or unreachable."""
    ref = _tag(slow_registry)
    with images._lock:
        try:
            client.images.get(ref)
            return ref
        except ImageNotFound:
            pass
        repository, tag = parse_repository_tag(ref)
        client.api.import_image_from_data(
            _rootfs(slow_registry),
            repository=repository,
            tag=tag,
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["sleep", "infinity"]',
                f"LABEL {images.IMAGE_LABEL}=1",
            ],
        )
    return ref


def image_entry(ref: str, size: int, *, pinned: bool = False) -> dict[str, Any]:
    """A crictl image object for ``ref`` (its id derived from the name)."""
    digest = hashlib.sha256(ref.encode()).hexdigest()
    return {
        "id": f"sha256:{digest}",
        "repoTags": [f"docker.io/{ref}"],
        "repoDigests": [],
        "size": str(size),
        "uid": None,
        "username": "",
        "spec": None,
        "pinned": pinned,
    }


def seed(
    container: Any,
    *,
    images_: list[dict[str, Any]] | None = None,
    used: list[str] | None = None,
    expires_in_days: float | None = None,
    df: tuple[int, int] | None = None,
) -> None:
    """Write the fake tools' state into a running node container.

    ``used``: image ids a container uses; ``df``: (total, used) 1K blocks of the store.
    """
    files: dict[str, str] = {}
    if images_ is not None:
        for entry in images_:
            files[f"fake/images/{entry['id']}.json"] = json.dumps(entry)
    if used is not None:
        containers = [
            {
                "id": f"c{i}",
                "podSandboxId": f"p{i}",
                "metadata": {"name": f"c{i}", "attempt": 0},
                "image": {"image": ref, "annotations": {}},
                "imageRef": ref,
                "state": "CONTAINER_RUNNING",
                "createdAt": "0",
                "labels": {},
                "annotations": {},
            }
            for i, ref in enumerate(used)
        ]
        files["fake/containers.json"] = json.dumps({"containers": containers})
        for ref in used:
            files[f"fake/used/{ref}"] = ""
    if expires_in_days is not None:
        files["fake/certs-expire"] = f"{int(time.time() + expires_in_days * 86400)}\n"
    if df is not None:
        total, used_blocks = df
        files["fake/df"] = (
            "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
            f"overlay {total} {used_blocks} {total - used_blocks} "
            f"{100 * used_blocks // total}% /var\n"
        )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("fake", "fake/images", "fake/used"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    assert container.put_archive("/", buf.getvalue())


def hold_renew(container: Any, hold: bool) -> None:
    """Make ``kubeadm certs renew all`` wait (True; the node may be stopped) until
    released (False; the node runs)."""
    if hold:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("fake/hold-renew")
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(b""))
        assert container.put_archive("/", buf.getvalue())
        return
    code, out = container.exec_run(["rm", "-f", "/fake/hold-renew"])
    assert code == 0, out


def calls(container: Any) -> list[str]:
    from docker.errors import APIError

    try:
        code, out = container.exec_run(["cat", "/fake/calls"])
    except APIError:  # not running (yet)
        return []
    return out.decode().splitlines() if code == 0 else []


def images_in(container: Any) -> list[str]:
    code, out = container.exec_run(["crictl", "images", "-o", "json"])
    assert code == 0, out
    return sorted(t for i in json.loads(out)["images"] for t in i["repoTags"])
