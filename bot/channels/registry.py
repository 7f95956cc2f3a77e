"""Every channel of the gateway, and which one serves a conversation.

A new channel is one module under bot/channels/ with a `build(settings, parts)` and one line
in `BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bot.channels.base import ChannelParts
from bot.channels.webchat import channel as webchat
from bot.channels.whatsapp import cloud_provider as whatsapp_cloud
from bot.channels.whatsapp import twilio_provider as whatsapp_twilio
from bot.settings import Settings
from core.contract import Channel

BUILDERS: tuple[Callable[[Settings, ChannelParts], Channel], ...] = (
    webchat.build,
    whatsapp_twilio.build,
    whatsapp_cloud.build,
)


class UnknownConversation(ValueError):
    """A conversation id that no channel's prefix matches."""


class Channels:
    def __init__(self) -> None:
        self._units: list[Channel] = []

    def add(self, unit: Channel) -> None:
        self._units.append(unit)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._units)

    def family_of(self, conversation_id: str) -> str:
        return self._candidates(conversation_id)[0].family

    async def for_conversation(self, conversation_id: str) -> Channel:
        """The unit that answers the conversation: of the units with its id prefix, the one
        that says it serves it (the provider the customer last wrote through)."""
        candidates = self._candidates(conversation_id)
        for unit in candidates[:-1]:
            if await unit.serves(conversation_id):
                return unit
        return candidates[-1]

    def _candidates(self, conversation_id: str) -> list[Channel]:
        found = [u for u in self._units if conversation_id.startswith(u.id_prefix)]
        if not found:
            prefixes = sorted({u.id_prefix for u in self._units})
            raise UnknownConversation(f"conversation id {conversation_id[:8]!r}… has none of the prefixes {prefixes}")
        return found
