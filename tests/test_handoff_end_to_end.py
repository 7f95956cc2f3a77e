"""The desk through the whole gateway, Rasa and the action server: a customer asks for a person
(or files a complaint that needs one), waits in the queue, talks to an agent, and rates the help.
WhatsApp goes through the Twilio stand-in; web chat through the widget's websocket."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from sqlalchemy import select

from db.engine import create_engine, session_factory
from db.models import Complaint
from tests import gateway_helpers as gw

AGENT = {"Authorization": f"Bearer {gw.AGENT_TOKEN}"}


async def agent_event(
    ws: aiohttp.ClientWebSocketResponse, kind: str, conversation_id: str, sender: str | None = None, timeout: float = 30,
) -> dict[str, Any]:
    while True:
        event = json.loads((await ws.receive(timeout=timeout)).data)
        if event.get("type") != kind or sender not in (None, event.get("sender")):
            continue
        if conversation_id in (event.get("conversation_id"), (event.get("entry") or {}).get("conversation_id")):
            return event


async def say_on_whatsapp(gateway: gw.Gateway, number: str, text: str) -> None:
    status, _ = await gateway.webhook(gw.whatsapp_form(number, text))
    assert status == 200


async def test_whatsapp_complaint_goes_to_an_agent_and_the_rating_carries_the_agent(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number("+44")
    conversation = gw.whatsapp_id(number)
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.ws_connect(gateway.url.replace("http", "ws") + "/agent/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await say_on_whatsapp(gateway, number, "I have a complaint about my invoice")
            await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: len(bodies) >= 1)
            await say_on_whatsapp(gateway, number, "AK-123456")
            await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: len(bodies) >= 2)
            await say_on_whatsapp(gateway, number, "You charged me twice for the same order")

            added = await agent_event(ws, "added", conversation)
            entry = added["entry"]
            assert (entry["reason"], entry["priority"], entry["channel"], entry["language"]) == ("billing_complaint", 2, "whatsapp", "en")
            bodies = await gw.eventually(lambda: gw.sent_to(twilio_standin, number),
                                         lambda bodies: any(re.search(r"number \d+", b) for b in bodies))
            assert any("in the queue" in b for b in bodies)

            async with agent.get(f"{gateway.url}/api/conversations/{conversation}") as response:
                view = await response.json()
            engine = create_engine(database_url)
            async with session_factory(engine)() as session:
                complaint = (await session.scalars(select(Complaint).where(Complaint.conversation_id == conversation))).one()
            await engine.dispose()
            assert view["complaint"]["reference"] == complaint.reference == entry["complaint_reference"]
            assert "You charged me twice for the same order" in [m["text"] for m in view["transcript"]]
            assert 0 < view["reply_window_seconds_left"] <= 24 * 3600

            await gw.agent_claims_and_says(agent, gateway.url, conversation, "Hello, this is Anna. I'll refund the double charge.")
            await gw.eventually(lambda: gw.sent_to(twilio_standin, number),
                                lambda bodies: "Hello, this is Anna. I'll refund the double charge." in bodies)

            await say_on_whatsapp(gateway, number, "Thank you, how long will it take?")
            message = await agent_event(ws, "message", conversation, sender="customer")
            assert (message["sender"], message["text"]) == ("customer", "Thank you, how long will it take?")

            before = len(await gw.sent_to(twilio_standin, number))
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": "Refund issued"}) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["handed_back"] is True
            await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: len(bodies) > before)
            before = len(await gw.sent_to(twilio_standin, number))
            await say_on_whatsapp(gateway, number, "4")
            # The assistant offers an optional comment; the rating is stored when that step is done.
            await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: len(bodies) > before)
            await say_on_whatsapp(gateway, number, "Quick and friendly, thanks")
            rows = await gw.eventually(lambda: gw.feedback(database_url, conversation), lambda rows: bool(rows))
    assert rows == [(4, "anna")]
    lines = await gw.transcript(database_url, conversation)
    assert ("agent", "Hello, this is Anna. I'll refund the double charge.") in lines


async def test_web_chat_customer_talks_to_an_agent_and_rates_with_stars(gateway: gw.Gateway, database_url: str) -> None:
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    async with aiohttp.ClientSession(headers=AGENT) as agent, gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        await customer.next("history")
        async with agent.ws_connect(gateway.url.replace("http", "ws") + "/agent/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await customer.say("Ich möchte mit einem Mitarbeiter sprechen")
            await agent_event(ws, "added", conversation)
            while not re.search(r"Nummer \d+", (frame := await customer.next("message"))["text"] or ""):
                pass
            assert "Warteschlange" in frame["text"]

            await customer.say("Es geht um eine falsche Lieferung.")
            kept = await agent_event(ws, "message", conversation, sender="customer")
            assert kept["text"] == "Es geht um eine falsche Lieferung."

            await gw.agent_claims_and_says(agent, gateway.url, conversation, "Hallo, hier ist Anna. Was wurde geliefert?")
            while (frame := await customer.next("message"))["sender"] != "agent":
                pass
            assert (frame["text"], frame["agent_id"]) == ("Hallo, hier ist Anna. Was wurde geliefert?", "anna")

            await customer.say("Ein blauer statt ein roter Pulli.")
            reply = await agent_event(ws, "message", conversation, sender="customer")
            assert (reply["sender"], reply["text"]) == ("customer", "Ein blauer statt ein roter Pulli.")

            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": "Umtausch"}) as response:
                assert response.status == 200, await response.text()
            while not (frame := await customer.next("message"))["buttons"]:
                pass
            four = frame["buttons"][3]["payload"]
            assert four == '/give_rating{"rating": 4}'
            await customer.say(four)
            await customer.next("message")  # the optional comment question
            await customer.say("Sehr nett, danke")
            rows = await gw.eventually(lambda: gw.feedback(database_url, conversation), lambda rows: bool(rows))
    assert rows == [(4, "anna")]
