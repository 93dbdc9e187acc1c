"""Timestamps read one way: status's (Kubernetes, Helm) and registration's (the Airbyte API)."""

from __future__ import annotations

import datetime as dt

import pytest

from airbox.timestamps import parse_time, seconds

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-12-05T14:41:15Z", dt.datetime(2026, 12, 5, 14, 41, 15, tzinfo=UTC)),
        # Kubernetes and Helm write nanoseconds; Python reads microseconds.
        ("2026-12-05T14:41:15.123456789Z", dt.datetime(2026, 12, 5, 14, 41, 15, 123456, UTC)),
        ("2026-12-05T14:41:15.5Z", dt.datetime(2026, 12, 5, 14, 41, 15, 500000, UTC)),
        # A fraction and an offset: the offset is kept (status's reader used to drop it and
        # read the wall time as UTC).
        ("2026-12-05T09:41:15.123456789-05:00", dt.datetime(2026, 12, 5, 14, 41, 15, 123456, UTC)),
        ("2026-12-05T20:11:15.25+0530", dt.datetime(2026, 12, 5, 14, 41, 15, 250000, UTC)),
        # No zone: UTC, as Kubernetes means it.
        ("2026-12-05T14:41:15", dt.datetime(2026, 12, 5, 14, 41, 15, tzinfo=UTC)),
        (" 2026-12-05T14:41:15 Z ", dt.datetime(2026, 12, 5, 14, 41, 15, tzinfo=UTC)),
    ],
)
def test_a_timestamp_is_read_with_its_zone_and_its_fraction(text: str, when: dt.datetime) -> None:
    assert parse_time(text) == when
    assert seconds(text) == when.timestamp()


@pytest.mark.parametrize("value", [None, "", "soon", "2026-13-01T00:00:00Z", 1733409675])
def test_what_is_not_a_timestamp_is_none(value: object) -> None:
    assert parse_time(value) is None and seconds(value) is None


def test_airbox_writes_utc_to_the_second_and_reads_it_back() -> None:
    from airbox.timestamps import utc_stamp

    assert utc_stamp(0) == "1970-01-01T00:00:00Z"
    assert utc_stamp(1_780_000_000.9) == "2026-05-28T20:26:40Z"
    assert seconds(utc_stamp(1_780_000_000)) == 1_780_000_000
