"""What WhatsApp customers receive: numbered buttons, split long texts, opt-out, refusals."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from bot.channels.whatsapp.rules import MAX_CHARS, numbered, split_message
from core.contract import Button, Outbound, WindowClosed
from tests import gateway_helpers as gw

RATING = Outbound(
    text="Wie zufrieden warst du mit unserem Service?",
    buttons=tuple(Button("⭐" * n, f'/give_rating{{"rating": {n}}}') for n in range(1, 6)),
)


@pytest.fixture
async def contacted(gateway: gw.Gateway, twilio_standin: str) -> tuple[str, list[str]]:
    """A new number that has written "Hallo", and what the stand-in sent it in answer."""
    number = gw.new_number()
    assert (await gateway.webhook(gw.whatsapp_form(number, "Hallo")))[0] == 200
    return number, await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)


def test_buttons_become_a_numbered_list_under_the_text() -> None:
    assert numbered(RATING) == (
        "Wie zufrieden warst du mit unserem Service?\n1) ⭐\n2) ⭐⭐\n3) ⭐⭐⭐\n4) ⭐⭐⭐⭐\n5) ⭐⭐⭐⭐⭐"
    )


def test_splitter_cuts_at_paragraphs_then_lines_then_sentences_then_words() -> None:
    sentence = "Wir liefern innerhalb von zwei bis drei Werktagen. "
    text = sentence * 70  # about 3,500 characters, one paragraph
    pieces = split_message(text)
    assert len(pieces) == 3
    assert all(len(p) <= MAX_CHARS for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text.strip()

    paragraphs = "A" * 900 + "\n\n" + "B" * 900 + "\nC" * 10
    assert split_message(paragraphs) == ["A" * 900, "B" * 900 + "\nC" * 10]

    words = " ".join(["Wort"] * 500)  # no sentence end anywhere
    assert all(len(p) <= MAX_CHARS and not p.startswith(" ") for p in split_message(words))
    assert " ".join(split_message(words)) == words

    assert split_message("x" * 3300) == ["x" * 1600, "x" * 1600, "x" * 100]
    assert split_message("kurz") == ["kurz"]


async def test_buttons_go_out_numbered_and_a_digit_or_title_answers_with_the_payload(
    contacted: tuple[str, list[str]], gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number, before = contacted
    conversation = gw.whatsapp_id(number)

    await gateway.parts.delivery.deliver(conversation, [RATING])
    sent = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda s: len(s) > len(before))
    assert sent[-1] == numbered(RATING)

    assert (await gateway.webhook(gw.whatsapp_form(number, "2")))[0] == 200
    # The bot gets the payload; the transcript, which agents read, the choice as the customer saw it.
    await gw.eventually(lambda: gw.rasa_heard(gateway.settings.rasa_url, conversation, '/give_rating{"rating": 2}'), bool)
    rows = await gw.eventually(lambda: gw.transcript(database_url, conversation), lambda r: ("customer", "2 (⭐⭐)") in r)
    assert not any(text.startswith("/") for _, text in rows)

    # A title works too, and a digit means nothing once no buttons are on offer.
    await gateway.parts.delivery.deliver(conversation, [RATING])
    assert (await gateway.webhook(gw.whatsapp_form(number, "⭐⭐⭐⭐")))[0] == 200
    await gw.eventually(lambda: gw.rasa_heard(gateway.settings.rasa_url, conversation, '/give_rating{"rating": 4}'), bool)
    await gw.eventually(lambda: gw.transcript(database_url, conversation), lambda r: ("customer", "⭐⭐⭐⭐") in r)


async def test_a_long_reply_arrives_in_pieces_of_at_most_1600_characters(
    contacted: tuple[str, list[str]], gateway: gw.Gateway, twilio_standin: str,
) -> None:
    number, before = contacted
    long_text = "\n".join(f"Punkt {i}: Rücksendungen sind innerhalb von 30 Tagen kostenlos möglich." for i in range(60))
    await gateway.parts.delivery.deliver(gw.whatsapp_id(number), [Outbound(text=long_text)])
    sent = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda s: len(s) >= len(before) + 3)
    pieces = sent[len(before):]
    assert len(pieces) == 3
    assert all(len(p) <= MAX_CHARS for p in pieces)
    assert "\n".join(pieces) == long_text
    assert all(re.fullmatch(r"(Punkt \d+: .*\.\n?)+", p) for p in pieces)


async def test_stop_means_no_more_messages_until_the_customer_writes_again(
    contacted: tuple[str, list[str]], gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number, _ = contacted
    conversation = gw.whatsapp_id(number)
    assert (await gateway.webhook(gw.whatsapp_form(number, "STOP")))[0] == 200
    count = len(await gw.sent_to(twilio_standin, number))

    # deliver() returns once the channel sent or declined it.
    await gateway.parts.delivery.deliver(conversation, [Outbound(text="Neu im Shop: Zirbenhonig!", sender="agent", agent_id="anna")])
    assert len(await gw.sent_to(twilio_standin, number)) == count
    rows = await gw.transcript(database_url, conversation)
    assert ("customer", "STOP") in rows and rows.count(("customer", "STOP")) == 1

    assert (await gateway.webhook(gw.whatsapp_form(number, "Abmelden")))[0] == 200
    assert (await gateway.webhook(gw.whatsapp_form(number, "Was kostet der Versand?")))[0] == 200
    sent = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda s: len(s) > count)
    assert "Zirbenhonig" not in " ".join(sent)


async def test_too_long_message_gets_a_clear_answer_and_is_not_processed(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    assert (await gateway.webhook(gw.whatsapp_form(number, "a" * 4097)))[0] == 200
    sent = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), bool)
    assert sent == ["Deine Nachricht ist zu lang (höchstens 4096 Zeichen). Bitte schick sie kürzer oder in Teilen."]
    assert [r for r in await gw.transcript(database_url, gw.whatsapp_id(number)) if r[0] == "customer"] == []


async def test_more_than_twenty_messages_a_minute_get_one_clear_answer(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    if time.time() % 60 > 50:  # the counter's window is the clock minute: start the burst inside one
        await asyncio.sleep(61 - time.time() % 60)
    for i in range(23):
        assert (await gateway.webhook(gw.whatsapp_form(number, f"Hallo {i}")))[0] == 200
    notice = "Du schreibst gerade sehr schnell. Bitte warte eine Minute, dann geht es weiter."
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda s: notice in s)
    rows = await gw.eventually(
        lambda: gw.transcript(database_url, gw.whatsapp_id(number)),
        lambda r: sum(s == "customer" for s, _ in r) >= 20, timeout=90,
    )
    await gw.inbox_worked(gateway, gw.whatsapp_id(number), timeout=90)
    rows = await gw.transcript(database_url, gw.whatsapp_id(number))
    assert [t for s, t in rows if s == "customer"] == [f"Hallo {i}" for i in range(20)]
    assert (await gw.sent_to(twilio_standin, number)).count(notice) == 1


async def test_outside_the_24_hour_window_only_the_approved_template_goes_out(
    contacted: tuple[str, list[str]], gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number, before = contacted
    conversation = gw.whatsapp_id(number)
    await gw.last_wrote_hours_ago(database_url, conversation, 25)
    window = await gateway.parts.delivery.reply_window(conversation)
    assert not window.open and window.until is not None and time.time() - 3700 < window.until < time.time() - 3500
    with pytest.raises(WindowClosed, match="24 hours"):
        await gateway.parts.delivery.deliver(conversation, [Outbound(text="Noch da?", sender="agent", agent_id="anna")])
    assert ("agent", "Noch da?") not in await gw.transcript(database_url, conversation)

    template_sid = "HX" + "1" * 32
    async with gw.running_gateway(gw.with_env(gateway.settings, WHATSAPP_TEMPLATE_SID=template_sid)) as templated:
        assert templated.parts is not None
        await templated.parts.delivery.deliver(
            conversation, [Outbound(text="Ihre Rückerstattung ist unterwegs.", sender="agent", agent_id="anna")],
        )
    sent = await gw.eventually(lambda: gw.messages_to(twilio_standin, number), lambda m: len(m) > len(before))
    assert (sent[-1]["content_sid"], sent[-1]["body"]) == (template_sid, "")

    # The customer writes again: free text is allowed again.
    assert (await gateway.webhook(gw.whatsapp_form(number, "Danke!")))[0] == 200
    assert (await gateway.parts.delivery.reply_window(conversation)).open
