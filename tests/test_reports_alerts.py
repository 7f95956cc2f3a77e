"""Early warnings: two gateways on one Redis check the conditions (one of them at a time), POST
each alert once to a local webhook receiver, and again only after its condition cleared.

The conditions span weeks (CSAT of the last 7 days against the 28 before), so their rows are
written into the database with their times rather than lived through."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stack
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import update

from bot.settings import Settings
from db.engine import create_engine, session_factory
from db.models import Complaint, Feedback, Handoff
from handoff.reports import keys
from tests.gateway_helpers import gateway_env, running_gateway
from tests.test_reports import RITA, SAM, empty_report_tables, get

KINDS = {"low_rating", "csat_drop", "repeat_complaint", "queue_wait", "abandoned_waits"}


class Receiver:
    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.alerts.append(await request.json())
        return web.Response(text="ok")

    def kinds(self) -> list[str]:
        return sorted(a["kind"] for a in self.alerts)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    server = TestServer(app, host="127.0.0.1", port=stack.free_port())
    await server.start_server()
    yield got, str(server.make_url("/hook"))
    await server.close()


async def seed(database_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    ago = lambda **kw: now - dt.timedelta(**kw)  # noqa: E731
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        # CSAT: five of five satisfied in the 28 days before the last week, none of six in it.
        session.add_all([Feedback(conversation_id=f"web-before-{i}", channel="webchat", rating=5,
                                  created_at=ago(days=10 + i)) for i in range(5)])
        session.add_all([Feedback(conversation_id=f"web-week-{i}", channel="webchat", rating=3,
                                  created_at=ago(days=1 + i)) for i in range(5)])
        # One of them after an agent, with 1 star.
        session.add(Feedback(conversation_id="web-low", channel="webchat", rating=1, agent_id="rita",
                             created_at=ago(hours=1)))
        # A customer's second complaint within 30 days.
        for days in (10, 0):
            session.add(Complaint(reference=f"RK-T-{days}", conversation_id="wa-repeat", channel="whatsapp",
                                  category="damaged", description="kaputt", language="de", needs_human=False,
                                  status="open", created_at=ago(days=days, minutes=5)))
        # One customer waiting for 10 minutes, one who gave up: half of the day's handoffs abandoned.
        session.add(Handoff(conversation_id="web-waiting", channel="webchat", reason="customer_request", priority=0,
                            summary="", queued_at=ago(minutes=10)))
        session.add(Handoff(conversation_id="web-left", channel="webchat", reason="customer_request", priority=0,
                            summary="", queued_at=ago(minutes=30), abandoned_at=ago(minutes=25),
                            closed_at=ago(minutes=25), outcome="customer_left"))
    await engine.dispose()


async def settle(receiver: Receiver, count: int, quiet: float = 1.5) -> None:
    """Until `count` alerts arrived, then a few more check intervals in which nothing else may come."""
    for _ in range(200):
        if len(receiver.alerts) >= count:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(quiet)


async def test_each_alert_is_sent_once_by_one_of_two_gateways_and_again_after_it_cleared(
    redis_url: str, database_url: str, receiver: tuple[Receiver, str],
) -> None:
    got, hook = receiver
    await empty_report_tables(database_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.delete(keys.ALERTS_ACTIVE, keys.ALERT_LEASE)
    await seed(database_url)
    env = gateway_env(redis_url, database_url, "http://127.0.0.1:9", "http://127.0.0.1:9",
                      AGENT_TOKENS=f"rita:{RITA},sam:{SAM}:supervisor", ALERT_WEBHOOK_URL=hook,
                      ALERT_CHECK_SECONDS="0.2", ALERT_LANGUAGE="en")
    settings = Settings.from_env(env)
    async with running_gateway(settings) as first, running_gateway(settings):
        await settle(got, len(KINDS))
        assert got.kinds() == sorted(KINDS)
        by_kind = {a["kind"]: a for a in got.alerts}
        assert by_kind["low_rating"]["rating"] == 1 and by_kind["low_rating"]["agent"] == "rita"
        assert by_kind["low_rating"]["link"].endswith("/reports#conversation=web-low")
        assert "1 star(s) after the conversation with rita" in by_kind["low_rating"]["text"]
        drop = by_kind["csat_drop"]
        assert (drop["previous"], drop["last"], drop["drop"], drop["threshold"]) == (100.0, 0.0, 100.0, 10.0)
        assert by_kind["repeat_complaint"]["complaints"] == 2
        assert by_kind["queue_wait"]["p90"] >= 600 and by_kind["queue_wait"]["limit"] == 300
        assert (by_kind["abandoned_waits"]["abandoned"], by_kind["abandoned_waits"]["handoffs"]) == (1, 2)
        assert all(isinstance(a["text"], str) and a["text"] for a in got.alerts)

        status, banner = await get(first, "/api/reports/alerts", SAM)
        assert status == 200 and sorted(a["kind"] for a in banner["alerts"]) == sorted(KINDS)

        # The waiting customer is claimed: the wait alert clears (and leaves the banner) ...
        engine = create_engine(database_url)
        now = dt.datetime.now(dt.UTC)
        async with session_factory(engine)() as session, session.begin():
            await session.execute(update(Handoff).where(Handoff.conversation_id == "web-waiting")
                                  .values(claimed_at=now - dt.timedelta(minutes=9, seconds=50), agent_id="rita"))
        await settle(got, len(KINDS), quiet=1.0)
        status, banner = await get(first, "/api/reports/alerts", SAM)
        assert "queue_wait" not in {a["kind"] for a in banner["alerts"]}
        assert len(got.alerts) == len(KINDS)
        # ... and a new long wait is a new alert, sent once.
        async with session_factory(engine)() as session, session.begin():
            session.add(Handoff(conversation_id="web-waiting-2", channel="webchat", reason="customer_request",
                                priority=0, summary="", queued_at=now - dt.timedelta(minutes=20)))
        await engine.dispose()
        await settle(got, len(KINDS) + 1)
        assert got.kinds() == sorted([*KINDS, "queue_wait"])
    await redis.delete(keys.ALERTS_ACTIVE, keys.ALERT_LEASE)
    await redis.aclose()
