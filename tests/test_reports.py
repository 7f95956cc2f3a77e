"""Reports through the real gateway, Rasa and the action server: a scripted set of conversations
(bot-only rated, rated after an agent, refused, abandoned, a repeat complaint, not understood),
then every field of GET /api/reports/summary against what the script did; supervisors only;
the CSV exports.

The reports count everything in the database, and the test session shares one database: the
summary test starts from empty report tables (earlier tests have finished with their rows)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select

from actions.unknown_messages import normalise
from bot.settings import Settings
from db.engine import create_engine, session_factory
from db.models import Complaint, ComplaintEvent, ConversationStart, Feedback, Handoff, RatingRequest, UnknownMessage
from handoff.labels import customer_label
from handoff.reports.csv_export import cell
from handoff.reports.summary import percentile
from tests.gateway_helpers import (
    Gateway,
    WebchatClient,
    eventually,
    feedback,
    gateway_env,
    new_number,
    new_session_id,
    running_gateway,
    sent_to,
    webchat_id,
    whatsapp_form,
    whatsapp_id,
)

RITA = "rita-" + "r" * 27
SAM = "sam-" + "s" * 28
# A complaint's events go with it: SQLite reuses a deleted complaint's id, and a later complaint
# would find the old timeline.
REPORT_TABLES = (ConversationStart, Feedback, RatingRequest, ComplaintEvent, Complaint, Handoff, UnknownMessage)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def reports_gateway(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> AsyncIterator[Gateway]:
    """A gateway with an agent (rita) and a supervisor (sam) on the session's Redis, database and Rasa."""
    env = gateway_env(redis_url, database_url, rasa_server, twilio_standin,
                      AGENT_TOKENS=f"rita:{RITA},sam:{SAM}:supervisor")
    async with running_gateway(Settings.from_env(env)) as running:
        yield running


async def get(gateway: Gateway, path: str, token: str | None = SAM, **params: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=auth(token) if token else {}) as http:
        async with http.get(f"{gateway.url}{path}", params=params) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()


def today_period() -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).date()  # BUSINESS_HOURS 24/7: the zone is UTC
    return {"from": (today - dt.timedelta(days=1)).isoformat(), "to": (today + dt.timedelta(days=1)).isoformat()}


# -- a scripted day --------------------------------------------------------------------------

async def web_say(customer: WebchatClient, text: str) -> list[dict[str, Any]]:
    await customer.say(text)
    return await customer.messages_until_quiet(quiet=1.0)


async def wa_say(gateway: Gateway, twilio_url: str, number: str, text: str, expect: str | None = None) -> list[str]:
    before = len(await sent_to(twilio_url, number))
    status, _ = await gateway.webhook(whatsapp_form(number, text))
    assert status == 200
    if expect is None:
        return await eventually(lambda: sent_to(twilio_url, number), lambda bodies: len(bodies) > before)
    return await eventually(lambda: sent_to(twilio_url, number),
                            lambda bodies: any(expect in b for b in bodies[before:]))


async def rows(database_url: str, model: Any, **where: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def empty_report_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for model in REPORT_TABLES:
                await session.execute(delete(model))
    finally:
        await engine.dispose()


async def test_summary_counts_a_scripted_day_of_conversations(
    reports_gateway: Gateway, twilio_standin: str, database_url: str,
) -> None:
    gw = reports_gateway
    await empty_report_tables(database_url)

    # A: web chat, answered by the bot, rated 5 stars.
    a = new_session_id()
    async with WebchatClient.connect(gw.ws_url, a, "en") as customer:
        await customer.next("history")
        await web_say(customer, "How much is shipping to Germany?")
        asked = await web_say(customer, "bye")
        assert any(len(m.get("buttons") or []) == 5 for m in asked), asked
        await web_say(customer, '/give_rating{"rating": 5}')
        await web_say(customer, "no thanks")
    await eventually(lambda: feedback(database_url, webchat_id(a)), lambda r: r == [(5, None)])

    # B: WhatsApp, answered by the bot, declines to rate.
    b = new_number("+49")
    await wa_say(gw, twilio_standin, b, "Was kostet der Versand nach Österreich?")
    await wa_say(gw, twilio_standin, b, "Tschüss", expect="Sterne")
    await wa_say(gw, twilio_standin, b, "nein danke")
    await eventually(lambda: feedback(database_url, whatsapp_id(b)), lambda r: r == [(None, None)])

    # C: web chat, asks for a person; rita claims after a wait, answers, closes; 2 stars and a comment
    # that a spreadsheet would take for a formula.
    c = new_session_id()
    async with aiohttp.ClientSession(headers=auth(RITA)) as rita, WebchatClient.connect(gw.ws_url, c, "en") as customer:
        await customer.next("history")
        await web_say(customer, "I want to talk to a human")
        await asyncio.sleep(1.2)
        async with rita.post(f"{gw.url}/api/handoff/{webchat_id(c)}/claim") as response:
            assert response.status == 200, await response.text()
        await asyncio.sleep(0.6)
        async with rita.post(f"{gw.url}/api/handoff/{webchat_id(c)}/messages", json={"text": "Hi, Rita here."}) as response:
            assert response.status == 200, await response.text()
        async with rita.post(f"{gw.url}/api/handoff/{webchat_id(c)}/close", json={"note": "answered"}) as response:
            assert response.status == 200, await response.text()
        while len((await customer.next("message")).get("buttons") or []) != 5:
            pass
        await web_say(customer, '/give_rating{"rating": 2}')
        await web_say(customer, "=1+2 too slow")
    await eventually(lambda: feedback(database_url, webchat_id(c)), lambda r: r == [(2, "rita")])

    # D: WhatsApp, asks for a person and leaves the queue before anyone claims it.
    d = new_number("+44")
    await wa_say(gw, twilio_standin, d, "I want to talk to a human", expect="queue")
    await wa_say(gw, twilio_standin, d, "never mind")
    await eventually(lambda: rows(database_url, Handoff, conversation_id=whatsapp_id(d)),
                     lambda hs: len(hs) == 1 and hs[0].abandoned_at is not None)

    # E: web chat, two complaints: the second within 30 days goes to a person (and stays queued).
    e = new_session_id()
    async with WebchatClient.connect(gw.ws_url, e, "de") as customer:
        await customer.next("history")
        await web_say(customer, "Mein Paket kam beschädigt an")
        await web_say(customer, "AK-123456")
        await web_say(customer, "Der Bierkrug ist in zwei Teile zerbrochen")
        # Another order: a new complaint, not a detail of the first one.
        await web_say(customer, "Neue Reklamation: meine Bestellung AK-100001 kam auch beschädigt an")
        await web_say(customer, "Der Deckel vom Honigglas ist abgebrochen")
    await eventually(lambda: rows(database_url, Handoff, conversation_id=webchat_id(e)), lambda hs: len(hs) == 1)

    # F: three messages the bot does not understand, two of them alike.
    f1, f3 = new_session_id(), new_session_id()
    for session_id, text in ((f1, "asdfgh qwertz"), (f3, "blorp zing wuff")):
        async with WebchatClient.connect(gw.ws_url, session_id, "en") as customer:
            await customer.next("history")
            await web_say(customer, text)
    f2 = new_number("+49")
    await wa_say(gw, twilio_standin, f2, "Asdfgh  qwertz!")
    await eventually(lambda: rows(database_url, UnknownMessage), lambda r: len(r) == 3)

    status, summary = await get(gw, "/api/reports/summary", **today_period())
    assert status == 200, summary

    handoffs = {h.conversation_id: h for h in await rows(database_url, Handoff)}
    rated = handoffs[webchat_id(c)]
    wait = (rated.claimed_at - rated.queued_at).total_seconds()
    first_response = (rated.first_response_at - rated.claimed_at).total_seconds()
    assert wait >= 1.2 and first_response >= 0.6
    complaints = await rows(database_url, Complaint, conversation_id=webchat_id(e))
    assert len(complaints) == 2

    assert summary == {
        "period": {**today_period(), "time_zone": "UTC"},
        "conversations": {"total": 8, "by_channel": {"webchat": 5, "whatsapp": 3}, "contained": 5, "handed_off": 3},
        "containment_rate": 0.625,
        "handoff_reasons": {"customer_request": 2, "repeat_complaint": 1},
        "csat": {
            "requests": 3, "ratings": 2, "response_rate": 0.6667, "average": 3.5, "satisfied_share": 0.5,
            "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
            "bot_only": {"ratings": 1, "average": 5.0, "satisfied_share": 1.0},
            "after_agent": {"ratings": 1, "average": 2.0, "satisfied_share": 0.0},
            "by_agent": {"rita": {"ratings": 1, "average": 2.0, "satisfied_share": 0.0, "low_ratings": 1}},
        },
        "queue": {
            "handoffs": 3, "claimed": 1, "abandoned": 1, "expired": 0,
            "wait_seconds_p50": round(wait, 1), "wait_seconds_p90": round(wait, 1),
            "first_response_seconds_p50": round(first_response, 1),
            "first_response_seconds_p90": round(first_response, 1),
        },
        "complaints": {"total": 2, "by_category": {"damaged": 2}, "repeat_customers": 1},
        "unknown_questions": [{"text": "asdfgh qwertz", "count": 2}, {"text": "blorp zing wuff", "count": 1}],
        "weeks": summary["weeks"],
    }
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    assert summary["weeks"] == [{
        "week": monday.isoformat(),
        "bot_only": {"ratings": 1, "average": 5.0, "satisfied_share": 1.0},
        "after_agent": {"ratings": 1, "average": 2.0, "satisfied_share": 0.0},
        "complaints": {"damaged": 2},
    }]

    # The drill-down behind rita's low ratings, and the transcript it opens.
    status, low = await get(gw, "/api/reports/ratings", agent="rita", min="1", max="2", **today_period())
    assert status == 200
    listed = [(r["conversation_id"], r["customer_label"], r["rating"], r["comment"]) for r in low["ratings"]]
    assert listed == [(webchat_id(c), customer_label(webchat_id(c)), 2, "=1+2 too slow")]
    status, view = await get(gw, f"/api/conversations/{webchat_id(c)}")
    assert status == 200 and ("agent", "Hi, Rita here.") in [(m["sender"], m["text"]) for m in view["transcript"]]

    # The CSV exports: UTF-8 with BOM, `;`, formulas defused.
    status, body = await get(gw, "/api/reports/feedback.csv", **today_period())
    assert status == 200 and body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    # A customer label, never the conversation id (a web chat id is the customer's session credential).
    assert table[0] == ["created_at", "customer", "channel", "rating", "agent", "comment"]
    assert sorted((r[1], r[3], r[4], r[5]) for r in table[1:]) == sorted([
        (customer_label(webchat_id(a)), "5", "", ""), (customer_label(whatsapp_id(b)), "", "", ""),
        (customer_label(webchat_id(c)), "2", "rita", "'=1+2 too slow"),
    ])
    assert webchat_id(a) not in body.decode("utf-8-sig")
    status, body = await get(gw, "/api/reports/complaints.csv", **today_period())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert status == 200 and body.startswith(b"\xef\xbb\xbf") and len(table) == 3
    assert {r[4] for r in table[1:]} == {"damaged"}
    assert "Mein Paket kam beschädigt an" in {r[7] for r in table[1:]}  # the first message described it


async def test_an_empty_period_has_null_figures_not_zeros(reports_gateway: Gateway) -> None:
    status, summary = await get(reports_gateway, "/api/reports/summary", **{"from": "2001-01-01", "to": "2001-01-31"})
    assert status == 200
    assert summary["conversations"] == {"total": 0, "by_channel": {}, "contained": 0, "handed_off": 0}
    assert summary["containment_rate"] is None
    assert summary["csat"]["response_rate"] is None and summary["csat"]["average"] is None
    assert summary["csat"]["bot_only"] == {"ratings": 0, "average": None, "satisfied_share": None}
    assert summary["queue"]["wait_seconds_p50"] is None and summary["queue"]["first_response_seconds_p90"] is None
    assert summary["unknown_questions"] == [] and summary["weeks"] == []


async def test_reports_are_for_supervisors_only(reports_gateway: Gateway) -> None:
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    for path in ("/api/reports/summary", "/api/reports/ratings", "/api/reports/feedback.csv",
                 "/api/reports/complaints.csv", "/api/reports/alerts"):
        status, body = await get(reports_gateway, path, RITA, **period)
        assert (status, body["error"]) == (403, "supervisor_only"), path
        status, body = await get(reports_gateway, path, None, **period)
        assert (status, body["error"]) == (401, "unauthorized"), path
    status, body = await get(reports_gateway, "/api/reports/summary", SAM, **{"from": "2026-11-30", "to": "2026-11-01"})
    assert (status, body["error"]) == (400, "bad_request")
    status, body = await get(reports_gateway, "/api/reports/summary", SAM, **{"from": "yesterday", "to": "2026-11-01"})
    assert status == 400


def test_csv_cells_that_a_spreadsheet_would_run_get_an_apostrophe() -> None:
    assert [cell(v) for v in ("=HYPERLINK(\"x\")", "+49 170", "-1", "@SUM(A1)", "\tx", "Grüße", 5, None)] == [
        "'=HYPERLINK(\"x\")", "'+49 170", "'-1", "'@SUM(A1)", "'\tx", "Grüße", "5", "",
    ]


def test_not_understood_messages_are_normalised_and_masked_before_they_are_stored() -> None:
    assert normalise("Wo ist AK-123456??") == normalise("wo ist ak 654321") == "wo ist <order>"
    assert normalise("Meine Mail: Max.Muster@example.de, Tel. +49 170 1234567") == "meine mail <email> tel <phone>"
    assert normalise("Ruf mich an: 0171/2345678") == "ruf mich an <phone>"
    assert normalise("Kundennummer 12345") == "kundennummer <number>"
    assert normalise("Größe 42 passt nicht!") == "größe 42 passt nicht"


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.9) == 3.0
    ten = [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert (percentile(ten, 0.5), percentile(ten, 0.9)) == (5.0, 9.0)
