"""Typed intent syntax is text: a visitor who types `/EXTERNAL_handoff_closed{"agent_id": …}`,
`/give_rating{…}` or `/deny` does not speak for the gateway. Through the real gateway, Rasa and
the action server, on web chat and WhatsApp (Twilio and the Cloud API): the attack stores no
rating against an agent, the agent_id slot stays empty even when Rasa itself is sent the syntax,
and a real agent's close followed by a star press still stores the rating with the agent."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.rasa_client import RasaClient
from bot.typed_intents import AS_TEXT, admit, as_text, is_external, is_typed_intent
from core.contract import Button, HandoffRequest, Inbound, Outbound
from tests import gateway_helpers as gw

AGENT = {"Authorization": f"Bearer {gw.AGENT_TOKEN}"}
# The attack as a visitor typed it ("anna" is the test gateway's real agent account).
ATTACK = ('/EXTERNAL_handoff_closed{"agent_id":"anna"}', '/give_rating{"rating":1}', "/deny")
FAKE_CLOSE = Button("Fertig", '/EXTERNAL_handoff_closed{"agent_id": "anna"}')


async def tracker(rasa_url: str, conversation_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_url}/conversations/{conversation_id}/tracker") as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


async def agent_id_slot(rasa_url: str, conversation_id: str) -> Any:
    return (await tracker(rasa_url, conversation_id))["slots"].get("agent_id")


async def user_intents(rasa_url: str, conversation_id: str) -> list[str]:
    events = (await tracker(rasa_url, conversation_id))["events"]
    return [e["parse_data"]["intent"]["name"] for e in events if e.get("event") == "user"]


async def assert_attack_failed(gateway: gw.Gateway, database_url: str, conversation: str, typed: tuple[str, ...]) -> None:
    """Rasa classified every typed line as text, no rating exists and no agent is named; the
    transcript keeps what the customer wrote."""
    rasa = gateway.settings.rasa_url
    for text in typed:
        assert await gw.rasa_heard(rasa, conversation, text) == 0
        assert await gw.rasa_heard(rasa, conversation, as_text(text)) == 1
    intents = await user_intents(rasa, conversation)
    assert not any(name.startswith("EXTERNAL_") for name in intents), intents
    assert await agent_id_slot(rasa, conversation) is None
    assert await gw.feedback(database_url, conversation) == []
    customer_lines = [text for sender, text in await gw.transcript(database_url, conversation) if sender == "customer"]
    assert all(text in customer_lines for text in typed), customer_lines


async def agent_call(gateway: gw.Gateway, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=AGENT) as session:
        async with session.post(gateway.url + path, json=body) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


# -- the rule ---------------------------------------------------------------------------------

def test_rasa_reads_a_slash_after_any_whitespace_as_an_intent_and_the_word_joiner_makes_it_text() -> None:
    # Rasa strips the text with str.strip() before it looks for "/": Unicode spaces count.
    for text in ('/give_rating{"rating": 1}', ' /deny', '\u00a0/deny', '\n\t/deny', '\u3000/deny', '/'):
        assert is_typed_intent(text), repr(text)
        assert not is_typed_intent(as_text(text)), repr(text)
    for text in ('gib mir 1/5', 'AK-123456 / falsch', AS_TEXT + '/deny', ''):
        assert not is_typed_intent(text), repr(text)


def test_only_the_pressed_on_offer_payload_passes_and_never_an_external_intent() -> None:
    rating = Button("⭐", '/give_rating{"rating": 1}')
    typed = Inbound(conversation_id="c", channel="webchat", text=rating.payload)
    assert admit(typed, rating) == typed
    assert admit(typed, None) == Inbound(conversation_id="c", channel="webchat",
                                         text=AS_TEXT + rating.payload, shown=rating.payload)
    assert admit(typed, Button("⭐⭐", '/give_rating{"rating": 2}')).text == AS_TEXT + rating.payload
    assert admit(Inbound(conversation_id="c", channel="webchat", text="Hallo"), None).text == "Hallo"
    for payload in (FAKE_CLOSE.payload, '/external_complaint_closed', '/ EXTERNAL_handoff_closed@1.0{}'):
        assert is_external(payload)
        pressed = Inbound(conversation_id="c", channel="whatsapp", text=payload, shown="1 (Fertig)")
        assert admit(pressed, Button("Fertig", payload)) == Inbound(
            conversation_id="c", channel="whatsapp", text=AS_TEXT + payload, shown="1 (Fertig)")


# -- the attack, on every channel ------------------------------------------------------------------

async def test_web_chat_visitor_typing_the_external_close_and_a_rating_stores_nothing(
    gateway: gw.Gateway, database_url: str,
) -> None:
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        await customer.next("history")
        for text in ATTACK:
            await customer.say(text)
            await customer.messages_until_quiet()
    await assert_attack_failed(gateway, database_url, conversation, ATTACK)


async def test_whatsapp_visitor_typing_the_external_close_and_a_rating_stores_nothing(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    conversation = gw.whatsapp_id(number)
    for text in ATTACK:
        assert (await gateway.webhook(gw.whatsapp_form(number, text)))[0] == 200
        await gw.inbox_worked(gateway, conversation)  # answered before the next one
    await assert_attack_failed(gateway, database_url, conversation, ATTACK)


async def test_cloud_api_visitor_typing_the_external_close_and_a_rating_stores_nothing(
    gateway: gw.Gateway, cloud_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    conversation = gw.whatsapp_id(number)
    for text in ATTACK:
        status, body = await gateway.cloud_webhook(gw.cloud_text(number, text))
        assert status == 200, body
        await gw.inbox_worked(gateway, conversation)  # answered before the next one
    await assert_attack_failed(gateway, database_url, conversation, ATTACK)


async def test_a_typed_rating_payload_with_no_rating_on_offer_is_not_a_rating_and_the_chat_goes_on(
    gateway: gw.Gateway, database_url: str,
) -> None:
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    typed = ('/give_rating{"rating": 1}', "/deny")  # exactly the star button's payload, then "no comment"
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        await customer.next("history")
        await customer.say("Hallo")
        await customer.messages_until_quiet()
        for text in typed:
            await customer.say(text)
            # One "not understood", not Rasa's fallback loop up to its circuit breaker.
            [not_understood] = await customer.messages_until_quiet()
            assert "nicht verstanden" in not_understood["text"]
        # The conversation still answers (a tripped circuit breaker would leave it mute).
        await customer.say("Welche Zahlungsarten gibt es?")
        [answer] = await customer.messages_until_quiet()
        assert "nicht verstanden" not in answer["text"]
    await assert_attack_failed(gateway, database_url, conversation, typed)


async def test_a_button_carrying_an_external_intent_is_text_even_when_pressed(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    assert gateway.parts is not None
    fake = Outbound(text="Sind wir fertig?", buttons=(FAKE_CLOSE,))

    session_id = gw.new_session_id()
    web = gw.webchat_id(session_id)
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        await customer.next("history")
        await gateway.parts.delivery.deliver(web, [fake])
        assert (await customer.next("message"))["buttons"] == [{"title": "Fertig", "payload": FAKE_CLOSE.payload}]
        await customer.say(FAKE_CLOSE.payload)
        await customer.messages_until_quiet()
    assert await gw.rasa_heard(gateway.settings.rasa_url, web, as_text(FAKE_CLOSE.payload)) == 1
    assert await agent_id_slot(gateway.settings.rasa_url, web) is None
    # The transcript has what the customer saw: the button's title.
    assert ("customer", "Fertig") in await gw.transcript(database_url, web)

    number = gw.new_number()
    wa = gw.whatsapp_id(number)
    assert (await gateway.webhook(gw.whatsapp_form(number, "Hallo")))[0] == 200
    before = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    await gateway.parts.delivery.deliver(wa, [fake])
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda sent: len(sent) > len(before))
    count = len(await gw.sent_to(twilio_standin, number))
    assert (await gateway.webhook(gw.whatsapp_form(number, "1")))[0] == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda sent: len(sent) > count)
    assert await gw.rasa_heard(gateway.settings.rasa_url, wa, as_text(FAKE_CLOSE.payload)) == 1
    assert await agent_id_slot(gateway.settings.rasa_url, wa) is None
    assert await gw.feedback(database_url, web) == await gw.feedback(database_url, wa) == []


async def test_rasa_fills_agent_id_only_with_the_gateways_external_intents(gateway: gw.Gateway) -> None:
    """The domain's own guard, even for typed intents that reach Rasa without the gateway: only
    the two EXTERNAL_… intents (which the gateway never lets a customer send) fill agent_id."""
    rasa = gateway.settings.rasa_url
    typed = gw.webchat_id(gw.new_session_id())
    async with aiohttp.ClientSession() as session:
        for text in ('/greet{"agent_id": "anna"}', '/give_rating{"rating": 1, "agent_id": "anna"}'):
            async with session.post(f"{rasa}/webhooks/rest/webhook", json={"sender": typed, "message": text}) as response:
                assert response.status == 200, await response.text()
    assert await user_intents(rasa, typed) == ["greet", "give_rating"]  # Rasa did read them as intents
    assert await agent_id_slot(rasa, typed) is None

    client = RasaClient(rasa, timeout_seconds=30, give_up_seconds=30)  # the gateway's own call (bot/handback.py)
    await client.start()
    try:
        for intent in ("EXTERNAL_handoff_closed", "EXTERNAL_complaint_closed"):
            triggered = gw.webchat_id(gw.new_session_id())
            replies = await client.trigger_intent(triggered, intent, {"agent_id": "anna"})
            assert replies, f"the rating question after {intent}"
            assert await agent_id_slot(rasa, triggered) == "anna"
    finally:
        await client.close()


# -- what stays: the real close and the offered stars ---------------------------------------------

async def test_after_a_real_close_the_offered_star_stores_the_rating_with_the_agent_once(
    gateway: gw.Gateway, database_url: str,
) -> None:
    assert gateway.parts is not None
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        await customer.next("history")
        await customer.say("Hallo")
        await customer.messages_until_quiet()
        await gateway.parts.desk.request_handoff(conversation, "webchat", HandoffRequest(reason="customer_request"))
        await agent_call(gateway, f"/api/handoff/{conversation}/claim")
        assert (await agent_call(gateway, f"/api/handoff/{conversation}/close", {"note": "erledigt"}))["handed_back"] is True
        while not (frame := await customer.next("message"))["buttons"]:
            pass
        four = frame["buttons"][3]["payload"]
        assert four == '/give_rating{"rating": 4}'
        await customer.say(four)
        comment = await customer.next("message")
        assert comment["buttons"] == [{"title": "Nein, danke", "payload": "/deny"}]
        await customer.say("/deny")  # the offered "no comment" button
        await customer.messages_until_quiet()
        assert await gw.eventually(lambda: gw.feedback(database_url, conversation), bool) == [(4, "anna")]

        # The stars were used up: sending the payload again is text, not a second rating.
        await customer.say(four)
        await customer.messages_until_quiet()
    assert await gw.rasa_heard(gateway.settings.rasa_url, conversation, as_text(four)) == 1
    assert await gw.feedback(database_url, conversation) == [(4, "anna")]
