"""Which language the customer writes: a `language` slot, corrected on every message with clear evidence.

The slot starts from the channel's metadata (see actions/session.py). Metadata can be wrong or
missing (WhatsApp sends none), so each message is scored on German and English stop words and
German letters; only a clear majority switches the language, so "ok" or "4" never flips it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from core.contract import DEFAULT_LANGUAGE, LANGUAGES

# Short, frequent function words; words that are the same in both languages ("in", "so") are left out.
_STOP_WORDS: dict[str, frozenset[str]] = {
    "de": frozenset(
        """
        ich du sie er wir ihr mein meine meinen meinem meiner dein deine ist sind bin bist war hat habe
        hab haben nicht nich kein keine keinen der die das den dem des ein eine einen einem und oder
        aber mit mich mir dir uns euch wo wie wann warum wieso weshalb welche welcher noch schon
        auch nur bitte danke dank ja nein nö jo moin servus grüezi grüß gruss hallo tschüss tschüs
        ciao bis zum zur vom von für fuer nach bei über ueber kann können koennen möchte moechte
        wollte würde wuerde gibt geht gerne gern sehr gut schlecht kostet kosten versand lieferung
        bestellung paket rücksendung ruecksendung zahlen bezahlen wann hier da dann denn doch mal
        einem einen eines ob weil wenn sich sein seine etwas nichts alles viel wieviel wie viel
        heute morgen leider hallöchen guten tag abend vielen lieben liebe grüße gruesse
        """.split()
    ),
    "en": frozenset(
        """
        i you he she we they my your our is are were has have had not no the a and or but
        with me us where how what when why which who still already only please thanks thank
        yes yeah yep nope hello hi hey bye goodbye see for from about can could would should
        want wanna need does do did don't dont doesn't isn't it's im i'm there here then this that
        these those of to at on by much many cost costs shipping delivery order parcel package
        return refund pay payment today tomorrow sorry good great bad morning evening afternoon any
        some something nothing anything talk speak human person agent
        """.split()
    ),
}

_WORD = re.compile(r"[a-zäöüß']+")
_GERMAN_LETTERS = re.compile(r"[äöüß]")


def scores(text: str) -> dict[str, int]:
    """Evidence per language: stop-word hits, plus German letters (which English text never has)."""
    words = _WORD.findall(text.lower())
    result = {lang: sum(1 for w in words if w in _STOP_WORDS[lang]) for lang in LANGUAGES}
    result["de"] += 2 * len(_GERMAN_LETTERS.findall(text.lower()))
    return result


def detect(text: str) -> str | None:
    """The language of `text`, or None when the text is too short or mixed to tell."""
    if not text or text.startswith("/"):
        # Button payloads ("/give_rating{…}") carry no language.
        return None
    s = scores(text)
    best = max(LANGUAGES, key=lambda lang: s[lang])
    other = "en" if best == "de" else "de"
    # Two hits and a lead of two: "Hi" or "ok danke" stays with what we had.
    if s[best] >= 2 and s[best] - s[other] >= 2:
        return best
    return None


def metadata_language(tracker: Tracker) -> str | None:
    """The language the channel announced, from the latest message or the session start."""
    for metadata in (
        (tracker.latest_message or {}).get("metadata") or {},
        tracker.get_slot("session_started_metadata") or {},
    ):
        lang = metadata.get("language") if isinstance(metadata, dict) else None
        if lang in LANGUAGES:
            return lang
    return None


def language_of(tracker: Tracker) -> str:
    """The language to answer in: the slot, else the metadata, else German (the shop's home market)."""
    lang = tracker.get_slot("language")
    if lang in LANGUAGES:
        return lang
    return metadata_language(tracker) or DEFAULT_LANGUAGE


def pick(table: dict[str, dict[str, str]], key: str, lang: str, **values: Any) -> str:
    """Text `key` of a per-language table in `lang`, formatted with `values`."""
    return table[key][lang].format(**values)


class ActionDetectLanguage(Action):
    """Custom slot mapping of `language`: Rasa runs it after every customer message."""

    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        current = tracker.get_slot("language")
        detected = detect((tracker.latest_message or {}).get("text") or "")
        new = detected or (current if current in LANGUAGES else None) or metadata_language(tracker) or DEFAULT_LANGUAGE
        return [] if new == current else [SlotSet("language", new)]
