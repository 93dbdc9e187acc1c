"""The IMDSv2 hop-limit check, against a local HTTP server playing the EC2 instance
metadata service and the EC2 API (``AIRBOX_IMDS_URL`` / ``AIRBOX_EC2_URL``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airbox.ops.preflight.checks import run_checks
from airbox.ops.preflight.facts import Subject
from airbox.ops.preflight.imds import sigv4_headers
from tests import answers_factory as af

TOKEN = "imds-token-0123456789"
SECRET = "role-secret-key-abcdef0123456789"
SESSION = "role-session-token-9876543210"
INSTANCE = "i-0abc1234def567890"
FIX = (
    "aws ec2 modify-instance-metadata-options --instance-id i-0abc1234def567890 "
    "--http-put-response-hop-limit 3 --http-endpoint enabled"
)


@dataclass
class FakeAws:
    hop_limit: int = 1
    describe_status: int = 200
    # Seconds before each metadata answer, and before the EC2 API's (a busy instance,
    # a slow VPC path); the fixture's teardown cuts any wait short.
    imds_delay: float = 0.0
    ec2_delay: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _handler(aws: FakeAws) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            aws.requests.append(("PUT", self.path, dict(self.headers)))
            if aws.stop.wait(aws.imds_delay):
                return
            if self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"
            ):
                self._send(200, TOKEN)
            else:
                self._send(400, "")

        def do_GET(self) -> None:
            aws.requests.append(("GET", self.path, dict(self.headers)))
            path = urlsplit(self.path).path
            if aws.stop.wait(aws.imds_delay if path.startswith("/latest/") else aws.ec2_delay):
                return
            if path.startswith("/latest/"):
                # IMDSv2 only: every GET needs the session token.
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self._send(401, "")
                    return
                answers = {
                    "/latest/meta-data/instance-id": INSTANCE,
                    "/latest/meta-data/placement/region": "us-west-2",
                    "/latest/meta-data/iam/security-credentials/": "airbyte-role",
                    "/latest/meta-data/iam/security-credentials/airbyte-role": json.dumps(
                        {
                            "Code": "Success",
                            "AccessKeyId": "ASIAEXAMPLE0000001",
                            "SecretAccessKey": SECRET,
                            "Token": SESSION,
                        }
                    ),
                }
                if path in answers:
                    self._send(200, answers[path])
                else:
                    self._send(404, "")
                return
            query = parse_qs(urlsplit(self.path).query)
            signed = self.headers.get("Authorization", "")
            if (
                query.get("Action") != ["DescribeInstances"]
                or query.get("InstanceId.1") != [INSTANCE]
                or "Credential=ASIAEXAMPLE0000001/" not in signed
                or self.headers.get("X-Amz-Security-Token") != SESSION
            ):
                self._send(
                    400,
                    "<Response><Errors><Error><Code>AuthFailure</Code></Error></Errors></Response>",
                )
                return
            if aws.describe_status != 200:
                self._send(
                    aws.describe_status,
                    "<Response><Errors><Error><Code>"
                    "UnauthorizedOperation</Code></Error></Errors></Response>",
                )
                return
            self._send(
                200,
                f"""<DescribeInstancesResponse><reservationSet><item>
<instancesSet><item><instanceId>{INSTANCE}</instanceId><metadataOptions>
<state>applied</state><httpTokens>required</httpTokens>
<httpPutResponseHopLimit>{aws.hop_limit}</httpPutResponseHopLimit>
<httpEndpoint>enabled</httpEndpoint></metadataOptions></item></instancesSet>
</item></reservationSet></DescribeInstancesResponse>""",
            )

    return Handler


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    aws = FakeAws()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(aws))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    aws.url = url
    monkeypatch.setenv("AIRBOX_IMDS_URL", url)
    monkeypatch.setenv("AIRBOX_EC2_URL", url)
    yield aws
    aws.stop.set()
    server.shutdown()
    server.server_close()


def hop_check(subject: Subject) -> Any:
    import os

    report = run_checks(subject, environ=dict(os.environ))
    return next(r for r in report.results if r.id == "aws.imds-hop-limit")


def instance_profile_subject(tmp_path: Path) -> Subject:
    answers = af.answers("aws-instance-profile", "s3-instance-profile", directory=tmp_path)
    return Subject.from_answers(answers)


def test_hop_limit_1_fails_with_the_exact_fix(fake_aws: FakeAws, tmp_path: Path) -> None:
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "fail", result
    assert "hop limit of i-0abc1234def567890 is 1" in result.finding
    assert "3 network hops" in result.finding
    assert result.fix == FIX
    # IMDSv2: the token PUT first, then the GETs with it; nothing secret in the finding.
    assert fake_aws.requests[0][:2] == ("PUT", "/latest/api/token")
    assert SECRET not in result.finding + (result.fix or "")


def test_hop_limit_2_is_still_too_low_for_pods_in_kind(fake_aws: FakeAws, tmp_path: Path) -> None:
    fake_aws.hop_limit = 2
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "fail" and result.fix == FIX


def test_hop_limit_3_passes(fake_aws: FakeAws, tmp_path: Path) -> None:
    fake_aws.hop_limit = 3
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "pass", result
    assert result.fix is None


def test_unreadable_hop_limit_warns_with_the_fix(fake_aws: FakeAws, tmp_path: Path) -> None:
    fake_aws.describe_status = 403
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "warn", result
    assert "UnauthorizedOperation" in result.finding
    assert "ec2:DescribeInstances" in result.finding
    assert result.fix == FIX


def test_only_with_instance_profile_auth(fake_aws: FakeAws, tmp_path: Path) -> None:
    subject = Subject.from_answers(af.answers("aws-keys", "s3-keys", directory=tmp_path))
    result = hop_check(subject)
    assert result.outcome == "skip"
    assert "no instance-profile authentication" in result.finding
    assert fake_aws.requests == []


def test_not_on_aws_is_a_failure_with_the_fix(tmp_path: Path) -> None:
    # The conftest points AIRBOX_IMDS_URL at a closed local port: nothing answers, and the
    # firmware does not say EC2: the instance profile cannot work here.
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "fail"
    assert "not on AWS" in result.finding
    assert result.fix is not None and "authenticationType: credentials" in result.fix


def test_cli_preflight_of_the_instance_profile_example_off_ec2_exits_3_with_the_fix(
    tmp_path: Path,
) -> None:
    """`airbox preflight --answers assets/aws-instance-profile.yaml` on a machine that is
    not EC2: the setting cannot work, so preflight fails (exit 3) and says what to do."""
    import subprocess

    from tests.helpers import ASSETS, airbox_bin, airbox_env

    local = "http://127.0.0.1:9"
    result = subprocess.run(
        [
            airbox_bin(),
            "preflight",
            "--answers",
            str(ASSETS / "aws-instance-profile.yaml"),
            "--control-plane-url",
            local,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=airbox_env(
            AIRBOX_PREFLIGHT_HELM_REPO_URL=local,
            AIRBOX_PREFLIGHT_REGISTRY_URL=local,
            DATAPLANE_CLIENT_ID="dp-id",
            DATAPLANE_CLIENT_SECRET="dp-secret-0001",
        ),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    index = next(
        i for i, line in enumerate(lines) if "Instance metadata reachable from pods" in line
    )
    assert lines[index].startswith("✗ "), lines[index]
    assert "not on AWS: no instance metadata service answered" in lines[index]
    assert lines[index + 1].strip().startswith("fix: run airbox on the EC2 instance")


def test_either_section_with_an_instance_profile_counts(tmp_path: Path) -> None:
    only_storage = af.answers("aws-keys", "s3-instance-profile", directory=tmp_path)
    only_sm = af.answers("aws-instance-profile", "s3-keys", directory=tmp_path)
    assert Subject.from_answers(only_storage).instance_profile
    assert Subject.from_answers(only_sm).instance_profile


def test_sigv4_scope_and_signed_headers() -> None:
    """The date, credential scope and signed headers of a signed GET (the signature
    itself is checked by the fake EC2 API only for presence)."""
    headers = sigv4_headers(
        "GET",
        "https://iam.amazonaws.com",
        {"Action": "ListUsers", "Version": "2010-05-08"},
        "us-east-1",
        "iam",
        ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
        1440938160.0,
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature="
    )


# ------------------------------------------------- slow answers, EC2 firmware, proxies


def preflight_cli(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """``airbox preflight --json`` as a user runs it; the hop-limit check's result."""
    import subprocess

    from tests.helpers import airbox_bin, airbox_env

    answers = af.write_answers(
        tmp_path / "answers.yaml",
        af.answers("aws-instance-profile", "s3-instance-profile", directory=tmp_path),
    )
    local = "http://127.0.0.1:9"  # every other probe: a closed local port
    result = subprocess.run(
        [
            airbox_bin(),
            "preflight",
            "--answers",
            str(answers),
            "--json",
            "--control-plane-url",
            local,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=airbox_env(
            AIRBOX_PREFLIGHT_HELM_REPO_URL=local, AIRBOX_PREFLIGHT_REGISTRY_URL=local, **env
        ),
    )
    report = json.loads(result.stdout)
    found: dict[str, Any] = next(c for c in report["checks"] if c["id"] == "aws.imds-hop-limit")
    return found


def test_a_slow_metadata_service_and_ec2_api_is_could_not_check_not_not_on_aws(
    fake_aws: FakeAws, tmp_path: Path
) -> None:
    # Each metadata answer takes 0.9 s and the EC2 API does not answer in time: more than
    # preflight gives it all. The metadata service did answer, so this is EC2.
    fake_aws.imds_delay, fake_aws.ec2_delay = 0.9, 60.0
    check = preflight_cli(tmp_path, {})
    assert check["outcome"] == "warn", check
    # Which of the two bounds ends it depends on the machine's load; either says so.
    assert check["finding"].startswith(
        (
            "could not read the IMDSv2 hop limit: the EC2 API did not answer within ",
            "could not read the IMDSv2 hop limit: the metadata service answered, then it or the "
            "EC2 API did not finish within ",
        )
    )
    assert "not on AWS" not in check["finding"]
    assert check["fix"] == FIX


def test_an_ec2_machine_whose_metadata_service_is_silent_is_could_not_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The conftest's metadata URL is a closed port; the firmware says EC2 (Nitro).
    dmi = tmp_path / "dmi"
    dmi.mkdir()
    (dmi / "sys_vendor").write_text("Amazon EC2\n")
    check = preflight_cli(tmp_path, {"AIRBOX_DMI_DIR": str(dmi)})
    assert check["outcome"] == "warn", check
    assert check["finding"].startswith(
        "could not check: this machine looks like an EC2 "
        "instance (its firmware says 'Amazon EC2'), but its "
        "instance metadata service did not answer"
    )
    assert check["fix"] == FIX.replace("i-0abc1234def567890", "<instance-id>")
    # Elsewhere (no such firmware) the setting cannot work: a failure.
    monkeypatch.setenv("AIRBOX_DMI_DIR", str(tmp_path / "elsewhere"))
    assert preflight_cli(tmp_path, {})["outcome"] == "fail"


def test_the_ec2_api_call_goes_through_the_proxy_and_the_metadata_service_never_does(
    fake_aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The EC2 API is only reachable through the proxy (the fake plays both); nothing
    # listens where AIRBOX_EC2_URL points. Not 127.0.0.1: airbox keeps loopback out of the
    # proxy (NO_PROXY always gains localhost and 127.0.0.1, as every hop's does).
    unreachable = "http://127.0.0.2:9"
    monkeypatch.setenv("AIRBOX_EC2_URL", unreachable)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    check = preflight_cli(tmp_path, {"HTTP_PROXY": fake_aws.url})
    assert check["outcome"] == "fail", check
    assert "hop limit of i-0abc1234def567890 is 1" in check["finding"]
    ec2 = [r for r in fake_aws.requests if "DescribeInstances" in r[1]]
    assert len(ec2) == 1 and ec2[0][1].startswith(unreachable + "/?"), ec2
    # The link-local metadata service: asked directly (origin-form), never via the proxy.
    metadata = [r for r in fake_aws.requests if "/latest/" in r[1]]
    assert metadata and all(r[1].startswith("/latest/") for r in metadata), metadata

    # NO_PROXY naming the EC2 API's host (a VPC endpoint): asked directly.
    fake_aws.requests.clear()
    monkeypatch.setenv("AIRBOX_EC2_URL", fake_aws.url)
    check = preflight_cli(tmp_path, {"HTTP_PROXY": unreachable, "NO_PROXY": "127.0.0.1"})
    assert check["outcome"] == "fail", check
    ec2 = [r for r in fake_aws.requests if "DescribeInstances" in r[1]]
    assert len(ec2) == 1 and ec2[0][1].startswith("/?"), ec2
