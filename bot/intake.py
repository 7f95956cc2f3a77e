"""The one way into the inbox for every channel: limits, typed intents, dedup, push.

A channel parses its provider's request into an `Inbound` and hands it here. The message is
refused (`Refused`, with the text the customer is told: bot/limits.py) when it is too long or the
customer writes too fast (per conversation, and per client address where the channel knows one);
typed intent syntax becomes text unless it is the payload of the on-offer button the channel
says was pressed (bot/typed_intents.py); then the message is appended to the conversation's
inbox (bot/inbox.py, worked by the router) together with its dedup marker in one atomic step, so
a marker never exists for a message that is not in the inbox and a provider's retry of a taken
message is recognised and dropped. A message taken uses up the buttons on offer: the customer
answered them.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from bot import keys, typed_intents
from bot.inbox import Inbox
from bot.limits import AddressLimits, RateLimiter, Refused, check_length
from bot.metrics import Metrics
from bot.transcript import Transcript
from core.contract import Button, Desk, Inbound

log = logging.getLogger(__name__)

SEEN_SECONDS = 24 * 3600


class Intake:
    def __init__(
        self, redis: Redis, inbox: Inbox, transcript: Transcript, limiter: RateLimiter, metrics: Metrics,
        max_chars: int, addresses: AddressLimits | None = None,
    ) -> None:
        self._redis = redis
        self._addresses = addresses  # per client address (web chat); WhatsApp has none
        self._inbox = inbox
        self._transcript = transcript
        self._limiter = limiter
        self._metrics = metrics
        self.max_chars = max_chars
        self.desk: Desk | None = None  # set by bot/app.py once handoff.setup_handoff built it

    async def take(self, inbound: Inbound, pressed: Button | None = None) -> bool:
        """Into the conversation's inbox; False when `inbound.external_id` was taken before (a retry).
        `pressed` is the button on offer that the channel maps the message to (its payload is
        the text), None for anything typed. Raises `Refused`."""
        try:
            await self._check_limits(inbound)
        except Refused as refused:
            self._metrics.errors.labels(f"rejected_{refused.reason}").inc()
            log.info("refused conversation=%s channel=%s reason=%s", inbound.conversation_id, inbound.channel, refused.reason)
            raise
        admitted = typed_intents.admit(inbound, pressed)
        if admitted is not inbound:
            log.info("typed intent syntax taken as text channel=%s", inbound.channel)
            inbound = admitted
        seen = keys.seen(inbound.conversation_id, inbound.external_id) if inbound.external_id else None
        if seen is not None and await self._redis.exists(seen):
            log.info("duplicate dropped conversation=%s channel=%s", inbound.conversation_id, inbound.channel)
            return False
        taken = await self._inbox.push_once(inbound, seen, SEEN_SECONDS)
        if not taken:
            log.info("duplicate dropped conversation=%s channel=%s", inbound.conversation_id, inbound.channel)
            return False
        # Only now: a provider's retry of a message that failed before this point must still
        # find the offer. A later press of the same button is then typed text.
        await self._redis.delete(keys.buttons(inbound.conversation_id))
        return True

    async def typing(self, conversation_id: str) -> None:
        """The customer is typing: the desk shows the agent who has the conversation (if any)."""
        if self.desk is not None:
            await self.desk.customer_typing(conversation_id)

    async def present(self, conversation_ids: list[str]) -> None:
        """The customers of these conversations are still there (a web chat socket is open): the
        desk does not expire them from the queue as silent."""
        if self.desk is not None and conversation_ids:
            await self.desk.customers_present(conversation_ids)

    async def record_only(self, conversation_id: str, channel: str, text: str) -> None:
        """A line for the transcript that nobody answers (an opt-out)."""
        await self._transcript.record(conversation_id, channel, "customer", text)

    async def _check_limits(self, inbound: Inbound) -> None:
        check_length(inbound, self.max_chars)
        await self._limiter.message(inbound)
        if inbound.address and self._addresses is not None:
            await self._addresses.message(inbound.address, inbound.language)
