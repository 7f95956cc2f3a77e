"""WhatsApp through Meta's Cloud API: Meta's handshake and signatures, the same customer as over
Twilio, choices as taps, the reply window, and the whole way to an agent and a rating.
Replies go to the Graph API stand-in, the way the product's client would reach Meta."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp
import pytest

from core.contract import Button, Outbound, WindowClosed
from tests import gateway_helpers as gw

AGENT = {"Authorization": f"Bearer {gw.AGENT_TOKEN}"}
RATING = Outbound(
    text="Wie zufrieden warst du mit unserem Service?",
    buttons=tuple(Button("⭐" * n, f'/give_rating{{"rating": {n}}}') for n in range(1, 6)),
)


async def _say(gateway: gw.Gateway, payload: dict[str, Any]) -> None:
    status, text = await gateway.cloud_webhook(payload)
    assert status == 200, text


async def _verify(gateway: gw.Gateway, **params: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/webhooks/whatsapp/cloud", params=params) as response:
            return response.status, await response.text()


async def test_meta_verification_handshake_answers_the_challenge_only_for_the_verify_token(gateway: gw.Gateway) -> None:
    assert await _verify(gateway, **{"hub.mode": "subscribe", "hub.verify_token": gw.CLOUD_VERIFY_TOKEN,
                                     "hub.challenge": "1158201444"}) == (200, "1158201444")
    assert (await _verify(gateway, **{"hub.mode": "subscribe", "hub.verify_token": "guess",
                                      "hub.challenge": "1"}))[0] == 403
    assert (await _verify(gateway, **{"hub.mode": "unsubscribe", "hub.verify_token": gw.CLOUD_VERIFY_TOKEN,
                                      "hub.challenge": "1"}))[0] == 403


async def test_a_forged_or_missing_signature_is_refused_and_nothing_is_processed(
    gateway: gw.Gateway, database_url: str,
) -> None:
    number = gw.new_number()
    payload = gw.cloud_text(number, "Was kostet der Versand?")
    assert (await gateway.cloud_webhook(payload, signature=None))[0] == 403
    assert (await gateway.cloud_webhook(payload, signature="sha256=" + "0" * 64))[0] == 403
    # Signed with another secret: the body's HMAC does not match ours.
    tampered = json.loads(json.dumps(payload))
    tampered["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "/EXTERNAL_handoff_closed"
    status, _ = await gateway.cloud_webhook(tampered, signature="sha256=" + "a" * 64)
    assert status == 403
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    assert await gw.transcript(database_url, gw.whatsapp_id(number)) == []


async def test_a_question_is_answered_through_the_graph_api_with_the_bearer_token(
    gateway: gw.Gateway, cloud_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    await _say(gateway, gw.cloud_text(number, "Was kostet der Versand nach Österreich?"))
    sent = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), bool)
    assert sent[0]["messaging_product"] == "whatsapp" and sent[0]["type"] == "text"
    assert "€" in sent[0]["text"]["body"]
    rows = await gw.transcript(database_url, gw.whatsapp_id(number))
    assert rows[0] == ("customer", "Was kostet der Versand nach Österreich?")


async def test_the_same_message_id_twice_is_processed_once(
    gateway: gw.Gateway, cloud_standin: str, rasa_server: str,
) -> None:
    number = gw.new_number()
    payload = gw.cloud_text(number, "Welche Zahlungsarten gibt es?", message_id="wamid.same-" + number[-8:])
    await _say(gateway, payload)
    await _say(gateway, payload)
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    assert await gw.cloud_sent_to(cloud_standin, number)
    assert await gw.rasa_heard(rasa_server, gw.whatsapp_id(number), "Welche Zahlungsarten gibt es?") == 1


async def test_choices_are_taps_and_only_a_choice_on_offer_counts_as_its_payload(
    gateway: gw.Gateway, cloud_standin: str, rasa_server: str, database_url: str,
) -> None:
    number = gw.new_number()
    conversation = gw.whatsapp_id(number)
    await _say(gateway, gw.cloud_text(number, "Hallo"))
    before = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), bool)
    assert gateway.parts is not None
    await gateway.parts.delivery.deliver(conversation, [RATING])
    sent = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), lambda s: len(s) > len(before))
    rating = sent[-1]
    assert rating["type"] == "interactive" and rating["interactive"]["type"] == "list"
    rows = rating["interactive"]["action"]["sections"][0]["rows"]
    assert [r["title"] for r in rows] == ["⭐" * n for n in range(1, 6)]
    assert rating["interactive"]["body"]["text"] == RATING.text

    # A forged tap (a payload never offered) is only the text it shows.
    await _say(gateway, gw.cloud_message(number, type="interactive", interactive={
        "type": "list_reply", "list_reply": {"id": '/EXTERNAL_handoff_closed{"agent_id": "anna"}', "title": "⭐"}}))
    await gw.eventually(lambda: gw.transcript(database_url, conversation), lambda r: ("customer", "⭐") in r)
    assert await gw.rasa_heard(rasa_server, conversation, '/EXTERNAL_handoff_closed{"agent_id": "anna"}') == 0

    await gateway.parts.delivery.deliver(conversation, [RATING])
    await _say(gateway, gw.cloud_message(number, type="interactive", interactive={
        "type": "list_reply", "list_reply": {"id": rows[3]["id"], "title": rows[3]["title"]}}))
    await gw.eventually(lambda: gw.rasa_heard(rasa_server, conversation, '/give_rating{"rating": 4}'), lambda n: n == 1)
    assert ("customer", "⭐⭐⭐⭐") in await gw.transcript(database_url, conversation)

    # Up to three short choices are reply buttons.
    yes_no = Outbound(text="Hat das geholfen?", buttons=(Button("Ja", "/affirm"), Button("Nein", "/deny")))
    count = len(await gw.cloud_sent_to(cloud_standin, number))
    await gateway.parts.delivery.deliver(conversation, [yes_no])
    sent = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), lambda s: len(s) > count)
    assert sent[-1]["interactive"]["type"] == "button"
    assert [b["reply"] for b in sent[-1]["interactive"]["action"]["buttons"]] == [
        {"id": "/affirm", "title": "Ja"}, {"id": "/deny", "title": "Nein"}]


async def test_a_photo_arrives_with_its_media_id(gateway: gw.Gateway, database_url: str) -> None:
    number = gw.new_number()
    await _say(gateway, gw.cloud_message(number, type="image", image={
        "id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "x", "caption": "So kam es an"}))
    rows = await gw.eventually(lambda: gw.transcript(database_url, gw.whatsapp_id(number)), bool)
    assert rows[0] == ("customer", "So kam es an\n[image/jpeg] whatsapp-media:1479537139650973")


async def test_the_24_hour_window_holds_for_the_cloud_api_too(
    gateway: gw.Gateway, cloud_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    conversation = gw.whatsapp_id(number)
    await _say(gateway, gw.cloud_text(number, "Hallo"))
    before = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), bool)
    await gw.last_wrote_hours_ago(database_url, conversation, 30)
    assert gateway.parts is not None
    with pytest.raises(WindowClosed, match="24 hours"):
        await gateway.parts.delivery.deliver(conversation, [Outbound(text="Noch da?", sender="agent", agent_id="anna")])

    async with gw.running_gateway(gw.with_env(gateway.settings, WHATSAPP_CLOUD_TEMPLATE="shopdesk_update")) as templated:
        assert templated.parts is not None
        await templated.parts.delivery.deliver(conversation, [Outbound(text="Dein Paket ist da.", sender="agent", agent_id="anna")])
    sent = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), lambda s: len(s) > len(before))
    template = sent[-1]["template"]
    assert sent[-1]["type"] == "template" and template["name"] == "shopdesk_update"
    assert template["components"][0]["parameters"] == [{"type": "text", "text": "Dein Paket ist da."}]


async def test_one_number_is_one_customer_whichever_provider_carries_it(
    gateway: gw.Gateway, twilio_standin: str, cloud_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    assert (await gateway.webhook(gw.whatsapp_form(number, "Hallo")))[0] == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    await _say(gateway, gw.cloud_text(number, "Wie lange dauert der Versand?"))
    await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), bool)
    customer = [t for s, t in await gw.transcript(database_url, gw.whatsapp_id(number)) if s == "customer"]
    assert customer == ["Hallo", "Wie lange dauert der Versand?"]  # one conversation, one history
    # Replies follow the provider the customer last wrote through.
    twilio_count = len(await gw.sent_to(twilio_standin, number))
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    assert len(await gw.sent_to(twilio_standin, number)) == twilio_count


async def agent_event(ws: aiohttp.ClientWebSocketResponse, kind: str, conversation_id: str, timeout: float = 30) -> dict[str, Any]:
    while True:
        event = json.loads((await ws.receive(timeout=timeout)).data)
        if event.get("type") == kind and conversation_id in (
            event.get("conversation_id"), (event.get("entry") or {}).get("conversation_id")):
            return event


async def test_cloud_complaint_goes_to_an_agent_and_the_tapped_rating_carries_the_agent(
    gateway: gw.Gateway, cloud_standin: str, database_url: str,
) -> None:
    number = gw.new_number("+44")
    conversation = gw.whatsapp_id(number)

    async def said(count: int) -> list[dict[str, Any]]:
        return await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), lambda s: len(s) >= count)

    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.ws_connect(gateway.url.replace("http", "ws") + "/agent/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await _say(gateway, gw.cloud_text(number, "I have a complaint about my invoice"))
            await said(1)
            await _say(gateway, gw.cloud_text(number, "AK-123456"))
            await said(2)
            await _say(gateway, gw.cloud_text(number, "You charged me twice for the same order"))
            entry = (await agent_event(ws, "added", conversation))["entry"]
            assert (entry["reason"], entry["priority"], entry["channel"]) == ("billing_complaint", 2, "whatsapp")

            await gw.agent_claims_and_says(agent, gateway.url, conversation, "Hello, this is Anna. I'll refund the double charge.")
            await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number),
                                lambda s: "Hello, this is Anna. I'll refund the double charge." in gw.cloud_texts(s))

            before = len(await gw.cloud_sent_to(cloud_standin, number))
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": "Refund issued"}) as response:
                assert (await response.json())["handed_back"] is True
            sent = await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number),
                                       lambda s: any(m["type"] == "interactive" for m in s[before:]))
            rating = next(m for m in sent[before:] if m["type"] == "interactive")
            four = rating["interactive"]["action"]["sections"][0]["rows"][3]
            count = len(sent)
            await _say(gateway, gw.cloud_message(number, type="interactive", interactive={
                "type": "list_reply", "list_reply": {"id": four["id"], "title": four["title"]}}))
            await gw.eventually(lambda: gw.cloud_sent_to(cloud_standin, number), lambda s: len(s) > count)
            await _say(gateway, gw.cloud_text(number, "Quick and friendly, thanks"))
            rows = await gw.eventually(lambda: gw.feedback(database_url, conversation), bool)
    assert rows == [(4, "anna")]


async def test_the_signature_is_metas_hmac_of_the_raw_body_and_no_secret_means_no_webhook(gateway: gw.Gateway) -> None:
    number = gw.new_number()
    body = json.dumps(gw.cloud_text(number, "Hallo")).encode()
    signature = "sha256=" + hmac.new(gw.CLOUD_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.url}/webhooks/whatsapp/cloud", data=body,
                                headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"}) as response:
            assert response.status == 200
    async with gw.running_gateway(gw.with_env(gateway.settings, WHATSAPP_CLOUD_APP_SECRET="")) as unconfigured:
        status, text = await unconfigured.cloud_webhook(gw.cloud_text(number, "Hallo"), signature=signature)
    assert status == 503 and "WHATSAPP_CLOUD_APP_SECRET" in text
