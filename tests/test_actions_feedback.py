"""Star ratings: the many ways customers answer, and the feedback row in the real database."""

from __future__ import annotations

import uuid

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.feedback import ActionStoreFeedback, parse_rating, rating_buttons
from db.models import Feedback


@pytest.mark.parametrize("text, stars", [
    ("4", 4), ("⭐⭐⭐", 3), ("⭐⭐⭐⭐", 4), ("vier", 4), ("Vier Sterne!", 4), ("sehr gut", 5), ("great", 5),
    ("4 stars", 4), ("5/5", 5), ("ich gebe 2", 2), ("gut", 4), ("nicht gut", 2), ("sehr schlecht", 1),
    ("geht so", 3), ("three", 3), ("★★", 2),
])
def test_ratings_are_understood(text: str, stars: int) -> None:
    assert parse_rating(text).rating == stars


@pytest.mark.parametrize("text", ["nein danke", "no thanks", "Nö", "lieber nicht"])
def test_a_refusal_is_a_declined_rating(text: str) -> None:
    answer = parse_rating(text)
    assert answer.declined and answer.rating is None


@pytest.mark.parametrize("text", ["wo ist mein paket", "10", "0", "banana"])
def test_other_answers_are_not_ratings(text: str) -> None:
    assert not parse_rating(text).understood


def test_a_star_button_counts_through_its_entity() -> None:
    assert parse_rating('/give_rating{"rating": 2}', "give_rating", 2).rating == 2


def test_the_rating_question_has_exactly_five_star_buttons() -> None:
    assert rating_buttons() == [
        {"title": "⭐" * n, "payload": f'/give_rating{{"rating": {n}}}'} for n in range(1, 6)
    ]


async def store(sender: str, slots: dict, lang: str = "de") -> str:
    dispatcher = CollectingDispatcher()
    tracker = Tracker(
        sender_id=sender, slots={"language": lang, "channel": "webchat", **slots},
        latest_message={"text": "", "intent": {"name": "deny"}, "entities": [], "metadata": {}},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name="rating_form",
    )
    await ActionStoreFeedback().run(dispatcher, tracker, {})
    return dispatcher.messages[0]["text"]


async def test_rating_with_comment_and_agent_is_stored(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    text = await store(sender, {"rating": 4, "rating_comment": "schnelle Hilfe", "agent_id": "anna"})
    assert "Bewertung" in text
    async with sessions() as session:
        row = (await session.execute(select(Feedback).where(Feedback.conversation_id == sender))).scalar_one()
    assert (row.rating, row.comment, row.agent_id, row.channel) == (4, "schnelle Hilfe", "anna", "webchat")


async def test_a_declined_rating_is_stored_as_null(sessions) -> None:
    sender = f"test-{uuid.uuid4().hex[:8]}"
    text = await store(sender, {"rating": None, "rating_outcome": "declined"}, lang="en")
    assert text.startswith("Alright")
    async with sessions() as session:
        row = (await session.execute(select(Feedback).where(Feedback.conversation_id == sender))).scalar_one()
    assert row.rating is None and row.comment is None
