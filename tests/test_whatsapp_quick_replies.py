"""WhatsApp that feels native: with Twilio Content templates configured, the star rating (and
yes/no) goes out as quick-reply buttons, also outside the 24-hour window, and the tapped reply
(ButtonPayload) is the rating; without a template a rating outside the window is recorded as not sent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from bot import keys
from bot.app import Gateway as GatewayParts
from bot.settings import Settings
from core.contract import Button, HandoffRequest, Outbound
from db.engine import create_engine, session_factory
from db.models import Contact
from tests.gateway_helpers import (
    AGENT_TOKEN,
    Gateway,
    eventually,
    feedback,
    gateway_env,
    messages_to,
    new_number,
    running_gateway,
    sent_to,
    whatsapp_form,
    whatsapp_id,
)

RATING_SID = "HX" + "a1" * 16
YESNO_SID = "HX" + "b2" * 16
AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}


@pytest.fixture
async def templated(redis_url: str, database_url: str, rasa_server: str, twilio_standin: str) -> AsyncIterator[Gateway]:
    env = gateway_env(redis_url, database_url, rasa_server, twilio_standin,
                      TWILIO_CONTENT_RATING_SID=RATING_SID, TWILIO_CONTENT_YESNO_SID=YESNO_SID)
    async with running_gateway(Settings.from_env(env)) as running:
        yield running


@pytest.fixture
async def plain(redis_url: str, database_url: str, rasa_server: str, twilio_standin: str) -> AsyncIterator[Gateway]:
    env = gateway_env(redis_url, database_url, rasa_server, twilio_standin)
    async with running_gateway(Settings.from_env(env)) as running:
        yield running


def _parts(gateway: Gateway) -> GatewayParts:
    assert gateway.parts is not None, "the gateway runs in this process"
    return gateway.parts


async def _window_closed(database_url: str, conversation: str) -> None:
    """The customer last wrote 30 hours ago."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(update(Contact).where(Contact.conversation_id == conversation).values(
                last_inbound_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)))
    finally:
        await engine.dispose()


async def _agent(gw: Gateway, path: str, body: dict[str, Any] | None = None) -> None:
    async with aiohttp.ClientSession(headers=AGENT) as session:
        async with session.post(gw.url + path, json=body) as response:
            assert response.status == 200, await response.text()


async def test_rating_goes_out_as_quick_replies_outside_the_window_and_the_tap_is_stored(
    templated: Gateway, twilio_standin: str, database_url: str,
) -> None:
    gw = templated
    number = new_number()
    conversation = whatsapp_id(number)
    assert (await gw.webhook(whatsapp_form(number, "Hallo")))[0] == 200
    await eventually(lambda: sent_to(twilio_standin, number), bool)
    await _parts(gw).desk.request_handoff(conversation, "whatsapp", HandoffRequest(reason="customer_request"))
    await _agent(gw, f"/api/handoff/{conversation}/claim")
    await _agent(gw, f"/api/handoff/{conversation}/messages", {"text": "Hallo, hier ist Anna. Alles erledigt."})
    await eventually(lambda: sent_to(twilio_standin, number), lambda s: "Hallo, hier ist Anna. Alles erledigt." in s)

    await _window_closed(database_url, conversation)
    before = len(await messages_to(twilio_standin, number))
    await _agent(gw, f"/api/handoff/{conversation}/close", {"note": "erledigt"})
    sent = await eventually(lambda: messages_to(twilio_standin, number), lambda m: len(m) > before)
    rating = sent[before]
    assert rating["content_sid"] == RATING_SID
    assert json.loads(rating["content_variables"])["1"]  # the question's text
    assert rating["body"] == ""

    # The customer taps "⭐⭐⭐⭐", whose quick-reply id is 4.
    before = len(await messages_to(twilio_standin, number))
    assert (await gw.webhook(whatsapp_form(number, "⭐⭐⭐⭐", ButtonText="⭐⭐⭐⭐", ButtonPayload="4")))[0] == 200
    await eventually(lambda: messages_to(twilio_standin, number), lambda m: len(m) > before)  # the comment question
    assert (await gw.webhook(whatsapp_form(number, "Sehr schnell, danke")))[0] == 200
    rows = await eventually(lambda: feedback(database_url, conversation), bool)
    assert rows == [(4, "anna")]


async def test_yes_no_question_goes_out_as_the_yes_no_template(templated: Gateway, twilio_standin: str) -> None:
    number = new_number()
    conversation = whatsapp_id(number)
    assert (await templated.webhook(whatsapp_form(number, "Hallo")))[0] == 200
    before = len(await eventually(lambda: messages_to(twilio_standin, number), bool))
    question = Outbound(text="Soll ich dich mit einem Menschen verbinden?",
                        buttons=(Button("Ja, bitte", "/affirm"), Button("Nein, danke", "/deny")))
    await _parts(templated).delivery.deliver(conversation, [question])
    sent = await eventually(lambda: messages_to(twilio_standin, number), lambda m: len(m) > before)
    assert sent[before]["content_sid"] == YESNO_SID
    assert json.loads(sent[before]["content_variables"]) == {"1": "Soll ich dich mit einem Menschen verbinden?"}


async def test_without_a_template_a_rating_outside_the_window_is_recorded_as_not_sent(
    plain: Gateway, twilio_standin: str, database_url: str, redis_url: str,
) -> None:
    number = new_number()
    conversation = whatsapp_id(number)
    assert (await plain.webhook(whatsapp_form(number, "Hallo")))[0] == 200
    before = len(await eventually(lambda: messages_to(twilio_standin, number), bool))
    await _window_closed(database_url, conversation)
    rating = Outbound(text="Wie zufrieden warst du?",
                      buttons=tuple(Button("⭐" * n, f'/give_rating{{"rating": {n}}}') for n in range(1, 6)))
    await _parts(plain).router.dispatch(conversation, "whatsapp", [rating])
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await eventually(lambda: redis.lrange(keys.NOT_SENT, 0, -1),
                                   lambda found: any(conversation in e for e in found))
    finally:
        await redis.aclose()
    entry = next(json.loads(e) for e in entries if conversation in e)
    assert (entry["reason"], entry["kind"]) == ("WindowClosed", "rating")
    assert len(await messages_to(twilio_standin, number)) == before
