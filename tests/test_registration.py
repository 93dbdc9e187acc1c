"""Registering the data plane, against a fake control plane over real HTTP."""

from __future__ import annotations

import io
import json
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airbox import runlog
from airbox.config.gather import save
from airbox.config.prompts import Prompter
from airbox.config.settings import Settings, validate
from airbox.controlplane import transport as api_module
from airbox.controlplane.api import Retry
from airbox.controlplane.registration import (
    api_for,
    deregister,
    ensure_registered,
    registration_file,
    saved_registration,
    with_saved_credentials,
)
from airbox.errors import (
    EXIT_API,
    EXIT_USAGE,
    ClusterError,
    ControlPlaneError,
    MissingInput,
    UsageError,
)
from airbox.fsutil import ensure_private_dir, read_json
from airbox.ops.install import Context, Generated, Options, Register
from airbox.ops.pipeline import Progress, Step, execute
from airbox.paths import StateDir
from airbox.redact import MASK, REDACTOR
from airbox.ui import StepLine, Terminal
from tests import answers_factory as af
from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.helpers import REPO, Keys, airbox_bin, airbox_env, signal_then_reap

ENTER = "\r"
DOWN = "\x1b[B"
NAME = "dp-1"


@pytest.fixture(autouse=True)
def no_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "DEFAULT_RETRY", Retry(base=0.0))


def make_answers(
    fake: FakeControlPlane,
    tmp_path: Path,
    *,
    region: str | None = "us-west-1",
    organization_id: str | None = None,
) -> dict[str, Any]:
    answers = af.answers(directory=tmp_path, name=NAME)
    del answers["dataPlane"]
    answers["controlPlane"] = {"edition": "cloud", "apiUrl": fake.api_url}
    answers["registration"] = {"clientId": fake.client_id, "clientSecret": fake.client_secret}
    if region:
        answers["registration"]["region"] = region
    if organization_id:
        answers["registration"]["organizationId"] = organization_id
    assert validate(answers) == []
    return answers


class Run:
    """One install's context, its terminal output, and what the register step did."""

    def __init__(self, answers: dict[str, Any], prompter: Prompter | None = None) -> None:
        self.answers = answers
        self.out = io.StringIO()
        settings = Settings.from_answers(answers)
        self.state = StateDir.for_name(settings.name)
        ensure_private_dir(self.state.root)
        term = Terminal(out=self.out, err=self.out, interactive=False)
        options = Options(interactive=prompter is not None)
        self.ctx = Context(
            settings,
            answers,
            self.state,
            Generated(self.state.root),
            term,
            options,
            prompter=prompter,
        )

    def register(self) -> Run:
        with self.ctx.term.step("register") as line:
            Register().run(self.ctx, line)
        return self

    @property
    def output(self) -> str:
        return self.out.getvalue()


def saved(state: StateDir) -> dict[str, Any]:
    record = saved_registration(state)
    assert record is not None, "no saved registration"
    return record


def own_regions(fake: FakeControlPlane) -> list[str]:
    return sorted(r["name"] for r in fake.live_regions(fake.organization_id))


# ------------------------------------------------------------------------ registering


def test_registers_in_a_new_region_of_the_only_organization(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    run = Run(make_answers(fake_cp, tmp_path)).register()
    assert own_regions(fake_cp) == ["us-west-1"]
    [dataplane] = fake_cp.live_dataplanes()
    assert dataplane["name"] == NAME
    client_id, client_secret = fake_cp.dataplane_secrets[dataplane["dataplaneId"]]
    # The Secret will get the new data plane's credentials.
    assert run.ctx.settings.data_plane is not None
    assert (run.ctx.settings.data_plane.client_id, run.ctx.settings.data_plane.client_secret) == (
        client_id,
        client_secret,
    )
    path = registration_file(run.state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = read_json(path)
    assert {
        k: record[k]
        for k in ("organizationId", "regionName", "dataplaneId", "clientId", "clientSecret")
    } == {
        "organizationId": fake_cp.organization_id,
        "regionName": "us-west-1",
        "dataplaneId": dataplane["dataplaneId"],
        "clientId": client_id,
        "clientSecret": client_secret,
    }
    assert record["regionId"] == dataplane["regionId"]
    assert record["createdAt"]
    assert REDACTOR.mask(client_secret) == MASK
    assert client_secret not in run.output
    assert f"registered data plane {NAME}" in run.output


def test_a_second_run_reuses_the_region_and_the_data_plane(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    first = Run(answers).register()
    second = Run(answers).register()
    assert own_regions(fake_cp) == ["us-west-1"]
    assert len(fake_cp.live_dataplanes()) == 1
    assert len(fake_cp.calls("POST", "/v1/dataplanes")) == 1
    assert len(fake_cp.calls("POST", "/v1/regions")) == 1
    assert second.ctx.settings.data_plane == first.ctx.settings.data_plane
    # The second run only confirmed the saved data plane is still in its region's list.
    record = saved(second.state)
    assert fake_cp.calls("GET", f"/v1/dataplanes/{record['dataplaneId']}") == []
    assert [c.query for c in fake_cp.calls("GET", "/v1/dataplanes")][-1] == {
        "regionIds": [record["regionId"]]
    }
    assert "already registered" in second.output


def test_an_existing_region_is_matched_by_name_case_insensitively(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    region = fake_cp.add_region("US-West-1", fake_cp.organization_id)
    Run(make_answers(fake_cp, tmp_path, region="us-west-1")).register()
    assert fake_cp.calls("POST", "/v1/regions") == []
    assert fake_cp.live_dataplanes()[0]["regionId"] == region["regionId"]


def test_airbyte_managed_regions_are_not_the_organizations_own(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    # A new name is created as the organization's own region.
    Run(make_answers(fake_cp, tmp_path, region="us-east-7")).register()
    assert own_regions(fake_cp) == ["us-east-7"]
    [created] = fake_cp.calls("POST", "/v1/regions")
    assert created.body == {"name": "us-east-7", "organizationId": fake_cp.organization_id}
    assert [
        r["name"] for r in fake_cp.live_regions() if r["organizationId"] != fake_cp.organization_id
    ] == ["US"]


@pytest.mark.parametrize("wanted", ["US", "us"])
def test_the_name_of_an_airbyte_managed_region_is_refused_before_creating(
    fake_cp: FakeControlPlane, tmp_path: Path, wanted: str
) -> None:
    # The real server answers a bare 500 for it; airbox says why and what to do instead.
    with pytest.raises(UsageError) as raised:
        Run(make_answers(fake_cp, tmp_path, region=wanted)).register()
    error = raised.value
    assert error.exit_code == EXIT_USAGE
    assert f"region name {wanted!r} is taken by a region Airbyte manages (US)" in error.message
    assert error.hint is not None and "pick another name for registration.region" in error.hint
    assert fake_cp.calls("POST", "/v1/regions") == []
    assert fake_cp.calls("POST", "/v1/dataplanes") == []
    assert not registration_file(StateDir.for_name(NAME)).exists()


def test_the_fake_answers_500_for_a_taken_region_name_like_the_server(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    from airbox.controlplane.api import AirbyteApi

    with AirbyteApi(fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret) as api:
        api.retries = Retry(attempts=0)
        region = api.create_region("eu-2", fake_cp.organization_id)
        api.http.delete(
            api.base_url + f"/regions/{region['regionId']}",
            headers={"Authorization": f"Bearer {api.token()}"},
        )
        for name in ("eu-2", "US"):
            with pytest.raises(ControlPlaneError) as raised:
                api.create_region(name, fake_cp.organization_id)
            assert raised.value.status == 500


def test_a_500_creating_a_region_says_the_name_may_have_been_used_before(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    # A region of this name was deleted earlier: it is not listed, and the name is taken.
    old = fake_cp.add_region("eu-west-9", fake_cp.organization_id)
    old["deleted"] = True
    with pytest.raises(ControlPlaneError) as raised:
        Run(make_answers(fake_cp, tmp_path, region="eu-west-9")).register()
    error = raised.value
    assert error.exit_code == EXIT_API and error.status == 500
    assert error.hint is not None
    assert "was used before" in error.hint and "Pick another name" in error.hint
    assert "few minutes" not in error.hint
    assert len(fake_cp.calls("POST", "/v1/regions")) == 1
    assert fake_cp.calls("POST", "/v1/dataplanes") == []


def test_a_region_given_by_id(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    region = fake_cp.add_region("eu-1", fake_cp.organization_id)
    Run(make_answers(fake_cp, tmp_path, region=region["regionId"])).register()
    assert fake_cp.live_dataplanes()[0]["regionId"] == region["regionId"]
    assert fake_cp.calls("POST", "/v1/regions") == []


def test_a_managed_region_id_is_refused(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    [managed] = [r for r in fake_cp.live_regions() if r["name"] == "US"]
    with pytest.raises(UsageError) as raised:
        Run(make_answers(fake_cp, tmp_path, region=managed["regionId"])).register()
    assert "managed by Airbyte" in raised.value.message
    assert fake_cp.calls("POST", "/v1/dataplanes") == []


def test_data_plane_credentials_given_means_no_registration(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    answers["dataPlane"] = {"clientId": "given-id", "clientSecret": "given-secret-123"}
    run = Run(answers).register()
    assert fake_cp.requests == []
    assert run.ctx.settings.data_plane is not None
    assert run.ctx.settings.data_plane.client_id == "given-id"
    assert not registration_file(run.state).exists()


# --------------------------------------------------------------- organization and region


def test_several_organizations_without_a_terminal_is_an_error_listing_them(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    second = fake_cp.add_organization("Globex")
    fake_cp.apps[fake_cp.client_id].organizations.append(second)
    with pytest.raises(MissingInput) as raised:
        Run(make_answers(fake_cp, tmp_path)).register()
    error = raised.value
    assert error.exit_code == EXIT_USAGE
    assert any(fake_cp.organization_id in d and "Acme" in d for d in error.details)
    assert any(second in d and "Globex" in d for d in error.details)
    assert error.hint is not None and "registration.organizationId" in error.hint
    assert fake_cp.calls("POST", "/v1/dataplanes") == []

    # Named: registered there.
    Run(make_answers(fake_cp, tmp_path, organization_id=second)).register()
    [region] = fake_cp.live_regions(second)
    assert fake_cp.live_dataplanes()[0]["regionId"] == region["regionId"]


def test_several_organizations_on_a_terminal_are_a_choice(
    fake_cp: FakeControlPlane, tmp_path: Path, keys: tuple[Keys, Prompter]
) -> None:
    k, prompter = keys
    second = fake_cp.add_organization("Globex")
    fake_cp.apps[fake_cp.client_id].organizations.append(second)
    k.answers.append(DOWN + ENTER)  # the second organization
    run = Run(make_answers(fake_cp, tmp_path), prompter=prompter).register()
    assert fake_cp.live_regions(second)[0]["name"] == "us-west-1"
    assert saved(run.state)["organizationId"] == second


def test_no_region_without_a_terminal_says_which_setting(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    fake_cp.add_region("eu-1", fake_cp.organization_id)
    with pytest.raises(MissingInput) as raised:
        Run(make_answers(fake_cp, tmp_path, region=None)).register()
    assert raised.value.hint is not None
    assert "registration.region" in raised.value.hint and "--region" in raised.value.hint
    assert raised.value.details == ["existing regions: eu-1"]
    assert fake_cp.calls("POST", "/v1/regions") == []


@pytest.mark.parametrize(("typed", "created"), [("eu-1", False), ("ap-south-1", True)])
def test_on_a_terminal_a_region_is_picked_or_typed(
    fake_cp: FakeControlPlane,
    tmp_path: Path,
    keys: tuple[Keys, Prompter],
    typed: str,
    created: bool,
) -> None:
    k, prompter = keys
    fake_cp.add_region("eu-1", fake_cp.organization_id)
    k.answers.append(typed + ENTER)
    run = Run(make_answers(fake_cp, tmp_path, region=None), prompter=prompter).register()
    assert len(fake_cp.calls("POST", "/v1/regions")) == (1 if created else 0)
    assert saved(run.state)["regionName"] == typed


# ------------------------------------------------------------------- never twice


class FailingStep(Step[Context]):
    """The step after registration, failing — after checking what it was handed."""

    name = "manifests"
    title = "Generate the manifests"

    def run(self, ctx: Context, line: StepLine) -> None:
        record = read_json(registration_file(ctx.state))
        assert ctx.settings.data_plane is not None
        assert record["clientSecret"] == ctx.settings.data_plane.client_secret
        raise ClusterError("simulated failure after registration")


def test_registration_is_saved_before_later_steps_and_survives_their_failure(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    run = Run(answers)
    with pytest.raises(ClusterError):
        execute([Register(), FailingStep()], run.ctx, run.ctx.term, Progress(run.state.progress))
    assert Progress(run.state.progress).status("register") == "done"
    assert Progress(run.state.progress).status("manifests") == "failed"
    again = Run(answers)
    with pytest.raises(ClusterError):
        execute(
            [Register(), FailingStep()], again.ctx, again.ctx.term, Progress(again.state.progress)
        )
    assert len(fake_cp.calls("POST", "/v1/dataplanes")) == 1
    assert len(fake_cp.live_dataplanes()) == 1
    assert again.ctx.settings.data_plane == run.ctx.settings.data_plane


def test_credentials_are_saved_the_moment_the_answer_arrives(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    settings = Settings.from_answers(make_answers(fake_cp, tmp_path))
    state = StateDir.for_name(NAME)

    def interrupt_once_registered(message: str) -> None:
        if message.startswith("registered data plane"):
            raise KeyboardInterrupt

    with api_for(settings, state) as api, pytest.raises(KeyboardInterrupt):
        ensure_registered(settings, state, api, say=interrupt_once_registered, warn=lambda _: None)
    [dataplane] = fake_cp.live_dataplanes()
    saved = saved_registration(state)
    assert saved is not None
    assert saved["clientSecret"] == fake_cp.dataplane_secrets[dataplane["dataplaneId"]][1]


def test_a_lost_answer_leaves_an_orphan_that_the_next_run_replaces(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    # The control plane creates the data plane, then the connection drops: airbox never
    # sees the secret.
    fake_cp.drop("POST", "/v1/dataplanes", after=True)
    with pytest.raises(ControlPlaneError) as raised:
        Run(answers).register()
    assert "closed without an answer" in raised.value.message
    assert len(fake_cp.calls("POST", "/v1/dataplanes")) == 1  # not retried
    [orphan] = fake_cp.live_dataplanes()
    state = StateDir.for_name(NAME)
    assert saved_registration(state) is None
    assert read_json(registration_file(state))["pending"]["name"] == NAME

    again = Run(answers).register()
    assert "interrupted" in again.output
    assert len(fake_cp.calls("DELETE", f"/v1/dataplanes/{orphan['dataplaneId']}")) == 1
    [replacement] = fake_cp.live_dataplanes()
    assert replacement["dataplaneId"] != orphan["dataplaneId"]
    saved = saved_registration(again.state)
    assert saved is not None and saved["dataplaneId"] == replacement["dataplaneId"]
    assert "pending" not in read_json(registration_file(again.state))


SCRIPT = textwrap.dedent("""
    import json, signal, sys
    # A shell may start background jobs with SIGINT ignored; a user's Ctrl-C is not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from airbox.paths import StateDir
    from airbox.controlplane.registration import api_for, ensure_registered
    from airbox.config.settings import Settings
    settings = Settings.from_answers(json.load(open(sys.argv[1])))
    state = StateDir.for_name(settings.name)
    with api_for(settings, state) as api:
        ensure_registered(settings, state, api, say=print, warn=print)
    print("registered")
""")


def test_ctrl_c_while_registering_is_recovered_by_the_next_run(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    (tmp_path / "register.py").write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "register.py"), str(tmp_path / "answers.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=airbox_env(),
    )
    # Processed, not yet answered: the user presses Ctrl-C.
    # Processed; answered only once the client has died of the Ctrl-C (the event itself,
    # not a fixed wait).
    fake_cp.on("POST", "/v1/dataplanes", lambda _: signal_then_reap(proc, signal.SIGINT))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    [orphan] = fake_cp.live_dataplanes()
    state = StateDir.for_name(NAME)
    assert read_json(registration_file(state))["pending"]["regionName"] == "us-west-1"

    again = Run(answers).register()
    [replacement] = fake_cp.live_dataplanes()
    assert replacement["dataplaneId"] != orphan["dataplaneId"]
    assert again.ctx.settings.data_plane is not None
    assert (
        again.ctx.settings.data_plane.client_secret
        == fake_cp.dataplane_secrets[replacement["dataplaneId"]][1]
    )


def test_a_data_plane_of_that_name_made_elsewhere_is_not_touched(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    region = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    foreign = fake_cp.add_dataplane(NAME, region["regionId"])
    with pytest.raises(ControlPlaneError) as raised:
        Run(make_answers(fake_cp, tmp_path)).register()
    error = raised.value
    assert error.exit_code == EXIT_API
    assert foreign["dataplaneId"] in error.message and "already exists" in error.message
    assert error.hint is not None
    assert "another name" in error.hint and "dataPlane.clientId/clientSecret" in error.hint
    assert fake_cp.calls("POST", "/v1/dataplanes") == []
    assert fake_cp.calls("DELETE") == []
    assert not registration_file(StateDir.for_name(NAME)).exists()


def test_a_data_plane_deleted_on_the_control_plane_is_registered_again(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    first = Run(answers).register()
    old = saved_registration(first.state)
    assert old is not None
    fake_cp.dataplanes[old["dataplaneId"]]["deleted"] = True
    again = Run(answers).register()
    assert "no longer exists" in again.output
    [replacement] = fake_cp.live_dataplanes()
    assert replacement["dataplaneId"] != old["dataplaneId"]
    assert saved(again.state)["dataplaneId"] == replacement["dataplaneId"]


def test_a_data_plane_deleted_through_the_api_is_noticed_though_its_id_still_answers(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    from airbox.controlplane.api import AirbyteApi

    answers = make_answers(fake_cp, tmp_path)
    first = Run(answers).register()
    old = saved(first.state)["dataplaneId"]
    with AirbyteApi(fake_cp.api_url, fake_cp.client_id, fake_cp.client_secret) as api:
        api.delete_dataplane(old)
        # The server only tombstones it: GET by id still answers 200.
        assert api.get_dataplane(old)["dataplaneId"] == old
    again = Run(answers).register()
    assert f"data plane {NAME} ({old}) no longer exists on the control plane" in again.output
    [replacement] = fake_cp.live_dataplanes()
    assert replacement["dataplaneId"] != old
    assert saved(again.state)["dataplaneId"] == replacement["dataplaneId"]
    assert again.ctx.settings.data_plane != first.ctx.settings.data_plane


def test_an_unreachable_control_plane_on_a_rerun_is_a_warning(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    first = Run(answers).register()
    fake_cp.stop()
    again = Run(answers).register()
    assert "could not confirm the registration" in again.output
    assert "continuing with the saved credentials" in again.output
    assert again.ctx.settings.data_plane == first.ctx.settings.data_plane


def test_a_rerun_against_another_control_plane_is_refused(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    Run(answers).register()
    answers["controlPlane"]["apiUrl"] = fake_cp.url + "/api/public/v1"
    with pytest.raises(UsageError) as raised:
        Run(answers).register()
    assert fake_cp.api_url in raised.value.message


# --------------------------------------------------------------------------- uninstall


def test_deregister_deletes_the_data_plane_and_forgets_it(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    run = Run(answers).register()
    settings = Settings.from_answers(answers)
    assert with_saved_credentials(settings, run.state).data_plane == run.ctx.settings.data_plane
    assert deregister(settings, run.state) == "deleted"
    assert fake_cp.live_dataplanes() == []
    assert not registration_file(run.state).exists()
    assert deregister(settings, run.state) == "not-registered"


def test_deregister_is_idempotent_and_cleans_up_orphans(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    settings = Settings.from_answers(answers)
    run = Run(answers).register()
    record = saved_registration(run.state)
    assert record is not None
    fake_cp.dataplanes[record["dataplaneId"]]["deleted"] = True
    assert deregister(settings, run.state) == "already-gone"

    fake_cp.drop("POST", "/v1/dataplanes", after=True)
    with pytest.raises(ControlPlaneError):
        Run(answers).register()
    assert len(fake_cp.live_dataplanes()) == 1
    assert deregister(settings, run.state) == "deleted"
    assert fake_cp.live_dataplanes() == []


# ------------------------------------------------------------------------------ secrets


def test_no_secret_reaches_the_terminal_the_log_or_an_error(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    state = StateDir.for_name(NAME)
    log = runlog.start(state.logs, "install")
    texts: list[str] = []
    try:
        # A lost answer, the recovery, a reuse, a failing control plane on a re-run,
        # a wrong secret: every path that talks about credentials.
        fake_cp.drop("POST", "/v1/dataplanes", after=True)
        with pytest.raises(ControlPlaneError) as lost:
            Run(answers).register()
        texts += [lost.value.message, lost.value.hint or "", *lost.value.details]
        for _ in range(2):
            texts.append(Run(answers).register().output)
        fake_cp.fail("GET", "/v1/dataplanes", 500, times=10)
        texts.append(Run(answers).register().output)
        wrong = dict(
            answers, registration=dict(answers["registration"], clientSecret="wrong-secret-000111")
        )
        registration_file(state).unlink()
        (state.root / "token.json").unlink()
        with pytest.raises(ControlPlaneError) as refused:
            Run(wrong).register()
        texts += [refused.value.message, refused.value.hint or "", *refused.value.details]
    finally:
        runlog.stop()
    texts.append(log.read_text())
    everything = "\n".join(texts)
    assert "registered data plane" in everything  # the scan looked at real output
    secrets = [*fake_cp.known_secrets(), "wrong-secret-000111"]
    assert len(secrets) >= 5
    assert [s for s in secrets if s in everything] == []


# --------------------------------------------------------------------- airbox dataplanes


def run_airbox(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args], capture_output=True, text=True, env=airbox_env(**env), timeout=60
    )


def test_dataplanes_lists_with_application_credentials_from_the_environment(
    fake_cp: FakeControlPlane,
) -> None:
    west = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    east = fake_cp.add_region("us-east-1", fake_cp.organization_id)
    a = fake_cp.add_dataplane("dp-a", west["regionId"])
    b = fake_cp.add_dataplane("dp-b", east["regionId"])
    elsewhere = fake_cp.add_organization("Globex")
    fake_cp.add_dataplane("not-ours", fake_cp.add_region("x", elsewhere)["regionId"])
    env = {"AIRBYTE_CLIENT_ID": fake_cp.client_id, "AIRBYTE_CLIENT_SECRET": fake_cp.client_secret}
    result = run_airbox("dataplanes", "-o", "json", "--api-url", fake_cp.api_url, **env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["name"], r["dataplaneId"], r["region"]) for r in rows] == [
        ("dp-b", b["dataplaneId"], "us-east-1"),
        ("dp-a", a["dataplaneId"], "us-west-1"),
    ]
    assert rows[0]["enabled"] is True and rows[0]["createdAt"]

    table = run_airbox("dataplanes", "--region", "US-WEST-1", "--api-url", fake_cp.api_url, **env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "REGION", "ENABLED", "CREATED"]
    assert lines[1].split()[:4] == ["dp-a", a["dataplaneId"], "us-west-1", "yes"]
    assert len(lines) == 2

    assert fake_cp.client_secret not in result.stdout + result.stderr + table.stderr


def test_dataplanes_uses_the_saved_settings_of_the_installed_data_plane(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    run = Run(answers).register()
    save(run.state, answers)
    result = run_airbox("dataplanes", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    record = saved_registration(run.state)
    assert record is not None
    assert f"dataplaneId: {record['dataplaneId']}" in result.stdout
    assert "region: us-west-1" in result.stdout
    assert record["clientSecret"] not in result.stdout + result.stderr


def test_dataplanes_with_wrong_credentials_exits_4_with_a_hint(fake_cp: FakeControlPlane) -> None:
    result = run_airbox(
        "dataplanes",
        "--api-url",
        fake_cp.api_url,
        AIRBYTE_CLIENT_ID=fake_cp.client_id,
        AIRBYTE_CLIENT_SECRET="wrong-secret-424242",
    )
    assert result.returncode == EXIT_API
    assert "HTTP 401" in result.stderr and "User settings > Applications" in result.stderr
    assert "wrong-secret-424242" not in result.stdout + result.stderr


def test_dataplanes_without_credentials_says_what_to_set() -> None:
    result = run_airbox("dataplanes")
    assert result.returncode == EXIT_USAGE
    assert "AIRBYTE_CLIENT_ID" in result.stderr
