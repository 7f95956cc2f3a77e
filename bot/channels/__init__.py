"""The customer channels. Each module has an input side (aiohttp routes that turn the provider's
request into an `Inbound` for the router) and an output side (a `ChannelSender` the Delivery uses).
The router never knows which channel a message came from.
"""

from __future__ import annotations

from typing import Protocol

from bot.outbound import Outbound


class ChannelSender(Protocol):
    async def send(self, conversation_id: str, messages: list[Outbound]) -> None:
        """Put the messages in front of the customer (the transcript is already written)."""
        ...

    async def typing(self, conversation_id: str) -> None:
        """Show that the bot is working on an answer, where the channel can."""
        ...
