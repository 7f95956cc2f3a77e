"""The one way into the router for every channel: length, rate limits, typed intents, dedup, submit.

A channel parses its provider's request into an `Inbound` and hands it here. The message is
refused (`Refused`, with the text the customer is told) when it is too long or the customer
writes too fast (per conversation, and per client address where the channel knows one);
typed intent syntax becomes text unless it is the payload of the on-offer button the channel
says was pressed (bot/typed_intents.py); then the message is appended to the router's inbox
together with its dedup marker in one atomic step, so a marker never exists for a message that
is not in the inbox and a provider's retry of a taken message is recognised and dropped. A
message taken uses up the buttons on offer: the customer answered them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from bot import keys, typed_intents
from bot.metrics import Metrics
from bot.router import Router
from bot.transcript import Transcript
from core import texts
from core.contract import Button, Inbound

if TYPE_CHECKING:
    from bot.address_limits import AddressLimits

log = logging.getLogger(__name__)

SEEN_SECONDS = 24 * 3600


class Refused(Exception):
    """A customer message the gateway does not take. `reason` is machine-readable (web chat
    error frames, HTTP 400 bodies, `shopdesk_errors_total{kind="rejected_<reason>"}`), `text`
    is for the customer, `tell` is False for repeats the customer was already told about."""

    def __init__(self, reason: str, detail: str, text: str | None = None, tell: bool = True) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.text = text
        self.tell = tell


class RateLimiter:
    """Fixed one-minute windows per sender, counted in Redis (shared by all gateway processes)."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._redis = redis
        self.per_minute = per_minute

    async def hit(self, sender: str) -> int:
        """Count one message; returns how many the sender sent in this minute, this one included."""
        key = keys.rate(sender, int(time.time() // 60))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)


class Intake:
    def __init__(
        self, redis: Redis, router: Router, transcript: Transcript, limiter: RateLimiter, metrics: Metrics,
        max_chars: int, addresses: AddressLimits | None = None,
    ) -> None:
        self._redis = redis
        self._addresses = addresses  # per client address (web chat); WhatsApp has none
        self._router = router
        self._transcript = transcript
        self._limiter = limiter
        self._metrics = metrics
        self.max_chars = max_chars

    async def take(self, inbound: Inbound, pressed: Button | None = None) -> bool:
        """Into the router's inbox; False when `inbound.external_id` was taken before (a retry).
        `pressed` is the button on offer that the channel maps the message to (its payload is
        the text), None for anything typed. Raises `Refused`."""
        try:
            self._check_length(inbound)
            await self._check_rate(inbound)
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
        taken = await self._router.submit(inbound, seen, SEEN_SECONDS)
        if not taken:
            log.info("duplicate dropped conversation=%s channel=%s", inbound.conversation_id, inbound.channel)
            return False
        # Only now: a provider's retry of a message that failed before this point must still
        # find the offer. A later press of the same button is then typed text.
        await self._redis.delete(keys.buttons(inbound.conversation_id))
        return True

    async def typing(self, conversation_id: str) -> None:
        """The customer is typing: the desk shows the agent who has the conversation (if any)."""
        if self._router.desk is not None:
            await self._router.desk.customer_typing(conversation_id)

    async def present(self, conversation_ids: list[str]) -> None:
        """The customers of these conversations are still there (a web chat socket is open): the
        desk does not expire them from the queue as silent."""
        if self._router.desk is not None and conversation_ids:
            await self._router.desk.customers_present(conversation_ids)

    async def record_only(self, conversation_id: str, channel: str, text: str) -> None:
        """A line for the transcript that nobody answers (an opt-out)."""
        await self._transcript.record(conversation_id, channel, "customer", text)

    def _check_length(self, inbound: Inbound) -> None:
        if len(inbound.text) > self.max_chars:
            raise Refused(
                "too_long", f"the message has {len(inbound.text)} characters, at most {self.max_chars} are accepted",
                texts.text("too_long", inbound.language, limit=self.max_chars),
            )

    async def _check_rate(self, inbound: Inbound) -> None:
        count = await self._limiter.hit(inbound.conversation_id)
        if count > self._limiter.per_minute:
            raise Refused(
                "rate_limited", f"more than {self._limiter.per_minute} messages a minute",
                texts.text("rate_limited", inbound.language),
                # Said once per minute, not once per flooding message.
                tell=count == self._limiter.per_minute + 1,
            )
        if inbound.address and self._addresses is not None:
            await self._addresses.message(inbound.address, inbound.language)
