"""Timestamps as Kubernetes, Helm and the Airbyte API write them, read one way.

RFC 3339 with ``Z`` or an offset, and up to nanoseconds (Kubernetes' ``finishedAt``, Helm's
``last_deployed``, a data plane's ``createdAt``). Python's ``fromisoformat`` reads at most
microseconds, and before 3.11 only exactly 3 or 6 fraction digits, no ``Z`` and no offset
without a colon: the text is made what it reads first.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

# The seconds' fraction: cut (or padded) to the 6 digits Python reads, the zone kept.
_FRACTION = re.compile(r"(?<=:\d\d)[.,](\d*)")
# An offset written without its colon (+0530).
_BARE_OFFSET = re.compile(r"(?<=\d)([+-]\d\d)(\d\d)$")


def parse_time(value: Any) -> dt.datetime | None:
    """``value`` as an aware datetime (UTC when it names no zone); None when it is not a
    timestamp."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1].rstrip() + "+00:00"
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    text = _BARE_OFFSET.sub(r"\1:\2", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def seconds(value: Any) -> float | None:
    """``value`` as seconds since the epoch; None when it is not a timestamp."""
    parsed = parse_time(value)
    return None if parsed is None else parsed.timestamp()


def utc_stamp(at: float | None = None) -> str:
    """``at`` (seconds since the epoch; now when None) as airbox writes every timestamp in its
    records and reports: UTC, to the second, with ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
