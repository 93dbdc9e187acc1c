"""How airbox talks to the Airbyte public API: the token, retries, time bounds and paging.

An application's client id/secret buys a bearer token (``POST /applications/token``, 900 s
by default), kept in memory and in a 0600 cache file. Idempotent calls (GET, DELETE and
the token call) are retried on connection errors, timeouts, 429 and 5xx with a short
exponential backoff; others never are, because a lost answer does not mean nothing was
created. Lists come back as a bare JSON array or as ``{"data": [...]}``.

Every conversation is bounded, whatever the server (or a proxy in front of it) does: one
request ends after ``Timeouts.total`` seconds even when its answer trickles in a byte at a
time (httpx's read timeout restarts with every byte); a command's reads together end after
``reads_within`` seconds; and a list stops at ``MAX_PAGES`` pages, or as soon as a page
brings nothing new (a server or cache that ignores ``offset`` would page for ever).

No secret ever reaches a message, an exception or the log: the client secret travels
only in the token request's body, and every token is registered with the redactor.
The calls themselves are in ``api``; the errors they end with in ``api_errors``; the
time bounds and the retry policy in ``limits``.
"""

from __future__ import annotations

import json as _json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from airbox import __version__, runlog
from airbox.controlplane.api_errors import credentials_unknown, http_error, unexpected, unreachable
from airbox.controlplane.limits import (
    NO_RETRY,
    Overtime,
    Retry,
    Timeouts,
    TooLarge,
    in_budget,
    retry_after,
    too_slow,
    transport_reason,
    with_read,
)
from airbox.errors import ControlPlaneError
from airbox.fsutil import SECRET_FILE, read_json, write_json
from airbox.redact import REDACTOR

# Renew a cached token this long before it runs out, so a call never starts with a token
# that expires in flight.
TOKEN_MARGIN = 60.0
# A token whose answer leaves out expires_in: the server's default lifetime.
DEFAULT_TOKEN_LIFETIME = 900.0

# A command's reads (GETs, the token call, the internal look-ups) together: beyond this, a
# control plane that answers every page slowly has the command stop with an error.
READS_WITHIN = 300.0
# Pages of 100 a list may have (100 000 entries): beyond, the server is paging for ever.
MAX_PAGES = 1000
# The largest answer airbox reads into memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


# The policy of clients that do not choose one; tests swap it for one without delays.
DEFAULT_RETRY = Retry()


def _list(payload: Any) -> list[dict[str, Any]]:
    """A list answer, bare or wrapped in ``{"data": [...]}`` (the server and the spec differ)."""
    if isinstance(payload, dict):
        payload = payload.get("data")
    if not isinstance(payload, list):
        raise ValueError("not a list")
    return [item for item in payload if isinstance(item, dict)]


_Client = TypeVar("_Client", bound="Transport")


class Transport:
    """The connection to the Airbyte public API of one application (client id/secret).

    ``base_url`` is the public API base (``https://api.airbyte.com/v1``, or
    ``<airbyteUrl>/api/public/v1``). ``token_cache``: a file (0600) that keeps the access
    token between runs. ``reads_within``: the seconds this client's reads may take in all
    (a command's deadline for them). ``sleep`` and ``clock`` exist for tests.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        token_cache: Path | None = None,
        timeout: Timeouts | None = None,
        retries: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        reads_within: float = READS_WITHIN,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        REDACTOR.add(client_secret)
        self.token_cache = token_cache
        self.timeout = timeout or Timeouts()
        self.retries = retries or DEFAULT_RETRY
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._http: httpx.Client | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        # Seconds the reads of this client may take in all, and those they took so far.
        self.reads_within = reads_within
        self._reads_spent = 0.0

    def __repr__(self) -> str:
        # The default repr would show the secret in a traceback's locals.
        return f"{type(self).__name__}({self.base_url!r}, client_id={self.client_id!r})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.timeout.as_httpx(),
                transport=self._transport,
                headers={"User-Agent": f"airbox/{__version__}", "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --------------------------------------------------------------------- token

    def token(self) -> str:
        """A valid access token: from memory, from the cache file, or a new one."""
        now = self._clock()
        if self._token and now < self._expires_at - TOKEN_MARGIN:
            return self._token
        cached = self._read_cache()
        if cached is not None and now < cached[1] - TOKEN_MARGIN:
            self._token, self._expires_at = cached
            return cached[0]
        return self._new_token()

    def invalidate_token(self) -> None:
        self._token = None
        self._expires_at = 0.0
        if self.token_cache is not None:
            self.token_cache.unlink(missing_ok=True)

    def _new_token(self) -> str:
        answer = self._object(
            "POST",
            "/applications/token",
            json={
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            },
            auth=False,
            what="getting an access token",
            require=("access_token",),
        )
        token = str(answer["access_token"])
        REDACTOR.add(token)
        try:
            lifetime = float(answer.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        self._token, self._expires_at = token, self._clock() + lifetime
        self._write_cache()
        return token

    def _read_cache(self) -> tuple[str, float] | None:
        if self.token_cache is None:
            return None
        try:
            data = read_json(self.token_cache)
        except (OSError, ValueError):
            return None
        # A token belongs to one application on one control plane.
        if (
            not isinstance(data, dict)
            or data.get("apiUrl") != self.base_url
            or data.get("clientId") != self.client_id
        ):
            return None
        token, expires_at = data.get("accessToken"), data.get("expiresAt")
        if not isinstance(token, str) or not isinstance(expires_at, (int, float)):
            return None
        REDACTOR.add(token)
        return token, float(expires_at)

    def _write_cache(self) -> None:
        if self.token_cache is None or self._token is None:
            return
        try:
            write_json(
                self.token_cache,
                {
                    "apiUrl": self.base_url,
                    "clientId": self.client_id,
                    "accessToken": self._token,
                    "expiresAt": self._expires_at,
                },
                mode=SECRET_FILE,
            )
        except OSError as exc:
            # Only a cache: the next run asks for a new token.
            runlog.logger().debug("token cache not written: %s", exc)

    # ------------------------------------------------------------------ plumbing

    def _get_list(
        self, path: str, *, what: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        answer = self._call("GET", path, params=params, what=what)
        try:
            return _list(answer)
        except ValueError:
            raise unexpected(self.base_url, what, "GET", self._url(path), "a list") from None

    def _pages(
        self, path: str, params: Mapping[str, Any], *, what: str, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every entry of a paginated list: pages are read until one comes back short.

        A page that brings nothing new (a server, proxy or cache ignoring ``offset``) or
        more than ``MAX_PAGES`` pages is an error: the list would never end, or be wrong.
        """
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number in range(MAX_PAGES):
            offset = number * page_size
            page = self._get_list(
                path, params={**params, "limit": page_size, "offset": offset}, what=what
            )
            keys = {_json.dumps(item, sort_keys=True, default=str) for item in page}
            if page and keys <= seen:
                raise ControlPlaneError(
                    f"{what} failed: GET {self._url(path)} answered page {number + 1} "
                    f"(offset {offset}) with entries it had already sent",
                    url=self._url(path),
                    hint=(
                        "the control plane, or a proxy or cache in front of it, ignores "
                        "the offset parameter, so the list never ends: check that "
                        f"controlPlane.apiUrl ({self.base_url}) is the control plane's "
                        "public API itself, then run the command again"
                    ),
                )
            seen |= keys
            found.extend(page)
            if len(page) < page_size:
                return found
        raise ControlPlaneError(
            f"{what} failed: GET {self._url(path)} still had more after {MAX_PAGES} pages "
            f"({len(found)} entries)",
            url=self._url(path),
            hint=(
                f"airbox reads at most {MAX_PAGES * page_size} entries of a list: the "
                "control plane (or a proxy in front of it) pages without end; check "
                f"controlPlane.apiUrl ({self.base_url}), then run the command again"
            ),
        )

    def _object(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._call(method, path, what=what, **kwargs)
        if not isinstance(answer, dict):
            raise unexpected(self.base_url, what, method, self._url(path), "a JSON object")
        return answer

    def _url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        auth: bool = True,
        require: Sequence[str] = (),
        allow_empty: bool = False,
        retries: Retry | None = None,
        read_timeout: float | None = None,
        timeout: Timeouts | None = None,
        read: bool | None = None,
    ) -> Any:
        """One call. ``timeout`` replaces the client's for this call (``read_timeout``, its
        read and total seconds); ``read`` (default: a GET or the token call) counts its
        time against ``reads_within``."""
        url = self._url(path)
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "HEAD") or not auth
        if read is None:
            read = method == "GET" or not auth
        policy = (retries or self.retries) if idempotent else NO_RETRY
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
            response = self._send(
                method,
                url,
                what=what,
                json=json,
                params=params,
                headers=headers,
                policy=policy,
                timeout=with_read(timeout or self.timeout, read_timeout),
                read=read,
            )
            if response.status_code == 401 and auth and not refreshed:
                # The cached token may have been revoked or have expired early: one new
                # token, one more try. A 401 means the request was not processed, so even
                # a POST is safe to repeat.
                refreshed = True
                self.invalidate_token()
                continue
            break
        if response.status_code >= 400:
            raise http_error(self.base_url, what, method, url, response, token_call=not auth)
        status = response.status_code
        if not response.content.strip():
            if allow_empty:
                return None
            raise unexpected(self.base_url, what, method, url, "a JSON answer", status=status)
        try:
            answer = response.json()
        except ValueError:
            if allow_empty:
                return None
            raise unexpected(
                self.base_url,
                what,
                method,
                url,
                "JSON",
                response.headers.get("content-type"),
                status,
            ) from None
        if require and not (isinstance(answer, dict) and all(answer.get(key) for key in require)):
            raise unexpected(
                self.base_url,
                what,
                method,
                url,
                "an answer with " + ", ".join(require),
                status=status,
            )
        return answer

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        policy: Retry,
        timeout: Timeouts,
        read: bool,
    ) -> httpx.Response:
        log = runlog.logger()
        started = time.monotonic()
        retry = 0
        while True:
            attempt_started = time.monotonic()
            total, overdue = timeout.total, ""
            if read:
                left = self.reads_within - self._reads_spent
                if left <= 0:
                    raise unreachable(
                        self.base_url, what, method, url, _overdue(self), retry, slow=True
                    )
                if left < total:
                    total, overdue = left, _overdue(self)
            try:
                response = self._request(
                    method,
                    url,
                    timeout,
                    total,
                    read=read,
                    json=json,
                    params=params,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                slow = isinstance(exc, Overtime)
                reason = overdue if overdue and slow else transport_reason(exc, timeout)
                log.debug(
                    "%s %s: %s (after %.1fs)",
                    method,
                    url,
                    reason,
                    time.monotonic() - attempt_started,
                )
                delay = policy.delay(retry)
                if (
                    retry < policy.attempts
                    and in_budget(started, delay, policy)
                    and not (overdue and slow)
                ):
                    retry += 1
                    self._sleep(delay)
                    continue
                raise unreachable(
                    self.base_url, what, method, url, reason, retry, slow=slow
                ) from None
            log.debug(
                "%s %s -> %s (%.1fs)",
                method,
                url,
                response.status_code,
                time.monotonic() - attempt_started,
            )
            status = response.status_code
            if (status == 429 or status >= 500) and not credentials_unknown(response):
                # (A server that said the credentials are unknown will say it again.)
                delay = policy.delay(retry, retry_after(response))
                if retry < policy.attempts and in_budget(started, delay, policy):
                    retry += 1
                    self._sleep(delay)
                    continue
            return response

    def _request(
        self, method: str, url: str, timeout: Timeouts, total: float, *, read: bool, **kwargs: Any
    ) -> httpx.Response:
        """One request whose answer is complete within ``total`` seconds, or Overtime.

        httpx's read timeout restarts with every chunk, so an answer trickling in a byte
        at a time never trips it: the request runs in a thread of its own, which this one
        waits for at most ``total`` seconds. One that overruns is abandoned with its
        connection pool (it ends itself at its next chunk or read timeout); a Ctrl-C
        reaches this thread at once.
        """
        client = self.http
        deadline = time.monotonic() + total
        outcome: list[httpx.Response | BaseException] = []
        finished = threading.Event()
        abandoned = threading.Event()

        def work() -> None:
            try:
                with client.stream(method, url, timeout=timeout.as_httpx(), **kwargs) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            raise TooLarge(
                                f"an answer larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB"
                            )
                        if abandoned.is_set() or time.monotonic() > deadline:
                            raise Overtime(too_slow(total))
                    # The body as read (decoded): its length and encoding headers go.
                    headers = [
                        (k, v)
                        for k, v in response.headers.multi_items()
                        if k.lower() not in _BODY_HEADERS
                    ]
                    outcome.append(
                        httpx.Response(
                            response.status_code,
                            headers=headers,
                            content=bytes(body),
                            request=response.request,
                        )
                    )
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            finally:
                finished.set()
                if abandoned.is_set():
                    client.close()

        started = time.monotonic()
        threading.Thread(target=work, name="airbox-http", daemon=True).start()
        try:
            done = finished.wait(max(total, 0.0))
        finally:
            if read:
                self._reads_spent += time.monotonic() - started
            if not finished.is_set():
                # Later calls get a client of their own; the worker closes this one.
                abandoned.set()
                if self._http is client:
                    self._http = None
        if not done:
            raise Overtime(too_slow(total))
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result


_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


def _overdue(api: Transport) -> str:
    return (
        f"the control plane's answers to this command took more than {api.reads_within:g} s in all"
    )
