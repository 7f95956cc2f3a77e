"""FAQ answers (shipping, returns, payment, service hours, contact) from shop.yml, in the customer's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import shop
from actions.language import language_of


def _shipping(lang: str, tracker: Tracker) -> str:
    entity = next((e.get("value") for e in (tracker.latest_message or {}).get("entities", [])
                   if e.get("entity") == "country"), None)
    country = shop.country_code(entity) or shop.country_in_text((tracker.latest_message or {}).get("text") or "")
    return shop.shipping_answer(lang, country)


_ANSWERS: dict[str, Callable[[str, Tracker], str]] = {
    "ask_shipping": _shipping,
    "ask_returns": lambda lang, _t: shop.returns_answer(lang),
    "ask_payment": lambda lang, _t: shop.payment_answer(lang),
    "ask_opening_hours": lambda lang, _t: shop.opening_hours_answer(lang),
    "ask_contact": lambda lang, _t: shop.contact_answer(lang),
}


class ActionAnswerFaq(Action):
    """One action for the FAQ intents: the latest intent picks the topic."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        answer = _ANSWERS.get(intent, _ANSWERS["ask_contact"])
        dispatcher.utter_message(text=answer(language_of(tracker), tracker))
        return [SlotSet("question_answered", True)]
