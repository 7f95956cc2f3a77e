"""Session start: language and channel from the channel's metadata, and what outlives a session.

Rasa copies the first message's metadata into `session_started_metadata`. Slots are not carried
over (session_config), except `language`: a customer keeps their language after a pause. A new
session is a new conversation, so `rating_asked` starts afresh (a WhatsApp number that rated
once is asked again next week). An agent's conversation does not expire under the customer:
the gateway's EXTERNAL_handoff_closed is a user event of its own, so the rating that follows it
lands in the same session.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import LANGUAGES, metadata_language

_CARRIED_OVER = ("language",)


def channel_of(tracker: Tracker) -> str:
    """The channel the customer writes on ("whatsapp", "webchat"), "unknown" if no channel said so."""
    channel = tracker.get_slot("channel")
    if channel:
        return channel
    for metadata in ((tracker.latest_message or {}).get("metadata") or {}, tracker.get_slot("session_started_metadata") or {}):
        if isinstance(metadata, dict) and metadata.get("channel"):
            return str(metadata["channel"])
    return "unknown"


def accepts_media(tracker: Tracker) -> bool:
    """Whether the customer's channel can send a photo (the gateway says so in the metadata)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get("accepts_media") is True


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        metadata = tracker.get_slot("session_started_metadata") or {}
        events: list[EventType] = [SessionStarted()]
        # The tracker still holds the previous session's slots here: keep the few that outlive it.
        for name in _CARRIED_OVER:
            value = tracker.get_slot(name)
            if value is not None and value is not False:
                events.append(SlotSet(name, value))
        language = metadata.get("language") if isinstance(metadata, dict) else None
        if language in LANGUAGES:
            # The channel knows the customer's language better than an old session does.
            events.append(SlotSet("language", language))
        elif tracker.get_slot("language") is None:
            events.append(SlotSet("language", metadata_language(tracker)))
        if isinstance(metadata, dict) and metadata.get("channel"):
            events.append(SlotSet("channel", str(metadata["channel"])))
        events.append(SlotSet("session_started_metadata", metadata or None))
        events.append(ActionExecuted("action_listen"))
        return events
