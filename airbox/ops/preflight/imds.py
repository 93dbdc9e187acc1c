"""Preflight's look at AWS: is this an EC2 instance, and can a pod in the kind cluster
reach the instance metadata service (its hop limit); the EC2 API call that tells is signed
with SigV4 here."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

IMDS_URL_ENV = "AIRBOX_IMDS_URL"
EC2_URL_ENV = "AIRBOX_EC2_URL"
IMDS_URL = "http://169.254.169.254"
# The firmware's description of the machine (DMI): an EC2 instance's names Amazon EC2.
DMI_DIR_ENV = "AIRBOX_DMI_DIR"
DMI_DIR = "/sys/devices/virtual/dmi/id"
# Everything imds_facts asks (the metadata service, then the EC2 API) within this.
IMDS_WITHIN = 6.0
# The EC2 API's answer, at most.
EC2_TIMEOUT = 4.0
# Pods in the kind cluster are this many hops from the instance metadata service: the
# host forwards into Docker's bridge, the kind node into the pod's network.
POD_HOPS = 3


@dataclass(frozen=True)
class ImdsFacts:
    """This EC2 instance as its metadata service (IMDSv2) and the EC2 API describe it."""

    instance_id: str | None
    region: str | None
    # The IMDSv2 PUT response hop limit; None with ``why`` when it could not be read.
    hop_limit: int | None
    why: str | None = None


def looks_like_ec2(environ: Mapping[str, str]) -> str | None:
    """Why this machine looks like an EC2 instance (its firmware says so), or None.

    Nitro instances name ``Amazon EC2`` as their system and BIOS vendor, Xen ones carry
    ``amazon`` in their BIOS version.
    """
    root = Path(environ.get(DMI_DIR_ENV) or DMI_DIR)
    for name in ("sys_vendor", "board_vendor", "bios_vendor", "bios_version"):
        try:
            text = (root / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if "amazon" in text.lower():
            return f"its firmware says {text!r}"
    return None


def imds_facts(
    environ: Mapping[str, str],
    timeout: float = 1.0,
    *,
    within: float = IMDS_WITHIN,
    seen: dict[str, str] | None = None,
) -> ImdsFacts | None:
    """None when no metadata service answers the IMDSv2 token PUT (not on EC2).

    The hop limit is no metadata category: IMDS only enforces it (as the TTL of its
    answers). It is read from the EC2 API (DescribeInstances, ``metadataOptions``),
    signed with the instance profile's own temporary credentials, which come from IMDS;
    without ec2:DescribeInstances it stays unknown (``why``).

    Everything is asked within ``within`` seconds: what does not answer in time is a hop
    limit unknown (``why``), never "not on EC2" once the metadata service has answered
    (``seen`` gets what it said so far, for a caller that gives up waiting sooner).
    """
    import httpx

    from airbox.redact import REDACTOR

    deadline = time.monotonic() + within

    def left(most: float) -> float:
        return max(0.0, min(most, deadline - time.monotonic()))

    late = f"the metadata service and the EC2 API did not answer within {within:g} s"
    base = (environ.get(IMDS_URL_ENV) or IMDS_URL).rstrip("/")
    # Never through a proxy: the metadata service is link-local.
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        try:
            answer = http.put(
                f"{base}/latest/api/token",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                timeout=left(timeout),
            )
        except httpx.HTTPError:
            return None
        if answer.status_code != 200 or not answer.text:
            return None
        seen = {} if seen is None else seen
        seen["answered"] = "yes"
        token = answer.text.strip()
        REDACTOR.add(token)
        headers = {"X-aws-ec2-metadata-token": token}

        def meta(path: str) -> str | None:
            if not left(timeout):
                return None
            try:
                got = http.get(
                    f"{base}/latest/meta-data/{path}", headers=headers, timeout=left(timeout)
                )
            except httpx.HTTPError:
                return None
            return got.text.strip() if got.status_code == 200 else None

        instance_id, region = meta("instance-id"), meta("placement/region")
        seen.update({k: v for k, v in (("instance_id", instance_id), ("region", region)) if v})
        role = (meta("iam/security-credentials/") or "").splitlines()
        if not instance_id or not region:
            return ImdsFacts(
                instance_id,
                region,
                None,
                late
                if not left(timeout)
                else "the metadata service did not name the instance and its region",
            )
        if not role:
            return ImdsFacts(
                instance_id,
                region,
                None,
                late
                if not left(timeout)
                else "no instance profile (IAM role) is attached to this instance",
            )
        raw = meta(f"iam/security-credentials/{role[0]}")
        try:
            import json

            creds = json.loads(raw or "")
            key_id, secret = str(creds["AccessKeyId"]), str(creds["SecretAccessKey"])
            session = str(creds.get("Token") or "")
        except (ValueError, KeyError, TypeError):
            return ImdsFacts(
                instance_id,
                region,
                None,
                late
                if not left(timeout)
                else "the instance profile's credentials could not be read",
            )
        REDACTOR.add(secret, session)
    if not left(EC2_TIMEOUT):
        return ImdsFacts(instance_id, region, None, late)
    hop_limit, why = _describe_hop_limit(
        environ, instance_id, region, (key_id, secret, session), left(EC2_TIMEOUT)
    )
    return ImdsFacts(instance_id, region, hop_limit, why)


def _describe_hop_limit(
    environ: Mapping[str, str],
    instance_id: str,
    region: str,
    creds: tuple[str, str, str],
    timeout: float,
) -> tuple[int | None, str | None]:
    import re as _re

    import httpx

    url = (environ.get(EC2_URL_ENV) or f"https://ec2.{region}.amazonaws.com").rstrip("/")
    query = {"Action": "DescribeInstances", "InstanceId.1": instance_id, "Version": "2016-11-15"}
    headers = sigv4_headers("GET", url, query, region, "ec2", creds, time.time())
    try:
        # Like every other request airbox makes to the internet: through HTTPS_PROXY
        # unless NO_PROXY names the host (a VPC endpoint, say).
        with httpx.Client(timeout=timeout, trust_env=True, follow_redirects=False) as http:
            answer = http.get(url + "/", params=query, headers=headers)
    except httpx.TimeoutException:
        return None, f"the EC2 API did not answer within {timeout:.2g} s"
    except httpx.HTTPError as exc:
        return None, f"the EC2 API did not answer ({type(exc).__name__})"
    if answer.status_code != 200:
        code = _re.search(r"<Code>([^<]+)</Code>", answer.text)
        reason = code.group(1) if code else f"HTTP {answer.status_code}"
        return (
            None,
            f"the EC2 API refused DescribeInstances ({reason}; the instance "
            "profile may lack ec2:DescribeInstances)",
        )
    found = _re.search(r"<httpPutResponseHopLimit>(\d+)</httpPutResponseHopLimit>", answer.text)
    if not found:
        return None, "the EC2 API's answer has no metadata options"
    return int(found.group(1)), None


def sigv4_headers(
    method: str,
    url: str,
    query: Mapping[str, str],
    region: str,
    service: str,
    creds: tuple[str, str, str],
    now: float,
) -> dict[str, str]:
    """AWS Signature Version 4 headers for a request without a body."""
    import hashlib
    import hmac
    from urllib.parse import quote

    key_id, secret, session = creds
    parts = urlsplit(url)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = stamp[:8]
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    signed = {"host": parts.netloc, "x-amz-date": stamp}
    if session:
        signed["x-amz-security-token"] = session
    names = ";".join(sorted(signed))
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    request = "\n".join(
        [
            method,
            parts.path or "/",
            canonical_query,
            canonical_headers,
            names,
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Amz-Date": stamp,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}",
    }
    if session:
        headers["X-Amz-Security-Token"] = session
    return headers
