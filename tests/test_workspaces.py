"""Routing workspaces to the data plane's region: install, `airbox workspaces`, status."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airbox.controlplane.api import NO_RETRY, AirbyteApi
from airbox.errors import UsageError
from airbox.ops.routing import CREATE_NEW, Region, route
from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.helpers import airbox_bin
from tests.installer import Installer, cp_env, registering


def airbox(
    inst: Installer, cp: FakeControlPlane, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=env or cp_env(inst, cp),
        timeout=60,
    )


def region_id(cp: FakeControlPlane, name: str = "eu-private") -> str:
    [region] = [r for r in cp.live_regions(cp.organization_id) if r["name"] == name]
    return str(region["regionId"])


def test_install_routes_exactly_the_named_workspace_and_a_rerun_changes_nothing(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    analytics = cp.add_workspace("analytics")
    cp.add_workspace("marketing")
    cp.add_workspace("Default Workspace")
    answers = inst.write(registering(inst, cp, workspaces=["analytics"]))
    result = inst.run(answers=answers, env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr
    here = region_id(cp)
    assert cp.routed(here) == ["analytics"]
    assert cp.routed(cp.managed_region["regionId"]) == ["Default Workspace", "marketing"]
    [patch] = cp.calls("PATCH", "/v1/workspaces/*")
    assert patch.path == f"/v1/workspaces/{analytics['workspaceId']}"
    assert patch.body == {"regionId": here}
    # The last screen: the region, the data plane id, the routed workspace.
    [plane] = cp.live_dataplanes(inst.name)
    assert f"region:     eu-private (data plane {plane['dataplaneId']})" in result.stdout
    assert "workspaces: analytics (their syncs run here)" in result.stdout
    assert f"airbox verify --name {inst.name}" in result.stdout

    again = inst.run(answers=answers, env=cp_env(inst, cp))
    assert again.returncode == 0, again.stderr
    assert len(cp.calls("PATCH", "/v1/workspaces/*")) == 1
    assert cp.calls("POST", "/v1/workspaces") == []
    assert cp.routed(here) == ["analytics"]
    assert "already routed: analytics" in again.stderr


def test_routing_errors_exit_4_naming_the_call_that_failed(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    analytics = cp.add_workspace("analytics")
    cp.fail("PATCH", "/v1/workspaces/*", 400)
    result = inst.run(
        answers=inst.write(registering(inst, cp, workspaces=["analytics"])), env=cp_env(inst, cp)
    )
    assert result.returncode == 4, result.stderr
    assert (
        f"routing the workspace {analytics['workspaceId']} to region "
        f"{region_id(cp)} failed: PATCH {cp.api_url}/workspaces/"
        f"{analytics['workspaceId']} answered HTTP 400"
    ) in result.stderr
    assert "next:" in result.stderr
    assert cp.routed(region_id(cp)) == []


def test_unknown_workspace_with_yes_exits_2_listing_the_visible_ones(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    cp.add_workspace("analytics")
    cp.add_workspace("marketing")
    result = inst.run(
        answers=inst.write(registering(inst, cp, workspaces=["analitycs"])), env=cp_env(inst, cp)
    )
    assert result.returncode == 2, result.stderr
    assert "no workspace named 'analitycs' is visible to the application" in result.stderr
    for name in ("analytics", "marketing"):
        assert name in result.stderr
    assert cp.calls("PATCH", "/v1/workspaces/*") == []
    # Checked before anything was built: no registration, no cluster.
    assert cp.live_dataplanes() == [] and cp.calls("POST", "/v1/regions") == []
    assert inst.fake.calls("kind") == []


def test_status_routing_warns_until_workspaces_assign(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    analytics = cp.add_workspace("analytics")
    result = inst.run(answers=inst.write(registering(inst, cp)), env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr
    assert "workspaces: none uses this region yet" in result.stdout
    assert f"airbox workspaces --name {inst.name} --assign <workspace>" in result.stdout

    status = airbox(inst, cp, "status", "--json")
    report = json.loads(status.stdout)
    assert report["checks"][-1]["id"] == "routing"
    routing = report["checks"][-1]
    assert routing["state"] == "warn", routing
    assert routing["summary"].startswith("no workspace uses region eu-private")
    assert report["verdict"] == "degraded" and status.returncode == 1
    assert report["next"] == f"airbox workspaces --name {inst.name} --assign <workspace>"

    # Routing changes the control plane: not while another command holds the data plane;
    # listing only reads and never waits.
    from airbox.lock import dataplane_lock
    from airbox.paths import StateDir

    with dataplane_lock(StateDir(inst.state), "upgrade", create=False):
        busy = airbox(inst, cp, "workspaces", "--assign", "analytics")
        listed = airbox(inst, cp, "workspaces", "-o", "json")
    assert busy.returncode == 1, busy.stderr
    assert f"data plane {inst.name} is busy: {os.getpid()} (airbox upgrade" in busy.stderr
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["workspaces"][0]["routedHere"] is False

    assigned = airbox(inst, cp, "workspaces", "--assign", "analytics", "-o", "json")
    assert assigned.returncode == 0, assigned.stderr
    listing = json.loads(assigned.stdout)
    assert listing == {
        "version": 1,
        "region": {"regionId": region_id(cp), "name": "eu-private"},
        "workspaces": [
            {
                "workspaceId": analytics["workspaceId"],
                "name": "analytics",
                "region": "eu-private",
                "routedHere": True,
            }
        ],
    }

    status = airbox(inst, cp, "status", "--json")
    report = json.loads(status.stdout)
    assert report["checks"][-1] == {
        "id": "routing",
        "state": "ok",
        "ok": True,
        "summary": "workspace analytics use region eu-private",
        "details": [],
        "next": None,
    }
    assert report["routing"] == {
        "region": {"regionId": region_id(cp), "name": "eu-private"},
        "workspaces": ["analytics"],
    }
    # Without the application's credentials, status cannot tell: skip.
    no_app = inst.env()
    status = airbox(inst, cp, "status", "--json", env=no_app)
    assert json.loads(status.stdout)["checks"][-1]["state"] in ("ok", "skip")

    table = airbox(inst, cp, "workspaces")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["NAME", "ID", "REGION", "HERE"]
    assert table.stdout.splitlines()[1].split() == [
        "analytics",
        analytics["workspaceId"],
        "eu-private",
        "yes",
    ]


def test_routing_keeps_a_run_log_with_no_secret_and_listing_keeps_none(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    """Like every day-2 command that changes something, `workspaces --assign`/`--unassign`
    log their run (0600, redacted); listing only reads and writes none."""
    from tests.answers_factory import SECRETS

    inst, cp = installer, fake_cp
    analytics = cp.add_workspace("analytics")
    result = inst.run(answers=inst.write(registering(inst, cp)), env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr
    logs = inst.state / "logs"

    def workspace_logs() -> list[Path]:
        return sorted(logs.glob("*-workspaces.log"))

    listed = airbox(inst, cp, "workspaces")
    assert listed.returncode == 0, listed.stderr
    assert workspace_logs() == []

    assigned = airbox(inst, cp, "workspaces", "--assign", "analytics")
    assert assigned.returncode == 0, assigned.stderr
    [log] = workspace_logs()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert f"airbox workspaces {inst.name}: assign ['analytics'], unassign []" in text
    assert "routed workspace analytics" in text and region_id(cp) in text

    back = airbox(inst, cp, "workspaces", "--unassign", "analytics")
    assert back.returncode == 0, back.stderr
    assert len(workspace_logs()) == 2
    text = "".join(path.read_text() for path in workspace_logs())
    assert (
        f"moved workspace analytics ({analytics['workspaceId']}) "
        f"back to region {cp.managed_region['regionId']}"
    ) in text
    registration = json.loads((inst.state / "registration.json").read_text())
    secrets = [*cp.known_secrets(), registration["clientSecret"], *SECRETS.values()]
    leaked = [secret for secret in secrets if secret and secret in text]
    assert leaked == []


def test_status_and_workspaces_end_behind_a_control_plane_that_pages_or_trickles_for_ever(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    for n in range(120):
        cp.add_workspace(f"team-{n:03d}")
    result = inst.run(answers=inst.write(registering(inst, cp)), env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr

    # A cache in front of the control plane that ignores ?offset=: every page is page 1.
    cp.ignore_offset = True
    listed = airbox(inst, cp, "workspaces")
    assert listed.returncode == 4, listed.stderr
    assert (
        f"listing the workspaces failed: GET {cp.api_url}/workspaces answered page 2 "
        "(offset 100) with entries it had already sent"
    ) in listed.stderr
    assert "ignores the offset parameter" in listed.stderr
    status = airbox(inst, cp, "status", "--json")
    routing = json.loads(status.stdout)["checks"][-1]
    assert routing["id"] == "routing" and routing["state"] == "skip", routing
    assert "with entries it had already sent" in routing["summary"]
    cp.ignore_offset = False

    # An answer that trickles a byte every half second (each well within the 4 s read
    # timeout) for 30 s: status gives the control plane 6 s for it.
    # Both of status's questions to the control plane trickle.
    cp.trickle("GET", "/v1/workspaces", 0.5, count=60)
    cp.trickle("GET", "/v1/dataplanes", 0.5, count=60)
    status = airbox(inst, cp, "status", "--json")
    checks = {c["id"]: c for c in json.loads(status.stdout)["checks"]}
    assert checks["routing"]["state"] == "skip", checks["routing"]
    assert checks["routing"]["summary"] == (
        f"could not check: listing the workspaces failed: GET {cp.api_url}/workspaces: no "
        "complete answer within 6 s"
    )
    assert checks["registration"]["state"] == "skip", checks["registration"]
    assert checks["registration"]["summary"].endswith(
        f"not checked: listing the data planes failed: GET {cp.api_url}/dataplanes: no "
        "complete answer within 6 s"
    )


# ----------------------------------------------------- route() against the fake API


@pytest.fixture
def api(fake_cp: FakeControlPlane) -> Any:  # noqa: F811
    with AirbyteApi(
        fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret, retries=NO_RETRY
    ) as client:
        yield client


def own_region(cp: FakeControlPlane, name: str) -> Region:
    made = cp.add_region(name, cp.organization_id)
    return Region(made["regionId"], name, cp.organization_id)


def test_a_workspace_in_another_own_region_moves_only_with_force(
    fake_cp: FakeControlPlane,  # noqa: F811
    api: AirbyteApi,
) -> None:
    cp = fake_cp
    other = own_region(cp, "us-private")
    here = own_region(cp, "eu-private")
    cp.add_workspace("analytics", region_id=other.region_id)
    with pytest.raises(UsageError) as refused:
        route(api, here, ["analytics"], prompter=None)
    assert "workspace analytics uses region us-private, not eu-private" in refused.value.message
    assert "--force-route" in (refused.value.hint or "")
    assert cp.routed(other.region_id) == ["analytics"]
    done = route(api, here, ["analytics"], prompter=None, force=True)
    assert done.routed == ["analytics"] and cp.routed(here.region_id) == ["analytics"]
    # By id, a second time: nothing to do.
    [ws] = [w for w in cp.workspaces.values() if w["name"] == "analytics"]
    again = route(api, here, [ws["workspaceId"]], prompter=None)
    assert again.routed == [] and again.already == ["analytics"]


def test_an_unknown_workspace_without_a_terminal_lists_the_visible_ones_and_routes_nothing(
    fake_cp: FakeControlPlane,  # noqa: F811
    api: AirbyteApi,
) -> None:
    cp = fake_cp
    here = own_region(cp, "eu-private")
    cp.add_workspace("analytics")
    with pytest.raises(UsageError) as refused:
        route(api, here, ["analytics", "analitycs"], prompter=None)
    assert refused.value.exit_code == 2
    assert refused.value.message == "no workspace named 'analitycs' is visible to the application"
    assert refused.value.details[0] == "the workspaces it can see:"
    assert any("analytics" in line for line in refused.value.details[1:])
    assert "create the workspace in Airbyte first" in (refused.value.hint or "")
    assert cp.routed(here.region_id) == []


class Answers:
    """A prompter that answers from a script (the questions are recorded)."""

    def __init__(self, checked: list[str], new_name: str = "", confirm: bool = False) -> None:
        self.checked, self.new_name, self.answer = checked, new_name, confirm
        self.asked: list[str] = []
        self.offered: list[tuple[str, str, bool]] = []

    def checkbox(self, message: str, choices: list[tuple[str, str, bool]]) -> list[str]:
        self.asked.append(message)
        self.offered = list(choices)
        return self.checked

    def text(self, message: str, *, default: str = "", validate: Any = None) -> str:
        self.asked.append(message)
        return self.new_name or default

    def confirm(self, message: str, *, default: bool = False) -> bool:
        self.asked.append(message)
        return self.answer


def test_unknown_name_on_a_terminal_offers_the_workspaces_and_a_new_one(
    fake_cp: FakeControlPlane,  # noqa: F811
    api: AirbyteApi,
) -> None:
    cp = fake_cp
    here = own_region(cp, "eu-private")
    cp.add_workspace("analytics")
    prompter = Answers([CREATE_NEW], new_name="eu-syncs")
    done = route(api, here, ["analitycs"], prompter=prompter)  # type: ignore[arg-type]
    assert done.created == ["eu-syncs"]
    assert cp.routed(here.region_id) == ["eu-syncs"]
    [question, _] = prompter.asked
    assert "'analitycs' not found" in question
    assert "connectors that already exist break when the secrets manager" in question
    labels = [label for _, label, _ in prompter.offered]
    assert labels == [
        "analytics  — region us",
        "create a new workspace in this region (recommended)",
    ]
    [create] = cp.calls("POST", "/v1/workspaces")
    assert create.body == {
        "name": "eu-syncs",
        "organizationId": cp.organization_id,
        "regionId": here.region_id,
    }


def test_checkbox_on_a_terminal_routes_what_the_user_ticks(
    fake_cp: FakeControlPlane,  # noqa: F811
    api: AirbyteApi,
    keys: Any,
) -> None:
    cp = fake_cp
    k, prompter = keys
    here = own_region(cp, "eu-private")
    cp.add_workspace("analytics")
    cp.add_workspace("marketing")
    # analytics ticked, marketing not, "create a new workspace" (pre-ticked) unticked.
    k.type(" " + "\x1b[B" + "\x1b[B" + " " + "\r")
    done = route(api, here, ["analitycs"], prompter=prompter)
    assert done.routed == ["analytics"] and done.created == []
    assert cp.routed(here.region_id) == ["analytics"]
    assert cp.calls("POST", "/v1/workspaces") == []


def test_unassign_moves_a_workspace_back_to_the_managed_region(
    fake_cp: FakeControlPlane,  # noqa: F811
    api: AirbyteApi,
) -> None:
    from airbox.ops.workspaces import _unassign

    cp = fake_cp
    here = own_region(cp, "eu-private")
    cp.add_workspace("analytics", region_id=here.region_id)
    said: list[str] = []
    _unassign(api, here, ["analytics"], say=said.append)
    assert cp.routed(here.region_id) == []
    assert cp.routed(cp.managed_region["regionId"]) == ["analytics"]
    assert said == ["workspace analytics moved back to region US"]
    with pytest.raises(UsageError):
        _unassign(api, here, ["nope"], say=said.append)


def test_route_step_with_a_data_planes_own_credentials_and_no_region_only_advises(
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Any,
) -> None:
    """Application credentials in the environment but a data plane airbox did not
    register, and no region named: the install is not failed; the last screen says where
    to route in Airbyte."""
    from types import SimpleNamespace

    from airbox.config.settings import Settings
    from airbox.ops.install import Route
    from airbox.ops.workspaces import last_screen
    from airbox.paths import StateDir
    from tests import answers_factory as af

    data = af.answers(directory=tmp_path, name="dp-own")
    data["controlPlane"] = {"url": fake_cp.url, "apiUrl": fake_cp.api_url}
    data["registration"] = {"clientId": fake_cp.client_id, "clientSecret": fake_cp.client_secret}
    ctx = SimpleNamespace(
        settings=Settings.from_answers(data),
        state=StateDir.for_name("dp-own"),
        routing=None,
        prompter=None,
        options=SimpleNamespace(interactive=False, force_route=False),
    )
    skipped: list[str] = []
    line = SimpleNamespace(update=skipped.append, skip=skipped.append, paused=None)
    Route().run(ctx, line)  # type: ignore[arg-type]
    assert skipped == ["the region is not known; see below"]
    [text] = last_screen(ctx.routing, "dp-own", None)
    assert "Settings › Workspace › General › Region" in text
    assert fake_cp.calls("PATCH", "/v1/workspaces/*") == []
