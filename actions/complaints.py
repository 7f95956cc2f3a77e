"""Complaints: a form (category, order number, description, photo), then the stored complaint.

The bot first apologises (utter_complaint_sorry), the form collects, `action_submit_complaint`
stores the row under a reference and either promises a reply or, when a person is needed
(billing, a repeat within 30 days), hands the conversation to the desk.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db, shop
from actions.asking import Question, SkippableQuestion, skip_button
from actions.complaint_store import NewComplaint, add_detail, complaint_to_follow, status_of, store_complaint
from actions.forms import FormValidationWithNotes
from actions.handoff import handoff_payload, send_handoff
from actions.language import language_of, pick
from actions.order_status import extract_order_number
from actions.orders import find_order_number
from actions.session import accepts_media, channel_of
from core.contract import Priority
from db.complaints import REFERENCE, reference_in

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
    ("billing", ("rechnung", "abgebucht", "abbuchung", "doppelt abgezogen", "zweimal abgezogen", "doppelt bezahlt", "zweimal bezahlt", "belastet", "betrag",
                 "gutschrift", "mahnung", "zahlung", "billing", "invoice", "charged", "overcharged", "double charge",
                 "billed twice", "bill", "payment")),
    ("damaged", ("kaputt", "beschädigt", "beschaedigt", "zerbrochen", "gebrochen", "abgebrochen", "zerkratzt",
                 "delle", "eingedrückt", "zerdrückt", "zerdrueckt", "zerdatscht", "gesprungen", "sprung", "scherben",
                 "ausgelaufen", "aufgerissen", "nass", "verschimmelt", "geschmolzen", "damaged", "broken", "smashed",
                 "cracked", "crack", "scratched", "dented", "crushed", "squashed", "shattered", "leaked", "leaking",
                 "torn", "mouldy", "moldy", "melted", "in pieces")),
    ("wrong_item", ("falsch", "verwechselt", "anderen artikel", "anderes produkt", "nicht bestellt", "statt",
                    "wrong", "not what i ordered", "didn't order", "different item", "mixed up", "instead of")),
    ("late_or_missing", ("nicht angekommen", "nie angekommen", "fehlt", "verloren", "verspätet", "verspaetet",
                         "zu spät", "noch nicht da", "immer noch nicht", "wo bleibt", "missing", "lost", "late",
                         "never arrived", "not arrived", "hasn't arrived", "hasnt arrived", "still waiting",
                         "not received", "didn't arrive", "didnt arrive")),
    ("service", ("unfreundlich", "service", "hotline", "warteschleife", "beratung", "niemand antwortet",
                 "keine antwort", "rude", "unfriendly", "customer service", "no answer", "nobody answers", "support")),
    ("other", ("anderes", "sonstiges", "something else", "other")),
]
_KEYWORD_PATTERNS = [(cat, re.compile("|".join(r"\b" + re.escape(k) for k in kws))) for cat, kws in _KEYWORDS]
# "Eine neue Reklamation": the customer starts another complaint, not a detail of the last one.
_NEW_COMPLAINT = re.compile(r"\b(neue|weitere|andere|zweite)n?\s+(reklamation|beschwerde)|\b(new|another|second|separate)\s+complaint",
                            re.IGNORECASE)
# The customer refers to a complaint they filed before (another day, another session).
_REFERS = re.compile(r"\b(meine[rnm]?|zu\s+der|my|to\s+the)\s+(reklamation|beschwerde|complaint)", re.IGNORECASE)
# Words that carry no description: greetings, yes/no, "complaint", the order number's label.
_EMPTY_WORDS = frozenset("""
    hallo hi hey servus moin grüezi ja nein yes no ok okay danke thanks bitte please reklamation beschwerde
    complaint bestellung order bestellnummer nummer number ich i habe hab have eine einen a ein meine meiner
    meinem meinen my the die der das about with wegen über ueber mit zu zur zum to for für fuer an of von
    möchte moechte will want would like mich me
""".split())
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_SKIP = re.compile(r"\b(nein|nö|no|nope|keine?n?|ohne|skip|überspringen|weiter|none|nicht|habe? keine?)\b", re.IGNORECASE)

TEXTS: dict[str, dict[str, str]] = {
    "ask_description": {
        "de": "Beschreib mir bitte in deinen eigenen Worten, was passiert ist.",
        "en": "Please describe in your own words what happened.",
    },
    "understood": {
        "de": "Notiert: {understood}.",
        "en": "Noted: {understood}.",
    },
    "order_label": {"de": "Bestellung {number}", "en": "order {number}"},
    "detail_added": {
        "de": "Danke! Ich habe das zu deiner Reklamation {reference} hinzugefügt.",
        "en": "Thank you! I've added that to your complaint {reference}.",
    },
    "photo_added": {
        "de": "Danke! Ich habe dein Foto zu deiner Reklamation {reference} hinzugefügt.",
        "en": "Thank you! I've added your photo to your complaint {reference}.",
    },
    "status": {
        "de": "Deine Reklamation {reference} ({date}): {state}.",
        "en": "Your complaint {reference} ({date}): {state}.",
    },
    "status_resolution": {"de": " Unsere Lösung: {resolution}", "en": " Our resolution: {resolution}"},
    "no_complaint_with_reference": {
        "de": "Unter {reference} finde ich keine Reklamation von dir. Prüf bitte die Referenz in unserer Bestätigung.",
        "en": "I can't find a complaint of yours under {reference}. Please check the reference in our confirmation.",
    },
    "no_complaint": {
        "de": "Ich finde keine Reklamation von dir. Wenn etwas nicht in Ordnung ist, beschreib es mir einfach.",
        "en": "I can't find a complaint of yours. If something is wrong, just describe it to me.",
    },
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
        "de": "Danke, deine Reklamation ist aufgenommen – {understood}. Deine Referenz: {reference}. Stimmt etwas nicht oder fällt dir noch etwas ein, schreib es mir einfach, ich ergänze es. Unser Service-Team meldet sich innerhalb von {hours} Stunden bei dir. Wenn du lieber gleich mit jemandem sprechen möchtest, sag einfach Bescheid.",
        "en": "Thank you, your complaint has been filed – {understood}. Your reference: {reference}. If anything is wrong or you think of something else, just write it here and I'll add it. Our service team will get back to you within {hours} hours. If you'd rather talk to someone right away, just let me know.",
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

STATUS_LABELS: dict[str, dict[str, str]] = {
    "open": {"de": "eingegangen, unser Team schaut sie sich bald an", "en": "received, our team will look at it soon"},
    "in_progress": {"de": "in Bearbeitung", "en": "being worked on"},
    "resolved": {"de": "erledigt", "en": "resolved"},
    "rejected": {"de": "abgelehnt", "en": "rejected"},
}


# Each category's names in each language.
class CategoryName(NamedTuple):
    label: str  # on its button
    short: str  # how the bot repeats it back ("Bestellung AK-100003, beschädigt: …")


CATEGORY_NAMES: dict[str, dict[str, CategoryName]] = {
    "damaged": {"de": CategoryName("Ware beschädigt", "beschädigt"), "en": CategoryName("Item damaged", "damaged")},
    "wrong_item": {"de": CategoryName("Falscher Artikel", "falscher Artikel"), "en": CategoryName("Wrong item", "wrong item")},
    "late_or_missing": {"de": CategoryName("Lieferung verspätet / fehlt", "Lieferung verspätet oder fehlt"), "en": CategoryName("Delivery late / missing", "delivery late or missing")},
    "billing": {"de": CategoryName("Rechnung & Zahlung", "Rechnung oder Zahlung"), "en": CategoryName("Billing & payment", "billing or payment")},
    "defect": {"de": CategoryName("Artikel defekt", "defekt"), "en": CategoryName("Item defective", "defective")},
    "service": {"de": CategoryName("Kundenservice", "Kundenservice"), "en": CategoryName("Customer service", "customer service")},
    "other": {"de": CategoryName("Etwas anderes", "Sonstiges"), "en": CategoryName("Something else", "other")},
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
        {"title": CATEGORY_NAMES[c][lang].label, "payload": f'/complain{{"complaint_category": "{c}"}}'}
        for c in CATEGORIES
    ]


def media_urls(tracker: Tracker) -> list[str]:
    """The pictures the customer attached to the latest message (media in the message metadata)."""
    media = ((tracker.latest_message or {}).get("metadata") or {}).get("media") or []
    return [str(item["url"]) for item in media if isinstance(item, dict) and item.get("url")]


def media_url(tracker: Tracker) -> str | None:
    """The first picture the customer attached to the latest message."""
    return next(iter(media_urls(tracker)), None)


def describes(text: str, asked: bool) -> bool:
    """Whether `text` describes a problem: not just an order number, a yes, an emoji or "Reklamation".

    Asked for a description, two words that say something will do; a first message counts as the
    description only when it names the problem (a category word) and says a little more than
    the topic ("Reklamation zu meiner Rechnung" is a topic, "die Rechnung ist doppelt" a description)."""
    if not text or text.startswith("/"):
        return False
    bare = REFERENCE.sub(" ", text)
    number = find_order_number(bare)
    if number:
        bare = re.sub(r"[Aa][Kk]\s?[-–_ ]?\s?\d{6}", " ", bare)
    words = _LETTER_WORD.findall(bare.lower())
    telling = [w for w in words if w not in _EMPTY_WORDS]
    if asked:
        return len(telling) >= 2 or (len(telling) == 1 and len(telling[0]) >= 6)
    return len(telling) >= 3 and category_in_text(text) is not None


def understood(tracker: Tracker, lang: str, with_description: bool = True) -> str:
    """What the bot took from the customer so far: "Bestellung AK-100003, beschädigt: „…“"."""
    parts = []
    number = tracker.get_slot("order_number")
    if number:
        parts.append(pick(TEXTS, "order_label", lang, number=number))
    category = tracker.get_slot("complaint_category")
    if category in CATEGORY_NAMES:
        parts.append(CATEGORY_NAMES[category][lang].short)
    text = ", ".join(parts)
    description = tracker.get_slot("complaint_description")
    if with_description and description:
        shown = description if len(description) <= 160 else description[:157] + "…"
        text = f"{text}: „{shown}“" if lang == "de" else f"{text}: “{shown}”"
    return text


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

    async def extract_complaint_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker).strip()
        if tracker.get_slot("requested_slot") == "complaint_description":
            if _intent(tracker) == "request_human":
                return {}
            if describes(text, asked=True) and _intent(tracker) not in ("affirm", "deny"):
                return {"complaint_description": text}
            dispatcher.utter_message(text=pick(TEXTS, "description_too_short", language_of(tracker)))
            return {"complaint_description": None}
        if not tracker.get_slot("complaint_description") and _intent(tracker) == "complain" and describes(text, asked=False):
            # The message that started the complaint already says what happened.
            return {"complaint_description": text}
        return {}


class ActionAskComplaintCategory(Question):
    def name(self) -> str:
        return "action_ask_complaint_category"

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None:
        dispatcher.utter_message(text=pick(TEXTS, "ask_category", lang), buttons=category_buttons(lang))


class ActionAskComplaintDescription(Question):
    """Asks what happened, repeating what the customer already said (so they can correct it)."""

    def name(self) -> str:
        return "action_ask_complaint_description"

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None:
        known = understood(tracker, lang, with_description=False)
        prefix = pick(TEXTS, "understood", lang, understood=known) + " " if known else ""
        dispatcher.utter_message(text=prefix + pick(TEXTS, "ask_description", lang))


class ActionAskComplaintOrderNumber(Question):
    """Asks for the order number; for service/other complaints with a button to go on without one."""

    def name(self) -> str:
        return "action_ask_complaint_form_order_number"

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None:
        if tracker.get_slot("complaint_category") in _NO_ORDER_CATEGORIES:
            dispatcher.utter_message(text=pick(TEXTS, "ask_order_number_optional", lang),
                                     buttons=[skip_button(TEXTS["skip_order"][lang])])
        else:
            dispatcher.utter_message(text=pick(TEXTS, "ask_order_number", lang))


class ActionAskComplaintPhoto(SkippableQuestion):
    texts, question, skip = TEXTS, "ask_photo", "no_photo"

    def name(self) -> str:
        return "action_ask_complaint_photo"



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
                text=pick(TEXTS, "filed", lang, reference=reference, hours=hours, understood=understood(tracker, lang)),
                buttons=[{"title": TEXTS["talk_to_someone"][lang], "payload": "/request_human"}])
        return [
            SlotSet("complaint_reference", reference), SlotSet("last_complaint_category", category),
            SlotSet("complaint_category", None), SlotSet("complaint_description", None),
            SlotSet("complaint_photo", None), SlotSet("complaint_order_skipped", None),
            # The next complaint may be about another order: ask again.
            SlotSet("order_number", None),
            SlotSet("question_answered", True),
        ]


class ActionSpotComplaintDetail(Action):
    """Custom slot mapping of `complaint_followup`: runs after every customer message.

    "detail" when the message adds to the customer's complaint: a complaint-like or not understood
    message (or a photo) after a complaint was filed in this conversation, or one that refers to
    a complaint of the last 14 days ("zu meiner Reklamation", a reference). A message about another
    order, or one that says it is a new complaint, starts a new complaint instead.
    """

    def name(self) -> str:
        return "action_spot_complaint_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reset: list[EventType] = [SlotSet("complaint_followup", None)] if tracker.get_slot("complaint_followup") else []
        text = _text(tracker)
        if tracker.active_loop.get("name") or _intent(tracker) not in ("complain", "nlu_fallback") or _NEW_COMPLAINT.search(text):
            return reset
        typed = reference_in(text)
        candidate = typed or tracker.get_slot("complaint_reference")
        if not candidate and not _REFERS.search(text) and not media_urls(tracker):
            return reset
        followed = await complaint_to_follow(db.sessions(), tracker.sender_id, candidate)
        if followed is None:
            return reset
        number = find_order_number(text)
        if number and number != followed.order_number:
            return reset
        events: list[EventType] = [SlotSet("complaint_followup", "detail")]
        if followed.reference != tracker.get_slot("complaint_reference"):
            events.append(SlotSet("complaint_reference", followed.reference))
        return events


class ActionAddComplaintDetail(Action):
    """Appends the customer's message (text and photos) to their complaint's timeline and says so."""

    def name(self) -> str:
        return "action_add_complaint_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        reference = tracker.get_slot("complaint_reference")
        text = _text(tracker).strip()
        photos = media_urls(tracker)
        detail = text if text and not text.startswith("/") else None
        if reference and await add_detail(db.sessions(), tracker.sender_id, reference, detail, photos):
            key = "photo_added" if photos and not detail else "detail_added"
            dispatcher.utter_message(text=pick(TEXTS, key, lang, reference=reference))
        else:
            dispatcher.utter_message(text=pick(TEXTS, "no_complaint", lang))
        # complaint_followup stays until the next message (action_spot_complaint_detail): the rule that
        # ran this action ends with it set.
        return [SlotSet("question_answered", True)]


class ActionComplaintStatus(Action):
    """The state of the customer's complaint (the reference they name, else their latest) and its last update.

    A reference of another customer gets the same answer as an unknown one."""

    def name(self) -> str:
        return "action_complaint_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        typed = reference_in(_text(tracker))
        answer = await status_of(db.sessions(), tracker.sender_id, typed)
        if answer is None:
            key = "no_complaint_with_reference" if typed else "no_complaint"
            dispatcher.utter_message(text=pick(TEXTS, key, lang, reference=typed or ""))
            return [SlotSet("question_answered", True)]
        local = answer.last_update.astimezone(ZoneInfo(shop.load()["customer_service"]["timezone"]))
        date = local.strftime("%d.%m.%Y") if lang == "de" else local.strftime("%d %b %Y")
        state = STATUS_LABELS.get(answer.status, STATUS_LABELS["open"])[lang]
        text = pick(TEXTS, "status", lang, reference=answer.reference, date=date, state=state)
        if answer.resolution and answer.status in ("resolved", "rejected"):
            text += pick(TEXTS, "status_resolution", lang, resolution=answer.resolution)
        dispatcher.utter_message(text=text)
        return [SlotSet("question_answered", True), SlotSet("complaint_reference", answer.reference)]
