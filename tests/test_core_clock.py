"""Times read back from the database are aware UTC, whichever database stored them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.clock import as_utc, iso, utcnow


def test_a_naive_time_from_sqlite_is_taken_as_utc() -> None:
    assert as_utc(dt.datetime(2026, 3, 1, 9, 30)) == dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_an_aware_time_from_postgresql_keeps_its_instant() -> None:
    berlin = dt.datetime(2026, 3, 1, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert as_utc(berlin) is berlin
    assert as_utc(None) is None


def test_iso_carries_the_offset() -> None:
    assert iso(dt.datetime(2026, 3, 1, 9, 30)) == "2026-03-01T09:30:00+00:00"
    assert iso(None) is None


def test_now_is_aware_utc() -> None:
    assert utcnow().utcoffset() == dt.timedelta(0)
