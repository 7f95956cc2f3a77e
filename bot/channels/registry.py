"""Every channel of the gateway, and which one serves a conversation.

A new channel is one folder under bot/channels/ that declares a `FOLDER`
(bot/channels/folder.py), imported here, and one line in `FOLDERS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bot.channels import webchat, whatsapp
from bot.channels.folder import ChannelFolder, CustomerIds, StandIn
from core.contract import Channel, Route

FOLDERS: tuple[ChannelFolder, ...] = (
    webchat.FOLDER,
    whatsapp.FOLDER,
)


def customer_ids(folders: Sequence[ChannelFolder] = FOLDERS) -> list[CustomerIds]:
    return [folder.ids for folder in folders]


def standins(folders: Sequence[ChannelFolder] = FOLDERS) -> list[StandIn]:
    return [standin for folder in folders for standin in folder.standins]


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
        return self._family(conversation_id).family

    async def route(self, conversation_id: str) -> Route:
        """The way of one send: the family's first unit routes it (to itself or a sibling)."""
        return await self._family(conversation_id).route(conversation_id)

    async def typing(self, conversation_id: str, agent_id: str | None) -> None:
        # No route: a channel that shows typing routes it itself, the others need no contact read.
        await self._family(conversation_id).typing(conversation_id, agent_id)

    def _family(self, conversation_id: str) -> Channel:
        unit = next((u for u in self._units if conversation_id.startswith(u.id_prefix)), None)
        if unit is None:
            prefixes = sorted({u.id_prefix for u in self._units})
            raise UnknownConversation(f"conversation id {conversation_id[:8]!r}… has none of the prefixes {prefixes}")
        return unit
