"""Nothing the gateway acknowledged is lost or doubled (issue 8, item 6), through the real gateway,
a real Redis and a real Rasa: the dedup marker exists only for a message in its inbox, a message
a crashed process left behind is answered without the customer writing again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import stack
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot import keys
from bot.inbox import WORKER_LOCK_SECONDS, encode
from bot.settings import Settings
from core import texts
from core.contract import Inbound
from tests.gateway_helpers import (
    AGENT_TOKEN,
    WebchatClient,
    attempts,
    eventually,
    gateway_env,
    inbox_worked,
    inserts_fail,
    new_number,
    new_session_id,
    rasa_heard,
    running_gateway,
    sent_to,
    standin_failures,
    transcript,
    webchat_id,
    webchat_on,
    whatsapp_form,
    whatsapp_id,
)

QUESTION = "Was kostet der Versand nach Österreich?"


async def test_a_message_whose_inbox_write_fails_leaves_no_marker_and_the_retry_is_taken(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(own_redis, url, rasa_server, twilio_standin))
    number = new_number()
    form = whatsapp_form(number, QUESTION)
    conversation = whatsapp_id(number)
    redis = Redis.from_url(own_redis, decode_responses=True)
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
            await inbox_worked(gateway, conversation)
            rows = await transcript(url, conversation)
    finally:
        await redis.aclose()
    assert rows.count(("customer", QUESTION)) == 1
    assert any(sender == "bot" and "Versand" in text for sender, text in rows)


async def test_a_message_left_by_a_crashed_process_is_answered_once_its_lock_expires(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(own_redis, url, rasa_server, twilio_standin, INBOX_SWEEP_SECONDS="0.5"))
    session_id = new_session_id()
    conversation = webchat_id(session_id)
    redis = Redis.from_url(own_redis, decode_responses=True)
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
            # Not before the lock ran out; that it came at all (nobody wrote again) is the sweep's doing.
            assert waited > 1.5
            await inbox_worked(gateway, conversation)
            rows = await transcript(url, conversation)
            assert not await redis.exists(keys.inbox(conversation))
    finally:
        await redis.aclose()
    assert rows.count(("customer", QUESTION)) == 1
    assert [s for s, _ in rows].count("bot") >= 1


@asynccontextmanager
async def slow_rasa(
    rasa_url: str, delay: float, refuse: Counter[str] | None = None, swallow: Counter[str] | None = None,
    blank: Counter[str] | None = None,
) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A loopback HTTP hop in front of the real Rasa that holds every message `delay` seconds
    before passing it on, and counts the messages it got per conversation. The next
    `refuse[path_end]` calls whose path ends so are answered 503 (Rasa failing), the next
    `swallow[path_end]` 200 with no messages (what Rasa's REST channel answers when the turn
    failed inside Rasa, e.g. its lock store away), instead of being passed on; the next
    `blank[path_end]` are passed on and answered 200 with no messages (a turn that Rasa kept but
    that said nothing, as when a custom action failed)."""
    heard: Counter[str] = Counter()
    refuse = refuse if refuse is not None else Counter()
    swallow = swallow if swallow is not None else Counter()
    blank = blank if blank is not None else Counter()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        for end, left in refuse.items():
            if left > 0 and request.path.endswith(end):
                refuse[end] -= 1
                return web.Response(status=503, text="rasa failing")
        for end, left in swallow.items():
            if left > 0 and request.path.endswith(end):
                swallow[end] -= 1
                return web.json_response([])
        if request.path == "/webhooks/rest/webhook":
            heard[json.loads(body)["sender"]] += 1
            await asyncio.sleep(delay)
        async with aiohttp.ClientSession() as session, session.request(
            request.method, rasa_url + request.path_qs, data=body, headers={"Content-Type": "application/json"},
        ) as response:
            answer = await response.read()
        for end, left in blank.items():
            if left > 0 and request.path.endswith(end):
                blank[end] -= 1
                return web.json_response([])
        return web.Response(status=response.status, body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    server = TestServer(app, host="127.0.0.1", port=stack.free_port())
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}", heard
    finally:
        await server.close()


async def test_a_rasa_call_slower_than_its_timeout_is_waited_for_not_sent_again(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    async with slow_rasa(rasa_server, delay=2.0) as (rasa_url, heard):
        settings = Settings.from_env(gateway_env(
            own_redis, url, rasa_url, twilio_standin, RASA_TIMEOUT_SECONDS="0.3", RASA_GIVE_UP_SECONDS="30",
        ))
        async with webchat_on(settings) as (gateway, chat, conversation):
            await chat.ask(QUESTION)
            replies = await chat.messages_until_quiet(quiet=3)
    texts_ = [r["text"] or "" for r in replies]
    assert texts_[0] == texts.text("delay", "de")  # told after RASA_TIMEOUT_SECONDS …
    assert any("Versand" in t for t in texts_[1:])  # … and answered by the same call
    assert heard[conversation] == 1
    assert await rasa_heard(rasa_server, conversation, QUESTION) == 1


async def test_a_rasa_call_still_running_at_the_give_up_time_is_not_sent_again(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    async with slow_rasa(rasa_server, delay=6.0) as (rasa_url, heard):
        settings = Settings.from_env(gateway_env(
            own_redis, url, rasa_url, twilio_standin, RASA_TIMEOUT_SECONDS="0.5", RASA_GIVE_UP_SECONDS="2",
        ))
        async with webchat_on(settings) as (gateway, chat, conversation):
            await chat.ask(QUESTION)
            await chat.messages_until_quiet(quiet=3)
            rows = await eventually(lambda: transcript(url, conversation), lambda r: len(r) >= 2)
            await inbox_worked(gateway, conversation)  # done with the message: nothing more asks Rasa
    assert heard[conversation] == 1
    assert rows.count(("customer", QUESTION)) == 1
    assert rows[-1][0] == "bot"  # the offer of a human, after "one moment"


async def test_a_whatsapp_send_that_finally_fails_is_marked_for_the_agent_and_never_reported_as_sent(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(own_redis, url, rasa_server, twilio_standin, WHATSAPP_SEND_ATTEMPTS="2"))
    number = new_number()
    conversation = whatsapp_id(number)
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    redis = Redis.from_url(own_redis, decode_responses=True)
    try:
        async with running_gateway(settings) as gateway, aiohttp.ClientSession(headers=headers) as agent, \
                agent.ws_connect(gateway.url.replace("http", "ws") + "/agent/ws") as console:
            await console.send_json({"type": "auth", "token": AGENT_TOKEN})
            assert (await console.receive_json(timeout=10))["type"] == "hello"
            # A bot reply the provider refuses: in the transcript with the mark, in the not-sent list.
            await standin_failures(twilio_standin, number, count=1, status=400, code=21211)
            assert (await gateway.webhook(whatsapp_form(number, QUESTION)))[0] == 200
            await eventually(lambda: transcript(url, conversation), lambda r: any(s == "system" for s, _ in r))
            not_sent = [json.loads(e) for e in await redis.lrange(keys.NOT_SENT, 0, -1)]
            assert any(e["conversation_id"] == conversation and e["reason"] == "DeliveryFailed" for e in not_sent)

            # An agent's message the provider refuses: 502 with the error, the mark live and in the transcript.
            assert (await gateway.webhook(whatsapp_form(number, "Ich möchte mit einem Menschen sprechen")))[0] == 200

            async def queued() -> int:
                async with agent.post(f"{gateway.url}/api/handoff/{conversation}/claim") as response:
                    return response.status
            await eventually(queued, lambda status: status == 200)
            # The claim may win while the router still sends what the handoff led to (the queue
            # notice): the refusal is armed for the agent's message only once that went out.
            await inbox_worked(gateway, conversation)
            await standin_failures(twilio_standin, number, count=1, status=400, code=21211)
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/messages", json={"text": "Hallo, hier ist Anna."}) as response:
                assert response.status == 502
                body = await response.json()
            assert body["error"] == "delivery_failed" and "21211" in body["detail"]
            while True:
                event = await console.receive_json(timeout=20)
                if event.get("conversation_id") == conversation and event.get("not_delivered"):
                    break
                assert not (event.get("type") == "message" and event.get("sender") == "agent"), event
            rows = await transcript(url, conversation)
    finally:
        await redis.aclose()
    assert event["sender"] == "system" and "21211" in event["text"]
    at = rows.index(("agent", "Hallo, hier ist Anna."))
    assert rows[at + 1][0] == "system" and "21211" in rows[at + 1][1]
    system = [t for s, t in rows if s == "system"]
    assert len(system) == 2 and all("21211" in t for t in system)


async def claimed_by_anna(gateway_url: str, agent: aiohttp.ClientSession, conversation: str) -> None:
    async def claim() -> int:
        async with agent.post(f"{gateway_url}/api/handoff/{conversation}/claim") as response:
            return response.status
    await eventually(claim, lambda status: status == 200)


async def test_a_close_whose_hand_back_fails_is_finished_by_the_desk_once(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    refuse: Counter[str] = Counter()
    async with slow_rasa(rasa_server, delay=0, refuse=refuse) as (rasa_url, _heard):
        settings = Settings.from_env(gateway_env(own_redis, url, rasa_url, twilio_standin))
        session_id = new_session_id()
        conversation = webchat_id(session_id)
        headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
        async with running_gateway(settings) as gateway, aiohttp.ClientSession(headers=headers) as agent, \
                WebchatClient.connect(gateway.ws_url, session_id) as chat:
            await chat.next("history")
            await chat.say("Ich möchte mit einem Menschen sprechen")
            await claimed_by_anna(gateway.url, agent, conversation)
            # Rasa fails this conversation's hand back twice (the shared Redis may hold other
            # tests' unfinished closes, which this gateway's sweeper finishes too).
            hand_back = f"/conversations/{conversation}/trigger_intent"
            refuse[hand_back] = 2
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": "erledigt"}) as response:
                assert response.status == 200
                assert await response.json() == {"closed": True, "handed_back": False}
            # Nobody does anything: the desk's sweeper tries again until Rasa takes it back.
            while True:
                frame = await chat.next("message", timeout=30)
                if frame["buttons"]:
                    break
            assert [b["payload"] for b in frame["buttons"]] == [f'/give_rating{{"rating": {n}}}' for n in range(1, 6)]
            await asyncio.sleep(8)  # a second hand back would ask again by now
            with contextlib.suppress(AssertionError):
                await chat.next("none", timeout=1)  # takes in what arrived meanwhile
            ratings = [f for f in chat.frames if f.get("type") == "message" and f.get("buttons")]
            assert refuse[hand_back] == 0
            async with agent.get(f"{gateway.url}/api/conversations/{conversation}") as response:
                handoffs = (await response.json())["handoffs"]
    assert len(ratings) == 1  # asked once
    assert [(h["outcome"], h["resolution_note"]) for h in handoffs] == [("closed", "erledigt")]


async def test_a_handoff_whose_record_failed_is_finished_by_the_retry_and_queued_once(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, path = own_database
    settings = Settings.from_env(gateway_env(own_redis, url, rasa_server, twilio_standin, ROUTER_MAX_ATTEMPTS="50"))
    session_id = new_session_id()
    conversation = webchat_id(session_id)
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    async with running_gateway(settings) as gateway, aiohttp.ClientSession(headers=headers) as agent, \
            WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        with inserts_fail(path, "handoffs"):  # queued in Redis, then the handoff record fails
            await chat.say("Ich möchte mit einem Menschen sprechen", client_id="record-fails")
            await chat.next("ack")
            redis = Redis.from_url(own_redis)
            try:
                await eventually(lambda: attempts(redis, conversation, "record-fails"), lambda n: n >= 2)
            finally:
                await redis.aclose()
        queued_notice = texts.text("queued", "de", position=1, wait="").split(".")[0]
        await eventually(lambda: transcript(url, conversation), lambda rows: any(queued_notice in t for _, t in rows))
        await inbox_worked(gateway, conversation)
        rows = await transcript(url, conversation)
        async with agent.get(f"{gateway.url}/api/handoff/queue") as response:
            queue = await response.json()
        async with agent.get(f"{gateway.url}/api/conversations/{conversation}") as response:
            handoffs = (await response.json())["handoffs"]
    assert sum(queued_notice in t for _, t in rows) == 1
    assert len(handoffs) == 1 and handoffs[0]["closed_at"] is None
    assert json.dumps(queue).count(conversation) == 1


async def test_an_empty_answer_of_a_turn_that_failed_inside_rasa_is_sent_again(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    swallow: Counter[str] = Counter({"/webhooks/rest/webhook": 1})
    async with slow_rasa(rasa_server, delay=0, swallow=swallow) as (rasa_url, _heard):
        settings = Settings.from_env(gateway_env(own_redis, url, rasa_url, twilio_standin))
        async with webchat_on(settings) as (gateway, chat, conversation):
            await chat.ask(QUESTION)
            replies = await chat.messages_until_quiet(quiet=3)
    assert swallow["/webhooks/rest/webhook"] == 0
    assert any("Versand" in (r["text"] or "") for r in replies)
    assert await rasa_heard(rasa_server, conversation, QUESTION) == 1


async def test_a_turn_that_answered_nothing_asks_the_customer_to_write_again(
    own_redis: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    blank: Counter[str] = Counter({"/webhooks/rest/webhook": 1})
    async with slow_rasa(rasa_server, delay=0, blank=blank) as (rasa_url, _heard):
        settings = Settings.from_env(gateway_env(own_redis, url, rasa_url, twilio_standin))
        async with webchat_on(settings) as (gateway, chat, conversation):
            await chat.ask(QUESTION)
            replies = await chat.messages_until_quiet(quiet=3)
    assert [r["text"] for r in replies] == [texts.text("no_answer", "de")]
    assert await rasa_heard(rasa_server, conversation, QUESTION) == 1  # kept by Rasa: not sent again
