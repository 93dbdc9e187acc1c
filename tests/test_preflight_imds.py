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
from airbox.ops.preflight.facts import Subject, sigv4_headers
from tests import answers_factory as af

TOKEN = "imds-token-0123456789"
SECRET = "role-secret-key-abcdef0123456789"
SESSION = "role-session-token-9876543210"
INSTANCE = "i-0abc1234def567890"
FIX = ("aws ec2 modify-instance-metadata-options --instance-id i-0abc1234def567890 "
       "--http-put-response-hop-limit 3 --http-endpoint enabled")


@dataclass
class FakeAws:
    hop_limit: int = 1
    describe_status: int = 200
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
            if self.path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"):
                self._send(200, TOKEN)
            else:
                self._send(400, "")

        def do_GET(self) -> None:
            aws.requests.append(("GET", self.path, dict(self.headers)))
            path = urlsplit(self.path).path
            if path.startswith("/latest/"):
                # IMDSv2 only: every GET needs the session token.
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self._send(401, "")
                    return
                answers = {
                    "/latest/meta-data/instance-id": INSTANCE,
                    "/latest/meta-data/placement/region": "us-west-2",
                    "/latest/meta-data/iam/security-credentials/": "airbyte-role",
                    "/latest/meta-data/iam/security-credentials/airbyte-role": json.dumps({
                        "Code": "Success", "AccessKeyId": "ASIAEXAMPLE0000001",
                        "SecretAccessKey": SECRET, "Token": SESSION}),
                }
                if path in answers:
                    self._send(200, answers[path])
                else:
                    self._send(404, "")
                return
            query = parse_qs(urlsplit(self.path).query)
            signed = self.headers.get("Authorization", "")
            if (query.get("Action") != ["DescribeInstances"]
                    or query.get("InstanceId.1") != [INSTANCE]
                    or "Credential=ASIAEXAMPLE0000001/" not in signed
                    or self.headers.get("X-Amz-Security-Token") != SESSION):
                self._send(400, "<Response><Errors><Error><Code>AuthFailure</Code></Error>"
                                "</Errors></Response>")
                return
            if aws.describe_status != 200:
                self._send(aws.describe_status, "<Response><Errors><Error><Code>"
                           "UnauthorizedOperation</Code></Error></Errors></Response>")
                return
            self._send(200, f"""<DescribeInstancesResponse><reservationSet><item>
<instancesSet><item><instanceId>{INSTANCE}</instanceId><metadataOptions>
<state>applied</state><httpTokens>required</httpTokens>
<httpPutResponseHopLimit>{aws.hop_limit}</httpPutResponseHopLimit>
<httpEndpoint>enabled</httpEndpoint></metadataOptions></item></instancesSet>
</item></reservationSet></DescribeInstancesResponse>""")

    return Handler


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    aws = FakeAws()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(aws))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AIRBOX_IMDS_URL", url)
    monkeypatch.setenv("AIRBOX_EC2_URL", url)
    yield aws
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


def test_hop_limit_2_is_still_too_low_for_pods_in_kind(
    fake_aws: FakeAws, tmp_path: Path
) -> None:
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


def test_not_on_aws_is_a_skip(tmp_path: Path) -> None:
    # The conftest points AIRBOX_IMDS_URL at a closed local port: nothing answers.
    result = hop_check(instance_profile_subject(tmp_path))
    assert result.outcome == "skip"
    assert "not on AWS" in result.finding


def test_either_section_with_an_instance_profile_counts(tmp_path: Path) -> None:
    only_storage = af.answers("aws-keys", "s3-instance-profile", directory=tmp_path)
    only_sm = af.answers("aws-instance-profile", "s3-keys", directory=tmp_path)
    assert Subject.from_answers(only_storage).instance_profile
    assert Subject.from_answers(only_sm).instance_profile


def test_sigv4_scope_and_signed_headers() -> None:
    """The date, credential scope and signed headers of a signed GET (the signature
    itself is checked by the fake EC2 API only for presence)."""
    headers = sigv4_headers(
        "GET", "https://iam.amazonaws.com", {"Action": "ListUsers", "Version": "2010-05-08"},
        "us-east-1", "iam",
        ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
        1440938160.0)
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=")
