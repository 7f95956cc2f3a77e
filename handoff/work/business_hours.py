"""`BUSINESS_HOURS`: when agents are at work, when they are back, and the hours as customers read
them (`BusinessHours.describe`, worded by core/texts.py).

Grammar (case-insensitive), the time zone last:

    Mon-Fri 08:00-18:00 Europe/Berlin
    Mon-Fri 08:00-18:00; Sat 10:00-14:00 Europe/Vienna
    Mon,Wed,Fri 09:00-12:30 UTC
    24/7                       (always open; a zone is optional)

Days are Mon Tue Wed Thu Fri Sat Sun, single, as a range (`Mon-Fri`, also wrapping `Fri-Mon`) or a
comma list; windows are `HH:MM-HH:MM` in the zone's local time (`24:00` ends at midnight).

`BUSINESS_HOLIDAYS`: public holidays on which the desk stays closed, comma-separated ISO country
codes with an optional subdivision (`DE-BY`, `AT`, `CH-ZH`), from the `holidays` library. A day
that is a holiday in any of them is closed (in the business time zone).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from core import texts

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"(?P<days>[a-z]+(?:\s*[-,]\s*[a-z]+)*)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
)
EXAMPLE = "Mon-Fri 08:00-18:00 Europe/Berlin"
HOLIDAYS_EXAMPLE = "DE-BY,AT,CH-ZH"
# How far next_open looks ahead: long enough for any run of holidays and weekends.
_LOOKAHEAD_DAYS = 60


class InvalidBusinessHours(ValueError):
    def __init__(self, raw: str, problem: str) -> None:
        super().__init__(f"BUSINESS_HOURS={raw!r}: {problem} (expected for example {EXAMPLE!r})")


class InvalidHolidays(ValueError):
    def __init__(self, raw: str, problem: str) -> None:
        super().__init__(f"BUSINESS_HOLIDAYS={raw!r}: {problem} (expected for example {HOLIDAYS_EXAMPLE!r})")


@dataclass(frozen=True)
class PublicHolidays:
    """The public holidays of one or more regions (`DE-BY,AT`); empty: none."""

    calendars: tuple[holidays.HolidayBase, ...] = ()
    raw: str = ""

    @classmethod
    def parse(cls, raw: str) -> PublicHolidays:
        calendars = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            country, _, subdivision = part.upper().partition("-")
            if country not in holidays.list_supported_countries():
                raise InvalidHolidays(raw, f"{country!r} is not a country the holidays library knows (ISO 3166 code)")
            try:
                calendars.append(holidays.country_holidays(country, subdiv=subdivision or None))
            except NotImplementedError:
                known = ", ".join(f"{country}-{s}" for s in holidays.list_supported_countries()[country])
                raise InvalidHolidays(raw, f"{part!r} is not a known region (known: {known})") from None
        return cls(tuple(calendars), raw)

    def name(self, day: dt.date) -> str | None:
        """The holiday's name when `day` is one, else None."""
        for calendar in self.calendars:
            if day in calendar:
                return str(calendar.get(day))
        return None


@dataclass(frozen=True)
class Window:
    weekday: int  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # minutes after midnight, up to 1440


def _minutes(raw: str, text: str) -> int:
    hours, minutes = (int(p) for p in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidBusinessHours(raw, f"{text} is not a time of day")
    return hours * 60 + minutes


def _days(raw: str, text: str) -> list[int]:
    days: list[int] = []
    for part in re.split(r"\s*,\s*", text):
        ends = [p.strip() for p in part.split("-")]
        for day in ends:
            if day not in DAYS:
                raise InvalidBusinessHours(raw, f"{day!r} is not a day (use {', '.join(d.title() for d in DAYS)})")
        if len(ends) == 1:
            days.append(DAYS.index(ends[0]))
        else:
            first, last = DAYS.index(ends[0]), DAYS.index(ends[1])
            days += [(first + i) % 7 for i in range((last - first) % 7 + 1)]
    return days


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    windows: tuple[Window, ...]
    always: bool = False
    raw: str = ""
    holidays: PublicHolidays = PublicHolidays()

    @classmethod
    def parse(cls, raw: str, public_holidays: str = "") -> BusinessHours:
        closed = PublicHolidays.parse(public_holidays)
        text = raw.strip().lower()
        if not text:
            raise InvalidBusinessHours(raw, "it is empty")
        parts = text.rsplit(None, 1)
        zone_name = "UTC"
        if len(parts) == 2 and ("/" in parts[1] and not re.fullmatch(r"\d+/\d+", parts[1]) or parts[1] == "utc"):
            text, zone_name = parts[0], raw.strip().rsplit(None, 1)[1]
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidBusinessHours(raw, f"{zone_name!r} is not a known time zone") from None
        if text.strip() == "24/7":
            return cls(zone, (), always=True, raw=raw, holidays=closed)
        windows: list[Window] = []
        rest = text
        for match in _WINDOW.finditer(text):
            start, end = _minutes(raw, match["start"]), _minutes(raw, match["end"])
            if end <= start:
                raise InvalidBusinessHours(raw, f"{match['start']}-{match['end']} ends before it starts")
            windows += [Window(day, start, end) for day in _days(raw, match["days"])]
            rest = rest.replace(match.group(0), " ", 1)
        if not windows or rest.strip(" ;,"):
            leftover = rest.strip(" ;,") or text
            raise InvalidBusinessHours(raw, f"cannot read {leftover!r}")
        return cls(zone, tuple(sorted(windows, key=lambda w: (w.weekday, w.start))), raw=raw, holidays=closed)

    def week(self) -> texts.Week:
        """The windows as customers read them: weekdays with the same spans together, in day order."""
        spans: dict[int, list[tuple[int, int]]] = {}
        for w in self.windows:
            spans.setdefault(w.weekday, []).append((w.start, w.end))
        days_of: dict[tuple[tuple[int, int], ...], list[int]] = {}
        for day in sorted(spans):
            days_of.setdefault(tuple(spans[day]), []).append(day)
        return [(days, list(day_spans)) for day_spans, days in days_of.items()]

    def describe(self, lang: str | None) -> str:
        """The hours in the customer's language ("Mo–Fr 8–18 Uhr, Zeitzone Berlin"), not the raw setting."""
        return texts.opening_hours(None if self.always else self.week(), self.zone.key, lang)

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone)
        if self.holidays.name(local.date()) is not None:
            return False
        if self.always:
            return True
        minute = local.hour * 60 + local.minute
        return any(w.weekday == local.weekday() and w.start <= minute < w.end for w in self.windows)

    def next_open(self, now: dt.datetime) -> dt.datetime:
        """`now` if open, else the start of the next window (aware, in the business time zone)."""
        if self.is_open(now):
            return now.astimezone(self.zone)
        local = now.astimezone(self.zone)
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            if self.holidays.name(day) is not None:
                continue
            if self.always:
                return dt.datetime.combine(day, dt.time(0, 0), tzinfo=self.zone)
            for w in self.windows:
                if w.weekday != day.weekday():
                    continue
                start = dt.datetime.combine(day, dt.time(w.start // 60, w.start % 60), tzinfo=self.zone)
                if start > local:
                    return start
        raise AssertionError(f"a schedule with windows opens within {_LOOKAHEAD_DAYS} days, even with holidays")
