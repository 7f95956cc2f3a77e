"""Handing a conversation to a person: the handoff payload (docs/seams.md) and the paths that lead to it.

- the customer asks for a human (request_human), or accepts a human we offered;
- two consecutive messages the bot did not understand: `fallback_count` is kept by
  `action_count_fallbacks` (a custom slot mapping, so it runs after every message), and the
  second `nlu_fallback` offers a human;
- complaints that need a person build their payload in actions/complaints.py with `handoff_payload`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.complaint_store import mark_needs_human
from actions.language import language_of, pick
from actions.unknown_messages import store_unknown
from core.contract import Priority

# Intents that answer an offer; any other message withdraws the offer and ends a run of fallbacks.
_OFFER_ANSWERS = ("affirm", "deny")

TEXTS: dict[str, dict[str, str]] = {
    "connecting": {
        "de": "Alles klar, ich verbinde dich mit jemandem aus unserem Service-Team. Einen Moment bitte.",
        "en": "Alright, I'm connecting you with someone from our service team. One moment please.",
    },
    "not_understood": {
        "de": "Entschuldige, das habe ich nicht verstanden. Ich helfe dir gern bei Bestellungen, Versand, Rücksendungen, Zahlung oder Reklamationen – magst du es anders formulieren?",
        "en": "Sorry, I didn't understand that. I can help with orders, shipping, returns, payment or complaints – could you put it another way?",
    },
    "offer_after_fallbacks": {
        "de": "Ich verstehe dich leider immer noch nicht. Soll ich dich mit jemandem aus unserem Team verbinden?",
        "en": "I'm afraid I still don't understand. Shall I connect you with someone from our team?",
    },
    "offer_declined": {
        "de": "Okay! Dann versuch es gern noch einmal mit anderen Worten – oder frag mich z. B. nach Versandkosten oder deiner Bestellung.",
        "en": "Okay! Then feel free to try again in other words – or ask me about shipping costs or your order, for example.",
    },
    "yes": {"de": "Ja, bitte", "en": "Yes, please"},
    "no": {"de": "Nein, danke", "en": "No, thanks"},
}


def offer_human_buttons(lang: str) -> list[dict[str, str]]:
    """Yes/no buttons under an offer of a human; typed "ja"/"yes" or "nein"/"no" work the same."""
    return [
        {"title": TEXTS["yes"][lang], "payload": "/affirm"},
        {"title": TEXTS["no"][lang], "payload": "/deny"},
    ]


def handoff_payload(
    *, reason: str, priority: Priority, language: str, summary: str,
    complaint_reference: str | None = None, order_number: str | None = None, fallback_count: int = 0,
) -> dict[str, Any]:
    """The custom payload the gateway hands to the desk (`core.contract.HandoffRequest.from_payload`)."""
    return {"handoff": {
        "reason": reason, "priority": int(priority), "language": language, "summary": summary,
        "complaint_reference": complaint_reference, "order_number": order_number,
        "fallback_count": fallback_count,
    }}


def send_handoff(dispatcher: CollectingDispatcher, lang: str, payload: dict[str, Any], text: str | None = None) -> None:
    """The short "I'll connect you" text in the customer's language, then the payload."""
    dispatcher.utter_message(text=text or TEXTS["connecting"][lang])
    dispatcher.utter_message(json_message=payload)


def last_customer_text(tracker: Tracker) -> str:
    """The latest typed customer message (button payloads skipped), for the agent's summary."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            text = event.get("text") or ""
            if text and not text.startswith("/"):
                return text
    return ""


class ActionHandoff(Action):
    """The customer wants a person (asked, or accepted an offer): send the handoff payload."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        lang = language_of(tracker)
        offer = tracker.get_slot("human_offer")
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        fallback_count = int(tracker.get_slot("fallback_count") or 0)
        reference = tracker.get_slot("complaint_reference")
        order_number = tracker.get_slot("order_number")
        last_text = last_customer_text(tracker)
        if offer == "not_understood" and intent == "affirm":
            reason, priority = "not_understood", Priority.normal
            summary = f"Bot did not understand {fallback_count} messages in a row; last: “{last_text}”"
        elif offer == "order_not_found" and intent == "affirm":
            order_number = tracker.get_slot("unknown_order_number")
            reason, priority = "order_not_found", Priority.normal
            summary = f"Order {order_number} not found in the order system; customer wants help."
        elif reference or tracker.active_loop.get("name") == "complaint_form":
            # A complaint (filed, or being filed) plus the wish for a person: a complaint that needs a person.
            reason, priority = "complaint", Priority.complaint
            if reference:
                await mark_needs_human(db.sessions(), reference)
            category = tracker.get_slot("complaint_category") or tracker.get_slot("last_complaint_category") or "?"
            summary = (f"Complaint {reference} ({category}): customer wants to talk to a person."
                       if reference else f"Customer wants a person while filing a complaint ({category}); last: “{last_text}”")
        else:
            reason, priority = "customer_request", Priority.normal
            summary = f"Customer asked for a person; last message: “{last_text}”"
        send_handoff(dispatcher, lang, handoff_payload(
            reason=reason, priority=priority, language=lang, summary=summary,
            complaint_reference=reference, order_number=order_number, fallback_count=fallback_count,
        ))
        return [SlotSet("human_offer", None), SlotSet("fallback_count", 0)]


class ActionCountFallbacks(Action):
    """Custom slot mapping of `fallback_count` and `human_offer`: runs after every customer message.

    Counts consecutive `nlu_fallback` messages; any understood message ends the run, and any
    message except yes/no withdraws a pending offer, so a later "yes" never hands off by surprise.
    """

    def name(self) -> str:
        return "action_count_fallbacks"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        count = int(tracker.get_slot("fallback_count") or 0)
        events: list[EventType] = []
        if intent == "nlu_fallback" and not tracker.active_loop.get("name"):
            events.append(SlotSet("fallback_count", count + 1))
        elif intent not in _OFFER_ANSWERS and count:
            events.append(SlotSet("fallback_count", 0))
        if intent not in _OFFER_ANSWERS and tracker.get_slot("human_offer"):
            events.append(SlotSet("human_offer", None))
        return events


class ActionFallback(Action):
    """A message the bot did not understand: ask to rephrase; the second in a row offers a human.

    It ends the turn (action_listen) itself: as the core fallback (an intent no rule or story
    expects here, e.g. "5 Sterne" with no rating asked) the policies would predict it again and
    again until Rasa's circuit breaker stops them without an action_listen, and from then on
    every message of the conversation trips the breaker at once and goes unanswered."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        lang = language_of(tracker)
        await store_unknown(db.sessions(), conversation_id=tracker.sender_id, language=lang,
                            text=(tracker.latest_message or {}).get("text") or "")
        if int(tracker.get_slot("fallback_count") or 0) >= 2:
            dispatcher.utter_message(text=pick(TEXTS, "offer_after_fallbacks", lang), buttons=offer_human_buttons(lang))
            return [SlotSet("human_offer", "not_understood"), FollowupAction("action_listen")]
        dispatcher.utter_message(text=pick(TEXTS, "not_understood", lang))
        return [FollowupAction("action_listen")]


class ActionDeclineHuman(Action):
    """The customer said no to the offered human: carry on with the bot."""

    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=pick(TEXTS, "offer_declined", language_of(tracker)))
        return [SlotSet("human_offer", None), SlotSet("fallback_count", 0)]
