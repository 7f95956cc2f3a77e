"""Nothing the gateway acknowledged is lost or doubled (issue 8, item 6), through the real gateway,
a real Redis and a real Rasa: the dedup marker exists only for a message in its inbox, a message
a crashed process left behind is answered without the customer writing again."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from redis.asyncio import Redis

from bot import keys
from bot.router import WORKER_LOCK_SECONDS, encode
from bot.settings import Settings
from handoff.contract import Inbound
from tests.gateway_helpers import (  # noqa: F401  (fixtures)
    WebchatClient,
    eventually,
    gateway_env,
    new_number,
    new_session_id,
    own_database,
    running_gateway,
    sent_to,
    transcript,
    twilio_standin,
    webchat_id,
    whatsapp_form,
    whatsapp_id,
)

QUESTION = "Was kostet der Versand nach Österreich?"


async def test_a_message_whose_inbox_write_fails_leaves_no_marker_and_the_retry_is_taken(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(redis_url, url, rasa_server, twilio_standin))
    number = new_number()
    form = whatsapp_form(number, QUESTION)
    conversation = whatsapp_id(number)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with running_gateway(settings) as gateway:
            # The inbox key holds a string: Redis refuses the push (WRONGTYPE) inside the step
            # that would also set the marker.
            await redis.set(keys.inbox(conversation), "not a list")
            status, _ = await gateway.webhook(form)
            assert status == 500  # Twilio retries a 5xx
            assert not await redis.exists(keys.seen(conversation, form["MessageSid"]))

            await redis.delete(keys.inbox(conversation))
            assert (await gateway.webhook(form))[0] == 200  # Twilio's retry, taken
            await eventually(lambda: sent_to(twilio_standin, number), bool)
            assert (await gateway.webhook(form))[0] == 200  # a further retry: dropped
            await asyncio.sleep(2)
            rows = await transcript(url, conversation)
    finally:
        await redis.aclose()
    assert rows.count(("customer", QUESTION)) == 1
    assert any(sender == "bot" and "Versand" in text for sender, text in rows)


async def test_a_message_left_by_a_crashed_process_is_answered_once_its_lock_expires(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(redis_url, url, rasa_server, twilio_standin, INBOX_SWEEP_SECONDS="0.5"))
    session_id = new_session_id()
    conversation = webchat_id(session_id)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with running_gateway(settings) as gateway, WebchatClient.connect(gateway.ws_url, session_id) as chat:
            await chat.next("history")
            # What a process killed -9 mid-handling leaves: the acknowledged message first in
            # its inbox and the conversation's worker lock under its token, running out.
            entry = Inbound(conversation_id=conversation, channel="webchat", text=QUESTION, language="de",
                            external_id=secrets.token_hex(6))
            await redis.rpush(keys.inbox(conversation), encode(entry, time.time()))
            await redis.set(keys.worker(conversation), "token-of-a-dead-process", px=2000)
            started = time.monotonic()

            reply = await chat.next("message", timeout=WORKER_LOCK_SECONDS)
            waited = time.monotonic() - started
            assert "Versand" in (reply["text"] or "")
            assert 1.5 < waited < 2 + 0.5 + 5  # after the lock ran out, within a sweep and a Rasa turn
            await asyncio.sleep(2)
            rows = await transcript(url, conversation)
            assert not await redis.exists(keys.inbox(conversation))
    finally:
        await redis.aclose()
    assert rows.count(("customer", QUESTION)) == 1
    assert [s for s, _ in rows].count("bot") >= 1
