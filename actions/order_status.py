"""Order status: a form that asks for the order number, and the answer from the order source."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db, shop
from actions.handoff import offer_human_buttons
from actions.language import language_of, pick
from actions.orders import DatabaseOrderSource, OrderInfo, OrderSource, find_order_number

TEXTS: dict[str, dict[str, str]] = {
    "bad_format": {
        "de": "Hmm, „{text}“ sieht nicht wie eine Bestellnummer aus. Sie hat die Form AK-123456 und steht in deiner Bestellbestätigung.",
        "en": "Hmm, “{text}” doesn't look like an order number. It looks like AK-123456 and is in your order confirmation.",
    },
    "received": {
        "de": "Deine Bestellung {number} ist bei uns eingegangen und wird in Kürze bearbeitet. Voraussichtliche Lieferung: {date}.",
        "en": "We have received your order {number} and will process it shortly. Expected delivery: {date}.",
    },
    "processing": {
        "de": "Deine Bestellung {number} wird gerade gepackt und geht bald raus. Voraussichtliche Lieferung: {date}.",
        "en": "Your order {number} is being packed and will ship soon. Expected delivery: {date}.",
    },
    "shipped": {
        "de": "Deine Bestellung {number} ist unterwegs mit {carrier} (Sendungsnummer {tracking}). Voraussichtliche Lieferung: {date}. Sendungsverfolgung: {url}",
        "en": "Your order {number} is on its way with {carrier} (tracking number {tracking}). Expected delivery: {date}. Track it here: {url}",
    },
    "delivered": {
        "de": "Deine Bestellung {number} wurde am {date} von {carrier} zugestellt. Falls sie nicht angekommen ist, sag mir Bescheid – dann nehme ich eine Reklamation auf.",
        "en": "Your order {number} was delivered by {carrier} on {date}. If it hasn't arrived, tell me and I'll file a complaint.",
    },
    "cancelled": {
        "de": "Deine Bestellung {number} wurde storniert. Falls du schon bezahlt hast, bekommst du das Geld innerhalb weniger Tage zurück.",
        "en": "Your order {number} was cancelled. If you already paid, you'll get the money back within a few days.",
    },
    "returned": {
        "de": "Die Rücksendung zu deiner Bestellung {number} ist bei uns eingegangen. Die Erstattung folgt in den nächsten Tagen.",
        "en": "We have received the return of your order {number}. Your refund follows in the next few days.",
    },
    "unknown_date": {"de": "noch offen", "en": "not known yet"},
    "not_found": {
        "de": "Zur Bestellnummer {number} finde ich leider keine Bestellung. Bitte prüf die Nummer in deiner Bestellbestätigung (Form AK-123456). Soll ich dich mit jemandem aus unserem Team verbinden?",
        "en": "I can't find an order with the number {number}. Please check the number in your order confirmation (it looks like AK-123456). Shall I connect you with someone from our team?",
    },
}


def format_date(day: dt.date | None, lang: str) -> str:
    if day is None:
        return TEXTS["unknown_date"][lang]
    return day.strftime("%d.%m.%Y") if lang == "de" else day.strftime("%d %B %Y").lstrip("0")


def status_answer(order: OrderInfo, lang: str) -> str:
    """The customer-facing sentence for an order: status, carrier, tracking link, expected delivery."""
    url = shop.tracking_url(order.carrier, order.tracking_number) or "–"
    return pick(
        TEXTS, order.status if order.status in TEXTS else "processing", lang,
        number=order.order_number, carrier=order.carrier or "–", tracking=order.tracking_number or "–",
        date=format_date(order.expected_delivery, lang), url=url,
    )


def extract_order_number(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> dict[str, Any]:
    """Slot candidate for `order_number` from the latest message, shared by the order and complaint forms.

    A number anywhere in the text is taken (also at form activation, "wo ist AK-123456?").
    Only when the form asked for the number, a message without one is answered with the format.
    """
    text = (tracker.latest_message or {}).get("text") or ""
    number = find_order_number(text)
    if number:
        return {"order_number": number}
    if tracker.get_slot("requested_slot") != "order_number":
        return {}
    if (tracker.latest_message or {}).get("intent", {}).get("name") == "request_human":
        # Leave it unfilled: the form rejects, and the request_human rule takes over.
        return {}
    shown = text if len(text) <= 40 else text[:37] + "…"
    dispatcher.utter_message(text=pick(TEXTS, "bad_format", lang, text=shown))
    return {"order_number": None}


class ValidateOrderStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return extract_order_number(dispatcher, tracker, language_of(tracker))


def order_source() -> OrderSource:
    return DatabaseOrderSource(db.sessions())


class ActionOrderStatus(Action):
    """Answers the status of the order in `order_number`; an unknown number gets an offer of a human."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        lang = language_of(tracker)
        number = tracker.get_slot("order_number")
        order = await order_source().find(number) if number else None
        if order is None:
            dispatcher.utter_message(
                text=pick(TEXTS, "not_found", lang, number=number or "–"), buttons=offer_human_buttons(lang))
            return [SlotSet("order_number", None), SlotSet("unknown_order_number", number),
                    SlotSet("human_offer", "order_not_found")]
        dispatcher.utter_message(text=status_answer(order, lang))
        return [SlotSet("question_answered", True)]
