"""The router keeps a message whose handling fails: it retries with backoff, Rasa answers it
once, the transcript has it once, and after ROUTER_MAX_ATTEMPTS it is dead-lettered, not dropped.

The failures are real: the gateway's own SQLite database refuses inserts into `messages`
(a trigger that aborts, as a full or failing disk would), and its own Redis is stopped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import stack

from bot import keys
from bot.settings import Settings
from tests import gateway_helpers as gw

QUESTION = "Was kostet der Versand nach Österreich?"


async def metric(gateway_url: str, sample: str) -> float:
    """The value of one sample on the gateway's /metrics (0 when it is not there yet)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway_url}/metrics") as response:
            text = await response.text()
    return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample + " ")), 0.0)


async def test_a_message_survives_a_failing_database_and_is_answered_once(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, path = own_database
    settings = Settings.from_env(gw.gateway_env(redis_url, url, rasa_server, twilio_standin, ROUTER_MAX_ATTEMPTS="50"))
    session_id, client_id = gw.new_session_id(), "retry-1"
    conversation = gw.webchat_id(session_id)
    async with gw.running_gateway(settings) as gateway:
        redis = gateway.parts.redis
        async with gw.WebchatClient.connect(gateway.ws_url, session_id) as client:
            await client.next("history")
            with gw.inserts_fail(path):
                await client.say(QUESTION, client_id=client_id)
                assert (await client.next("ack"))["client_id"] == client_id
                await gw.eventually(lambda: gw.attempts(redis, conversation, client_id), lambda n: n >= 3, timeout=60)
                # Still first in the inbox while the database refuses.
                assert await redis.llen(keys.inbox(conversation)) == 1
            replies = await client.messages_until_quiet(quiet=3)

        assert "Versand" in " ".join(r["text"] or "" for r in replies)
        rows = await gw.eventually(lambda: gw.transcript(url, conversation), lambda r: len(r) >= 1 + len(replies))
        assert rows == [("customer", QUESTION)] + [("bot", r["text"]) for r in replies]
        assert await gw.rasa_heard(rasa_server, conversation, QUESTION) == 1
        # Handled: out of the inbox, and its notes are gone.
        assert await redis.llen(keys.inbox(conversation)) == 0
        assert not await redis.exists(keys.handling(conversation, client_id))


async def test_after_the_last_attempt_the_message_is_dead_lettered_and_the_next_one_is_answered(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, path = own_database
    settings = Settings.from_env(gw.gateway_env(redis_url, url, rasa_server, twilio_standin, ROUTER_MAX_ATTEMPTS="2"))
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    async with gw.running_gateway(settings) as gateway:
        redis = gateway.parts.redis

        async def parked() -> list[dict[str, object]]:
            entries = [json.loads(e) for e in await redis.lrange(keys.DEAD_LETTER, 0, -1)]
            return [e for e in entries if json.loads(e["entry"])["conversation_id"] == conversation]

        async with gw.WebchatClient.connect(gateway.ws_url, session_id) as client:
            await client.next("history")
            with gw.inserts_fail(path):
                await client.say(QUESTION, client_id="doomed")
                dead = await gw.eventually(parked, bool, timeout=60)
            assert dead[0]["attempts"] == 2 and dead[0]["error"] == "IntegrityError"
            assert json.loads(dead[0]["entry"])["text"] == QUESTION
            assert await redis.llen(keys.inbox(conversation)) == 0

            assert await metric(gateway.url, "shopdesk_dead_letters_total") == 1

            # The conversation is not stuck behind it.
            await client.say("Hallo", client_id="after")
            assert await client.messages_until_quiet()
        rows = await gw.eventually(lambda: gw.transcript(url, conversation), lambda r: ("customer", "Hallo") in r)
        assert ("customer", QUESTION) not in rows


async def test_a_worker_that_loses_redis_backs_off_and_carries_on_when_it_is_back(
    rasa_server: str, twilio_standin: str, own_database: tuple[str, Path], tmp_path: Path, service_logs: Path,
) -> None:
    url, path = own_database
    port = stack.free_port()
    own_redis = stack.start_redis(port, tmp_path / "redis-data", service_logs)
    settings = Settings.from_env(gw.gateway_env(own_redis.url, url, rasa_server, twilio_standin, ROUTER_MAX_ATTEMPTS="50"))
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    try:
        async with gw.running_gateway(settings) as gateway:
            redis = gateway.parts.redis
            redis_errors = 'shopdesk_errors_total{kind="router_redis"}'
            async with gw.WebchatClient.connect(gateway.ws_url, session_id) as client:
                await client.next("history")
                with gw.inserts_fail(path):
                    await client.say(QUESTION, client_id="through-an-outage")
                    await client.next("ack")
                    await gw.eventually(lambda: gw.attempts(redis, conversation, "through-an-outage"), lambda n: n >= 2)
                    own_redis.stop()
                    before = await gw.eventually(lambda: metric(gateway.url, redis_errors), lambda n: n >= 1, timeout=30)
                    await asyncio.sleep(4)
                    # Backing off (0.5, 1, 2, 4 s …), not spinning.
                    assert await metric(gateway.url, redis_errors) - before <= 4
                own_redis = stack.start_redis(port, tmp_path / "redis-data", service_logs)
                replies = await client.messages_until_quiet(quiet=3, timeout=60)
            assert "Versand" in " ".join(r["text"] or "" for r in replies)
            rows = await gw.eventually(lambda: gw.transcript(url, conversation), lambda r: len(r) >= 1 + len(replies))
            assert rows.count(("customer", QUESTION)) == 1
            assert await gw.rasa_heard(rasa_server, conversation, QUESTION) == 1
    finally:
        own_redis.stop()

