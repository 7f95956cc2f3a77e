"""The customer's own erase (GDPR Art. 17) in the chat: "Daten löschen" / "delete my data".

`action_ask_erase_data` explains what will be erased and asks; on yes `action_erase_data` confirms
and returns the custom payload `{"erase": {"confirmed": true}}` (docs/seams.md), which the gateway
acts on after it delivered the confirmation: it erases the conversation everywhere (bot/privacy).
On no, `action_keep_data` says nothing was changed.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.language import language_of, pick

ERASE_PAYLOAD = {"erase": {"confirmed": True}}

TEXTS: dict[str, dict[str, str]] = {
    "ask": {
        "de": "Ich kann diesen Chat und alles, was wir dazu gespeichert haben, endgültig löschen: deine Nummer, "
              "alle Nachrichten, Fotos, Reklamationsbeschreibungen und Bewertungskommentare. Für unsere Statistik "
              "bleiben nur anonyme Zahlen (z. B. Sterne) ohne Bezug zu dir. Soll ich alles löschen?",
        "en": "I can erase this chat and everything we keep about it for good: your number, all messages, photos, "
              "complaint descriptions and rating comments. Only anonymous figures (such as stars) that link to "
              "nobody stay for our statistics. Shall I erase everything?",
    },
    "yes": {"de": "Ja, alles löschen", "en": "Yes, erase everything"},
    "no": {"de": "Nein, behalten", "en": "No, keep it"},
    "erased": {
        "de": "Erledigt: deine Daten werden jetzt gelöscht. Wenn du uns wieder schreibst, beginnt ein neues Gespräch.",
        "en": "Done: your data is being erased now. If you write to us again, a new conversation begins.",
    },
    "kept": {
        "de": "Alles klar, ich habe nichts gelöscht. Kann ich sonst noch helfen?",
        "en": "Alright, I haven't erased anything. Can I help with anything else?",
    },
}


class ActionAskEraseData(Action):
    def name(self) -> str:
        return "action_ask_erase_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        lang = language_of(tracker)
        dispatcher.utter_message(text=pick(TEXTS, "ask", lang), buttons=[
            {"title": pick(TEXTS, "yes", lang), "payload": "/affirm"},
            {"title": pick(TEXTS, "no", lang), "payload": "/deny"},
        ])
        return []


class ActionEraseData(Action):
    def name(self) -> str:
        return "action_erase_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=pick(TEXTS, "erased", language_of(tracker)))
        dispatcher.utter_message(json_message=ERASE_PAYLOAD)
        return []


class ActionKeepData(Action):
    def name(self) -> str:
        return "action_keep_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=pick(TEXTS, "kept", language_of(tracker)))
        return []
