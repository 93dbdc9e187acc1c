"""How long and how often airbox waits for the control plane: the time bounds of one
request, the retry policy with its backoff, and the words for a request that failed.

``transport`` applies them to every call.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

from airbox.redact import REDACTOR


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect, for each read/write once connected, and ``total`` for
    one request from start to its answer's last byte."""

    connect: float = 5.0
    read: float = 15.0
    total: float = 60.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            min(self.read, self.total),
            connect=min(self.connect, self.total),
            pool=min(self.connect, self.total),
        )


@dataclass(frozen=True)
class Retry:
    """How idempotent calls are retried: ``attempts`` retries after the first try.

    Delays grow 0.5, 1, 2 s (each with jitter, at most ``cap``), so giving up takes a few
    seconds plus the timeouts; ``budget`` stops retrying once that much time has gone by
    since the first try (a hung server costs two read timeouts, not four).
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 4.0
    budget: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        # "Equal jitter": never less than half the step, so a burst of clients spreads out
        # without any of them hammering the server right away.
        step = min(self.cap, self.base * 2.0**retry)
        return step / 2 + random.uniform(0, step / 2)


NO_RETRY = Retry(attempts=0)


def with_read(timeout: Timeouts, read_timeout: float | None) -> Timeouts:
    """``timeout`` with a longer wait for one call's answer (its total at least as long)."""
    if read_timeout is None:
        return timeout
    return Timeouts(
        connect=timeout.connect, read=read_timeout, total=max(timeout.total, read_timeout)
    )


class Overtime(httpx.TimeoutException):
    """An answer not complete within the request's total time."""


class TooLarge(httpx.TransportError):
    """An answer larger than airbox reads."""


def too_slow(total: float) -> str:
    return f"no complete answer within {total:.3g} s"


def in_budget(started: float, delay: float, policy: Retry) -> bool:
    return time.monotonic() - started + delay < policy.budget


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to the backoff


def transport_reason(exc: httpx.TransportError, timeout: Timeouts) -> str:
    if isinstance(exc, (Overtime, TooLarge)):
        return str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout.connect:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout.read:g} s"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without an answer"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or ("name resolution" in text)
        ):
            return "the host name does not resolve (DNS)"
        if "certificate" in text or "ssl" in text:
            return "the TLS handshake failed (" + REDACTOR.mask(str(exc)) + ")"
        if "refused" in text:
            return "the connection was refused"
        return "cannot connect (" + REDACTOR.mask(str(exc)) + ")"
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused the connection (" + REDACTOR.mask(str(exc)) + ")"
    return f"{type(exc).__name__}: {REDACTOR.mask(str(exc))}"
