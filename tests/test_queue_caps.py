"""The queue's caps and its silent customers, through the real gateway, websockets and Rasa: a full
queue and an address's share of it refuse a handoff in the customer's language while the bot carries
on; a queued customer who has gone silent (no message, no open web chat) leaves the queue, is
recorded as abandoned (`expired`) and counted in the reports.

Each test has a Redis of its own: the caps count the whole queue, which the session's Redis shares
with every other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import select

from bot.settings import Settings
from core import texts
from db.engine import create_engine, session_factory
from db.models import Handoff
from handoff.queue import keys as desk_keys
from tests import gateway_helpers as gw
from tests.handoff_support import desk_app, new_id

SUPERVISOR = "sue-" + "s" * 28
HUMAN = {"de": "Ich will mit einem Mitarbeiter sprechen", "en": "I want to talk to a human"}
QUEUED = {"de": "Ein Mitarbeiter übernimmt gleich", "en": "A member of our team will take over"}


@contextlib.asynccontextmanager
async def desk_gateway(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str, **env: str,
) -> AsyncIterator[gw.Gateway]:
    settings = Settings.from_env(gw.gateway_env(
        own_redis, database_url, rasa_server, twilio_standin, TRUSTED_PROXIES="127.0.0.1",
        AGENT_TOKENS=f"sue:{SUPERVISOR}:supervisor", **env,
    ))
    async with gw.running_gateway(settings) as running:
        yield running


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def new_client() -> str:
    return f"198.51.100.{secrets.randbelow(254) + 1}"


async def ask_for_a_person(client: gw.WebchatClient, language: str) -> str:
    """The bot's answer to the request, as the customer reads it (the desk's line is the last)."""
    await client.next("history")
    await client.say(HUMAN[language])
    await client.next("ack")
    lines = [m["text"] or "" for m in await client.messages_until_quiet(quiet=2, timeout=60)]
    return lines[-1]


async def in_queue(redis_url: str, conversation_id: str) -> bool:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        return await redis.zscore(desk_keys.QUEUE, conversation_id) is not None
    finally:
        await redis.aclose()


async def metric(gateway: gw.Gateway, kind: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/metrics") as response:
        body = await response.text()
    line = next((x for x in body.splitlines() if x.startswith(f'shopdesk_errors_total{{kind="{kind}"}}')), None)
    return float(line.split()[-1]) if line else 0.0


async def test_a_full_queue_refuses_a_handoff_in_the_customers_language_and_the_bot_carries_on(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> None:
    async with desk_gateway(own_redis, database_url, rasa_server, twilio_standin,
                            QUEUE_MAX_LENGTH="2", QUEUE_MAX_PER_ADDRESS="5") as running:
        for _ in range(2):
            async with gw.WebchatClient.connect(running.ws_url, gw.new_session_id(), headers=via(new_client())) as waiting:
                assert (await ask_for_a_person(waiting, "de")).startswith(QUEUED["de"])
        session_id = gw.new_session_id()
        async with gw.WebchatClient.connect(running.ws_url, session_id, "en", headers=via(new_client())) as third:
            assert await ask_for_a_person(third, "en") == texts.text("queue_full", "en")
            assert not await in_queue(own_redis, gw.webchat_id(session_id))
            assert await metric(running, "rejected_queue_full") == 1
            # The bot carries on: the next question is Rasa's, not kept for an agent.
            await third.say("What are your opening hours?")
            await third.next("ack")
            answer = [m["text"] or "" for m in await third.messages_until_quiet(quiet=2, timeout=60)]
            assert answer and texts.text("kept", "en") not in answer
            assert not await in_queue(own_redis, gw.webchat_id(session_id))


async def test_one_address_gets_at_most_its_share_of_the_queue(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> None:
    office, elsewhere = new_client(), "203.0.113.7"
    async with desk_gateway(own_redis, database_url, rasa_server, twilio_standin,
                            QUEUE_MAX_LENGTH="50", QUEUE_MAX_PER_ADDRESS="2") as running:
        for _ in range(2):
            async with gw.WebchatClient.connect(running.ws_url, gw.new_session_id(), headers=via(office)) as waiting:
                assert (await ask_for_a_person(waiting, "de")).startswith(QUEUED["de"])
        third = gw.new_session_id()
        async with gw.WebchatClient.connect(running.ws_url, third, headers=via(office)) as client:
            assert await ask_for_a_person(client, "de") == texts.text("queue_address_limit", "de", limit=2)
        assert not await in_queue(own_redis, gw.webchat_id(third))
        assert await metric(running, "rejected_queue_address_limit") == 1
        async with gw.WebchatClient.connect(running.ws_url, gw.new_session_id(), headers=via(elsewhere)) as other:
            assert (await ask_for_a_person(other, "de")).startswith(QUEUED["de"])


async def handoff_rows(database_url: str, conversation_id: str) -> list[Handoff]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id))).all())
    finally:
        await engine.dispose()


async def queue_figures(gateway: gw.Gateway) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()  # BUSINESS_HOURS 24/7: the zone is UTC
    period = {"from": (today - dt.timedelta(days=1)).isoformat(), "to": (today + dt.timedelta(days=1)).isoformat()}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SUPERVISOR}"}) as http:
        async with http.get(f"{gateway.url}/api/reports/summary", params=period) as response:
            assert response.status == 200, await response.text()
            return dict((await response.json())["queue"])


async def test_a_silent_queued_customer_expires_is_recorded_abandoned_and_counted_in_the_reports(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> None:
    session_id = gw.new_session_id()
    cid = gw.webchat_id(session_id)
    async with desk_gateway(own_redis, database_url, rasa_server, twilio_standin, QUEUE_ABANDON_SECONDS="2") as running:
        before = await queue_figures(running)
        async with gw.WebchatClient.connect(running.ws_url, session_id, headers=via(new_client())) as client:
            assert (await ask_for_a_person(client, "de")).startswith(QUEUED["de"])
        # The widget is closed and the customer writes nothing more.
        await gw.eventually(lambda: in_queue(own_redis, cid), lambda queued: not queued, timeout=20)
        rows = await gw.eventually(lambda: handoff_rows(database_url, cid),
                                   lambda hs: len(hs) == 1 and hs[0].outcome == "expired", timeout=10)
        assert rows[0].abandoned_at is not None and rows[0].closed_at is not None and rows[0].claimed_at is None
        lines = await gw.eventually(lambda: gw.transcript(database_url, cid),
                                    lambda ls: ("bot", texts.text("queue_expired", "de")) in ls, timeout=10)
        assert lines[-1] == ("bot", texts.text("queue_expired", "de"))
        after = await queue_figures(running)
        assert after["expired"] == before["expired"] + 1
        assert after["abandoned"] == before["abandoned"] + 1
        assert after["handoffs"] == before["handoffs"] + 1
        # Back with the bot: the customer's next message is answered by the assistant again.
        async with gw.WebchatClient.connect(running.ws_url, session_id, headers=via(new_client())) as back:
            await back.next("history")
            await back.say("Wie sind eure Öffnungszeiten?")
            await back.next("ack")
            assert await back.messages_until_quiet(quiet=2, timeout=60)
        assert not await in_queue(own_redis, cid)


async def test_an_open_web_chat_keeps_a_silent_customer_in_the_queue_until_it_closes(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> None:
    session_id = gw.new_session_id()
    cid = gw.webchat_id(session_id)
    async with desk_gateway(own_redis, database_url, rasa_server, twilio_standin, QUEUE_ABANDON_SECONDS="2") as running:
        async with gw.WebchatClient.connect(running.ws_url, session_id, headers=via(new_client())) as client:
            assert (await ask_for_a_person(client, "de")).startswith(QUEUED["de"])
            await asyncio.sleep(6)  # three times the silence allowed, with the chat open
            assert await in_queue(own_redis, cid)
        await gw.eventually(lambda: in_queue(own_redis, cid), lambda queued: not queued, timeout=20)
        rows = await handoff_rows(database_url, cid)
        assert [r.outcome for r in rows] == ["expired"]


async def test_whatsapp_customers_have_no_address_share_and_expire_when_silent(
    own_redis: str, database_url: str, rasa_server: str, twilio_standin: str,
) -> None:
    """A WhatsApp webhook's peer is the provider: no address travels, so the cap per address does
    not apply (the per-conversation limit is the per-number limit); silence expires them too."""
    numbers = [gw.new_number(), gw.new_number()]
    async with desk_gateway(own_redis, database_url, rasa_server, twilio_standin,
                            QUEUE_MAX_PER_ADDRESS="1", QUEUE_ABANDON_SECONDS="4") as running:
        for number in numbers:
            assert (await running.webhook(gw.whatsapp_form(number, HUMAN["de"])))[0] == 200

        async def told_expired(number: str) -> list[str]:
            return await gw.eventually(lambda: gw.sent_to(twilio_standin, number),
                                       lambda bs: texts.text("queue_expired", "de") in bs, timeout=60, every=0.5)

        for number in numbers:
            bodies = await told_expired(number)
            assert any(b.startswith(QUEUED["de"]) for b in bodies)
            assert texts.text("queue_address_limit", "de", limit=1) not in bodies
            assert [r.outcome for r in await handoff_rows(database_url, gw.whatsapp_id(number))] == ["expired"]


async def test_a_customer_who_asked_for_a_callback_is_not_expired_as_silent(redis_url: str, database_url: str) -> None:
    """They were told they need not wait (the timeout offer's "1"): silence is what they were promised.
    (The desk alone, on a harness: the promise is the desk's.)"""
    async with desk_app(redis_url, database_url, queue_abandon_seconds=0.5) as h:
        silent, called_back = new_id(), new_id()
        await h.handoff(silent)
        await h.handoff(called_back)
        await h.desk.parts.queue.set_fields(called_back, "callback", "1")
        await gw.eventually(lambda: h.desk.parts.queue.get(silent), lambda conv: conv is None, timeout=10)
        await asyncio.sleep(1.0)
        still = await h.desk.parts.queue.get(called_back)
        assert still is not None and still.state.value == "queued"
        assert await h.delivery.wait_for(silent, texts.text("queue_expired", "de")[:40])
