"""Preflight's HTTP probes: one request, bounded in time, classified (DNS, refused, TLS,
a proxy, an answer); and a registry login the way a container runtime does it (Basic, or a
Bearer token from the realm the registry names)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airbox import __version__


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP probe: the status and Date header, or why nothing answered."""

    url: str
    status: int | None = None
    date: str | None = None
    sent: float = 0.0  # wall clock, seconds
    received: float = 0.0
    # When nothing answered: timeout, refused, dns, tls, proxy or error.
    error: str | None = None
    detail: str = ""

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc or self.url


def proxied(url: str, environ: Mapping[str, str]) -> bool:
    scheme = urlsplit(url).scheme
    names = ["HTTPS_PROXY", "https_proxy"] if scheme == "https" else ["HTTP_PROXY", "http_proxy"]
    names += ["ALL_PROXY", "all_proxy"]
    return any(environ.get(name) for name in names)


def probe_http(url: str, timeout: float) -> HttpAnswer:
    """GET ``url`` through the environment's proxies; read the headers, never the body."""
    import httpx

    sent = time.time()
    try:
        with (
            httpx.Client(
                trust_env=True,
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                headers={"User-Agent": f"airbox/{__version__} preflight"},
            ) as client,
            client.stream("GET", url) as response,
        ):
            return HttpAnswer(
                url, response.status_code, response.headers.get("date"), sent, time.time()
            )
    except httpx.TimeoutException:
        return HttpAnswer(url, sent=sent, received=time.time(), error="timeout")
    except httpx.ProxyError as exc:
        return HttpAnswer(url, sent=sent, received=time.time(), error="proxy", detail=str(exc))
    except httpx.ConnectError as exc:
        text = str(exc)
        lowered = text.lower()
        if any(
            marker in lowered
            for marker in (
                "name or service not known",
                "name resolution",
                "nodename nor servname",
                "getaddrinfo",
                "no address associated",
            )
        ):
            kind = "dns"
        elif "refused" in lowered:
            kind = "refused"
        elif "ssl" in lowered or "certificate" in lowered:
            kind = "tls"
        else:
            kind = "error"
        return HttpAnswer(url, sent=sent, received=time.time(), error=kind, detail=text)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return HttpAnswer(url, sent=sent, received=time.time(), error="error", detail=str(exc))


@dataclass(frozen=True)
class RegistryLogin:
    """A registry's ``GET /v2/`` with the pull credentials (registry API v2 auth)."""

    url: str
    # "accepted", "refused" (the credentials), "anonymous" (no credentials needed),
    # "wanted" (it asks for credentials and none are given), "odd" (an answer that is
    # none of these); None when nothing answered (``answer`` says why).
    verdict: str | None
    detail: str = ""
    answer: HttpAnswer | None = None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service, ...})."""
    import re as _re

    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in _re.findall(r'([A-Za-z]+)="([^"]*)"', rest)}
    return scheme.lower(), params


def login_registry(
    url: str, auth: tuple[str, str] | None, timeout: float, ca_file: str | None = None
) -> RegistryLogin:
    """Log in to the registry at ``url`` (its ``/v2/``) as a pull would.

    The registry API v2 way (distribution's token auth spec): an anonymous ``GET /v2/``;
    a 401 names the scheme in ``WWW-Authenticate``. ``Basic``: the same request again with
    the credentials. ``Bearer realm=...,service=...``: a token from the realm (asked with
    the credentials as Basic auth, or anonymously without), then ``/v2/`` with it. The
    credentials never leave in the URL, and only to the registry and its realm.
    """
    import httpx

    sent = time.time()
    verify: Any = ca_file if ca_file else True
    try:
        with httpx.Client(
            trust_env=True,
            timeout=httpx.Timeout(timeout),
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": f"airbox/{__version__} preflight"},
        ) as client:
            first = client.get(url)
            answer = HttpAnswer(
                url, first.status_code, first.headers.get("date"), sent, time.time()
            )
            if first.status_code == 200:
                return RegistryLogin(url, "anonymous", answer=answer)
            if first.status_code != 401:
                return RegistryLogin(url, "odd", f"HTTP {first.status_code}", answer)
            scheme, params = _challenge(first.headers.get("www-authenticate", ""))
            if scheme == "basic":
                if auth is None:
                    return RegistryLogin(url, "wanted", "Basic", answer)
                second = client.get(url, auth=auth)
            elif scheme == "bearer" and params.get("realm"):
                query = {k: v for k, v in params.items() if k in ("service", "scope")}
                token = client.get(
                    params["realm"], params=query, auth=auth if auth is not None else None
                )
                if token.status_code in (401, 403):
                    return RegistryLogin(
                        url,
                        "refused" if auth else "wanted",
                        f"its token service answered HTTP {token.status_code}",
                        answer,
                    )
                if token.status_code != 200:
                    return RegistryLogin(
                        url, "odd", f"its token service answered HTTP {token.status_code}", answer
                    )
                try:
                    body = token.json()
                    value = str(body.get("token") or body.get("access_token") or "")
                except (ValueError, AttributeError):
                    value = ""
                if not value:
                    return RegistryLogin(url, "odd", "its token service gave no token", answer)
                from airbox.redact import REDACTOR

                REDACTOR.add(value)
                second = client.get(url, headers={"Authorization": f"Bearer {value}"})
            else:
                return RegistryLogin(
                    url, "odd", "HTTP 401 without a usable WWW-Authenticate challenge", answer
                )
            if second.status_code == 200:
                return RegistryLogin(
                    url, "accepted" if auth else "anonymous", scheme.capitalize(), answer
                )
            if second.status_code in (401, 403):
                return RegistryLogin(
                    url, "refused" if auth else "wanted", f"HTTP {second.status_code}", answer
                )
            return RegistryLogin(url, "odd", f"HTTP {second.status_code}", answer)
    except (httpx.HTTPError, OSError, ValueError):
        # Why nothing answered: the plain probe classifies it (timeout, refused, dns...).
        return RegistryLogin(url, None, answer=probe_http(url, timeout))
