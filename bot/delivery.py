"""The gateway's `Delivery`: every bot and agent message to a customer goes through here.

It writes the transcript first, then hands the messages to the customer's channel: Twilio for
WhatsApp, Redis pub/sub for web chat (whichever gateway process holds the websocket pushes it).
The channel is read from the conversation id, so no process needs to remember anything.
"""

from __future__ import annotations

import logging

from bot.channels import ChannelSender
from bot.conversations import channel_of
from bot.metrics import Metrics
from bot.outbound import Channel, Outbound
from bot.transcript import Transcript

log = logging.getLogger(__name__)


def transcript_text(message: Outbound) -> str:
    """What the transcript keeps of a message: its text, or the offered choices when it has none."""
    if message.text:
        return message.text
    return " | ".join(b.title for b in message.buttons)


class GatewayDelivery:
    def __init__(self, transcript: Transcript, senders: dict[Channel, ChannelSender], metrics: Metrics) -> None:
        self._transcript = transcript
        self._senders = senders
        self._metrics = metrics

    async def deliver(self, conversation_id: str, messages: list[Outbound]) -> None:
        channel = channel_of(conversation_id)
        await self._transcript.record_many(conversation_id, channel.value, [
            (message.sender, text, message.agent_id) for message in messages if (text := transcript_text(message))
        ])
        await self._senders[channel].send(conversation_id, messages)
        for message in messages:
            self._metrics.messages_out.labels(channel.value, message.sender).inc()
        log.info("delivered conversation=%s channel=%s messages=%d", conversation_id, channel.value, len(messages))

    async def typing(self, conversation_id: str) -> None:
        await self._senders[channel_of(conversation_id)].typing(conversation_id)
