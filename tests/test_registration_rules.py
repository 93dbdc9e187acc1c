"""What registration may and may not touch, and where its secret lives, by value."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from airbox.config.settings import ClientCredentials, Settings
from airbox.controlplane.registration import (
    registration_file,
    saved_registration,
    with_saved_credentials,
)
from airbox.errors import ControlPlaneError
from airbox.fsutil import read_json, write_json
from airbox.paths import StateDir
from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.test_registration import NAME, Run, make_answers, no_retry_delays  # noqa: F401


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _interrupted(fake_cp: FakeControlPlane, tmp_path: Path) -> dict[str, object]:
    """A registration whose answer was lost: the orphan it left."""
    fake_cp.drop("POST", "/v1/dataplanes", after=True)
    with pytest.raises(ControlPlaneError):
        Run(make_answers(fake_cp, tmp_path)).register()
    [orphan] = fake_cp.live_dataplanes()
    return orphan


def test_orphan_clean_up_deletes_only_its_own_name_in_its_own_region(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    orphan = _interrupted(fake_cp, tmp_path)
    region_id = str(orphan["regionId"])
    neighbour = fake_cp.add_dataplane("someone-else", region_id)
    elsewhere = fake_cp.add_region("eu-west-1", fake_cp.organization_id)
    twin = fake_cp.add_dataplane(NAME, elsewhere["regionId"])
    # A server that lists every data plane whatever regionIds says must not widen what
    # airbox deletes: the name and the region are checked on airbox's side too.
    fake_cp.list_ignores_region_filter = True

    Run(make_answers(fake_cp, tmp_path)).register()

    deleted = [r.path.rsplit("/", 1)[-1] for r in fake_cp.calls("DELETE", "/v1/dataplanes/*")]
    assert deleted == [orphan["dataplaneId"]]
    live = {d["dataplaneId"] for d in fake_cp.live_dataplanes()}
    assert {neighbour["dataplaneId"], twin["dataplaneId"]} <= live


def test_an_orphan_whose_creation_time_has_nanoseconds_and_an_offset_is_cleaned_up(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    """The control plane may write ``createdAt`` as Java does (nanoseconds, an offset): the
    orphan is still recognised as made while the lost registration ran."""
    import datetime as dt

    orphan = _interrupted(fake_cp, tmp_path)
    created = dt.datetime.fromisoformat(str(orphan["createdAt"]).replace("Z", "+00:00"))
    local = created.astimezone(dt.timezone(dt.timedelta(hours=2)))
    fake_cp.dataplanes[str(orphan["dataplaneId"])]["createdAt"] = (
        local.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789+02:00"
    )

    Run(make_answers(fake_cp, tmp_path)).register()

    deleted = [r.path.rsplit("/", 1)[-1] for r in fake_cp.calls("DELETE", "/v1/dataplanes/*")]
    assert deleted == [orphan["dataplaneId"]]


def test_a_pending_marker_of_another_name_deletes_nothing(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    region = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    foreign = fake_cp.add_dataplane(NAME, region["regionId"])
    state = StateDir.for_name(NAME)
    state.root.mkdir(parents=True)
    # Written while that data plane was created: only the name tells it is not airbox's.
    write_json(
        registration_file(state),
        {
            "pending": {
                "name": "another-dp",
                "regionId": region["regionId"],
                "startedAt": str(foreign["createdAt"]),
            }
        },
    )
    with pytest.raises(ControlPlaneError) as raised:
        Run(make_answers(fake_cp, tmp_path)).register()
    assert "already exists" in raised.value.message
    assert fake_cp.calls("DELETE") == []
    assert foreign["dataplaneId"] in {d["dataplaneId"] for d in fake_cp.live_dataplanes()}


def test_the_registration_file_is_private_pending_and_complete(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    _interrupted(fake_cp, tmp_path)
    path = registration_file(StateDir.for_name(NAME))
    assert "pending" in read_json(path)
    assert _mode(path) == 0o600
    run = Run(make_answers(fake_cp, tmp_path)).register()
    record = saved_registration(run.state)
    assert record is not None and record["clientSecret"]
    assert _mode(path) == 0o600
    assert set(record) >= {
        "name",
        "organizationId",
        "regionId",
        "regionName",
        "dataplaneId",
        "clientId",
        "clientSecret",
        "createdAt",
        "apiUrl",
    }


def test_credentials_the_user_gave_win_over_the_saved_ones(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    answers = make_answers(fake_cp, tmp_path)
    run = Run(answers).register()
    given = dict(
        answers,
        dataPlane={"clientId": "given-client-id-1", "clientSecret": "given-client-secret-1"},
    )
    settings = Settings.from_answers(given)
    assert with_saved_credentials(settings, run.state).data_plane == ClientCredentials(
        "given-client-id-1", "given-client-secret-1"
    )
    saved = saved_registration(run.state)
    assert saved is not None
    assert with_saved_credentials(Settings.from_answers(answers), run.state).data_plane == (
        ClientCredentials(saved["clientId"], saved["clientSecret"])
    )


def test_a_data_plane_deleted_between_the_check_and_the_delete_counts_as_gone(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    from airbox.controlplane.registration import deregister

    answers = make_answers(fake_cp, tmp_path)
    run = Run(answers).register()
    # Someone deletes it in Airbyte while uninstall runs: the DELETE answers 404.
    fake_cp.fail("DELETE", "/v1/dataplanes/*", 404)
    assert deregister(Settings.from_answers(answers), run.state) == "already-gone"
    assert not registration_file(run.state).exists()


def _iso(stamp: object, *, minutes: float) -> str:
    import datetime as dt

    when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return (when + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("started", ["an hour before", "an hour after", "unknown"])
def test_a_same_named_data_plane_not_made_while_the_marker_ran_is_never_deleted(
    fake_cp: FakeControlPlane, tmp_path: Path, started: str
) -> None:
    region = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    foreign = fake_cp.add_dataplane(NAME, region["regionId"])
    pending: dict[str, object] = {"name": NAME, "regionId": region["regionId"]}
    if started != "unknown":
        # The marker's run started an hour before (or after) that data plane was made.
        pending["startedAt"] = _iso(
            foreign["createdAt"], minutes=-60 if started == "an hour before" else 60
        )
    state = StateDir.for_name(NAME)
    state.root.mkdir(parents=True)
    write_json(registration_file(state), {"pending": pending})
    with pytest.raises(ControlPlaneError) as raised:
        Run(make_answers(fake_cp, tmp_path)).register()
    assert raised.value.message.startswith(f"a data plane named {NAME} already exists")
    assert fake_cp.calls("DELETE") == []
    assert foreign["dataplaneId"] in {d["dataplaneId"] for d in fake_cp.live_dataplanes()}
