"""Tiny local Docker images for the fakes' Docker mode, built without any registry.

``ensure_image(client, ref)`` packs this machine's ``sleep`` binary and the shared libraries
``ldd`` lists for it into a tar root filesystem and imports it with the Engine API's
``/images/create?fromSrc=-`` (``client.api.import_image_from_data``). The image can run
``sleep infinity`` and nothing else, which is all a fake kind node needs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import Any

from docker.errors import ImageNotFound
from docker.utils import parse_repository_tag

DEFAULT_NODE_IMAGE = "fakek8s/node:sleep"
IMAGE_LABEL = "fakek8s.image"

_lock = threading.Lock()


def _sleep_binary() -> Path:
    found = shutil.which("sleep") or next(
        (p for p in ("/usr/bin/sleep", "/bin/sleep") if os.path.exists(p)), None
    )
    if found is None:
        raise RuntimeError("no sleep binary on this machine")
    return Path(found)


def _shared_libraries(binary: Path) -> list[Path]:
    """The libraries ``ldd`` lists for ``binary``, as absolute paths (vdso excluded)."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        if "not a dynamic executable" in proc.stdout + proc.stderr:
            return []  # static binary
        raise RuntimeError(f"ldd {binary} failed: {proc.stderr.strip()}")
    libs: list[Path] = []
    for line in proc.stdout.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def _add_dirs(tar: tarfile.TarFile, path: str, seen: set[str]) -> None:
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d not in seen:
            seen.add(d)
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: str, source: Path, mode: int, seen: set[str]) -> None:
    """Add ``source``'s content (symlinks followed) at ``path`` in the image."""
    name = path.strip("/")
    if name in seen:
        return
    _add_dirs(tar, name, seen)
    seen.add(name)
    data = source.resolve().read_bytes()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def rootfs_tar() -> bytes:
    """A root filesystem with ``sleep`` (at /bin and /usr/bin) and its shared libraries."""
    binary = _sleep_binary()
    buf = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for target in ("/usr/bin/sleep", "/bin/sleep"):
            _add_file(tar, target, binary, 0o755, seen)
        for lib in _shared_libraries(binary):
            # keep the path ldd printed (e.g. /lib64/ld-linux-x86-64.so.2), and also the path
            # the link resolves to, so that either spelling works inside the image
            _add_file(tar, str(lib), lib, 0o755, seen)
            real = lib.resolve()
            if real != lib:
                _add_file(tar, str(real), real, 0o755, seen)
        for d in ("tmp", "proc", "sys", "dev", "etc"):
            _add_dirs(tar, d + "/x", seen)
    return buf.getvalue()


def image_exists(client: Any, ref: str) -> bool:
    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def ensure_image(client: Any, ref: str = DEFAULT_NODE_IMAGE) -> str:
    """Make sure ``ref`` exists locally (building it once); return its image ID."""
    with _lock:
        try:
            return str(client.images.get(ref).id)
        except ImageNotFound:
            pass
        repository, tag = parse_repository_tag(ref)
        client.api.import_image_from_data(
            rootfs_tar(),
            repository=repository,
            tag=tag or "latest",
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["sleep", "infinity"]',
                f"LABEL {IMAGE_LABEL}=1",
            ],
        )
        return str(client.images.get(ref).id)


def tag_images(client: Any, base_ref: str, refs: list[str]) -> None:
    """Tag ``base_ref`` (built if needed) under each of ``refs``."""
    ensure_image(client, base_ref)
    image = client.images.get(base_ref)
    for ref in refs:
        repository, tag = parse_repository_tag(ref)
        image.tag(repository, tag or "latest")


def remove_tags(client: Any, refs: list[str]) -> None:
    """Untag ``refs`` (the shared image stays while another tag holds it)."""
    for ref in refs:
        with contextlib.suppress(ImageNotFound):
            client.images.remove(ref, noprune=True)
