"""BUSINESS_HOURS parsing, opening checks in the business time zone, the hours as customers read them,
and "back on …" texts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core import texts
from handoff.work.business_hours import BusinessHours, InvalidBusinessHours, InvalidHolidays

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def at(text: str, zone: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def test_weekday_range_in_the_business_time_zone():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin")
    # Monday 2026-11-23: 07:30 UTC is 08:30 in Berlin (CET, UTC+1).
    assert hours.is_open(at("2026-11-23T07:30"))
    assert not hours.is_open(at("2026-11-23T06:59"))  # 07:59 Berlin
    assert hours.is_open(at("2026-11-23T07:00"))  # 08:00 Berlin, opening minute
    assert not hours.is_open(at("2026-11-23T17:00"))  # 18:00 Berlin, closed
    assert not hours.is_open(at("2026-11-21T10:00"))  # Saturday


def test_summer_time_shifts_the_opening_in_utc():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin")
    # Monday 2026-07-06, CEST (UTC+2): 06:30 UTC is 08:30 in Berlin.
    assert hours.is_open(at("2026-07-06T06:30"))
    assert not hours.is_open(at("2026-07-06T05:30"))


def test_next_opening_after_friday_evening_is_monday_morning():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin")
    friday_evening = at("2026-11-20T19:30", BERLIN)
    opens = hours.next_open(friday_evening)
    assert opens == at("2026-11-23T08:00", BERLIN)
    assert texts.back_at(opens, friday_evening, "en") == "on Monday at 8 am"
    assert texts.back_at(opens, friday_evening, "de") == "am Montag um 8 Uhr"


def test_next_opening_today_and_tomorrow():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin")
    early = at("2026-11-24T06:00", BERLIN)
    assert texts.back_at(hours.next_open(early), early, "en") == "today at 8 am"
    late = at("2026-11-24T21:00", BERLIN)
    assert texts.back_at(hours.next_open(late), late, "de") == "morgen um 8 Uhr"
    assert hours.next_open(at("2026-11-24T09:00", BERLIN)) == at("2026-11-24T09:00", BERLIN)


def test_several_windows_lists_and_wrapping_ranges():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00; Sat 10:00-14:00 Europe/Vienna")
    assert hours.is_open(at("2026-11-21T11:00", ZoneInfo("Europe/Vienna")))
    assert not hours.is_open(at("2026-11-22T11:00", ZoneInfo("Europe/Vienna")))
    listed = BusinessHours.parse("Mon,Wed,Fri 09:00-12:30 UTC")
    assert [w.weekday for w in listed.windows] == [0, 2, 4]
    wrapping = BusinessHours.parse("Fri-Mon 10:00-16:00 Europe/Berlin")
    assert sorted({w.weekday for w in wrapping.windows}) == [0, 4, 5, 6]
    assert BusinessHours.parse("Mon-Sun 00:00-24:00 UTC").is_open(at("2026-11-22T23:59"))


def test_always_open():
    hours = BusinessHours.parse("24/7")
    assert hours.is_open(at("2026-11-22T03:00"))


@pytest.mark.parametrize("raw, german, english", [
    ("Mon-Fri 08:00-18:00 Europe/Berlin", "Mo–Fr 8–18 Uhr, Zeitzone Berlin", "Mon–Fri 8 am–6 pm, Berlin time"),
    ("Mon-Fri 08:30-17:00; Sat 10:00-14:00 Europe/Vienna", "Mo–Fr 8:30–17 Uhr, Sa 10–14 Uhr, Zeitzone Vienna",
     "Mon–Fri 8:30 am–5 pm, Sat 10 am–2 pm, Vienna time"),
    ("Mon,Wed,Fri 09:00-12:30 UTC", "Mo, Mi, Fr 9–12:30 Uhr, Zeitzone UTC", "Mon, Wed, Fri 9 am–12:30 pm, UTC time"),
    ("Fri-Mon 10:00-16:00 Europe/Berlin", "Fr–Mo 10–16 Uhr, Zeitzone Berlin", "Fri–Mon 10 am–4 pm, Berlin time"),
    ("Mon-Fri 08:00-12:00; Mon-Fri 13:00-17:00 America/New_York", "Mo–Fr 8–12 und 13–17 Uhr, Zeitzone New York",
     "Mon–Fri 8 am–12 pm and 1 pm–5 pm, New York time"),
    ("Sat-Sun 00:00-24:00 UTC", "Sa, So ganztägig, Zeitzone UTC", "Sat, Sun all day, UTC time"),
    ("24/7", "rund um die Uhr", "around the clock"),
])
def test_customers_read_the_hours_in_their_language(raw: str, german: str, english: str):
    hours = BusinessHours.parse(raw)
    assert hours.describe("de") == german
    assert hours.describe("en") == english


def test_the_closed_notice_names_the_time_zone_once():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin")
    friday_evening = at("2026-11-20T19:30", BERLIN)
    for lang in ("de", "en"):
        back = texts.back_at(hours.next_open(friday_evening), friday_evening, lang)
        notice = texts.text("closed", lang, hours=hours.describe(lang), back=back, position=1)
        assert notice.count("Berlin") == 1, notice
        assert "Europe/" not in notice and "Mon-Fri" not in notice


@pytest.mark.parametrize("raw, problem", [
    ("", "empty"),
    ("Mon-Fri 8-18 Europe/Berlin", "cannot read"),
    ("Mon-Fri 08:00-18:00 Mars/Olympus", "not a known time zone"),
    ("Mo-Fr 08:00-18:00 Europe/Berlin", "is not a day"),
    ("Mon-Fri 18:00-08:00 Europe/Berlin", "ends before it starts"),
    ("Mon-Fri 08:00-25:00 Europe/Berlin", "not a time of day"),
])
def test_malformed_hours_name_the_problem(raw, problem):
    with pytest.raises(InvalidBusinessHours) as error:
        BusinessHours.parse(raw)
    assert problem in str(error.value) and "BUSINESS_HOURS=" in str(error.value)


def test_wait_texts_in_both_languages():
    assert texts.duration(20, "en") == "less than a minute"
    assert texts.duration(65, "en") == "about 1 minute"
    assert texts.duration(7 * 60, "de") == "etwa 7 Minuten"
    assert texts.wants_to_leave("Ach, doch nicht!") and texts.wants_to_leave("abbrechen")
    assert texts.wants_to_leave("Never mind.") and texts.wants_to_leave("ok, cancel")
    assert not texts.wants_to_leave("Die Lieferung kam doch nicht an")
    assert not texts.wants_to_leave("I want to cancel my order")


# --- public holidays (BUSINESS_HOLIDAYS) ---------------------------------------------------------

def test_a_bavarian_holiday_closes_the_desk_all_day():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin", "DE-BY")
    # Epiphany, Tuesday 2026-01-06, is a holiday in Bavaria; the day after is not.
    assert not hours.is_open(at("2026-01-06T10:00", BERLIN))
    assert hours.is_open(at("2026-01-07T10:00", BERLIN))
    assert BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin").is_open(at("2026-01-06T10:00", BERLIN))


def test_next_opening_skips_an_easter_weekend():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin", "DE-BY")
    # Maundy Thursday evening 2026-04-02: Good Friday, the weekend and Easter Monday are closed.
    back = hours.next_open(at("2026-04-02T19:00", BERLIN))
    assert back == at("2026-04-07T08:00", BERLIN)
    assert texts.back_at(back, at("2026-04-02T19:00", BERLIN), "de").startswith("am Dienstag")


def test_several_regions_close_on_each_of_their_holidays():
    hours = BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Vienna", "DE-BY, AT, CH-ZH")
    assert not hours.is_open(at("2026-12-08T10:00", ZoneInfo("Europe/Vienna")))  # Mariä Empfängnis (AT)
    assert not hours.is_open(at("2028-08-01T10:00", ZoneInfo("Europe/Vienna")))  # Swiss National Day (CH-ZH)
    assert hours.is_open(at("2026-12-09T10:00", ZoneInfo("Europe/Vienna")))


def test_christmas_closes_a_round_the_clock_desk_until_the_next_working_day():
    hours = BusinessHours.parse("24/7 Europe/Zurich", "CH-ZH")
    zurich = ZoneInfo("Europe/Zurich")
    assert not hours.is_open(at("2026-12-25T12:00", zurich))
    assert hours.next_open(at("2026-12-25T12:00", zurich)) == at("2026-12-27T00:00", zurich)  # Stephanstag too


@pytest.mark.parametrize("raw, problem", [
    ("XX", "'XX' is not a country"),
    ("DE-XY", "'DE-XY' is not a known region"),
])
def test_unknown_holiday_regions_are_named_in_the_error(raw: str, problem: str):
    with pytest.raises(InvalidHolidays, match=problem):
        BusinessHours.parse("Mon-Fri 08:00-18:00 Europe/Berlin", raw)
