"""The offline bundle's kind/helm/kubectl: placed where the toolchain looks, only when they
are the binaries this airbox pins; offline, a missing tool is never downloaded.

In-process for the toolchain (the pins patched to the bytes of a small file: the real
binaries are not here), then the real `airbox install --bundle` with no tool anywhere.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from airbox import versions
from airbox.cluster import toolchain
from tests.test_offline_install import Offline, offline  # noqa: F401
from tests.test_year import inst  # noqa: F401


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRBOX_HOME", str(tmp_path / "home"))
    for tool in toolchain.TOOLS:
        monkeypatch.delenv(f"AIRBOX_{tool.upper()}", raising=False)
    return tmp_path / "home"


def binary(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "kind-from-bundle"
    path.write_text(f"#!/bin/sh\necho {text}\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_pinned_binary_is_placed_where_the_toolchain_finds_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, digest = binary(tmp_path, "kind v0.31.0")
    monkeypatch.setitem(versions._KIND_SHA, toolchain.platform_key(), digest)
    placed = toolchain.place("kind", path, digest)
    assert placed == home / "bin" / f"kind-{versions.KIND_VERSION}"
    assert placed.read_bytes() == path.read_bytes()
    assert stat.S_IMODE(placed.stat().st_mode) == 0o755
    assert not list((home / "bin").glob(".*"))  # no temporary file left

    def no_download(url: str) -> bytes:
        raise AssertionError(f"downloaded {url}")

    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert toolchain.Toolchain(fetch=no_download).resolve("kind") == str(placed)


def test_another_binary_is_refused_naming_both_digests(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, digest = binary(tmp_path, "kind v0.20.0")
    pinned = versions.download_for("kind", *toolchain.platform_key()).sha256
    with pytest.raises(toolchain.ToolUnavailable) as caught:
        toolchain.place("kind", path, digest)
    assert caught.value.message == "the bundle's kind is not the kind this airbox pins"
    assert caught.value.details == [f"pinned {pinned}", f"bundle {digest}"]
    assert not (home / "bin").exists()


def test_helms_pin_is_its_archives_so_its_binary_has_none() -> None:
    assert toolchain.pinned_binary_sha256("helm") is None
    assert (
        toolchain.pinned_binary_sha256("kubectl")
        == versions.download_for("kubectl", *toolchain.platform_key()).sha256
    )


def test_the_tools_mirror_takes_the_pinned_url(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        raise OSError("refused")

    monkeypatch.setenv(toolchain.MIRROR_ENV, "http://127.0.0.1:9/mirror/")
    with pytest.raises(toolchain.ToolUnavailable):
        toolchain.download("kind", fetch=fetch, plat=("linux", "amd64"))
    assert asked == [
        f"http://127.0.0.1:9/mirror/github.com/kubernetes-sigs/kind/releases/"
        f"download/{versions.KIND_VERSION}/kind-linux-amd64"
    ]


@pytest.mark.timeout(600)  # may wait for another test holding the node image's name
def test_offline_a_missing_tool_is_said_missing_not_downloaded(offline: Offline) -> None:  # noqa: F811
    """No kind, helm or kubectl on this machine, and the bundle's are not the pinned ones
    (a bundle made with the fakes): the install says so, and asks no download host."""
    dp = offline.inst
    bundle = offline.bundle("dp.bundle")
    env = offline.env()
    for tool in toolchain.TOOLS:
        env.pop(f"AIRBOX_{tool.upper()}", None)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if p != str(dp.fake.bin_dir)
    )
    result = dp.run("--bundle", str(bundle), answers=offline.answers(), env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    for tool in ("kind", "kubectl"):
        assert f"the bundle's {tool} is not the {tool} this airbox pins" in err
    assert "kind is not installed, and the bundle has none this airbox can use" in err
    assert f"install kind {versions.KIND_VERSION} and set AIRBOX_KIND" in err
    assert offline.refusing.requests == []


def test_a_bundle_goes_with_kind_only_and_replaces_chart_and_registry(tmp_path: Path) -> None:
    """Every conflicting answer at once (exit 2 through validate, as the install runs it)."""
    from airbox.config.settings import validate
    from tests import answers_factory as af

    answers = af.answers("vault", "s3-keys", directory=tmp_path)
    answers["bundle"] = str(tmp_path / "missing.bundle")
    answers["cluster"] = {"kubeContext": "prod"}
    answers["chart"] = {"source": str(tmp_path)}
    answers["images"] = {"registry": "registry.corp.example/mirror"}
    problems = {(p.field, p.message) for p in validate(answers)}
    assert {
        ("bundle", f"{tmp_path / 'missing.bundle'} does not exist"),
        ("bundle", "works only with the kind cluster airbox creates"),
        ("chart.source", "cannot be given with a bundle: the bundle carries the chart"),
        (
            "images.registry",
            "cannot be given with a bundle: the bundle carries every image the install needs",
        ),
    } <= problems
