"""Complaints against the real database: references, rows, repeats and billing going to a person."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.complaint_store import NewComplaint, new_reference, store_complaint
from actions.complaints import ActionSubmitComplaint, category_in_text
from db.models import Complaint

REFERENCE = re.compile(r"^RK-\d{4}-[2-9A-HJ-NP-Z]{5}$")


def complaint_tracker(sender: str, category: str, lang: str = "de", order: str | None = "AK-123456") -> Tracker:
    return Tracker(
        sender_id=sender,
        slots={"language": lang, "channel": "whatsapp", "complaint_category": category, "order_number": order,
               "complaint_description": "Der Deckel war abgebrochen", "complaint_photo": "https://media.example/1.jpg"},
        latest_message={"text": "", "intent": {"name": "complain"}, "entities": [], "metadata": {}},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name="complaint_form",
    )


async def submit(sender: str, category: str, lang: str = "de") -> tuple[list[dict], dict[str, object]]:
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(dispatcher, complaint_tracker(sender, category, lang), {})
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_references_are_readable_and_not_a_sequence() -> None:
    references = {new_reference() for _ in range(500)}
    assert len(references) == 500
    assert all(REFERENCE.match(r) for r in references)


@pytest.mark.parametrize("text, category", [
    ("Das Paket kam kaputt an", "damaged"),
    ("Der Mixer funktioniert nicht mehr", "defect"),
    ("Die Rechnung stimmt nicht", "billing"),
    ("I got the wrong size", "wrong_item"),
    ("my parcel never arrived", "late_or_missing"),
    ("Your hotline was rude", "service"),
    ("Ich bin einfach sauer", None),
])
def test_complaint_category_from_the_customers_words(text: str, category: str | None) -> None:
    assert category_in_text(text) == category


async def test_complaint_is_stored_and_the_reference_told(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    messages, slots = await submit(sender, "damaged")
    reference = slots["complaint_reference"]
    assert REFERENCE.match(reference)
    assert reference in messages[0]["text"] and "24 Stunden" in messages[0]["text"]
    assert not any(m.get("custom") for m in messages), "a damaged parcel needs no person right away"
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.reference == reference))).scalar_one()
    assert (row.conversation_id, row.channel, row.category, row.order_number) == (sender, "whatsapp", "damaged", "AK-123456")
    assert row.description == "Der Deckel war abgebrochen"
    assert row.media_url == "https://media.example/1.jpg"
    assert row.needs_human is False and row.status == "open"


async def test_second_complaint_of_a_conversation_goes_to_a_person_with_priority_2(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    await submit(sender, "damaged")
    messages, slots = await submit(sender, "defect", lang="en")
    handoff = next(m["custom"]["handoff"] for m in messages if m.get("custom"))
    assert (handoff["reason"], handoff["priority"], handoff["language"]) == ("repeat_complaint", 2, "en")
    assert handoff["complaint_reference"] == slots["complaint_reference"]
    assert slots["complaint_reference"] in handoff["summary"]
    assert "connecting you" in messages[0]["text"]


async def test_a_complaint_older_than_30_days_is_no_repeat(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        session.add(Complaint(
            reference=new_reference(), conversation_id=sender, channel="webchat", category="other",
            description="old", language="de", needs_human=False, status="closed",
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
        await session.commit()
    stored = await store_complaint(sessions, NewComplaint(
        conversation_id=sender, channel="webchat", category="damaged", order_number=None,
        description="new", media_url=None, language="de"), needs_human=False)
    assert stored.is_repeat is False


async def test_billing_complaint_goes_to_a_person_with_the_reference_in_the_summary(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    messages, slots = await submit(sender, "billing")
    reference = slots["complaint_reference"]
    handoff = next(m["custom"]["handoff"] for m in messages if m.get("custom"))
    assert handoff["reason"] == "billing_complaint" and handoff["priority"] == 2
    assert reference in handoff["summary"] and handoff["order_number"] == "AK-123456"
    assert reference in messages[0]["text"]
    async with sessions() as session:
        row = (await session.execute(select(Complaint).where(Complaint.reference == reference))).scalar_one()
    assert row.needs_human is True
