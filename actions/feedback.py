"""Star rating at the end of a conversation: ask once, understand many ways of answering, store it.

Answers understood: the star buttons (`/give_rating{"rating": N}`), "4", "4 Sterne", "4/5",
"⭐⭐⭐⭐", "vier", "four", "sehr gut", "great"… A refusal ("nein danke", "no thanks") is stored
as a row with rating NULL, so declines are counted; so is giving up after a second answer we
cannot read. A comment is optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions import db
from actions.asking import SkippableQuestion
from actions.forms import FormValidationWithNotes
from actions.language import language_of, pick
from actions.session import channel_of
from db.models import Feedback, RatingRequest

STARS = "⭐"
_STAR_CHARS = re.compile(r"[⭐★🌟]")
_DIGIT = re.compile(r"(?<![\d.,])([1-5])(?![\d.,])")
_NUMBER_WORDS = {
    "eins": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "fuenf": 5, "funf": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
}
# Phrases before the words they contain ("sehr schlecht" before "schlecht", "nicht gut" before "gut").
_PHRASES: list[tuple[str, int]] = [
    ("sehr schlecht", 1), ("total schlecht", 1), ("very bad", 1), ("really bad", 1), ("furchtbar", 1),
    ("schrecklich", 1), ("katastrophal", 1), ("mies", 1), ("terrible", 1), ("awful", 1), ("horrible", 1),
    ("useless", 1), ("nutzlos", 1),
    ("nicht gut", 2), ("not good", 2), ("schlecht", 2), ("bad", 2), ("poor", 2), ("mangelhaft", 2),
    ("geht so", 3), ("mittel", 3), ("okay", 3), ("ok", 3), ("average", 3), ("so-so", 3), ("so so", 3), ("passt", 3),
    ("sehr gut", 5), ("super", 5), ("spitze", 5), ("perfekt", 5), ("ausgezeichnet", 5), ("hervorragend", 5),
    ("top", 5), ("klasse", 5), ("excellent", 5), ("great", 5), ("awesome", 5), ("amazing", 5), ("perfect", 5),
    ("fantastic", 5), ("very good", 5), ("brilliant", 5),
    ("gut", 4), ("good", 4), ("nice", 4), ("fine", 4), ("pretty good", 4), ("ganz gut", 4),
]
_PHRASE_PATTERNS = [(re.compile(r"(?<!\w)" + re.escape(p) + r"(?!\w)"), v) for p, v in _PHRASES]
_REFUSAL = re.compile(
    r"(?<!\w)(nein|nö|ne|nee|no|nope|keine lust|lieber nicht|möchte nicht|moechte nicht|will nicht|"
    r"kein bedarf|skip|überspringen|ueberspringen|don't want|dont want|not now|no thanks|rather not)(?!\w)")


@dataclass(frozen=True)
class RatingAnswer:
    rating: int | None  # 1–5 when understood
    declined: bool = False

    @property
    def understood(self) -> bool:
        return self.rating is not None or self.declined


def parse_rating(text: str, intent: str | None = None, entity_value: Any = None) -> RatingAnswer:
    """What a customer's answer to "how many stars?" means."""
    if entity_value is not None:
        try:
            value = int(float(entity_value))
        except (TypeError, ValueError):
            value = 0
        if 1 <= value <= 5:
            return RatingAnswer(value)
    lowered = (text or "").strip().lower()
    stars = len(_STAR_CHARS.findall(lowered))
    if 1 <= stars <= 5:
        return RatingAnswer(stars)
    digit = _DIGIT.search(lowered)
    if digit:
        return RatingAnswer(int(digit.group(1)))
    for word in re.findall(r"[a-zäöüß]+", lowered):
        if word in _NUMBER_WORDS:
            return RatingAnswer(_NUMBER_WORDS[word])
    for pattern, value in _PHRASE_PATTERNS:
        if pattern.search(lowered):
            return RatingAnswer(value)
    if intent == "deny" or _REFUSAL.search(lowered):
        return RatingAnswer(None, declined=True)
    return RatingAnswer(None)


def is_skip(text: str, intent: str | None) -> bool:
    """"Nein danke" to the optional comment: short refusals only, a long text is a comment."""
    lowered = (text or "").strip().lower()
    return intent == "deny" or lowered.startswith("/") or (len(lowered.split()) <= 3 and bool(_REFUSAL.search(lowered)))


async def store_feedback(
    sessions: async_sessionmaker[AsyncSession], *, conversation_id: str, channel: str,
    rating: int | None, comment: str | None, agent_id: str | None,
) -> int:
    """Insert one feedback row; returns its id."""
    async with sessions() as session:
        row = Feedback(conversation_id=conversation_id, channel=channel, rating=rating,
                       comment=comment or None, agent_id=agent_id)
        session.add(row)
        await session.commit()
        return row.id


async def store_rating_request(
    sessions: async_sessionmaker[AsyncSession], *, conversation_id: str, channel: str, agent_id: str | None,
) -> None:
    """The rating question was asked: the denominator of the response rate in the reports."""
    async with sessions() as session, session.begin():
        session.add(RatingRequest(conversation_id=conversation_id, channel=channel, agent_id=agent_id))


TEXTS: dict[str, dict[str, str]] = {
    "ask": {
        "de": "Bevor du gehst: Wie zufrieden warst du mit meiner Hilfe? Gib mir 1 bis 5 Sterne.",
        "en": "Before you go: how happy were you with my help? Give me 1 to 5 stars.",
    },
    "ask_after_agent": {
        "de": "Dein Gespräch mit unserem Team ist abgeschlossen. Wie zufrieden warst du? Gib uns 1 bis 5 Sterne.",
        "en": "Your conversation with our team is closed. How happy were you? Give us 1 to 5 stars.",
    },
    "ask_after_complaint": {
        "de": "Wie zufrieden bist du damit, wie wir deine Reklamation bearbeitet haben? Gib uns 1 bis 5 Sterne.",
        "en": "How happy are you with the way we handled your complaint? Give us 1 to 5 stars.",
    },
    "not_a_rating": {
        "de": "Das habe ich nicht als Bewertung verstanden – tipp auf die Sterne oder schreib eine Zahl von 1 bis 5.",
        "en": "I didn't get that as a rating – tap the stars or write a number from 1 to 5.",
    },
    "give_up": {
        "de": "Kein Problem, dann lassen wir die Bewertung.",
        "en": "No problem, let's skip the rating.",
    },
    "ask_comment": {
        "de": "Danke! Möchtest du noch etwas dazu schreiben? (optional)",
        "en": "Thank you! Would you like to add a comment? (optional)",
    },
    "no_comment": {"de": "Nein, danke", "en": "No, thanks"},
    "thanks_rated": {
        "de": "Vielen Dank für deine Bewertung! Bis bald 👋",
        "en": "Thank you for your feedback! See you soon 👋",
    },
    "thanks_declined": {
        "de": "Alles klar. Danke und bis bald 👋",
        "en": "Alright. Thank you and see you soon 👋",
    },
}


def rating_buttons() -> list[dict[str, str]]:
    """Exactly five star buttons, as docs/seams.md fixes them for the widget and WhatsApp."""
    return [{"title": STARS * n, "payload": f'/give_rating{{"rating": {n}}}'} for n in range(1, 6)]


def _latest(tracker: Tracker) -> tuple[str, str | None, Any]:
    message = tracker.latest_message or {}
    entity = next((e.get("value") for e in message.get("entities", []) if e.get("entity") == "rating"), None)
    return message.get("text") or "", message.get("intent", {}).get("name"), entity


class ValidateRatingForm(FormValidationWithNotes):
    note_slots = ("rating_outcome", "rating_attempts")

    def name(self) -> str:
        return "validate_rating_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("rating_outcome") in ("declined", "unclear"):
            return []
        return ["rating", "rating_comment"]

    async def extract_rating(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "rating" or tracker.get_slot("rating") is not None:
            return {}
        text, intent, entity = _latest(tracker)
        answer = parse_rating(text, intent, entity)
        lang = language_of(tracker)
        if answer.rating is not None:
            return {"rating": answer.rating, "rating_outcome": "rated"}
        if answer.declined:
            return {"rating_outcome": "declined"}
        attempts = int(tracker.get_slot("rating_attempts") or 0) + 1
        if attempts >= 2:
            # Asked twice: the customer has moved on, stop pestering.
            dispatcher.utter_message(text=pick(TEXTS, "give_up", lang))
            return {"rating_outcome": "unclear", "rating_attempts": attempts}
        dispatcher.utter_message(text=pick(TEXTS, "not_a_rating", lang))
        return {"rating": None, "rating_attempts": attempts}

    async def extract_rating_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "rating_comment":
            return {}
        text, intent, _entity = _latest(tracker)
        return {"rating_comment": "" if is_skip(text, intent) else text.strip()}


class ActionAskRating(Action):
    """The rating question with five star buttons; marks the rating as asked for this conversation."""

    def name(self) -> str:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        if not tracker.get_slot("rating_attempts"):  # the first time this form asks (not a re-ask)
            await store_rating_request(db.sessions(), conversation_id=tracker.sender_id, channel=channel_of(tracker),
                                       agent_id=tracker.get_slot("agent_id"))
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        if intent == "EXTERNAL_complaint_closed":
            key = "ask_after_complaint"
        else:
            key = "ask_after_agent" if tracker.get_slot("agent_id") else "ask"
        dispatcher.utter_message(text=pick(TEXTS, key, lang), buttons=rating_buttons())
        return [SlotSet("rating_asked", True)]


class ActionAskRatingComment(SkippableQuestion):
    texts, question, skip = TEXTS, "ask_comment", "no_comment"

    def name(self) -> str:
        return "action_ask_rating_comment"



class ActionStoreFeedback(Action):
    """After the rating form: one feedback row (rating NULL when declined or unreadable), then goodbye."""

    def name(self) -> str:
        return "action_store_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        rating = tracker.get_slot("rating")
        rating = int(rating) if rating is not None else None
        await store_feedback(
            db.sessions(), conversation_id=tracker.sender_id, channel=channel_of(tracker), rating=rating,
            comment=tracker.get_slot("rating_comment"), agent_id=tracker.get_slot("agent_id"),
        )
        dispatcher.utter_message(text=pick(TEXTS, "thanks_rated" if rating is not None else "thanks_declined", lang))
        return [SlotSet("rating", None), SlotSet("rating_comment", None), SlotSet("rating_attempts", None),
                SlotSet("rating_outcome", None), SlotSet("rating_asked", True)]
