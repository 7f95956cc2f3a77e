"""Complaints as a lifecycle, with the real assistant (Rasa server, action server, database).

Taken from one message, added to later (text and photos, the same conversation or within 14 days
when the customer refers to it), asked about later; a foreign reference reveals nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.complaint_store import NewComplaint, StoredComplaint, store_complaint
from core.clock import utcnow
from db import complaints as lifecycle
from db.models import Complaint, ComplaintEvent
from tests.assistant_support import Chat, text_of

ONE_MESSAGE = {
    "de": ("Hallo, meine Bestellung AK-100003 kam heute an und das Glas Honig war zerbrochen, alles voller Scherben",
           "Das tut mir leid", "Bestellung AK-100003, beschädigt: „Hallo, meine Bestellung AK-100003 kam heute an"),
    "en": ("Hi, my order AK-100003 arrived today and the jar of honey was smashed, glass everywhere",
           "I'm sorry", "order AK-100003, damaged: “Hi, my order AK-100003 arrived today"),
}
QUESTIONS = ("Bestellnummer", "Worum geht es", "was passiert ist", "order number", "What is your complaint", "what happened")


async def complaints_of(sessions: async_sessionmaker[AsyncSession], sender: str) -> list[Complaint]:
    async with sessions() as session:
        return list((await session.scalars(
            select(Complaint).where(Complaint.conversation_id == sender).order_by(Complaint.id))).all())


async def events_of(sessions: async_sessionmaker[AsyncSession], complaint: Complaint) -> list[ComplaintEvent]:
    async with sessions() as session:
        return list((await session.scalars(
            select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id))).all())


async def one_message_complaint(chat: Any, sessions: async_sessionmaker[AsyncSession], language: str) -> tuple[Chat, Complaint]:
    conversation = chat(language)
    replies = await conversation.say(ONE_MESSAGE[language][0])
    [row] = await complaints_of(sessions, conversation.sender)
    assert row.reference in text_of(replies)
    return conversation, row


@pytest.mark.parametrize("language", ["de", "en"])
async def test_a_complaint_in_one_message_is_filed_without_asking_anything_said(chat, sessions, language: str) -> None:
    message, apology, confirmation = ONE_MESSAGE[language]
    conversation = chat(language)
    replies = await conversation.say(message)
    text = text_of(replies)
    assert replies[0]["text"].startswith(apology), "the apology comes first"
    assert confirmation in text, "the bot repeats what it understood, so the customer can correct it"
    assert not any(question in text for question in QUESTIONS), text
    [row] = await complaints_of(sessions, conversation.sender)
    assert row.reference in text
    assert (row.order_number, row.category, row.description, row.status) == ("AK-100003", "damaged", message, "open")
    assert [e.kind for e in await events_of(sessions, row)] == ["created"]


@pytest.mark.parametrize("language, detail, acknowledged", [
    ("de", "Der Käse war zerdrückt und die Verpackung offen", "Ich habe das zu deiner Reklamation {reference} hinzugefügt"),
    ("en", "The cheese was squashed and the packaging was open", "I've added that to your complaint {reference}"),
])
async def test_a_later_detail_and_a_photo_land_on_the_complaints_timeline(
    chat, sessions, language: str, detail: str, acknowledged: str,
) -> None:
    conversation, row = await one_message_complaint(chat, sessions, language)
    assert acknowledged.format(reference=row.reference) in text_of(await conversation.say(detail))
    photo = {"url": "https://media.example/kaese.jpg", "content_type": "image/jpeg"}
    assert row.reference in text_of(await conversation.say("Foto vom zerdrückten Käse" if language == "de"
                                                           else "photo of the squashed cheese", media=[photo]))
    assert len(await complaints_of(sessions, conversation.sender)) == 1, "a detail is no new complaint"
    events = await events_of(sessions, row)
    assert [(e.kind, e.actor) for e in events][:2] == [("created", "bot"), ("detail", "customer")]
    assert events[1].text == detail
    assert ("photo", photo["url"]) in [(e.kind, e.media_url) for e in events]


async def complaint_days_ago(
    sessions: async_sessionmaker[AsyncSession], conversation: Chat, language: str, description: str, days: int,
) -> StoredComplaint:
    """A damaged-goods complaint of this conversation, filed `days` ago."""
    stored = await store_complaint(sessions, NewComplaint(
        conversation_id=conversation.sender, channel="webchat", category="damaged", order_number="AK-100001",
        description=description, media_url=None, language=language), needs_human=False)
    async with sessions() as session:
        row = await lifecycle.by_reference(session, stored.reference)
        assert row is not None
        row.created_at = utcnow() - dt.timedelta(days=days)
        await session.commit()
    return stored


async def test_a_detail_days_later_is_added_when_the_customer_refers_to_the_complaint(chat, sessions) -> None:
    conversation = chat("de")
    recent = await complaint_days_ago(sessions, conversation, "de", "Die Dose war eingedrückt", days=5)
    replies = await conversation.say("Zu meiner Reklamation: der Karton war auch noch nass und aufgerissen")
    assert f"Reklamation {recent.reference} hinzugefügt" in text_of(replies)
    [only] = await complaints_of(sessions, conversation.sender)
    assert [e.kind for e in await events_of(sessions, only)] == ["created", "detail"]


async def test_a_complaint_older_than_14_days_is_not_added_to(chat, sessions) -> None:
    conversation = chat("en")
    old = await complaint_days_ago(sessions, conversation, "en", "The tin was dented", days=20)
    replies = await conversation.say("About my complaint: the box was also soaking wet and torn")
    assert old.reference not in text_of(replies)


@pytest.mark.parametrize("language, question, state", [
    ("de", "Was ist mit meiner Reklamation {reference}?", "in Bearbeitung"),
    ("en", "what's the status of my complaint?", "being worked on"),
])
async def test_the_status_question_answers_with_the_state(chat, sessions, language: str, question: str, state: str) -> None:
    conversation, row = await one_message_complaint(chat, sessions, language)
    async with sessions() as session:
        await lifecycle.change_status(session, row.reference, lifecycle.Status.in_progress, None, "anna")
        await session.commit()
    text = text_of(await conversation.say(question.format(reference=row.reference)))
    assert row.reference in text and state in text


@pytest.mark.parametrize("language, question", [
    ("de", "Was ist mit meiner Reklamation {reference}?"),
    ("en", "What about my complaint {reference}?"),
])
async def test_another_customers_reference_gets_the_answer_of_an_unknown_one(
    chat, sessions, language: str, question: str,
) -> None:
    _owner, row = await one_message_complaint(chat, sessions, language)
    stranger = chat(language)
    foreign = text_of(await stranger.say(question.format(reference=row.reference)))
    unknown = text_of(await chat(language).say(question.format(reference="RK-2026-ZZZZZ")))
    assert foreign == unknown.replace("RK-2026-ZZZZZ", row.reference)
    for secret in ("AK-100003", "Honig", "honey", "open", "eingegangen", "received"):
        assert secret not in foreign


@pytest.mark.parametrize("language, text, answer", [
    ("de", "Ich würde mich gern bei euch als Packerin bewerben", "Damit kann ich leider nicht helfen"),
    ("de", "Hast du ein gutes Rezept für Kaiserschmarrn mit eurem Honig?", "Damit kann ich leider nicht helfen"),
    ("en", "Can you recommend a nice cheese for my dinner party?", "Sorry, I can't help with that"),
    ("en", "I'd like to send you my CV for a job in your warehouse", "Sorry, I can't help with that"),
])
async def test_out_of_scope_near_shop_topics_starts_no_flow(chat, language: str, text: str, answer: str) -> None:
    conversation = chat(language)
    assert answer in text_of(await conversation.say(text))
    assert not await has_active_form(conversation)


async def has_active_form(conversation: Chat) -> bool:
    """Whether Rasa has a form running for the conversation (a flow was started)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{conversation.rasa_url}/conversations/{conversation.sender}/tracker") as response:
            tracker = await response.json()
    return bool((tracker.get("active_loop") or {}).get("name"))
