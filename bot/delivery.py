"""The gateway's `Delivery`: every bot and agent message to a customer goes through here.

It asks the conversation's channel whether it may send (the reply window), writes the
transcript, then hands the messages to the channel unit that serves the conversation. A send
that finally fails (`DeliveryFailed`, after the channel's retries) is never left looking sent:
a system line under the messages names the provider's error in the transcript, and the agent
consoles get it as a `message` event (`not_delivered`), before the error goes to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.registry import Channels
from bot.metrics import Metrics
from bot.transcript import Transcript
from core import texts
from core.contract import DeliveryFailed, Outbound, ReplyWindow, WindowClosed

log = logging.getLogger(__name__)


class GatewayDelivery:
    def __init__(self, transcript: Transcript, channels: Channels, metrics: Metrics) -> None:
        self._transcript = transcript
        self._channels = channels
        self._metrics = metrics
        # Set by bot/app.py to the desk's event hub: live events to the agent consoles.
        self.publish: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def deliver(self, conversation_id: str, messages: list[Outbound]) -> None:
        channel = await self._channels.for_conversation(conversation_id)
        window = await channel.reply_window(conversation_id)
        if not window.open and not window.fallback and not all(channel.sends_outside_window(m) for m in messages):
            self._metrics.errors.labels("window_closed").inc()
            raise WindowClosed(window.why)
        await self._transcript.record_many(conversation_id, channel.family, [
            (message.sender, text, message.agent_id) for message in messages if (text := message.transcript_text())
        ])
        try:
            await channel.send(conversation_id, messages)
        except DeliveryFailed as exc:
            await self._not_delivered(conversation_id, channel.family, exc)
            raise
        for message in messages:
            self._metrics.messages_out.labels(channel.family, message.sender).inc()
        log.info("delivered conversation=%s channel=%s messages=%d", conversation_id, channel.name, len(messages))

    async def _not_delivered(self, conversation_id: str, family: str, exc: DeliveryFailed) -> None:
        """The mark for the agent; the error text holds status and provider code, no personal data."""
        line = texts.text("not_delivered", None, error=str(exc))
        await self._transcript.record(conversation_id, family, "system", line)
        if self.publish is not None:
            await self.publish({
                "type": "message", "conversation_id": conversation_id, "sender": "system", "text": line,
                "at": time.time(), "not_delivered": True, "media": [],
            })

    async def reply_window(self, conversation_id: str) -> ReplyWindow:
        return await (await self._channels.for_conversation(conversation_id)).reply_window(conversation_id)

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:
        await (await self._channels.for_conversation(conversation_id)).typing(conversation_id, agent_id)
