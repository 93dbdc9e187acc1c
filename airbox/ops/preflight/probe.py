"""What every preflight check is given: ``Probe``, one run's inputs (the data plane, the
host facts, the URLs) and the HTTP and metadata answers the checks share."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from airbox.errors import DockerError
from airbox.ops.preflight.facts import DockerFacts, Endpoints, HostFacts, Subject, bounded
from airbox.ops.preflight.http_probes import HttpAnswer, probe_http
from airbox.ops.preflight.imds import IMDS_WITHIN, ImdsFacts, imds_facts
from airbox.paths import StateDir


@dataclass
class Probe:
    """One run's inputs, and the HTTP answers shared between checks."""

    subject: Subject
    facts: HostFacts
    endpoints: Endpoints
    state: StateDir | None
    environ: Mapping[str, str]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: dict[str, concurrent.futures.Future[HttpAnswer]] = field(default_factory=dict)

    def http(self, url: str) -> HttpAnswer:
        """Probe ``url`` once per run; the clock check reuses the control plane's answer."""
        with self._lock:
            future = self._http.get(url)
            owner = future is None
            if future is None:
                future = concurrent.futures.Future()
                self._http[url] = future
        if owner:
            timeout = self.endpoints.timeout
            try:
                # Connect and headers each have the timeout; allow both, then give up.
                answer = bounded(lambda: probe_http(url, timeout), 2 * timeout + 0.5)
                future.set_result(answer or HttpAnswer(url, error="timeout"))
            except BaseException as exc:
                # Never leave the checks waiting on this URL blocked.
                future.set_exception(exc)
        return future.result()

    def docker(self) -> DockerFacts | DockerError:
        return self.facts.docker()

    def imds(self) -> ImdsFacts | None:
        """The metadata service's answers (None: none answered), within a few seconds.

        A metadata service that answered, then got stuck beyond every timeout, is a hop
        limit unknown, never "none answered"."""
        seen: dict[str, str] = {}
        found = bounded(
            lambda: imds_facts(self.environ, timeout=1.0, within=IMDS_WITHIN, seen=seen),
            IMDS_WITHIN + 1.5,
        )
        if found is None and seen.get("answered"):
            return ImdsFacts(
                seen.get("instance_id"),
                seen.get("region"),
                None,
                "the metadata service answered, then it or the EC2 API did not "
                f"finish within {IMDS_WITHIN + 1.5:g} s",
            )
        return found
