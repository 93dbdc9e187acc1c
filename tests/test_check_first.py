"""Bad input changes nothing, and the control plane's words are shown safely.

- Every workspace name resolved and every refusal decided before the first PATCH:
  `airbox workspaces --assign/--unassign` and `airbox install --yes` with a workspace
  list (issue 20, F6).
- Names and error texts from the control plane reach the terminal without escape
  sequences or control characters, and capped; the whole text is in the run log (F12).

The real `airbox` executable against the fake control plane and fake cluster tools.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.helpers import airbox_bin, airbox_env
from tests.installer import Installer, cp_env, registering

EVIL = "evil\x1b]0;pwned\x07\x1b[2J\x1b[1;31mred\x9b2J\u202eeman\nforged line"


def airbox(name: str, cp: FakeControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    env = airbox_env(
        AIRBYTE_CLIENT_ID=cp.client_id,
        AIRBYTE_CLIENT_SECRET=cp.client_secret,
        NO_PROXY="127.0.0.1,localhost",
    )
    return subprocess.run(
        [airbox_bin(), *args, "--name", name], capture_output=True, text=True, env=env, timeout=120
    )


def region_id(cp: FakeControlPlane, name: str = "eu-private") -> str:
    [region] = [r for r in cp.live_regions(cp.organization_id) if r["name"] == name]
    return str(region["regionId"])


def _registered(cp: FakeControlPlane, tmp_path: Path) -> str:
    """A data plane airbox registered in region eu-private (its state as install leaves
    it, without a cluster: `airbox workspaces` needs only the state and the API)."""
    from airbox.config.gather import save
    from tests.test_registration import NAME, Run, make_answers

    answers = make_answers(cp, tmp_path, region="eu-private")
    run = Run(answers).register()
    save(run.state, answers)
    return NAME


# ------------------------------------------------------------------------------ F6


def test_workspaces_assign_and_unassign_decide_everything_before_the_first_patch(
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    cp = fake_cp
    name = _registered(cp, tmp_path)
    here = region_id(cp)
    other = cp.add_region("other-private", cp.organization_id)
    cp.add_workspace("billing", other["regionId"])
    cp.add_workspace("sales")
    cp.add_workspace("marketing")

    # sales is routable, billing is in another self-managed region: sales is not routed.
    first = airbox(name, cp, "workspaces", "--assign", "sales", "--assign", "billing", "--yes")
    assert first.returncode == 2, first.stderr
    assert "workspace billing uses region other-private, not eu-private" in first.stderr
    assert cp.routed(here) == [] and cp.calls("PATCH", "/v1/workspaces/*") == []

    # And nosuch is nobody: both refusals at once.
    both = airbox(
        name,
        cp,
        "workspaces",
        "--assign",
        "sales",
        "--assign",
        "billing",
        "--assign",
        "nosuch",
        "--yes",
    )
    assert both.returncode == 2, both.stderr
    assert "2 problems with the workspaces to route; nothing was routed" in both.stderr
    assert "workspace billing uses region other-private, not eu-private" in both.stderr
    assert "no workspace named 'nosuch' is visible to the application" in both.stderr
    assert "--force-route" in both.stderr
    assert "routing workspace sales" not in both.stderr

    # An unknown name to unassign: the assignment before it does not happen either.
    mixed = airbox(name, cp, "workspaces", "--assign", "marketing", "--unassign", "nosuch", "--yes")
    assert mixed.returncode == 2, mixed.stderr
    assert "no workspace named 'nosuch' is visible to the application" in mixed.stderr
    assert "now runs its syncs" not in mixed.stderr

    assert cp.calls("PATCH", "/v1/workspaces/*") == []
    assert cp.routed(here) == []
    assert cp.routed(other["regionId"]) == ["billing"]

    # The same, fixed: both move (billing with --force-route).
    fixed = airbox(
        name, cp, "workspaces", "--assign", "sales", "--assign", "billing", "--force-route", "--yes"
    )
    assert fixed.returncode == 0, fixed.stderr
    assert cp.routed(here) == ["billing", "sales"]


def test_install_refuses_a_workspace_of_another_own_region_before_registering(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    other = cp.add_region("other-private", cp.organization_id)
    cp.add_workspace("billing", other["regionId"])
    cp.add_workspace("sales")
    data = registering(inst, cp, workspaces=["sales", "billing"])
    data.pop("storage", None)
    result = inst.run(answers=inst.write(data), env=cp_env(inst, cp))
    assert result.returncode == 2, result.stderr
    assert "workspace billing uses region other-private, not eu-private" in result.stderr
    assert "--force-route" in result.stderr
    # Decided in the check step: nothing registered, created, built or routed.
    assert cp.calls("PATCH", "/v1/workspaces/*") == []
    assert cp.live_dataplanes() == [] and cp.calls("POST", "/v1/regions") == []
    assert inst.fake.calls("kind") == []
    assert "✗ Check the workspaces to route" in result.stderr


# ----------------------------------------------------------------------------- F12


def test_names_from_the_control_plane_reach_the_terminal_without_control_characters(
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    cp = fake_cp
    name = _registered(cp, tmp_path)
    cp.add_workspace(EVIL)
    cp.add_workspace("x" * 5000)
    listed = airbox(name, cp, "workspaces")
    assert listed.returncode == 0, listed.stderr
    for text in (listed.stdout, listed.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
        assert "\u202e" not in text
    assert "evilred" in listed.stdout and "forged line" in listed.stdout
    assert not any(line.startswith("forged line") for line in listed.stdout.splitlines())
    assert "x" * 201 not in listed.stdout and "more characters not shown" in listed.stdout
    # --json is data: the name as the control plane gave it (JSON escapes it).
    as_json = airbox(name, cp, "workspaces", "-o", "json")
    names = [w["name"] for w in json.loads(as_json.stdout)["workspaces"]]
    assert EVIL in names and "\x1b" not in as_json.stdout
    # Refused by name: the error lists the visible ones safely too.
    refused = airbox(name, cp, "workspaces", "--assign", "nosuch", "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "evilred" in refused.stderr
    assert "\x1b" not in refused.stderr and "\x07" not in refused.stderr


class _HugeTitle(BaseHTTPRequestHandler):
    """A control plane whose token call is answered 400 with a 3 MB title (a page for
    preflight's look at the address)."""

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def _answer(self) -> None:
        body = json.dumps(
            {
                "status": 400,
                "title": "\x1b[2J" + "T" * 3_000_000,
                "detail": "d\x1b]0;pwned\x07" + "D" * 10_000,
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def huge_title() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HugeTitle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_huge_error_title_is_cut_on_screen_and_kept_whole_in_the_log(
    installer: Installer, huge_title: str
) -> None:
    inst = installer
    data = inst.answers(
        controlPlane={"url": huge_title, "apiUrl": huge_title + "/v1"},
        registration={"region": "eu-private"},
    )
    del data["dataPlane"]
    env = inst.env(AIRBYTE_CLIENT_ID="some-app", AIRBYTE_CLIENT_SECRET="some-app-secret-1234")
    result = inst.run(answers=inst.write(data), env=env)
    assert result.returncode == 4, result.stderr[:3000]
    assert "getting an access token failed" in result.stderr
    assert len(result.stderr) < 20_000, len(result.stderr)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "more characters in the log" in result.stderr
    [log] = (inst.state / "logs").glob("*-install.log")
    assert "T" * 3_000_000 in log.read_text()
    assert inst.fake.calls("kind") == []
