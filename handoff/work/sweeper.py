"""The desk's background round: agents away past their grace period, long waits, silent customers,
queue places, agents' closes whose later steps failed. Every process runs it; each change is one
atomic script (or a lease) that only one of them wins."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from core import texts
from core.contract import DeliveryFailed, Outbound, WindowClosed
from core.periodic import periodic
from handoff.queue.state import DeskConversation
from handoff.work.notices import QueueNotices
from handoff.work.parts import DeskParts, UsesDeskParts

log = logging.getLogger(__name__)


class Sweeper(UsesDeskParts):
    def __init__(self, parts: DeskParts, notices: QueueNotices, finish_closes: Callable[[], Awaitable[None]]) -> None:
        super().__init__(parts)
        config = parts.config
        self._notices = notices
        self._finish_closes = finish_closes
        self.every_seconds = max(0.05, min(1.0, config.agent_grace_seconds / 4, config.queue_timeout_seconds / 4,
                                           config.queue_abandon_seconds / 4))

    async def run(self) -> None:
        await periodic("desk sweep", self.every_seconds, self.sweep_once)

    async def sweep_once(self) -> None:
        now = self._clock()
        await self._sweep_grace(now)
        await self._sweep_queue(now)
        await self._sweep_silent(now)
        await self._notices.tell_positions()
        await self._finish_closes()

    async def _sweep_grace(self, now: float) -> None:
        # One look per agent, not a script per conversation: an agent who is online or was seen
        # within the grace period keeps all of them (the script, which decides, would refuse).
        grace = self._config.agent_grace_seconds
        away: dict[str, bool] = {}
        for cid, agent in await self._queue.owners():
            if agent not in away:
                away[agent] = await self._queue.maybe_away(agent, now, self._events.stale_seconds, grace)
            if not away[agent]:
                continue
            conv = await self._queue.get(cid)
            if conv is None or conv.agent is None:
                continue
            position = await self._queue.expire_grace(cid, conv.agent, now, self._events.stale_seconds, grace)
            if position is None:
                continue
            log.info("agent %s away past the grace period: conversation=%s back to the queue", conv.agent, cid)
            await self._notices.requeued(cid, position, now)
            await self._delivery.deliver(cid, [Outbound(text=texts.text("agent_back", conv.language))])

    def _wait_began(self, conv: DeskConversation) -> float:
        """When the customer's wait began: the handoff, or out of hours the next opening."""
        if not conv.out_of_hours:
            return conv.queued_at
        opened = self._hours.next_open(dt.datetime.fromtimestamp(conv.queued_at, dt.UTC))
        return max(conv.queued_at, opened.timestamp())

    async def _sweep_silent(self, now: float) -> None:
        """Customers who have shown no sign of life (a message; an open web chat) for
        QUEUE_ABANDON_SECONDS of their wait leave the queue; the stay is recorded as abandoned
        (`expired`) and they are told how to come back."""
        cutoff = now - self._config.queue_abandon_seconds
        for conv in await self._queue.queued_before(cutoff):
            if not await self._queue.expire_silent(conv.conversation_id, self._wait_began(conv), cutoff):
                continue
            cid = conv.conversation_id
            log.info("silent customer expired from the queue conversation=%s", cid)
            await self._events.publish({"type": "removed", "conversation_id": cid, "why": "expired"})
            await self._records.abandoned(cid, "expired", now)
            try:
                await self._delivery.deliver(cid, [Outbound(text=texts.text("queue_expired", conv.language))])
            except (WindowClosed, DeliveryFailed) as exc:  # the expiry stands; the customer was silent anyway
                log.warning("expiry notice not sent conversation=%s: %s", cid, type(exc).__name__)

    async def _sweep_queue(self, now: float) -> None:
        timeout = self._config.queue_timeout_seconds
        open_now = self._hours.is_open(dt.datetime.fromtimestamp(now, dt.UTC))
        # Only those queued more than timeout / 2 ago can be due (out of hours, the wait starts later).
        for conv in await self._queue.queued_before(now - timeout / 2):
            waited = now - self._wait_began(conv)
            if waited > timeout / 2 and "bumped" not in conv.extra and await self._queue.bump(conv):
                await self._notices.updated(conv.conversation_id, now)
            if open_now and waited > timeout and not conv.timeout_offered:
                if await self._queue.flag_once(conv.conversation_id, "timeout_offered"):
                    await self._offer_callback(conv, now)

    async def _offer_callback(self, conv: DeskConversation, now: float) -> None:
        cid = conv.conversation_id
        reference = conv.complaint_reference
        if not reference:
            handoff_id = await self._records.open_id(cid)
            reference = f"H-{handoff_id:06d}" if handoff_id else f"H-{cid[-8:]}"
        await self._queue.set_fields(cid, "ticket", reference)
        await self._records.abandoned(cid, "timed_out", now, close=False)
        await self._notices.updated(cid, now)
        await self._delivery.deliver(cid, [Outbound(text=texts.text("timeout", conv.language, reference=reference))])
