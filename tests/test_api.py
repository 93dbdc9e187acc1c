"""The Airbyte API client against a fake control plane over real HTTP."""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path

import httpx
import pytest

from airbox.controlplane.api import AirbyteApi, Retry, Timeouts
from airbox.errors import EXIT_API, ControlPlaneError
from airbox.fsutil import read_json
from airbox.redact import MASK, REDACTOR
from tests.fake_control_plane import (
    MANAGED_ORGANIZATION,
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_api(
    fake: FakeControlPlane,
    tmp_path: Path,
    *,
    secret: str | None = None,
    clock: Clock | None = None,
    sleeps: list[float] | None = None,
    timeout: Timeouts | None = None,
    retries: Retry | None = None,
) -> AirbyteApi:
    return AirbyteApi(
        fake.api_url,
        fake.client_id,
        secret or fake.client_secret,
        token_cache=tmp_path / "state" / "token.json",
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
        clock=clock or time.time,
        timeout=timeout,
        retries=retries,
    )


# ------------------------------------------------------------------------------ token


def test_token_is_cached_in_a_private_file_and_shared_between_clients(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    with make_api(fake_cp, tmp_path) as api:
        api.organizations()
        api.organizations()
    with make_api(fake_cp, tmp_path) as again:
        again.organizations()
    tokens = fake_cp.calls("POST", "/v1/applications/token")
    assert len(tokens) == 1
    assert tokens[0].body == {
        "client_id": fake_cp.client_id,
        "client_secret": "***",
        "grant_type": "client_credentials",
    }
    assert tokens[0].headers["content-type"] == "application/json"
    cache = tmp_path / "state" / "token.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert fake_cp.client_secret not in cache.read_text()
    assert read_json(cache)["accessToken"] in fake_cp.tokens
    # Every authenticated call carried the bearer token.
    assert all(
        r.headers.get("authorization") == "Bearer ***"
        for r in fake_cp.calls("GET", "/v1/organizations")
    )


def test_token_renewed_60_seconds_before_it_expires(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    clock = Clock()
    with make_api(fake_cp, tmp_path, clock=clock) as api:
        api.organizations()
        clock.now += 900 - 60 - 1
        api.organizations()
        assert len(fake_cp.calls("POST", "/v1/applications/token")) == 1
        clock.now += 2
        api.organizations()
    assert len(fake_cp.calls("POST", "/v1/applications/token")) == 2


def test_token_rejected_by_the_server_is_renewed_once(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    with make_api(fake_cp, tmp_path) as api:
        api.organizations()
        first = read_json(tmp_path / "state" / "token.json")["accessToken"]
        fake_cp.advance(901)  # the server's clock: the client still trusts its token
        assert api.organizations()[0]["organizationName"] == "Acme"
    assert len(fake_cp.calls("POST", "/v1/applications/token")) == 2
    assert len(fake_cp.calls("GET", "/v1/organizations")) == 3  # ok, 401, ok
    assert read_json(tmp_path / "state" / "token.json")["accessToken"] != first


def test_a_cached_token_of_another_application_is_not_used(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    fake_cp.add_app("other-app", "other-app-secret-123", [fake_cp.organization_id])
    with make_api(fake_cp, tmp_path) as api:
        api.organizations()
    other = AirbyteApi(
        fake_cp.api_url,
        "other-app",
        "other-app-secret-123",
        token_cache=tmp_path / "state" / "token.json",
    )
    with other:
        other.organizations()
    assert [r.body["client_id"] for r in fake_cp.calls("POST", "/v1/applications/token")] == [
        fake_cp.client_id,
        "other-app",
    ]


def test_wrong_credentials_say_where_to_create_an_application(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    wrong = "not-the-right-secret-77"
    with (
        make_api(fake_cp, tmp_path, secret=wrong) as api,
        pytest.raises(ControlPlaneError) as raised,
    ):
        api.organizations()
    error = raised.value
    assert error.exit_code == EXIT_API
    assert error.status == 401
    assert error.url == fake_cp.api_url + "/applications/token"
    assert error.url in error.message and "401" in error.message
    assert error.hint is not None and "User settings > Applications" in error.hint
    assert "AIRBYTE_CLIENT_ID" in error.hint
    text = " ".join([error.message, error.hint, *error.details])
    assert wrong not in text
    # The token call is retried only on failures that may pass, never on a 401.
    assert len(fake_cp.calls("POST", "/v1/applications/token")) == 1


# ------------------------------------------------------------------------------ lists


def test_lists_bare_or_wrapped(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    own = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    fake_cp.add_dataplane("dp-a", own["regionId"])
    with make_api(fake_cp, tmp_path) as api:
        organizations = api.organizations()  # {"data": [...]}
        regions = api.regions(fake_cp.organization_id)  # a bare array
        dataplanes = api.dataplanes([own["regionId"]])  # a bare array
    assert [o["organizationId"] for o in organizations] == [fake_cp.organization_id]
    assert {r["organizationId"] for r in regions} == {fake_cp.organization_id, MANAGED_ORGANIZATION}
    assert [d["name"] for d in dataplanes] == ["dp-a"]
    listed = fake_cp.calls("GET", "/v1/dataplanes")[0]
    assert listed.query == {"regionIds": [own["regionId"]]}


def test_create_and_delete_a_data_plane(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    with make_api(fake_cp, tmp_path) as api:
        region = api.create_region("eu-1", fake_cp.organization_id)
        created = api.create_dataplane("dp-1", region["regionId"])
        assert set(created) >= {"dataplaneId", "regionId", "clientId", "clientSecret"}
        # The secret is known to the redactor from the moment it arrives.
        assert REDACTOR.mask(created["clientSecret"]) == MASK
        assert api.get_dataplane(created["dataplaneId"])["name"] == "dp-1"
        api.delete_dataplane(created["dataplaneId"])
        # Like the real server: deleted means tombstoned; the id still answers, the
        # lists leave it out.
        assert api.get_dataplane(created["dataplaneId"])["name"] == "dp-1"
        assert api.dataplanes([region["regionId"]]) == []
        with pytest.raises(ControlPlaneError) as raised:
            api.get_dataplane("00000000-0000-4000-8000-000000000001")
    assert raised.value.status == 404
    assert raised.value.hint is not None and "does not exist" in raised.value.hint
    assert fake_cp.live_dataplanes() == []


# ---------------------------------------------------------------------------- retries


def test_reads_are_retried_on_5xx_429_and_dropped_connections(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    fake_cp.fail("GET", "/v1/organizations", 503)
    fake_cp.fail("GET", "/v1/organizations", 429, retry_after="0")
    fake_cp.drop("GET", "/v1/organizations")
    sleeps: list[float] = []
    with make_api(fake_cp, tmp_path, sleeps=sleeps) as api:
        assert api.organizations()[0]["organizationId"] == fake_cp.organization_id
    assert len(fake_cp.calls("GET", "/v1/organizations")) == 4
    # Backoff between tries: 0.25-0.5 s (step 0.5 with equal jitter), then Retry-After: 0
    # honoured, then 1-2 s (step 2) -- what the fake sleep recorded, no clock involved.
    assert len(sleeps) == 3
    assert 0.25 <= sleeps[0] <= 0.5
    assert sleeps[1] == 0
    assert 1.0 <= sleeps[2] <= 2.0


def test_the_token_call_is_retried_too(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    fake_cp.fail("POST", "/v1/applications/token", 502)
    with make_api(fake_cp, tmp_path) as api:
        api.organizations()
    assert len(fake_cp.calls("POST", "/v1/applications/token")) == 2


def test_retries_give_up_with_the_url_status_and_what_to_do(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    fake_cp.fail("GET", "/v1/dataplanes", 500, times=100)
    sleeps: list[float] = []
    with (
        make_api(fake_cp, tmp_path, sleeps=sleeps) as api,
        pytest.raises(ControlPlaneError) as raised,
    ):
        api.dataplanes()
    error = raised.value
    assert error.status == 500
    assert f"GET {fake_cp.api_url}/dataplanes answered HTTP 500" in error.message
    assert error.hint is not None and "again in a few minutes" in error.hint
    assert any("Injected 500" in d for d in error.details)
    assert len(fake_cp.calls("GET", "/v1/dataplanes")) == 1 + Retry().attempts
    # Exponential with equal jitter: each pause between half its step and the step
    # (0.5, 1, 2 s), as the fake sleep recorded them.
    assert [step / 2 <= s <= step for s, step in zip(sleeps, (0.5, 1, 2), strict=True)] == [
        True
    ] * 3


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_creating_is_never_retried(fake_cp: FakeControlPlane, tmp_path: Path, fault: str) -> None:
    region = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    for path in ("/v1/dataplanes", "/v1/regions"):
        if fault == "503":
            fake_cp.fail("POST", path, 503, times=5)
        else:
            fake_cp.drop("POST", path, times=5)
    sleeps: list[float] = []
    with make_api(fake_cp, tmp_path, sleeps=sleeps) as api:
        with pytest.raises(ControlPlaneError) as dataplane:
            api.create_dataplane("dp-1", region["regionId"])
        with pytest.raises(ControlPlaneError):
            api.create_region("eu-1", fake_cp.organization_id)
    assert len(fake_cp.calls("POST", "/v1/dataplanes")) == 1
    assert len(fake_cp.calls("POST", "/v1/regions")) == 1
    assert sleeps == []
    if fault == "drop":
        assert "closed without an answer" in dataplane.value.message
        assert dataplane.value.status is None
    else:
        assert dataplane.value.status == 503


def test_a_slow_server_times_out_with_the_url_and_what_to_do(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    # The server would answer after 60 s: an error naming the 0.3 s read timeout is the
    # proof that the client gave up on its own timeout rather than waiting it out.
    fake_cp.slow("GET", "/v1/organizations", 60, times=10)
    with make_api(
        fake_cp, tmp_path, timeout=Timeouts(connect=1, read=0.3), retries=Retry(attempts=1)
    ) as api:
        with pytest.raises(ControlPlaneError) as raised:
            api.organizations()
        # The message quotes the setting; the client must also have been given it (how
        # long the whole thing takes is a clock's business, not this test's).
        assert api.http.timeout == httpx.Timeout(0.3, connect=1, pool=1)
    error = raised.value
    assert f"{fake_cp.api_url}/organizations" in error.message
    assert "no answer within 0.3 s" in error.message
    assert "tried 2 times" in error.message
    assert error.hint is not None and "controlPlane.apiUrl" in error.hint
    assert "proxy" in error.hint
    assert len(fake_cp.calls("GET", "/v1/organizations")) == 2


def test_an_unreachable_control_plane_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    api = AirbyteApi(
        f"http://127.0.0.1:{port}/v1", "id", "unreachable-secret-1", sleep=lambda _: None
    )
    with api, pytest.raises(ControlPlaneError) as raised:
        api.organizations()
    assert "connection was refused" in raised.value.message
    assert f"http://127.0.0.1:{port}/v1" in raised.value.message
    assert raised.value.hint is not None and "egress" in raised.value.hint


def test_forbidden_explains_admin_and_entitlement(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    fake_cp.entitlement = False
    with make_api(fake_cp, tmp_path) as api, pytest.raises(ControlPlaneError) as raised:
        api.regions(fake_cp.organization_id)
    error = raised.value
    assert error.status == 403
    assert "(forbidden)" in error.message
    assert error.hint is not None
    assert "organization admin" in error.hint and "self-managed-regions" in error.hint
    assert error.details == ["detail: The organization is not entitled to self-managed regions."]


def test_the_airbyte_url_given_as_api_url_points_at_the_setting(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    api = AirbyteApi(fake_cp.url, fake_cp.client_id, fake_cp.client_secret, sleep=lambda _: None)
    with api, pytest.raises(ControlPlaneError) as raised:
        api.organizations()
    assert raised.value.status == 404
    assert raised.value.hint is not None and "controlPlane.apiUrl" in raised.value.hint


def _scripted(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/applications/token"):
            return httpx.Response(200, json={"access_token": "scripted-token-1", "expires_in": 900})
        return routes[request.url.path]

    return httpx.MockTransport(handle)


def test_an_html_answer_from_a_proxy_is_named() -> None:
    page = httpx.Response(
        200, text="<html>Sign in to the proxy</html>", headers={"content-type": "text/html"}
    )
    api = AirbyteApi(
        "https://api.example.com/v1",
        "id",
        "scripted-secret-1",
        transport=_scripted({"/v1/organizations": page}),
    )
    with api, pytest.raises(ControlPlaneError) as raised:
        api.organizations()
    assert "did not answer with JSON (HTTP 200, content-type text/html)" in raised.value.message
    assert raised.value.hint is not None and "controlPlane.apiUrl" in raised.value.hint


def test_the_specs_wrapped_list_shape_is_accepted_too() -> None:
    wrapped = httpx.Response(200, json={"data": [{"dataplaneId": "d1", "name": "dp-a"}]})
    api = AirbyteApi(
        "https://api.example.com/v1",
        "id",
        "scripted-secret-1",
        transport=_scripted({"/v1/dataplanes": wrapped}),
    )
    with api:
        assert [d["name"] for d in api.dataplanes()] == ["dp-a"]


# ----------------------------------------------------------------------------- health


def test_health_is_best_effort(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    region = fake_cp.add_region("us-west-1", fake_cp.organization_id)
    healthy = fake_cp.add_dataplane("dp-a", region["regionId"])
    fake_cp.add_dataplane("dp-b", region["regionId"])
    fake_cp.heartbeat(healthy["dataplaneId"], seconds_ago=10)
    with make_api(fake_cp, tmp_path) as api:
        health = api.dataplane_health(fake_cp.url, fake_cp.organization_id)
        assert health is not None
        assert {h["dataplane_name"]: h["status"] for h in health} == {
            "dp-a": "HEALTHY",
            "dp-b": "UNKNOWN",
        }
        fake_cp.health_available = False
        assert api.dataplane_health(fake_cp.url, fake_cp.organization_id) is None
        fake_cp.health_available = True
        fake_cp.fail("POST", "/api/v1/dataplanes/health", 500)
        assert api.dataplane_health(fake_cp.url, fake_cp.organization_id) is None
        assert api.dataplane_health("http://127.0.0.1:1", fake_cp.organization_id) is None
        assert api.dataplane_health("not a url", fake_cp.organization_id) is None
    # Best effort is never retried: one call per attempt above, the 500 included.
    assert len(fake_cp.calls("POST", "/api/v1/dataplanes/health")) == 3


# ------------------------------------------------------------ bounded conversations


def test_a_trickling_answer_is_cut_at_the_total_time_not_the_read_timeout(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    # A byte every 0.1 s never trips a 1 s read timeout; the answer would end (cut
    # short) only after 100 of them.
    fake_cp.trickle("GET", "/v1/organizations", 0.1, count=100)
    with make_api(
        fake_cp, tmp_path, timeout=Timeouts(connect=1, read=1, total=0.5), retries=Retry(attempts=0)
    ) as api:
        with pytest.raises(ControlPlaneError) as raised:
            api.organizations()
        # The client keeps working: the abandoned request took its connections along.
        fake_cp.fail("GET", "/v1/organizations", 404)
        with pytest.raises(ControlPlaneError) as again:
            api.organizations()
    error = raised.value
    assert error.exit_code == EXIT_API
    assert error.message == (
        f"listing the organizations failed: GET {fake_cp.api_url}/"
        "organizations: no complete answer within 0.5 s"
    )
    assert error.hint is not None and "answers too slowly" in error.hint
    assert again.value.status == 404


def test_one_call_may_have_its_own_timeout(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    fake_cp.trickle("GET", "/v1/organizations", 0.1, count=100)
    with (
        make_api(fake_cp, tmp_path, retries=Retry(attempts=0)) as api,
        pytest.raises(ControlPlaneError) as raised,
    ):
        api._call(
            "GET",
            "/organizations",
            what="listing the organizations",
            timeout=Timeouts(connect=1, read=1, total=0.3),
        )
    assert raised.value.message.endswith("no complete answer within 0.3 s")


def test_a_commands_reads_stop_at_its_deadline(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    for n in range(250):
        fake_cp.add_workspace(f"w{n:03d}")
    # Three pages of 0.4 s each: more than the 1 s all the reads may take.
    fake_cp.slow("GET", "/v1/workspaces", 0.4, times=3)
    with make_api(fake_cp, tmp_path, retries=Retry(attempts=0)) as api:
        api.reads_within = 1.0
        with pytest.raises(ControlPlaneError) as raised:
            api.workspaces()
    assert raised.value.message.startswith(
        f"listing the workspaces failed: GET {fake_cp.api_url}/workspaces: "
    )
    assert raised.value.message.endswith(
        "the control plane's answers to this command took more than 1 s in all"
    )
    assert raised.value.exit_code == EXIT_API


def test_job_polls_do_not_count_against_the_reads_deadline(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    # verify polls a job for as long as its own --timeout says.
    workspace = fake_cp.add_workspace("analytics")
    with make_api(fake_cp, tmp_path) as api:
        faker = api.create_actor(
            "sources",
            {
                "name": "s",
                "workspaceId": workspace["workspaceId"],
                "configuration": {"sourceType": "faker"},
            },
        )
        dev_null = api.create_actor(
            "destinations",
            {
                "name": "d",
                "workspaceId": workspace["workspaceId"],
                "definitionId": "a7bcc9d8-13b3-4e49-b80d-d020b90045e3",
                "configuration": {"destinationType": "dev-null"},
            },
        )
        connection = api.create_connection(
            {"name": "c", "sourceId": faker["sourceId"], "destinationId": dev_null["destinationId"]}
        )
        job = api.start_job(connection["connectionId"])
        api.reads_within = 0.0
        assert api.get_job(job["jobId"])["jobId"] == job["jobId"]
        with pytest.raises(ControlPlaneError) as raised:
            api.organizations()
    assert "took more than 0 s in all" in raised.value.message


def test_a_list_whose_pages_repeat_stops_with_what_to_check(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    import threading

    for n in range(150):
        fake_cp.add_workspace(f"w{n:03d}")
    fake_cp.ignore_offset = True
    raised: list[BaseException] = []

    def listing() -> None:
        with make_api(fake_cp, tmp_path) as api:
            try:
                api.workspaces()
            except BaseException as exc:
                raised.append(exc)

    # Without a stop it would page for ever: a thread, so the test can say so.
    worker = threading.Thread(target=listing, daemon=True)
    worker.start()
    worker.join(timeout=60)
    fake_cp.ignore_offset = False
    assert not worker.is_alive(), "the listing never stopped"
    [error] = raised
    assert isinstance(error, ControlPlaneError)
    assert error.message == (
        f"listing the workspaces failed: GET {fake_cp.api_url}/"
        "workspaces answered page 2 (offset 100) with entries it had "
        "already sent"
    )
    assert error.hint is not None and "ignores the offset parameter" in error.hint
    assert len(fake_cp.calls("GET", "/v1/workspaces")) == 2


def test_a_list_stops_at_the_page_limit(
    fake_cp: FakeControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airbox.controlplane import transport as api_module

    monkeypatch.setattr(api_module, "MAX_PAGES", 2)
    for n in range(250):
        fake_cp.add_workspace(f"w{n:03d}")
    with make_api(fake_cp, tmp_path) as api, pytest.raises(ControlPlaneError) as raised:
        api.workspaces()
    assert raised.value.message == (
        f"listing the workspaces failed: GET {fake_cp.api_url}/"
        "workspaces still had more after 2 pages (200 entries)"
    )
    assert len(fake_cp.calls("GET", "/v1/workspaces")) == 2
