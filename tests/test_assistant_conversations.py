"""Conversations with the real assistant: a Rasa server on the trained model, the action server, the database.

Every test talks through the REST channel like the gateway does (docs/seams.md) and uses its own
sender id, so all tests share one Rasa server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from db.models import Complaint, Feedback
from tests.assistant_support import handoff_of, is_rating_question, text_of

ROOT = Path(__file__).resolve().parent.parent


# --- FAQ and language ---------------------------------------------------------------------------

async def test_german_shipping_question_gets_the_swiss_costs(chat) -> None:
    replies = await chat("de").say("Was kostet der Versand in die Schweiz?")
    assert "12,90 CHF" in text_of(replies) and "120,00 CHF" in text_of(replies)


async def test_english_return_question_gets_the_return_window(chat) -> None:
    replies = await chat("en").say("How do I return an item?")
    assert "within 30 days" in text_of(replies)


@pytest.mark.parametrize("language, question, facts", [
    ("de", "Kann ich mit PayPal zahlen?", ["PayPal", "Klarna"]),
    ("en", "What payment methods do you accept?", ["PayPal", "TWINT"]),
    ("de", "Wann ist euer Kundenservice erreichbar?", ["Montag bis Freitag 08:00–18:00 Uhr"]),
    ("en", "What are your opening hours?", ["Monday to Friday 08:00–18:00"]),
    ("de", "Wie kann ich euch erreichen?", ["service@alpenkiste.example"]),
    ("en", "Do you have a phone number?", ["+49 89 1234 5678"]),
    ("en", "How much is shipping to Austria?", ["€6.90", "€69.00"]),
])
async def test_faq_answers_carry_the_facts_of_shop_yml(chat, language: str, question: str, facts: list[str]) -> None:
    text = text_of(await chat(language).say(question))
    for fact in facts:
        assert fact in text


async def test_the_first_message_corrects_a_wrong_channel_language(chat) -> None:
    replies = await chat("de").say("Where is my order?")
    assert "What's your order number" in text_of(replies)
    replies = await chat("en").say("Wo ist meine Bestellung?")
    assert "Wie lautet deine Bestellnummer" in text_of(replies)


async def test_a_german_customer_without_channel_language_gets_german(chat) -> None:
    conversation = chat(None, "whatsapp")
    assert "Hallo!" in text_of(await conversation.say("Hi"))
    assert "Werktage" in text_of(await conversation.say("wie lange dauert die lieferung nach österreich"))


@pytest.mark.parametrize("language, question, expected", [
    ("de", "Bist du ein Bot?", "ich bin ein Bot"),
    ("en", "Am I talking to a robot?", "I'm a bot"),
])
async def test_the_bot_admits_being_a_bot_and_offers_a_person(chat, language: str, question: str, expected: str) -> None:
    assert expected in text_of(await chat(language).say(question))


# --- order status ------------------------------------------------------------------------------

async def test_order_status_with_the_number_in_the_question(chat) -> None:
    text = text_of(await chat("de").say("Wo ist meine Bestellung AK-123456?"))
    assert "unterwegs mit DHL" in text and "https://www.dhl.de/" in text


async def test_order_status_asks_for_the_number_and_accepts_sloppy_typing(chat) -> None:
    conversation = chat("en")
    assert "order number" in text_of(await conversation.say("Where is my order?"))
    assert "doesn't look like an order number" in text_of(await conversation.say("12345"))
    assert "is being packed" in text_of(await conversation.say("ak 100001"))


async def test_unknown_order_number_is_answered_and_a_person_offered(chat) -> None:
    conversation = chat("de")
    replies = await conversation.say("Status meiner Bestellung AK-999999")
    assert "keine Bestellung" in text_of(replies)
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny"]
    handoff = handoff_of(await conversation.say("ja"))
    assert (handoff["reason"], handoff["order_number"]) == ("order_not_found", "AK-999999")


# --- complaints --------------------------------------------------------------------------------

async def test_complaint_is_filed_with_apology_reference_and_row(chat, sessions) -> None:
    conversation = chat("de", "whatsapp")
    first = text_of(await conversation.say("Mein Paket kam beschädigt an"))
    assert "tut mir leid" in first and "Bestellnummer" in first
    # What the first message said is not asked again: on WhatsApp a photo is next.
    assert "Foto" in text_of(await conversation.say("AK-123456"))
    replies = await conversation.say("hier das Foto", media=[{"url": "https://media.example/krug.jpg", "content_type": "image/jpeg"}])
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.conversation_id == conversation.sender))).scalar_one()
    assert row.reference in text_of(replies) and "24 Stunden" in text_of(replies)
    assert "Bestellung AK-123456, beschädigt: „Mein Paket kam beschädigt an“" in text_of(replies)
    assert (row.category, row.order_number, row.channel) == ("damaged", "AK-123456", "whatsapp")
    assert row.description == "Mein Paket kam beschädigt an"
    assert row.media_url == "https://media.example/krug.jpg"


async def test_a_complaint_without_the_facts_asks_for_each_and_repeats_what_it_understood(chat, sessions) -> None:
    conversation = chat("de")
    assert "Worum geht es" in text_of(await conversation.say("Ich möchte mich beschweren"))
    assert "Bestellnummer" in text_of(await conversation.say('/complain{"complaint_category": "damaged"}'))
    asked = text_of(await conversation.say("AK-123456"))
    assert "Notiert: Bestellung AK-123456, beschädigt." in asked and "was passiert ist" in asked
    for not_a_description in ("AK-123456", "ja", "👍"):
        assert "in ein paar Worten" in text_of(await conversation.say(not_a_description))
    await conversation.say("Der Bierkrug ist in zwei Teile zerbrochen")
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.conversation_id == conversation.sender))).scalar_one()
    assert row.description == "Der Bierkrug ist in zwei Teile zerbrochen"


async def test_billing_complaint_goes_to_a_person_with_priority_2(chat, sessions) -> None:
    conversation = chat("en")
    await conversation.say("I have a complaint about my invoice")
    await conversation.say("AK-123456")
    replies = await conversation.say("You charged me twice for the same order")
    handoff = handoff_of(replies)
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.conversation_id == conversation.sender))).scalar_one()
    assert (handoff["reason"], handoff["priority"], handoff["language"]) == ("billing_complaint", 2, "en")
    assert handoff["complaint_reference"] == row.reference and row.reference in handoff["summary"]
    assert row.category == "billing" and row.needs_human is True


async def test_service_complaint_can_skip_the_order_number(chat, sessions) -> None:
    conversation = chat("de")
    await conversation.say("Ich möchte mich beschweren")
    replies = await conversation.say('/complain{"complaint_category": "service"}')
    assert "Ohne Bestellnummer" in [b["title"] for b in replies[-1]["buttons"]]
    await conversation.say("/deny")
    await conversation.say("Bei eurer Hotline geht nie jemand ran")
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.conversation_id == conversation.sender))).scalar_one()
    assert (row.category, row.order_number) == ("service", None)


# --- people ------------------------------------------------------------------------------------

@pytest.mark.parametrize("language, text", [
    ("en", "I want to talk to a human"),
    ("de", "Ich möchte mit einem Mitarbeiter sprechen"),
])
async def test_asking_for_a_person_sends_the_handoff_payload(chat, language: str, text: str) -> None:
    replies = await chat(language).say(text)
    handoff = handoff_of(replies)
    assert (handoff["reason"], handoff["priority"], handoff["language"]) == ("customer_request", 0, language)
    assert set(handoff) == {"reason", "priority", "language", "summary", "complaint_reference", "order_number", "fallback_count"}
    assert replies[0]["text"], "a short text in the customer's language comes before the payload"


@pytest.mark.parametrize("text", ["asdfgh qwertz", "hmm lkjh poiu", "blorp zing wuff"])
async def test_gibberish_is_not_understood(rasa_server: str, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rasa_server}/model/parse", json={"text": text}) as response:
            assert (await response.json())["intent"]["name"] == "nlu_fallback"


async def test_two_messages_not_understood_lead_to_the_offer_of_a_person(chat) -> None:
    # Keyboard mashing, as customers send it; the seeded training (config.yml) makes the trained
    # model's verdict on it a property of the data, and test_gibberish_is_not_understood pins it.
    conversation = chat("de")
    first = text_of(await conversation.say("asdfgh qwertz"))
    assert "nicht verstanden" in first
    replies = await conversation.say("hmm lkjh poiu")
    assert "verbinden" in text_of(replies)
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny"]
    handoff = handoff_of(await conversation.say("ja"))
    assert (handoff["reason"], handoff["fallback_count"]) == ("not_understood", 2)


async def test_an_understood_message_ends_a_run_of_fallbacks(chat) -> None:
    conversation = chat("en")
    assert "didn't understand" in text_of(await conversation.say("blorp zing wuff"))
    assert "€4.90" in text_of(await conversation.say("How much is shipping to Germany?"))
    replies = await conversation.say("asdfgh qwertz")
    assert "didn't understand" in text_of(replies) and not replies[-1].get("buttons")


# --- star rating -------------------------------------------------------------------------------

async def feedback_rows(sessions, sender: str) -> list[Feedback]:
    async with sessions() as session:
        return list((await session.execute(select(Feedback).where(Feedback.conversation_id == sender))).scalars())


async def test_goodbye_after_an_answer_asks_for_stars_and_stores_them(chat, sessions) -> None:
    conversation = chat("de")
    await conversation.say("Was kostet der Versand nach Deutschland?")
    replies = await conversation.say("tschüss")
    assert is_rating_question(replies)
    assert "etwas dazu schreiben" in text_of(await conversation.say("vier"))
    await conversation.say("Schnelle Antwort, danke")
    [row] = await feedback_rows(sessions, conversation.sender)
    assert (row.rating, row.comment, row.channel, row.agent_id) == (4, "Schnelle Antwort, danke", "webchat", None)
    # Never twice: the next goodbye is only a goodbye.
    replies = await conversation.say("tschüss")
    assert not is_rating_question(replies) and "Tschüss" in text_of(replies)


async def test_star_emojis_are_a_rating(chat, sessions) -> None:
    conversation = chat("en")
    await conversation.say("Can I pay with PayPal?")
    assert is_rating_question(await conversation.say("bye"))
    await conversation.say("⭐⭐⭐⭐")
    await conversation.say("no thanks")
    [row] = await feedback_rows(sessions, conversation.sender)
    assert (row.rating, row.comment) == (4, None)


async def test_agent_closing_asks_for_a_rating_that_carries_the_agent(chat, sessions) -> None:
    conversation = chat("en")
    handoff_of(await conversation.say("I want to talk to a human"))
    replies = await conversation.agent_closed("anna")
    assert is_rating_question(replies)
    await conversation.say('/give_rating{"rating": 5}')
    await conversation.say("/deny")
    [row] = await feedback_rows(sessions, conversation.sender)
    assert (row.rating, row.agent_id) == (5, "anna")
    again = await conversation.agent_closed("ben")
    assert not is_rating_question(again)
    assert not is_rating_question(await conversation.say("bye"))


async def test_a_declined_rating_is_stored_without_stars(chat, sessions) -> None:
    conversation = chat("de")
    await conversation.say("Wie lange habe ich Zeit für eine Rücksendung?")
    await conversation.say("ciao")
    assert "bis bald" in text_of(await conversation.say("nein danke"))
    [row] = await feedback_rows(sessions, conversation.sender)
    assert row.rating is None


async def test_an_unreadable_rating_is_asked_again_once_then_dropped(chat, sessions) -> None:
    conversation = chat("de")
    await conversation.say("Welche Zahlungsarten gibt es?")
    await conversation.say("tschüss")
    again = await conversation.say("Banane")
    assert "nicht als Bewertung verstanden" in text_of(again) and is_rating_question(again)
    dropped = await conversation.say("Kartoffel")
    assert "lassen wir die Bewertung" in text_of(dropped) and not is_rating_question(dropped)
    [row] = await feedback_rows(sessions, conversation.sender)
    assert row.rating is None


# --- sessions ----------------------------------------------------------------------------------

def backdate(tracker_db: Path, sender: str, minutes: float) -> None:
    """Move every event of the conversation `minutes` into the past, as if the customer had been
    silent that long (Rasa decides on expiry from the last user event's timestamp). Rasa's SQL
    tracker store only appends through its API, so the stored events are rewritten in place."""
    with sqlite3.connect(tracker_db) as db:
        changed = db.execute(
            "UPDATE events SET timestamp = timestamp - :s,"
            " data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - :s)"
            " WHERE sender_id = :sender", {"s": minutes * 60, "sender": sender},
        ).rowcount
    assert changed > 0


async def session_starts(rasa_url: str, sender: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_url}/conversations/{sender}/tracker") as response:
            events = (await response.json())["events"]
    return sum(1 for e in events if e["event"] == "session_started")


async def test_an_idle_conversation_starts_a_new_session_that_keeps_the_language(
    chat, sessions, rasa_server: str, rasa_tracker_db: Path,
) -> None:
    idle_minutes = yaml.safe_load((ROOT / "domain.yml").read_text())["session_config"]["session_expiration_time"]
    conversation = chat("en")
    await conversation.say("Can I pay with PayPal?")
    assert is_rating_question(await conversation.say("bye"))
    await conversation.say("5")
    await conversation.say("no")
    assert await session_starts(rasa_server, conversation.sender) == 1

    # Just inside the idle time: still the same session, and no second rating.
    backdate(rasa_tracker_db, conversation.sender, idle_minutes - 5)
    assert "PayPal" in text_of(await conversation.say("Which payment methods do you take?"))
    assert await session_starts(rasa_server, conversation.sender) == 1
    assert not is_rating_question(await conversation.say("bye"))

    # Past it: a new session, the language kept though the channel no longer says it.
    backdate(rasa_tracker_db, conversation.sender, idle_minutes + 1)
    conversation.metadata["language"] = None
    answer = text_of(await conversation.say("How long do I have to return something?"))
    assert await session_starts(rasa_server, conversation.sender) == 2
    assert "30" in answer and "days" in answer, answer
    # A new session is a new conversation: its goodbye asks for stars again.
    assert is_rating_question(await conversation.say("bye"))
    await conversation.say("3")
    await conversation.say("no")
    assert sorted(row.rating for row in await feedback_rows(sessions, conversation.sender)) == [3, 5]
