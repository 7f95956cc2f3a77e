"""The desk's side of the router (the `Desk` protocol): handoffs coming in, and customer
messages while the conversation is queued or with an agent.

Failure behaviour towards the router: `takes_message` and `request_handoff` raise
`DeskUnavailable` when Redis does not answer. They never swallow the customer's message: the
router keeps the message in its inbox and tries again (the transcript already holds it).
Each step is idempotent under a retry: enqueuing a conversation that is already queued is a
no-op, and a retried customer message (same `Inbound.external_id`) is shown to the agent once.
"""

from __future__ import annotations

import datetime as dt
import logging

from redis.exceptions import RedisError

from core import texts
from core.contract import DeliveryFailed, DeskUnavailable, HandoffRequest, Inbound, Outbound, WindowClosed
from handoff.queue import keys
from handoff.queue.desk_queue import QueueCaps
from handoff.queue.state import ConversationState, DeskConversation
from handoff.work.notices import QueueNotices, entry
from handoff.work.parts import DeskParts, UsesDeskParts

log = logging.getLogger(__name__)

# How long the desk remembers that a customer message was shown (router retries come within minutes).
SHOWN_SECONDS = 24 * 3600


class DeskIntake(UsesDeskParts):
    def __init__(self, parts: DeskParts, notices: QueueNotices) -> None:
        super().__init__(parts)
        self._notices = notices
        self._caps = QueueCaps(max(1, parts.config.queue_max_length), max(1, parts.config.queue_max_per_address))

    async def takes_message(self, inbound: Inbound) -> bool:
        cid = inbound.conversation_id
        try:
            conv = await self._queue.get(cid)
            if conv is None:
                return False
            if conv.state is ConversationState.queued:
                await self._queue.customer_seen([cid], self._clock())
            await self._customer_wrote(conv, inbound, self._clock())
            return True
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while routing a message of {cid}: {exc}") from exc

    async def customers_present(self, conversation_ids: list[str]) -> None:
        try:
            await self._queue.customer_seen(conversation_ids, self._clock())
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while noting {len(conversation_ids)} customers present: {exc}") from exc

    async def request_handoff(self, conversation_id: str, channel: str, request: HandoffRequest) -> str | None:
        now = self._clock()
        lang = texts.language(request.language)
        priority = request.effective_priority()
        open_now = self._hours.is_open(dt.datetime.fromtimestamp(now, dt.UTC))
        fields = {
            "channel": channel, "language": lang, "reason": request.reason,
            "requested_priority": request.priority, "summary": request.summary,
            "complaint_reference": request.complaint_reference, "order_number": request.order_number,
            "fallback_count": request.fallback_count, "out_of_hours": "" if open_now else "1",
        }
        try:
            result = await self._queue.enqueue(conversation_id, priority, now, fields, self._caps, request.address)
            if result.refused is not None:
                return await self._refuse(conversation_id, lang, result.refused)
            conv = result.conversation if result.created else await self._queue.get(conversation_id)
            if conv is None or (not result.created and conv.extra.get("told_queued")):
                log.info("handoff again while %s conversation=%s", result.state.value, conversation_id)
                return None
            # A new handoff, or the router's retry of one whose later steps failed: those steps
            # are noted on the card once done, so a retry does each one once.
            if result.created:
                await self._events.publish({"type": "added", "entry": entry(conv, result.position, now)})
            position = result.position or await self._queue.position(conversation_id) or 1
            message = await self._queued_text(lang, position, open_now, now)
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while queuing {conversation_id}: {exc}") from exc
        log.info("queued conversation=%s reason=%s priority=%d position=%d",
                 conversation_id, request.reason, priority, position)
        if not conv.extra.get("recorded"):
            await self._records.opened(conversation_id, channel, request.reason, priority, request.summary, now)
            await self._noted(conversation_id, "recorded")
        try:
            await self._delivery.deliver(conversation_id, [Outbound(text=message)])
        except (WindowClosed, DeliveryFailed) as exc:
            # Queued all the same; the agent sees the mark in the transcript (bot/delivery.py).
            log.warning("queue notice not sent conversation=%s: %s", conversation_id, type(exc).__name__)
        await self._noted(conversation_id, "told_queued")
        return None

    async def _refuse(self, conversation_id: str, lang: str, reason: str) -> str:
        """A queue cap said no: the customer hears why and what to do; the bot carries on."""
        log.info("handoff refused conversation=%s reason=%s", conversation_id, reason)
        await self._delivery.deliver(conversation_id, [Outbound(
            text=texts.text(reason, lang, limit=self._caps.max_per_address),
        )])
        return reason

    async def _noted(self, conversation_id: str, step: str) -> None:
        try:
            await self._queue.note(conversation_id, step)
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while queuing {conversation_id}: {exc}") from exc

    async def _customer_wrote(self, conv: DeskConversation, inbound: Inbound, now: float) -> None:
        cid = conv.conversation_id
        lang = conv.language
        if conv.state is ConversationState.queued and texts.wants_to_leave(inbound.text):
            if await self._queue.leave(cid):
                await self._events.publish({"type": "removed", "conversation_id": cid, "why": "customer_left"})
                await self._records.abandoned(cid, "customer_left", now)
                await self._delivery.deliver(cid, [Outbound(text=texts.text("left", lang))])
                await self._notices.tell_positions()
                return
        await self._show_once(conv, inbound, now)
        if conv.state is not ConversationState.queued:
            return
        reply: str | None = None
        answer = texts.choice(inbound.text) if conv.timeout_offered else None
        if answer == "callback":
            await self._queue.set_fields(cid, "callback", "1")
            await self._notices.updated(cid, now)
            await self._records.outcome(cid, "callback_requested")
            reply = texts.text("callback", lang, reference=conv.ticket or conv.complaint_reference or "")
        elif answer == "stay":
            reply = texts.text("stay", lang, position=await self._queue.position(cid) or 1)
        elif await self._queue.flag_once(cid, "kept_notice"):
            reply = texts.text("kept", lang)
        if reply:
            await self._delivery.deliver(cid, [Outbound(text=reply)])

    async def _show_once(self, conv: DeskConversation, inbound: Inbound, now: float) -> None:
        """The customer's message to the agents, once per message identity. Marked after it was
        published: a failure in between shows it twice rather than never."""
        cid = conv.conversation_id
        shown = keys.shown(cid, inbound.external_id) if inbound.external_id else None
        if shown is not None and await self._redis.exists(shown):
            return
        await self._events.publish({
            # As the transcript has it: a pressed button's title, not its payload.
            "type": "message", "conversation_id": cid, "sender": "customer", "text": inbound.shown or inbound.text,
            "media": [{"url": m.url, "content_type": m.content_type} for m in inbound.media],
            "at": now, "to": conv.agent if conv.state is ConversationState.agent else None,
        })
        if shown is not None:
            await self._redis.set(shown, "1", ex=SHOWN_SECONDS)

    async def _queued_text(self, lang: str, position: int, open_now: bool, now: float) -> str:
        if not open_now:
            when = dt.datetime.fromtimestamp(now, dt.UTC)
            back = texts.back_at(self._hours.next_open(when), when, lang)
            return texts.text("closed", lang, hours=self._hours.describe(lang), back=back, position=position)
        estimate = await self._queue.estimate_seconds(position)
        wait = (texts.text("wait_unknown", lang) if estimate is None
                else texts.text("wait_estimate", lang, duration=texts.duration(estimate, lang)))
        return texts.text("queued", lang, position=position, wait=wait)
