"""Finding kind, helm and kubectl: override, PATH, or a verified download.

Order: ``AIRBOX_KIND`` / ``AIRBOX_HELM`` / ``AIRBOX_KUBECTL`` (used whatever its
version: air-gapped sites, tests), else the tool on PATH if its version is
compatible, else a copy downloaded once into ``$AIRBOX_HOME/bin/`` at the version
pinned in ``airbox.versions``, checked against its SHA-256 before it is made
executable. A download goes to a temporary name and is renamed only once verified,
so an interrupted or corrupt download never leaves a usable-looking file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from airbox import versions
from airbox.cluster.runner import child_environment
from airbox.errors import ToolUnavailable as ToolUnavailable  # re-exported
from airbox.errors import UsageError
from airbox.fsutil import atomic_fill, atomic_write, ensure_private_dir
from airbox.paths import bin_dir

TOOLS = ("kind", "helm", "kubectl")
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def platform_key() -> tuple[str, str]:
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return system, arch


def _version_of(tool: str, path: str) -> tuple[int, int] | None:
    argv = {
        "kind": [path, "version"],
        "helm": [path, "version", "--short"],
        "kubectl": [path, "version", "--client", "-o", "json"],
    }[tool]
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, env=child_environment()
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if tool == "kubectl":
        try:
            out = json.loads(out)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            return None
    match = _VERSION.search(out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _compatible(tool: str, version: tuple[int, int] | None) -> bool:
    if version is None:
        return False
    minimum = {
        "kind": versions.MIN_KIND,
        "helm": versions.MIN_HELM,
        "kubectl": versions.MIN_KUBECTL,
    }[tool]
    if tool == "helm" and version[0] > 3:
        return True
    return version >= minimum


def pinned_path(tool: str) -> Path:
    version = {
        "kind": versions.KIND_VERSION,
        "helm": versions.HELM_VERSION,
        "kubectl": versions.KUBECTL_VERSION,
    }[tool]
    return bin_dir() / f"{tool}-{version}"


Fetch = Callable[[str], bytes]


def _http_fetch(url: str) -> bytes:
    import httpx

    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0)) as client:
        response = client.get(url)
        response.raise_for_status()
        return response.content


# A mirror of the tools' download hosts (an internal artifact server): the pinned URL
# https://<host>/<path> is fetched from <mirror>/<host>/<path> instead. The SHA-256 pins
# still decide what is accepted.
MIRROR_ENV = "AIRBOX_TOOLS_MIRROR"


def source_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the pinned download at ``url`` is fetched from (the mirror, when set)."""
    mirror = (os.environ if environ is None else environ).get(MIRROR_ENV, "").rstrip("/")
    if not mirror:
        return url
    rest = url.split("://", 1)[-1]
    return f"{mirror}/{rest}"


def download(tool: str, *, fetch: Fetch = _http_fetch, plat: tuple[str, str] | None = None) -> Path:
    """Download the pinned ``tool``, verify it, and install it into the bin directory."""
    os_name, arch = plat or platform_key()
    try:
        spec = versions.download_for(tool, os_name, arch)
    except KeyError:
        raise ToolUnavailable(
            f"no pinned {tool} for {os_name}/{arch}",
            hint=f"install {tool} yourself and set AIRBOX_{tool.upper()} to its path",
        ) from None
    url = source_url(spec.url)
    try:
        payload = fetch(url)
    except Exception as exc:
        raise ToolUnavailable(
            f"could not download {tool} from {url}: {exc}",
            hint=f"check outbound HTTPS, or install {tool} and set AIRBOX_{tool.upper()}",
        ) from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != spec.sha256:
        raise ToolUnavailable(
            f"the {tool} download from {url} does not match its pinned SHA-256",
            details=[f"expected {spec.sha256}", f"got      {digest}"],
            hint="a proxy may have altered it; retry, or install the tool yourself and "
            f"set AIRBOX_{tool.upper()}",
        )
    binary = payload
    if spec.member:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
            member = archive.extractfile(spec.member)
            if member is None:
                raise ToolUnavailable(f"{spec.member} is missing from the {tool} archive")
            binary = member.read()
    target = pinned_path(tool)
    ensure_private_dir(target.parent)
    return atomic_write(target, binary, mode=0o755)


def pinned_binary_sha256(tool: str, plat: tuple[str, str] | None = None) -> str | None:
    """The pinned SHA-256 of the tool's binary itself: kind's and kubectl's downloads are
    the binary; helm's pin is its .tar.gz archive's (None: no pin for the binary)."""
    os_name, arch = plat or platform_key()
    try:
        spec = versions.download_for(tool, os_name, arch)
    except KeyError:
        return None
    return None if spec.member else spec.sha256


def place(tool: str, source: Path, sha256: str) -> Path:
    """Install ``source`` (whose SHA-256 is ``sha256``) as the pinned ``tool``, where the
    toolchain looks for it: written under a temporary name, renamed once complete.

    ``ToolUnavailable`` when the tool's binary is pinned and this is not it (an offline
    bundle made with an ``AIRBOX_<TOOL>`` override, or by another airbox version)."""
    pinned = pinned_binary_sha256(tool)
    if pinned is not None and sha256 != pinned:
        raise ToolUnavailable(
            f"the bundle's {tool} is not the {tool} this airbox pins",
            details=[f"pinned {pinned}", f"bundle {sha256}"],
        )

    def copy(handle: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle, 1 << 20)

    target = pinned_path(tool)
    ensure_private_dir(target.parent)
    return atomic_fill(target, copy, mode=0o755)


def _override(tool: str) -> str | None:
    override = os.environ.get(f"AIRBOX_{tool.upper()}")
    if not override:
        return None
    path = Path(override).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise UsageError(
            f"AIRBOX_{tool.upper()}={override} is not an executable file",
            hint=f"point AIRBOX_{tool.upper()} at the {tool} binary, or unset it",
        )
    return str(path)


class Toolchain:
    """Resolves each tool once per run (thread-safe: status resolves concurrently)."""

    def __init__(
        self, *, allow_download: bool = True, fetch: Fetch = _http_fetch, offline: bool = False
    ) -> None:
        self._paths: dict[str, str] = {}
        self._lock = threading.Lock()
        # Offline (an install from a bundle): nothing is downloaded, and a missing tool's
        # fix is not "download it".
        self._allow_download = allow_download and not offline
        self._offline = offline
        self._fetch = fetch

    def __call__(self, tool: str) -> str:
        return self.resolve(tool)

    def resolve(self, tool: str) -> str:
        if tool not in TOOLS:
            return tool
        with self._lock:
            if tool not in self._paths:
                self._paths[tool] = self._find(tool)
            return self._paths[tool]

    def pinned(self, tool: str) -> str:
        """The binary an offline bundle carries: ``AIRBOX_<TOOL>`` when set, else the
        pinned version (downloaded and verified when missing), never another version
        found on PATH: the offline machine must run what airbox pins."""
        override = _override(tool)
        if override:
            return override
        pinned = pinned_path(tool)
        if pinned.is_file() and os.access(pinned, os.X_OK):
            return str(pinned)
        return str(download(tool, fetch=self._fetch))

    def _find(self, tool: str) -> str:
        override = _override(tool)
        if override:
            return override
        pinned = pinned_path(tool)
        if pinned.is_file() and os.access(pinned, os.X_OK):
            return str(pinned)
        found = shutil.which(tool)
        if found and _compatible(tool, _version_of(tool, found)):
            return found
        if self._offline:
            version = pinned_path(tool).name.rsplit("-", 1)[-1]
            raise ToolUnavailable(
                f"{tool} is not installed, and the bundle has none this airbox can use",
                hint=f"install {tool} {version} and set AIRBOX_{tool.upper()} to its path, or "
                "use a bundle this airbox made (`airbox bundle create`: it carries the "
                "pinned kind, helm and kubectl)",
            )
        if not self._allow_download:
            raise ToolUnavailable(
                f"{tool} is not installed",
                hint=f"run `airbox install` once to download it, or set AIRBOX_{tool.upper()}",
            )
        return str(download(tool, fetch=self._fetch))
