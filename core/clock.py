"""Time is UTC and aware everywhere: every stored time is UTC, but SQLite hands datetimes back
naive (PostgreSQL aware), so whatever is read from the database goes through `as_utc`."""

from __future__ import annotations

import datetime as dt
from typing import overload


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...


@overload
def as_utc(value: None) -> None: ...


@overload
def as_utc(value: dt.datetime | None) -> dt.datetime | None: ...


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """`value` as an aware datetime: a naive one is taken to be UTC (how SQLite returns it)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 with the offset (`2026-03-01T09:30:00+00:00`), None for None."""
    return None if value is None else as_utc(value).isoformat()
