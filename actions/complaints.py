"""Complaints: a form (category, order number, description, photo), then the stored complaint.

The bot first apologises (utter_complaint_sorry), the form collects, `action_submit_complaint`
stores the row under a reference and either promises a reply or, when a person is needed
(billing, a repeat within 30 days), hands the conversation to the desk.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db, shop
from actions.complaint_store import NewComplaint, store_complaint
from actions.forms import FormValidationWithNotes
from actions.handoff import handoff_payload, send_handoff
from actions.language import language_of, pick
from actions.order_status import extract_order_number
from actions.session import accepts_media, channel_of
from handoff.contract import Priority

CATEGORIES = ("damaged", "wrong_item", "late_or_missing", "billing", "defect", "service", "other")
# Categories about a product the customer can photograph (asked for a photo where the channel takes one).
_PHOTO_CATEGORIES = ("damaged", "wrong_item", "defect")
# Categories without a specific order: the customer may skip the order number.
_NO_ORDER_CATEGORIES = ("service", "other")

# Checked in this order: "funktioniert nicht" must win over "kaputt", "Rechnung" over "Geld zurück".
_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("defect", ("defekt", "funktioniert nicht", "funktioniert nich", "geht nicht mehr", "kaputt gegangen",
                "kaputtgegangen", "fehlerhaft", "mangel", "defective", "doesn't work", "does not work",
                "doesnt work", "not working", "stopped working", "faulty", "broke after")),
    ("billing", ("rechnung", "abgebucht", "abbuchung", "doppelt bezahlt", "zweimal bezahlt", "belastet", "betrag",
                 "gutschrift", "mahnung", "zahlung", "billing", "invoice", "charged", "overcharged", "double charge",
                 "bill", "payment")),
    ("damaged", ("kaputt", "beschädigt", "beschaedigt", "zerbrochen", "gebrochen", "zerkratzt", "delle",
                 "eingedrückt", "zerdrückt", "nass", "damaged", "broken", "smashed", "cracked", "scratched",
                 "dented", "crushed")),
    ("wrong_item", ("falsch", "verwechselt", "anderen artikel", "anderes produkt", "nicht bestellt",
                    "wrong", "not what i ordered", "didn't order", "different item", "mixed up")),
    ("late_or_missing", ("nicht angekommen", "nie angekommen", "fehlt", "verloren", "verspätet", "verspaetet",
                         "zu spät", "noch nicht da", "immer noch nicht", "wo bleibt", "missing", "lost", "late",
                         "never arrived", "not arrived", "hasn't arrived", "hasnt arrived", "still waiting",
                         "not received", "didn't arrive", "didnt arrive")),
    ("service", ("unfreundlich", "service", "hotline", "warteschleife", "beratung", "niemand antwortet",
                 "keine antwort", "rude", "unfriendly", "customer service", "no answer", "nobody answers", "support")),
    ("other", ("anderes", "sonstiges", "something else", "other")),
]
_KEYWORD_PATTERNS = [(cat, re.compile("|".join(r"\b" + re.escape(k) for k in kws))) for cat, kws in _KEYWORDS]
_SKIP = re.compile(r"\b(nein|nö|no|nope|keine?n?|ohne|skip|überspringen|weiter|none|nicht|habe? keine?)\b", re.IGNORECASE)

TEXTS: dict[str, dict[str, str]] = {
    "ask_category": {
        "de": "Worum geht es bei deiner Reklamation?",
        "en": "What is your complaint about?",
    },
    "category_unclear": {
        "de": "Das konnte ich keiner Kategorie zuordnen – wähl bitte eine aus:",
        "en": "I couldn't match that to a category – please pick one:",
    },
    "ask_order_number": {
        "de": "Um welche Bestellung geht es? Die Bestellnummer (z. B. AK-123456) steht in deiner Bestellbestätigung.",
        "en": "Which order is it about? The order number (e.g. AK-123456) is in your order confirmation.",
    },
    "ask_order_number_optional": {
        "de": "Gehört eine Bestellung dazu? Dann schick mir die Bestellnummer (z. B. AK-123456) – sonst tipp auf „Ohne Bestellnummer“.",
        "en": "Is there an order involved? Then send me the order number (e.g. AK-123456) – otherwise tap “No order number”.",
    },
    "skip_order": {"de": "Ohne Bestellnummer", "en": "No order number"},
    "ask_photo": {
        "de": "Hast du ein Foto davon? Schick es einfach hier – oder schreib „nein“.",
        "en": "Do you have a photo of it? Just send it here – or write “no”.",
    },
    "no_photo": {"de": "Kein Foto", "en": "No photo"},
    "description_too_short": {
        "de": "Beschreib mir bitte in ein paar Worten, was passiert ist.",
        "en": "Please describe in a few words what happened.",
    },
    "filed": {
        "de": "Danke, deine Reklamation ist aufgenommen. Deine Referenz: {reference}. Unser Service-Team meldet sich innerhalb von {hours} Stunden bei dir. Wenn du lieber gleich mit jemandem sprechen möchtest, sag einfach Bescheid.",
        "en": "Thank you, your complaint has been filed. Your reference: {reference}. Our service team will get back to you within {hours} hours. If you'd rather talk to someone right away, just let me know.",
    },
    "filed_billing": {
        "de": "Danke, deine Reklamation ist aufgenommen. Deine Referenz: {reference}. Bei Fragen zur Rechnung kümmert sich am besten direkt jemand aus unserem Team – ich verbinde dich jetzt.",
        "en": "Thank you, your complaint has been filed. Your reference: {reference}. Billing questions are best handled by someone from our team directly – I'm connecting you now.",
    },
    "filed_repeat": {
        "de": "Danke, deine Reklamation ist aufgenommen. Deine Referenz: {reference}. Da das schon deine zweite Reklamation ist, tut es uns besonders leid – ich verbinde dich direkt mit jemandem aus unserem Team.",
        "en": "Thank you, your complaint has been filed. Your reference: {reference}. As this is already your second complaint, we are especially sorry – I'm connecting you with someone from our team right away.",
    },
    "talk_to_someone": {"de": "Mit jemandem sprechen", "en": "Talk to someone"},
}

CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "damaged": {"de": "Ware beschädigt", "en": "Item damaged"},
    "wrong_item": {"de": "Falscher Artikel", "en": "Wrong item"},
    "late_or_missing": {"de": "Lieferung verspätet / fehlt", "en": "Delivery late / missing"},
    "billing": {"de": "Rechnung & Zahlung", "en": "Billing & payment"},
    "defect": {"de": "Artikel defekt", "en": "Item defective"},
    "service": {"de": "Kundenservice", "en": "Customer service"},
    "other": {"de": "Etwas anderes", "en": "Something else"},
}


def category_in_text(text: str) -> str | None:
    """The complaint category a customer's own words point to, or None."""
    lowered = (text or "").lower()
    for category, pattern in _KEYWORD_PATTERNS:
        if pattern.search(lowered):
            return category
    return None


def category_buttons(lang: str) -> list[dict[str, str]]:
    """One button per category; the payload reuses `complain`, which keeps the running form going."""
    return [
        {"title": CATEGORY_LABELS[c][lang], "payload": f'/complain{{"complaint_category": "{c}"}}'}
        for c in CATEGORIES
    ]


def media_url(tracker: Tracker) -> str | None:
    """The first picture the customer attached to the latest message (media in the metadata)."""
    media = ((tracker.latest_message or {}).get("metadata") or {}).get("media") or []
    for item in media:
        if isinstance(item, dict) and item.get("url"):
            return str(item["url"])
    return None


def _entity(tracker: Tracker, name: str) -> Any:
    return next((e.get("value") for e in (tracker.latest_message or {}).get("entities", []) if e.get("entity") == name), None)


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message or {}).get("intent", {}).get("name")


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


class ValidateComplaintForm(FormValidationWithNotes):
    note_slots = ("complaint_order_skipped",)

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        category = tracker.get_slot("complaint_category")
        slots = ["complaint_category"]
        if not tracker.get_slot("complaint_order_skipped"):
            slots.append("order_number")
        slots.append("complaint_description")
        # A photo is asked for where one helps and the channel can send one; attached anyway, it is kept.
        if category in _PHOTO_CATEGORIES and accepts_media(tracker):
            slots.append("complaint_photo")
        return slots

    async def extract_complaint_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("complaint_category"):
            return {}
        category = _entity(tracker, "complaint_category")
        if category not in CATEGORIES:
            category = category_in_text(_text(tracker))
        if category:
            return {"complaint_category": category}
        if tracker.get_slot("requested_slot") == "complaint_category" and _intent(tracker) != "request_human":
            lang = language_of(tracker)
            dispatcher.utter_message(text=pick(TEXTS, "category_unclear", lang))
            return {"complaint_category": None}
        return {}

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = tracker.get_slot("requested_slot") == "order_number"
        if (asked and tracker.get_slot("complaint_category") in _NO_ORDER_CATEGORIES
                and (_intent(tracker) == "deny" or _SKIP.search(_text(tracker)))):
            return {"complaint_order_skipped": True}
        return extract_order_number(dispatcher, tracker, language_of(tracker))

    async def extract_complaint_photo(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        url = media_url(tracker)
        if url:
            return {"complaint_photo": url}
        if tracker.get_slot("requested_slot") == "complaint_photo" and _intent(tracker) != "request_human":
            # Anything but a picture answers "do you have a photo?" with no: the complaint is not held up.
            return {"complaint_photo": ""}
        return {}

    def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 3 or text.startswith("/"):
            dispatcher.utter_message(text=pick(TEXTS, "description_too_short", language_of(tracker)))
            return {"complaint_description": None}
        return {"complaint_description": text}


class ActionAskComplaintCategory(Action):
    def name(self) -> str:
        return "action_ask_complaint_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        dispatcher.utter_message(text=pick(TEXTS, "ask_category", lang), buttons=category_buttons(lang))
        return []


class ActionAskComplaintOrderNumber(Action):
    """Asks for the order number; for service/other complaints with a button to go on without one."""

    def name(self) -> str:
        return "action_ask_complaint_form_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        if tracker.get_slot("complaint_category") in _NO_ORDER_CATEGORIES:
            dispatcher.utter_message(text=pick(TEXTS, "ask_order_number_optional", lang),
                                     buttons=[{"title": TEXTS["skip_order"][lang], "payload": "/deny"}])
        else:
            dispatcher.utter_message(text=pick(TEXTS, "ask_order_number", lang))
        return []


class ActionAskComplaintPhoto(Action):
    def name(self) -> str:
        return "action_ask_complaint_photo"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        dispatcher.utter_message(text=pick(TEXTS, "ask_photo", lang),
                                 buttons=[{"title": TEXTS["no_photo"][lang], "payload": "/deny"}])
        return []


class ActionSubmitComplaint(Action):
    """Stores the complaint and tells the reference; billing and repeat complaints go to a person."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        category = tracker.get_slot("complaint_category") or "other"
        order_number = tracker.get_slot("order_number")
        description = tracker.get_slot("complaint_description") or ""
        photo = tracker.get_slot("complaint_photo") or None
        stored = await store_complaint(db.sessions(), NewComplaint(
            conversation_id=tracker.sender_id, channel=channel_of(tracker), category=category,
            order_number=order_number, description=description, media_url=photo, language=lang,
        ), needs_human=category == "billing")
        reference = stored.reference
        summary = (f"Complaint {reference} ({category}), order {order_number or '–'}: {description[:300]}"
                   + (f" [photo: {photo}]" if photo else ""))
        if category == "billing" or stored.is_repeat:
            reason = "billing_complaint" if category == "billing" else "repeat_complaint"
            if stored.is_repeat:
                summary += f" — complaint no. {stored.earlier_complaints + 1} of this conversation within 30 days"
            text = pick(TEXTS, "filed_billing" if category == "billing" else "filed_repeat", lang, reference=reference)
            send_handoff(dispatcher, lang, handoff_payload(
                reason=reason, priority=Priority.urgent, language=lang, summary=summary,
                complaint_reference=reference, order_number=order_number,
            ), text=text)
        else:
            hours = shop.load()["customer_service"]["complaint_reply_hours"]
            dispatcher.utter_message(
                text=pick(TEXTS, "filed", lang, reference=reference, hours=hours),
                buttons=[{"title": TEXTS["talk_to_someone"][lang], "payload": "/request_human"}])
        return [
            SlotSet("complaint_reference", reference), SlotSet("last_complaint_category", category),
            SlotSet("complaint_category", None), SlotSet("complaint_description", None),
            SlotSet("complaint_photo", None), SlotSet("complaint_order_skipped", None),
            # The next complaint may be about another order: ask again.
            SlotSet("order_number", None),
            SlotSet("question_answered", True),
        ]
