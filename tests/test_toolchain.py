"""Finding and downloading kind/helm/kubectl: overrides, PATH, verified downloads."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from airbox import versions
from airbox.cluster import toolchain
from airbox.cluster.toolchain import Toolchain, ToolUnavailable
from airbox.errors import UsageError

BINARY = b"#!/bin/sh\necho fake tool\n"


def _pin(monkeypatch: pytest.MonkeyPatch, payload: bytes, member: str | None = None) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    monkeypatch.setattr(
        versions,
        "download_for",
        lambda tool, os_name, arch: versions.Download(
            f"https://example.invalid/{tool}", digest, member
        ),
    )


def test_every_platform_has_a_pinned_download() -> None:
    for tool in toolchain.TOOLS:
        for os_name, arch in versions.PLATFORMS:
            spec = versions.download_for(tool, os_name, arch)
            assert spec.url.startswith("https://")
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
    assert "@sha256:" in versions.NODE_IMAGE


def test_verified_download_is_installed_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    _pin(monkeypatch, BINARY)
    path = toolchain.download("kind", fetch=lambda url: BINARY, plat=("linux", "amd64"))
    assert path == toolchain.pinned_path("kind")
    assert path.read_bytes() == BINARY
    assert os.access(path, os.X_OK)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_helm_binary_is_taken_from_its_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size = len(BINARY)
        archive.addfile(info, io.BytesIO(BINARY))
    payload = buffer.getvalue()
    _pin(monkeypatch, payload, member="linux-amd64/helm")
    path = toolchain.download("helm", fetch=lambda url: payload, plat=("linux", "amd64"))
    assert path.read_bytes() == BINARY


def test_checksum_mismatch_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _pin(monkeypatch, BINARY)
    with pytest.raises(ToolUnavailable) as info:
        toolchain.download("kind", fetch=lambda url: b"tampered", plat=("linux", "amd64"))
    assert "does not match its pinned SHA-256" in info.value.message
    assert info.value.exit_code == 3
    assert not toolchain.pinned_path("kind").exists()


def test_interrupted_download_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _pin(monkeypatch, BINARY)

    def interrupted(url: str) -> bytes:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        toolchain.download("kind", fetch=interrupted, plat=("linux", "amd64"))
    bin_dir = toolchain.pinned_path("kind").parent
    assert not bin_dir.exists() or list(bin_dir.iterdir()) == []


def test_unsupported_platform_says_what_to_do() -> None:
    with pytest.raises(ToolUnavailable) as info:
        toolchain.download("kind", fetch=lambda url: b"", plat=("windows", "amd64"))
    assert info.value.hint and "AIRBOX_KIND" in info.value.hint


def test_override_must_be_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRBOX_HELM", str(tmp_path / "missing"))
    with pytest.raises(UsageError):
        Toolchain().resolve("helm")
    tool = tmp_path / "helm"
    tool.write_bytes(BINARY)
    tool.chmod(0o755)
    monkeypatch.setenv("AIRBOX_HELM", str(tool))
    assert Toolchain().resolve("helm") == str(tool)


def test_incompatible_tool_on_path_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = tmp_path / "kind"
    old.write_text("#!/bin/sh\necho 'kind v0.11.1 go1.16 linux/amd64'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    _pin(monkeypatch, BINARY)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return BINARY

    path = Toolchain(fetch=fetch).resolve("kind")
    assert fetched and path == str(toolchain.pinned_path("kind"))
    # A compatible one is used as it is.
    old.write_text("#!/bin/sh\necho 'kind v0.31.0 go1.24 linux/amd64'\n")
    toolchain.pinned_path("kind").unlink()
    assert Toolchain(fetch=fetch).resolve("kind") == str(old)
