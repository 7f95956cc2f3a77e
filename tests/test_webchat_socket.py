"""The web chat websocket: hello, history, acknowledgements, refusals, and a Rasa that is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
import stack
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.typed_intents import as_text
from core.contract import Button, Outbound
from tests.gateway_helpers import (
    AGENT_TOKEN,
    Gateway,
    WebchatClient,
    eventually,
    new_session_id,
    rasa_heard,
    running_gateway,
    transcript,
    webchat_id,
)


async def test_german_question_gets_a_german_answer_and_a_reconnect_shows_the_history(
    gateway: Gateway, database_url: str,
) -> None:
    session_id = new_session_id()
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        first = await chat.next("history")
        assert first["messages"] == [] and first["max_chars"] == 4096  # the widget's input limit, from MAX_MESSAGE_CHARS
        await chat.say("Was kostet der Versand nach Österreich?", client_id="q1")
        assert (await chat.next("ack"))["client_id"] == "q1"
        await chat.next("typing")
        replies = await chat.messages_until_quiet()
    answer = " ".join(r["text"] or "" for r in replies)
    assert "Versand" in answer
    assert all(r["sender"] == "bot" for r in replies)

    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        history = (await chat.next("history"))["messages"]
    assert [(m["sender"], m["text"]) for m in history] == (
        [("customer", "Was kostet der Versand nach Österreich?")] + [("bot", r["text"]) for r in replies if r["text"]]
    )
    assert await transcript(database_url, webchat_id(session_id)) == [(m["sender"], m["text"]) for m in history]


async def test_a_resent_client_id_is_acknowledged_but_processed_once(gateway: Gateway, database_url: str) -> None:
    session_id = new_session_id()
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        await chat.say("Welche Zahlungsarten gibt es?", client_id="same")
        await chat.next("ack")
        await chat.messages_until_quiet()
        await chat.say("Welche Zahlungsarten gibt es?", client_id="same")
        assert (await chat.next("ack")) == {"type": "ack", "client_id": "same", "duplicate": True}
    rows = await transcript(database_url, webchat_id(session_id))
    assert [r for r in rows if r[0] == "customer"] == [("customer", "Welche Zahlungsarten gibt es?")]


async def test_bad_frames_get_error_frames_with_a_reason_and_the_socket_stays_usable(gateway: Gateway) -> None:
    async with WebchatClient.connect(gateway.ws_url) as chat:
        await chat.ws.send_str("this is not json")
        assert (await chat.next("error"))["reason"] == "malformed"
        await chat.ws.send_json(["a", "list"])
        assert (await chat.next("error"))["reason"] == "malformed"
        await chat.say("Hallo?")
        assert (await chat.next("error"))["reason"] == "hello_first"
        for forged in ("short", "../../etc/passwd-xxxxxxxxxx", "a" * 65, 12345678901234567):
            await chat.ws.send_json({"type": "hello", "session_id": forged})
            assert (await chat.next("error"))["reason"] == "bad_session_id", forged
        await chat.ws.send_json({"type": "subscribe", "conversation_id": "web-someone-else"})
        assert (await chat.next("error"))["reason"] == "unknown_type"

        await chat.ws.send_json({"type": "hello", "session_id": new_session_id(), "language": "de-AT"})
        await chat.next("history")
        await chat.ws.send_json({"type": "message", "text": "   "})
        assert (await chat.next("error"))["reason"] == "malformed"
        await chat.ws.send_json({"type": "message", "text": "x" * 4097, "client_id": "long"})
        error = await chat.next("error")
        assert (error["reason"], error["client_id"]) == ("too_long", "long")
        assert error["text"] == "Deine Nachricht ist zu lang (höchstens 4096 Zeichen). Bitte schick sie kürzer oder in Teilen."
        await chat.say("x" * 4096)
        await chat.next("ack")


async def test_more_than_twenty_messages_a_minute_are_refused_with_a_clear_answer(gateway: Gateway, database_url: str) -> None:
    import time

    if time.time() % 60 > 50:  # the counter's window is the clock minute
        await asyncio.sleep(61 - time.time() % 60)
    session_id = new_session_id()
    async with WebchatClient.connect(gateway.ws_url, session_id, language="en") as chat:
        await chat.next("history")
        for i in range(21):
            await chat.say(f"hello {i}", client_id=f"m{i}")
        error = await chat.next("error", timeout=60)
    assert (error["reason"], error["client_id"]) == ("rate_limited", "m20")
    assert error["text"] == "You are sending messages very quickly. Please wait a minute, then we'll continue."
    rows = await eventually(
        lambda: transcript(database_url, webchat_id(session_id)), lambda r: sum(s == "customer" for s, _ in r) == 20, timeout=90,
    )
    assert "hello 20" not in [t for _, t in rows]


async def _forward(rasa_server: str, request: web.Request) -> web.Response:
    async with aiohttp.ClientSession() as session:
        async with session.request(request.method, rasa_server + request.path_qs, data=await request.read(),
                                   headers={"Content-Type": request.content_type}) as response:
            return web.Response(body=await response.read(), status=response.status, content_type=response.content_type)


@asynccontextmanager
async def rasa_behind(port: int, rasa_server: str, first_delay: float = 0) -> AsyncIterator[None]:
    """The real Rasa, reachable on `port` only while this runs (a plain forwarding proxy);
    with `first_delay` the first message waits that long before it is passed on."""
    app = web.Application()
    calls = []

    async def forward(request: web.Request) -> web.Response:
        if request.path == "/webhooks/rest/webhook":
            calls.append(request.path)
            if len(calls) == 1:
                await asyncio.sleep(first_delay)
        return await _forward(rasa_server, request)

    app.router.add_route("*", "/{tail:.*}", forward)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield
    finally:
        await server.close()


async def test_rasa_down_says_one_moment_once_and_answers_when_it_is_back(
    gateway: Gateway, rasa_server: str, database_url: str,
) -> None:
    port = stack.free_port()
    settings = replace(gateway.settings, rasa_url=f"http://127.0.0.1:{port}", rasa_give_up_seconds=30)
    async with running_gateway(settings) as slow:
        session_id = new_session_id()
        async with WebchatClient.connect(slow.ws_url, session_id) as chat:
            await chat.next("history")
            await chat.say("Was kostet der Versand nach Österreich?")
            await chat.say("Und wie lange dauert die Lieferung?")
            notice = await chat.next("message", timeout=10)
            assert notice["text"] == "Einen Moment bitte, ich bin gleich für dich da."
            async with rasa_behind(port, rasa_server):
                replies = await chat.messages_until_quiet(quiet=3, timeout=30)
    assert notice["text"] not in [r["text"] for r in replies]
    assert "Versand" in " ".join(r["text"] or "" for r in replies)
    rows = await transcript(database_url, webchat_id(session_id))
    assert [t for s, t in rows if s == "customer"] == ["Was kostet der Versand nach Österreich?", "Und wie lange dauert die Lieferung?"]
    assert rows[-1][0] == "bot"


async def test_slow_rasa_is_asked_again_after_the_timeout_and_the_customer_hears_one_moment(
    gateway: Gateway, rasa_server: str, database_url: str,
) -> None:
    port = stack.free_port()
    settings = replace(gateway.settings, rasa_url=f"http://127.0.0.1:{port}", rasa_timeout_seconds=1, rasa_give_up_seconds=20)
    async with running_gateway(settings) as impatient, rasa_behind(port, rasa_server, first_delay=3):
        session_id = new_session_id()
        async with WebchatClient.connect(impatient.ws_url, session_id) as chat:
            await chat.next("history")
            await chat.say("Welche Zahlungsarten gibt es?")
            frames = await chat.messages_until_quiet(quiet=4, timeout=30)
    assert frames[0]["text"] == "Einen Moment bitte, ich bin gleich für dich da."
    answers = [f["text"] for f in frames[1:]]
    assert answers and "Einen Moment bitte, ich bin gleich für dich da." not in answers
    rows = await transcript(database_url, webchat_id(session_id))
    assert [t for s, t in rows if s == "customer"] == ["Welche Zahlungsarten gibt es?"]


async def test_rasa_down_for_good_offers_a_human_and_keeps_the_message_for_the_agent(
    gateway: Gateway, database_url: str,
) -> None:
    settings = replace(gateway.settings, rasa_url=f"http://127.0.0.1:{stack.free_port()}", rasa_give_up_seconds=2)
    async with running_gateway(settings) as down:
        session_id = new_session_id()
        conversation = webchat_id(session_id)
        async with WebchatClient.connect(down.ws_url, session_id) as chat:
            await chat.next("history")
            await chat.say("Ich habe eine Frage zu meiner Bestellung")
            notice = await chat.next("message", timeout=10)
            assert notice["text"] == "Einen Moment bitte, ich bin gleich für dich da."
            offer = await chat.next("message", timeout=20)  # the desk: queued, with the place in the queue
            assert offer["text"]
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {AGENT_TOKEN}"}) as agent:
                async with agent.get(f"{down.url}/api/handoff/queue") as response:
                    assert response.status == 200
                    queue = await response.text()
                assert conversation in queue
                async with agent.get(f"{down.url}/api/conversations/{conversation}") as response:
                    assert response.status == 200
                    assert "Ich habe eine Frage zu meiner Bestellung" in await response.text()
    assert ("customer", "Ich habe eine Frage zu meiner Bestellung") in await transcript(database_url, conversation)


async def test_an_agent_message_reaches_the_socket_and_the_transcript(gateway: Gateway, database_url: str) -> None:
    session_id = new_session_id()
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        await gateway.parts.delivery.deliver(
            webchat_id(session_id), [Outbound(text="Hallo, hier ist Anna.", sender="agent", agent_id="anna")],
        )
        frame = await chat.next("message")
    assert (frame["sender"], frame["text"], frame["agent_id"]) == ("agent", "Hallo, hier ist Anna.", "anna")
    assert await transcript(database_url, webchat_id(session_id)) == [("agent", "Hallo, hier ist Anna.")]


async def test_buttons_on_offer_come_back_with_the_history_until_the_customer_writes(gateway: Gateway) -> None:
    session_id = new_session_id()
    rating = Outbound(text="Wie zufrieden warst du?", buttons=(Button("⭐", '/give_rating{"rating": 1}'), Button("⭐⭐", '/give_rating{"rating": 2}')))
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        await gateway.parts.delivery.deliver(webchat_id(session_id), [rating])
        await chat.next("message")
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        history = (await chat.next("history"))["messages"]
        assert history[-1]["buttons"] == [{"title": "⭐", "payload": '/give_rating{"rating": 1}'}, {"title": "⭐⭐", "payload": '/give_rating{"rating": 2}'}]
        await chat.say("Hallo")
        await chat.next("ack")
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        history = (await chat.next("history"))["messages"]
    assert all("buttons" not in line for line in history)


async def test_a_pressed_button_reaches_the_bot_as_payload_and_the_transcript_as_title(
    gateway: Gateway, database_url: str,
) -> None:
    session_id = new_session_id()
    conversation = webchat_id(session_id)
    offer = Outbound(text="Soll ich dich verbinden?", buttons=(Button("Ja, bitte", "/affirm"), Button("Nein", "/deny")))
    async with WebchatClient.connect(gateway.ws_url, session_id) as chat:
        await chat.next("history")
        await gateway.parts.delivery.deliver(conversation, [offer])
        await chat.next("message")
        await chat.say("/deny")
        await chat.next("ack")
        await eventually(lambda: rasa_heard(gateway.settings.rasa_url, conversation, "/deny"), bool)
        # Typed text that looks like a payload, with nothing on offer, is text for the bot
        # (bot/typed_intents.py) and stays as typed in the transcript.
        await chat.say("/affirm")
        await chat.next("ack")
        await eventually(lambda: rasa_heard(gateway.settings.rasa_url, conversation, as_text("/affirm")), bool)
        assert await rasa_heard(gateway.settings.rasa_url, conversation, "/affirm") == 0
    rows = await eventually(lambda: transcript(database_url, conversation), lambda r: ("customer", "/affirm") in r)
    customer = [text for sender, text in rows if sender == "customer"]
    assert customer == ["Nein", "/affirm"]
