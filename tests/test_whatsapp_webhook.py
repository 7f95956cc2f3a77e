"""The WhatsApp webhook against a real Rasa, a real Redis and the Twilio stand-in process."""

from __future__ import annotations

import asyncio

import aiohttp

from tests import gateway_helpers as gw

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def test_signed_message_gets_empty_twiml_at_once_and_a_german_reply_through_twilio(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number("+43")
    status, body = await gateway.webhook(gw.whatsapp_form(number, "Was kostet der Versand nach Österreich?"))
    assert (status, body) == (200, EMPTY_TWIML)
    replies = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    assert "versand" in " ".join(replies).lower()
    rows = await gw.transcript(database_url, gw.whatsapp_id(number))
    assert rows[0] == ("customer", "Was kostet der Versand nach Österreich?")
    assert ("bot", replies[0]) in rows


async def test_forged_or_missing_signature_is_refused_and_nothing_is_processed(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    form = gw.whatsapp_form(number, "Hallo")
    forged = gateway.signature({**form, "Body": "something else"})
    assert (await gateway.webhook(form, signature=forged))[0] == 403
    assert (await gateway.webhook(form, signature=None))[0] == 403
    assert (await gateway.webhook(form, signature="not-base64-at-all"))[0] == 403
    # Signed for another address than PUBLIC_URL + path is forged too.
    other = gateway.signature(form, path="/webhooks/twilio/other")
    assert (await gateway.webhook(form, signature=other))[0] == 403
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    assert await gw.transcript(database_url, gw.whatsapp_id(number)) == []
    assert await gw.sent_to(twilio_standin, number) == []
    # The same form properly signed is taken (the refusals did not mark its MessageSid as seen).
    assert (await gateway.webhook(form))[0] == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)


async def test_same_message_sid_twice_is_processed_once(gateway: gw.Gateway, twilio_standin: str, database_url: str) -> None:
    number = gw.new_number()
    form = gw.whatsapp_form(number, "Welche Zahlungsarten gibt es?")
    first, again = await asyncio.gather(gateway.webhook(form), gateway.webhook(form))
    assert first == again == (200, EMPTY_TWIML)
    assert (await gateway.webhook(form)) == (200, EMPTY_TWIML)
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    replies = await gw.sent_to(twilio_standin, number)
    assert replies
    rows = await gw.transcript(database_url, gw.whatsapp_id(number))
    assert [row for row in rows if row[0] == "customer"] == [("customer", "Welche Zahlungsarten gibt es?")]
    assert await gw.sent_to(twilio_standin, number) == replies


QUESTIONS = [
    "Was kostet der Versand?",
    "Wie lange dauert die Lieferung?",
    "Kann ich etwas zurückschicken?",
    "Welche Zahlungsarten gibt es?",
    "Wann habt ihr geöffnet?",
    "Wie kann ich euch erreichen?",
    "Was kostet der Versand nach Österreich?",
    "Kann ich mit PayPal zahlen?",
    "Wie lange habe ich für eine Rücksendung Zeit?",
    "Liefert ihr in die Schweiz?",
]


async def test_burst_of_ten_messages_is_answered_in_order(gateway: gw.Gateway, twilio_standin: str, database_url: str) -> None:
    number = gw.new_number()
    for question in QUESTIONS:  # Twilio posts one after another, without waiting for our replies
        assert (await gateway.webhook(gw.whatsapp_form(number, question)))[0] == 200

    conversation = gw.whatsapp_id(number)

    async def answered() -> list[tuple[str, str]]:
        return await gw.transcript(database_url, conversation)

    def all_answered(rows: list[tuple[str, str]]) -> bool:
        return len(rows) >= 2 and rows[-1][0] == "bot" and sum(r[0] == "customer" for r in rows) == len(QUESTIONS)

    await gw.eventually(answered, all_answered, timeout=90)
    await gw.inbox_worked(gateway, gw.whatsapp_id(number), timeout=90)
    rows = await answered()
    assert [text for sender, text in rows if sender == "customer"] == QUESTIONS
    # Each question is answered before the next one is taken.
    for i, (sender, _) in enumerate(rows):
        if sender == "customer" and i > 0:
            assert rows[i - 1][0] == "bot", f"question {i} was taken before the previous one was answered: {rows}"
    # The stand-in got the bot's lines in the transcript's order (offered buttons numbered below).
    bot_lines = [text for sender, text in rows if sender == "bot"]
    sent = await gw.sent_to(twilio_standin, number)
    assert len(sent) == len(bot_lines)
    assert all(body.startswith(line) for body, line in zip(sent, bot_lines, strict=True)), (sent, bot_lines)


async def test_malformed_forms_get_400_with_the_reason(gateway: gw.Gateway) -> None:
    number = gw.new_number()
    cases = {
        "From": {k: v for k, v in gw.whatsapp_form(number, "Hallo").items() if k != "From"},
        "MessageSid": {k: v for k, v in gw.whatsapp_form(number, "Hallo").items() if k != "MessageSid"},
        "NumMedia": gw.whatsapp_form(number, "Hallo", NumMedia="drei"),
        "MediaUrl0": gw.whatsapp_form(number, "", NumMedia="1"),
        "neither Body nor media": gw.whatsapp_form(number, "   "),
    }
    for reason, form in cases.items():
        status, text = await gateway.webhook(form)
        assert status == 400, (reason, status, text)
        assert reason in text


async def test_media_and_country_language_reach_rasa_as_metadata(
    gateway: gw.Gateway, twilio_standin: str, database_url: str, rasa_server: str,
) -> None:
    number = gw.new_number("+41")
    form = gw.whatsapp_form(
        number, "Das Paket kam so an", NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert (await gateway.webhook(form))[0] == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    conversation = gw.whatsapp_id(number)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_server}/conversations/{conversation}/tracker") as response:
            tracker = await response.json()
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    metadata = user_events[0]["metadata"]
    assert metadata["channel"] == "whatsapp"
    assert metadata["language"] == "de"
    assert metadata["media"] == [{"url": form["MediaUrl0"], "content_type": "image/jpeg"}]
    assert number.removeprefix("whatsapp:") not in conversation
    rows = await gw.transcript(database_url, conversation)
    assert rows[0][1].startswith("Das Paket kam so an") and form["MediaUrl0"] in rows[0][1]


async def test_numbers_outside_german_speaking_countries_send_no_language(
    gateway: gw.Gateway, twilio_standin: str, rasa_server: str,
) -> None:
    number = gw.new_number("+1")
    assert (await gateway.webhook(gw.whatsapp_form(number, "Hello, what does shipping cost?")))[0] == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_server}/conversations/{gw.whatsapp_id(number)}/tracker") as response:
            tracker = await response.json()
    assert [e for e in tracker["events"] if e["event"] == "user"][0]["metadata"]["language"] is None
