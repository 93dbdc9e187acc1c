"""Preflight's network checks follow where the install gets its things from.

- With ``images.registry``: that registry is checked, not Docker Hub, and it must accept
  the pull Secret's credentials (a registry API v2 login: ``GET /v2/``, then Basic auth or
  a Bearer token from the realm its 401 names), against ``tests/fake_registry.py`` on
  127.0.0.1 in both of its modes, with right, wrong and no credentials.
- With an offline bundle: no image registry, chart repository or tool download host is
  contacted; only the control plane.

The control plane and the other hosts are local servers (tests/test_preflight.py's).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airbox.ops.preflight import checks as ck
from airbox.ops.preflight import facts as fx
from tests import answers_factory as af
from tests.fake_registry import FakeRegistry
from tests.helpers import airbox_bin, airbox_env
from tests.test_preflight import FakeFacts, http_server, no_proxies  # noqa: F401

USER = "mirror-reader"
PASSWORD = "registry-password-6e5d4c3b2a19"


@pytest.fixture(params=["basic", "token"])
def registry(request: pytest.FixtureRequest) -> Iterator[FakeRegistry]:
    found = FakeRegistry(credentials=(USER, PASSWORD), token_auth=request.param == "token")
    try:
        yield found
    finally:
        found.stop()


def registry_subject(registry: FakeRegistry, auth: tuple[str, str] | None) -> fx.Subject:
    return fx.Subject(
        name="dp",
        image_registry=f"{registry.host}/airbyte-mirror",
        image_registry_http=True,
        registry_auth=auth,
    )


def check(subject: fx.Subject, environ: dict[str, str] | None = None) -> Any:
    probe = ck.Probe(subject, FakeFacts(), fx.Endpoints(timeout=3.0), None, environ or {})
    return ck.check_registry(probe)


def test_the_registry_accepts_the_pull_secrets_credentials(registry: FakeRegistry) -> None:
    verdict = check(registry_subject(registry, (USER, PASSWORD)))
    assert verdict.outcome == "pass", verdict
    assert f"the registry {registry.host} accepted the credentials of images.pullSecret" in (
        verdict.finding
    )
    # It logged in: past the 401, with the credentials (a token in the token flow).
    assert registry.refused and registry.requests[-1] == "GET /v2/"
    if registry.token_auth:
        assert any(r.startswith("GET /token?") for r in registry.requests)
        assert "service=fake-registry" in next(r for r in registry.requests if "/token" in r)


def test_wrong_credentials_fail_naming_the_setting(registry: FakeRegistry) -> None:
    verdict = check(registry_subject(registry, (USER, "not-the-password-1234")))
    assert verdict.outcome == "fail", verdict
    assert f"the registry {registry.host} refused the credentials of images.pullSecret" in (
        verdict.finding
    )
    assert "images.pullSecret.username/password" in (verdict.fix or "")
    assert "not-the-password" not in verdict.finding + (verdict.fix or "")


def test_no_credentials_where_the_registry_wants_some(registry: FakeRegistry) -> None:
    verdict = check(registry_subject(registry, None))
    assert verdict.outcome == "fail", verdict
    assert "asks for credentials" in verdict.finding
    assert "images.pullSecret gives none" in verdict.finding


def test_an_open_registry_passes_with_or_without_credentials() -> None:
    registry = FakeRegistry()
    try:
        for auth in (None, (USER, PASSWORD)):
            verdict = check(registry_subject(registry, auth))
            assert verdict.outcome == "pass", verdict
            assert registry.host in verdict.finding
    finally:
        registry.stop()
    # Docker Hub was never the one asked.
    assert registry.requests == ["GET /v2/", "GET /v2/"]


def test_a_registry_that_is_not_there_fails_as_unreachable() -> None:
    with http_server() as (url, _):
        port = url.rsplit(":", 1)[1]
    subject = fx.Subject(
        name="dp",
        image_registry=f"127.0.0.1:{port}/mirror",
        image_registry_http=True,
        registry_auth=(USER, PASSWORD),
    )
    verdict = check(subject)
    assert verdict.outcome == "fail"
    assert f"127.0.0.1:{port} refused the connection" in verdict.finding


def test_the_subject_carries_the_registry_credentials_from_the_answers(tmp_path: Path) -> None:
    from airbox.config.settings import Settings

    answers = af.answers("vault", "default", directory=tmp_path)
    answers["images"] = {
        "registry": "127.0.0.1:5000/mirror",
        "insecure": True,
        "pullSecret": {"username": USER, "password": PASSWORD},
    }
    early = fx.Subject.from_answers(answers)
    assert early.registry_auth == (USER, PASSWORD)
    # The install step compares the early subject with the settings' to reuse its report.
    assert early == fx.Subject.from_settings(Settings.from_answers(answers))
    config = json.dumps({"auths": {"127.0.0.1:5000": {"username": USER, "password": PASSWORD}}})
    answers["images"]["pullSecret"] = {"dockerConfigJson": config}
    assert fx.Subject.from_answers(answers).registry_auth == (USER, PASSWORD)
    assert PASSWORD not in repr(early)


# ------------------------------------------------------------------------ bundle


def test_with_a_bundle_only_the_control_plane_is_contacted(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(b"")
    # The endpoints the probes would use point at a registry that records every request.
    refusing = FakeRegistry(refuse_all=True)
    try:
        with http_server() as (cp, _):
            subject = fx.Subject(name="dp", control_plane_url=cp, bundle=str(bundle))
            url = f"http://{refusing.host}/v2/"
            report = ck.run_checks(
                subject,
                facts=FakeFacts(tools={}),
                endpoints=fx.Endpoints(url, url, timeout=3.0),
                environ={},
            )
    finally:
        refusing.stop()
    outcomes = {r.id: (r.outcome, r.finding) for r in report.results}
    assert outcomes["network.registry"] == (
        "skip",
        f"not needed: every image comes from the bundle {bundle}",
    )
    assert outcomes["network.helm-repo"] == (
        "skip",
        f"not needed: the chart comes from the bundle {bundle}",
    )
    assert outcomes["network.control-plane"][0] == "pass"
    # No tool on this machine: the bundle's, not a download (no GitHub, dl.k8s.io...).
    assert outcomes["tools"] == (
        "pass",
        "kind (from the bundle), helm (from the bundle), kubectl (from the bundle)",
    )
    assert refusing.requests == []


def test_airbox_preflight_with_a_bundle_in_the_answers(tmp_path: Path) -> None:
    """The real command: the answers' bundle decides the checks (and Docker Hub's own
    address, the default, is never probed: the registry check is skipped)."""
    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(b"")
    answers = af.answers("vault", "default", directory=tmp_path, name="bundled")
    answers["bundle"] = str(bundle)
    with http_server() as (cp, _):
        answers["controlPlane"] = {"url": cp}
        path = af.write_answers(tmp_path / "answers.yaml", answers)
        result = subprocess.run(
            [airbox_bin(), "preflight", "--answers", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=airbox_env(AIRBOX_HOME=str(tmp_path / "home")),
        )
    report = json.loads(result.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["network.registry"]["outcome"] == "skip"
    assert checks["network.helm-repo"]["outcome"] == "skip"
    assert "bundle" in checks["network.registry"]["finding"]
    assert checks["network.control-plane"]["outcome"] == "pass"


def test_with_a_bundle_the_tools_are_checked_in_its_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tool on this machine: the bundle's must be there and be the pinned binaries."""
    from airbox import versions
    from airbox.cluster import toolchain
    from airbox.offline import archive
    from airbox.offline.manifest import Item, Manifest

    kind_sha = versions.download_for("kind", *toolchain.platform_key()).sha256
    items = (
        Item("binary", "kind", "bin/kind", kind_sha, 1),
        Item("binary", "kubectl", "bin/kubectl", "0" * 64, 1),
    )
    manifest = Manifest(
        1,
        "0",
        "",
        "linux/amd64",
        "airbyte-data-plane",
        "1.8.1",
        "1.8.1",
        versions.KIND_VERSION,
        "kindest/node:v1.35.0",
        items,
    )
    monkeypatch.setattr(archive, "read_manifest", lambda path: manifest)
    subject = fx.Subject(name="dp", bundle=str(tmp_path / "dp.bundle"))
    probe = ck.Probe(subject, FakeFacts(tools={}), fx.Endpoints(timeout=3.0), None, {})
    verdict = ck.check_tools(probe)
    assert verdict.outcome == "fail"
    assert verdict.finding == (
        "helm is not installed and the bundle has none; kubectl is not installed and the "
        "bundle's kubectl is not the one this airbox pins"
    )
