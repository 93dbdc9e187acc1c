"""A first day with the control plane saying no: an organization with no region of its
own, credentials the control plane answers with a 500, and 403s of different calls.

The real `airbox` executable on a pty (pexpect) or unattended, against the fake control
plane, which says no the way the platform does (see tests/fake_control_plane.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox.controlplane.api import AirbyteApi, Retry
from airbox.errors import ControlPlaneError
from tests import answers_factory as af
from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.installer import Installer, cp_env, registering
from tests.test_interview import ENTER, Session, _transcript

CLEAR = "\x15"


def _flat(text: str) -> str:
    """The transcript with line wrapping and prompt redraws folded into spaces."""
    return re.sub(r"\s+", " ", text)


def _maybe_continue(session: Session, then: str) -> None:
    """This sandbox may fail a preflight check: go on, as the flag asks on a terminal."""
    if session.expect([re.escape("Continue anyway?"), re.escape(then)], timeout=120) == 0:
        session.send("y")
        session.expect(re.escape(then), timeout=120)


# ----------------------------------------------------------------- first registration


@pytest.mark.timeout(600)
def test_a_first_registration_on_a_terminal_creates_the_organizations_first_region(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The organization has no region of its own (every first registration): the region
    question offers a new one, named after the secrets manager's AWS region; and the
    application's wrong secret, answered 500 by a database-backed ApplicationService, is
    asked again."""
    inst, cp = installer, fake_cp
    cp.applications = "database"
    assert cp.live_regions(cp.organization_id) == []
    data = registering(inst, cp)
    del data["registration"]["region"]
    data["registration"].update(clientId=cp.client_id, clientSecret="a-wrong-app-secret")
    answers = inst.write(data)
    log = tmp_path / "pty.log"
    session = Session(
        ["install", "--answers", str(answers), "--ignore-preflight-failures"],
        inst.env(NO_PROXY="127.0.0.1,localhost"),
        log,
    )

    _maybe_continue(session, "Airbyte application client id")
    session.send(ENTER)  # the id given is right
    session.answer("Airbyte application client secret", cp.client_secret + ENTER)
    session.answer("Install, or edit an answer?", ENTER)
    session.expect(re.escape("Name of the new region"), timeout=180)
    session.expect("us-west-2")  # the suggestion, as default
    session.send(ENTER)
    session.answer("Workspaces whose syncs run on this data plane", ENTER)  # none for now
    session.expect(re.escape(f"Data plane {inst.name} is installed and running."), timeout=300)
    code = session.finish()
    text = _transcript(log)
    assert code == 0, text
    flat = _flat(text)
    assert "Airbyte refused this application's client id or secret (HTTP 500" in flat
    assert "no region of its own yet" in flat
    assert "unexpected error" not in text
    [region] = cp.live_regions(cp.organization_id)
    assert region["name"] == "us-west-2"
    record = yaml.safe_load((inst.state / "registration.json").read_text())
    assert record["regionName"] == "us-west-2" and record["regionCreated"] is True
    assert len(cp.live_dataplanes(inst.name)) == 1
    assert cp.client_secret not in text and "a-wrong-app-secret" not in text


def test_unattended_with_no_region_anywhere_names_the_setting_and_a_name_to_use(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    data = registering(inst, cp)
    del data["registration"]["region"]
    result = inst.run(answers=inst.write(data), env=cp_env(inst, cp))
    assert result.returncode == 2, result.stderr
    assert "the region to register the data plane in is not set" in result.stderr
    assert "none (the organization has no region of its own yet)" in result.stderr
    assert "--region us-west-2" in _flat(result.stderr)
    assert "unexpected error" not in result.stderr
    assert cp.calls("POST", "/v1/regions") == [] and cp.live_dataplanes() == []
    assert inst.fake.calls("kind") == []


# ------------------------------------------------------- the data plane's credentials


@pytest.mark.parametrize("again", ["the right ones", "the same ones"])
def test_a_500_for_the_data_plane_secret_is_asked_again_saying_both_causes(
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
    again: str,
) -> None:
    cp = fake_cp
    client_id, client_secret = cp.registered_dataplane("the-dp")
    data = af.answers("aws-keys", directory=tmp_path, name="dp-creds")
    data["controlPlane"] = {"url": cp.url, "apiUrl": cp.api_url}
    data["dataPlane"] = {"clientId": client_id, "clientSecret": "a-mistyped-secret"}
    answers = af.write_answers(tmp_path / "answers.yaml", data)
    log = tmp_path / "pty.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "AIRBOX_HOME": str(tmp_path / "airbox"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    session = Session(
        ["install", "--answers", str(answers), "--dry-run", "--output-dir", str(tmp_path / "out")],
        env,
        log,
    )

    session.expect("control plane failed")
    session.answer("Data plane client id", ENTER)  # the id as the default
    if again == "the right ones":
        session.answer("Data plane client secret", client_secret + ENTER)
    else:
        session.answer("Data plane client secret", "a-mistyped-secret" + ENTER)
        session.expect("kept as typed")
    session.answer("Install, or edit an answer?", ENTER)
    code = session.finish(timeout=120)
    flat = _flat(_transcript(log))
    assert code == 0, flat
    assert "the control plane answered HTTP 500 to this data plane's client id and secret" in flat
    assert "either they are wrong" in flat and "or the control plane failed" in flat
    assert "the same ones again keep them" in flat
    written = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    expected = client_secret if again == "the right ones" else "a-mistyped-secret"
    assert written["DATAPLANE_CLIENT_SECRET"] == expected
    # The same credentials typed again are not sent again.
    assert len(cp.calls("POST", "/api/v1/dataplanes/token")) == (
        2 if again == "the right ones" else 1
    )
    assert client_secret not in flat and "a-mistyped-secret" not in flat


@pytest.mark.parametrize("which", ["data plane", "application"])
def test_unattended_wrong_credentials_exit_4_naming_what_to_check(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    which: str,
) -> None:
    inst, cp = installer, fake_cp
    env = cp_env(inst, cp)
    if which == "data plane":
        client_id, _ = cp.registered_dataplane("the-dp")
        data = inst.answers(
            controlPlane={"url": cp.url, "apiUrl": cp.api_url},
            dataPlane={"clientId": client_id, "clientSecret": "not-it-at-all"},
        )
        expect = [
            "HTTP 500",
            "either they are wrong",
            "or the control plane failed",
            "DATAPLANE_CLIENT_ID/DATAPLANE_CLIENT_SECRET",
            "dataPlane.clientId/clientSecret",
        ]
    else:
        cp.applications = "database"
        env["AIRBYTE_CLIENT_SECRET"] = "not-it-at-all"
        data = registering(inst, cp)
        expect = [
            "refused the application's client id/secret",
            "HTTP 500",
            "AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET",
        ]
    result = inst.run(answers=inst.write(data), env=env)
    assert result.returncode == 4, result.stderr
    flat = _flat(result.stderr)
    for text in expect:
        assert text in flat, text
    assert inst.fake.calls("kind") == []  # nothing was built
    assert cp.live_dataplanes(inst.name) == []
    if which == "application":
        # The server said the client is unknown: asked once, not retried as a failure.
        assert len(cp.calls("POST", "/v1/applications/token")) == 1
    assert "not-it-at-all" not in result.stdout + result.stderr


# ------------------------------------------------------------------------------ 403s


def _api(cp: FakeControlPlane, client_id: str, secret: str) -> AirbyteApi:
    return AirbyteApi(
        cp.api_url, client_id, secret, retries=Retry(attempts=0), sleep=lambda _: None
    )


def _forbidden(call: Any) -> ControlPlaneError:
    with pytest.raises(ControlPlaneError) as raised:
        call()
    assert raised.value.status == 403
    assert raised.value.hint is not None
    return raised.value


def test_a_403_hint_names_the_permission_the_call_needed(
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    cp = fake_cp
    workspace = cp.add_workspace("sales")
    region = cp.add_region("eu-private", cp.organization_id)
    cp.add_app("reader-app", "reader-secret-1234", [cp.organization_id], org_admin=False)
    cp.apps["reader-app"].workspace_role = "reader"
    with _api(cp, "reader-app", "reader-secret-1234") as api:
        regions = _forbidden(lambda: api.regions(cp.organization_id))
        route = _forbidden(
            lambda: api.route_workspace(workspace["workspaceId"], region["regionId"])
        )
        source = _forbidden(
            lambda: api.create_actor(
                "sources",
                {
                    "name": "s",
                    "workspaceId": workspace["workspaceId"],
                    "configuration": {"sourceType": "faker"},
                },
            )
        )
    assert regions.hint is not None and "organization admin" in regions.hint
    assert "self-managed-regions" in regions.hint
    assert route.hint is not None and "workspace editor" in route.hint
    assert "self-managed-regions" not in route.hint and "entitlement" not in route.hint
    assert source.hint is not None and "workspace editor" in source.hint
    assert "--workspace" in source.hint and "entitlement" not in source.hint


@pytest.mark.timeout(600)
def test_credentials_the_interview_could_not_check_are_said_and_checked_before_building(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The control plane does not answer while the interview checks the data plane's
    credentials (a 503 from its load balancer): the terminal says they were not checked,
    and why; the install checks them as it starts, when it answers again, and stops
    (exit 4) before anything is built."""
    inst, cp = installer, fake_cp
    client_id, _ = cp.registered_dataplane(inst.name)
    data = inst.answers()
    data["controlPlane"] = {"url": cp.url, "apiUrl": cp.api_url}
    data["dataPlane"] = {"clientId": client_id, "clientSecret": "a-mistyped-secret-0001"}
    cp.fail("POST", "/api/v1/dataplanes/token", 503)
    log = tmp_path / "pty.log"
    session = Session(
        ["install", "--answers", str(inst.write(data)), "--ignore-preflight-failures"],
        inst.env(),
        log,
    )
    _maybe_continue(session, "Install, or edit an answer?")
    session.send(ENTER)
    code = session.finish(timeout=300)
    flat = _flat(_transcript(log))
    assert code == 4, flat
    assert (
        "! The data plane's credentials not checked: HTTP 503 from "
        f"{cp.url}/api/v1/dataplanes/token. airbox checks them again when the install "
        "starts, before it builds anything"
    ) in flat
    assert "Airbyte refused this data plane's client id or secret" in flat or (
        "the control plane answered HTTP 500 to this data plane's client id" in flat
    )
    assert len(cp.calls("POST", "/api/v1/dataplanes/token")) == 2
    assert inst.fake.calls("kind") == []
    assert "a-mistyped-secret-0001" not in flat
