"""The live-agent desk (the gateway's `Desk`): queue, customer texts, agent actions, sweeper.

Failure behaviour towards the router: `takes_message` and `request_handoff` raise
`DeskUnavailable` when Redis does not answer. They never swallow the customer's message: the
router must keep the message in its inbox and try again (the transcript already holds it).
Each step is idempotent under a retry: enqueuing a conversation that is already queued is a
no-op, and a retried customer message (same `Inbound.external_id`) is shown to the agent once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbound import BotHandback, Channel, Delivery, HandoffRequest, Inbound, Outbound
from bot.settings import Settings
from handoff import keys, texts
from handoff.business_hours import BusinessHours
from handoff.events import EventHub, stopping
from handoff.queue import DeskQueue, NotOwner, _s
from handoff.records import HandoffRecords
from handoff.state import PRIORITY_URGENT, REASON_FLOOR, ConversationState, DeskConversation

log = logging.getLogger(__name__)

# Customers at this queue place or better hear when they move up.
POSITION_NOTICE_UP_TO = 3
# How long the desk remembers that a customer message was shown (router retries come within minutes).
SHOWN_SECONDS = 24 * 3600


class DeskUnavailable(Exception):
    """Redis did not answer; the caller keeps the message and retries."""


class WindowClosed(Exception):
    """WhatsApp allows free-form messages only within the window after the customer's last message."""

    def __init__(self, hours: float, last_inbound: float | None) -> None:
        age = "never" if last_inbound is None else f"{(time.time() - last_inbound) / 3600:.1f} hours ago"
        super().__init__(
            f"the customer last wrote {age}; WhatsApp allows free-form messages only within "
            f"{hours:g} hours of it. Set WHATSAPP_TEMPLATE_SID to send an approved template instead."
        )


class HandoffDesk:
    def __init__(
        self, settings: Settings, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
        delivery: Delivery, handback: BotHandback, clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = DeskQueue(redis)
        self.records = HandoffRecords(sessionmaker)
        self.hours = BusinessHours.parse(settings.business_hours)
        self.delivery = delivery
        self.handback = handback
        self.clock = clock
        self.events = EventHub(redis, heartbeat_seconds=max(0.1, min(5.0, settings.agent_grace_seconds / 4)))
        self._seen_written: dict[str, float] = {}
        self._seen_every = min(1.0, settings.agent_grace_seconds / 4)
        self.sweep_seconds = max(0.05, min(1.0, settings.agent_grace_seconds / 4, settings.queue_timeout_seconds / 4))

    # -- the Desk protocol -----------------------------------------------------------------

    async def takes_message(self, inbound: Inbound) -> bool:
        cid = inbound.conversation_id
        now = self.clock()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(keys.last_inbound(cid), f"{now:.3f}", ex=self._inbound_ttl())
                pipe.hget(keys.conversation(cid), "state")
                _, raw_state = await pipe.execute()
            state = ConversationState(_s(raw_state)) if raw_state else ConversationState.bot
            if state is ConversationState.bot:
                return False
            conv = await self.queue.get(cid)
            if conv is None:  # handed back between the two reads
                return False
            await self._customer_wrote(conv, inbound, now)
            return True
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while routing a message of {cid}: {exc}") from exc

    async def request_handoff(self, conversation_id: str, channel: Channel, request: HandoffRequest) -> None:
        now = self.clock()
        lang = texts.language(request.language)
        priority = max(0, min(PRIORITY_URGENT, max(request.priority, REASON_FLOOR.get(request.reason, 0))))
        open_now = self.hours.is_open(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        fields = {
            "channel": channel.value, "language": lang, "reason": request.reason,
            "requested_priority": request.priority, "summary": request.summary,
            "complaint_reference": request.complaint_reference, "order_number": request.order_number,
            "fallback_count": request.fallback_count, "out_of_hours": "" if open_now else "1",
        }
        try:
            result = await self.queue.enqueue(conversation_id, priority, now, fields)
            if not result.created:
                log.info("handoff again while %s conversation=%s", result.state.value, conversation_id)
                return
            if result.conversation is not None:
                await self.events.publish({"type": "added", "entry": self._entry(result.conversation, result.position, now)})
            await self.redis.set(keys.last_inbound(conversation_id), f"{now:.3f}", ex=self._inbound_ttl(), nx=True)
            message = await self._queued_text(lang, result.position, open_now, now)
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer while queuing {conversation_id}: {exc}") from exc
        log.info("queued conversation=%s reason=%s priority=%d position=%d",
                 conversation_id, request.reason, priority, result.position)
        await self.records.opened(conversation_id, channel.value, request.reason, priority, request.summary, now)
        await self.delivery.deliver(conversation_id, [Outbound(text=message)])

    # -- agent actions ---------------------------------------------------------------------

    async def claim(self, conversation_id: str, agent: str) -> DeskConversation:
        """Raises ClaimRefused unless this agent now holds the conversation."""
        now = self.clock()
        won = await self.queue.claim(conversation_id, agent, self.settings.agent_max_conversations, now)
        conv = await self.queue.get(conversation_id)
        assert conv is not None
        if won:
            await self.events.publish({"type": "claimed", "conversation_id": conversation_id, "agent": agent})
            await self.records.claimed(conversation_id, agent, now)
            await self.tell_positions()
        return conv

    async def release(self, conversation_id: str, agent: str) -> int:
        position = await self.queue.release(conversation_id, agent)
        conv = await self._announce_requeued(conversation_id, position)
        if conv is not None:
            await self.delivery.deliver(conversation_id, [Outbound(text=texts.text("position", conv.language, position=position))])
        return position

    async def close(self, conversation_id: str, agent: str, note: str) -> bool:
        """Back to the bot; True when Rasa took it back (and asked for the rating)."""
        now = self.clock()
        await self.queue.close(conversation_id, agent)
        await self.events.publish({"type": "closed", "conversation_id": conversation_id, "agent": agent})
        await self.records.finished(conversation_id, "closed", now, note=note, agent=agent)
        try:
            await self.handback.hand_back(conversation_id, agent)
        except Exception:
            log.exception("hand back to the bot failed conversation=%s agent=%s", conversation_id, agent)
            return False
        return True

    async def send(self, conversation_id: str, agent: str, text: str) -> Outbound:
        now = self.clock()
        state, owner, channel = await self.queue.holder(conversation_id)
        if state is not ConversationState.agent or owner != agent:
            raise NotOwner(state, owner)
        message = Outbound(text=text, sender="agent", agent_id=agent)
        if channel == Channel.whatsapp.value:
            left, last = await self.window_left(conversation_id, now)
            if left <= 0:
                if not self.settings.whatsapp_template_sid:
                    raise WindowClosed(self.settings.whatsapp_window_hours, last)
                message = Outbound(text=text, sender="agent", agent_id=agent, custom={
                    "whatsapp_template": {"content_sid": self.settings.whatsapp_template_sid, "variables": {"1": text}},
                })
        await self.delivery.deliver(conversation_id, [message])
        await self.events.publish({
            "type": "message", "conversation_id": conversation_id, "sender": "agent", "agent": agent,
            "text": text, "at": now, "to": agent, "template": message.custom is not None,
        })
        return message

    async def window_left(self, conversation_id: str, now: float) -> tuple[float, float | None]:
        """Seconds left of the WhatsApp window, and the customer's last message time."""
        raw = await self.redis.get(keys.last_inbound(conversation_id))
        last = float(_s(raw)) if raw else await self.records.last_inbound(conversation_id)
        if last is None:
            return 0.0, None
        return self.settings.whatsapp_window_hours * 3600 - (now - last), last

    async def seen(self, agent: str) -> None:
        """The agent is active (an API call); written at most every few tenths of the grace period."""
        now = self.clock()
        if now - self._seen_written.get(agent, 0.0) < self._seen_every:
            return
        self._seen_written[agent] = now
        await self.redis.set(keys.agent_seen(agent), f"{now:.3f}")

    async def snapshot(self, agent: str) -> dict[str, Any]:
        now = self.clock()
        queue = await self.queue.entries()
        mine = await self.queue.assigned(agent)
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        return {
            "agent": agent,
            "max_conversations": self.settings.agent_max_conversations,
            "queue": [self._entry(c, i + 1, now) for i, c in enumerate(queue)],
            "mine": [c.card(now) for c in mine],
            "business_hours": {
                "spec": self.settings.business_hours, "open": self.hours.is_open(when),
                "next_open": self.hours.next_open(when).isoformat(),
            },
        }

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        now = self.clock()
        conv = await self.queue.get(conversation_id)
        history = await self.records.history(conversation_id)
        if conv is not None:
            card = conv.card(now)
            if conv.state is ConversationState.queued:
                card["position"] = await self.queue.position(conversation_id)
        elif history:
            last = history[-1]
            card = {"conversation_id": conversation_id, "state": ConversationState.bot.value,
                    "reason": last["reason"], "priority": last["priority"], "summary": last["summary"],
                    "agent": last["agent_id"], "resolution_note": last["resolution_note"]}
        else:
            card = {"conversation_id": conversation_id, "state": ConversationState.bot.value}
        card.setdefault("channel", "whatsapp" if conversation_id.startswith("wa-") else "webchat")
        reference = conv.complaint_reference if conv else None
        window = None
        if card["channel"] == Channel.whatsapp.value:
            left, _ = await self.window_left(conversation_id, now)
            window = max(0.0, round(left, 1))
        transcript = await self.records.transcript(conversation_id)
        return {
            "conversation_id": conversation_id,
            "state": card["state"],
            "card": card,
            "complaint": await self.records.complaint(reference) if reference else None,
            "reply_window_seconds_left": window,
            "transcript": transcript,
            "customer_asked": next((m["text"] for m in reversed(transcript) if m["sender"] == "customer"), None),
            "handoffs": history,
        }

    # -- customers while queued ------------------------------------------------------------

    async def _customer_wrote(self, conv: DeskConversation, inbound: Inbound, now: float) -> None:
        cid = conv.conversation_id
        lang = conv.language
        if conv.state is ConversationState.queued and texts.wants_to_leave(inbound.text):
            if await self.queue.leave(cid):
                await self.events.publish({"type": "removed", "conversation_id": cid, "why": "customer_left"})
                await self.records.finished(cid, "customer_left", now)
                await self.delivery.deliver(cid, [Outbound(text=texts.text("left", lang))])
                await self.tell_positions()
                return
        await self._show_once(conv, inbound, now)
        if conv.state is not ConversationState.queued:
            return
        reply: str | None = None
        answer = texts.choice(inbound.text) if conv.timeout_offered else None
        if answer == "callback":
            await self.queue.set_fields(cid, {"callback": "1"})
            await self._publish_updated(cid, now)
            await self.records.outcome(cid, "callback_requested")
            reply = texts.text("callback", lang, reference=conv.ticket or conv.complaint_reference or "")
        elif answer == "stay":
            reply = texts.text("stay", lang, position=await self.queue.position(cid) or 1)
        elif await self.queue.flag_once(cid, "kept_notice"):
            reply = texts.text("kept", lang)
        if reply:
            await self.delivery.deliver(cid, [Outbound(text=reply)])

    async def _show_once(self, conv: DeskConversation, inbound: Inbound, now: float) -> None:
        """The customer's message to the agents, once per message identity. Marked after it was
        published: a failure in between shows it twice rather than never."""
        cid = conv.conversation_id
        shown = keys.shown(cid, inbound.external_id) if inbound.external_id else None
        if shown is not None and await self.redis.exists(shown):
            return
        await self.events.publish({
            # As the transcript has it: a pressed button's title, not its payload.
            "type": "message", "conversation_id": cid, "sender": "customer", "text": inbound.shown or inbound.text,
            "media": [{"url": m.url, "content_type": m.content_type} for m in inbound.media],
            "at": now, "to": conv.agent if conv.state is ConversationState.agent else None,
        })
        if shown is not None:
            await self.redis.set(shown, "1", ex=SHOWN_SECONDS)

    async def _queued_text(self, lang: str, position: int, open_now: bool, now: float) -> str:
        if not open_now:
            when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            back = texts.back_at(self.hours.next_open(when), when, lang)
            return texts.text("closed", lang, hours=self.settings.business_hours, back=back, position=position)
        estimate = await self.queue.estimate_seconds(position)
        wait = (texts.text("wait_unknown", lang) if estimate is None
                else texts.text("wait_estimate", lang, duration=texts.duration(estimate, lang)))
        return texts.text("queued", lang, position=position, wait=wait)

    async def tell_positions(self) -> None:
        """Customers near the front who moved up hear their new place (each place once)."""
        ids = [_s(i) for i in await self.redis.zrange(keys.QUEUE, 0, POSITION_NOTICE_UP_TO - 1)]
        for index, cid in enumerate(ids):
            position = index + 1
            if not await self.queue.tell_position(cid, position):
                continue
            conv = await self.queue.get(cid)
            if conv is None:
                continue
            await self.events.publish({"type": "position", "conversation_id": cid, "position": position})
            await self.delivery.deliver(cid, [Outbound(text=texts.text("position", conv.language, position=position))])

    async def _announce_requeued(self, conversation_id: str, position: int) -> DeskConversation | None:
        now = self.clock()
        conv = await self.queue.get(conversation_id)
        if conv is not None:
            await self.events.publish({"type": "released", "entry": self._entry(conv, position, now)})
        await self.records.outcome(conversation_id, "released")
        return conv

    async def _publish_updated(self, conversation_id: str, now: float) -> None:
        conv = await self.queue.get(conversation_id)
        if conv is not None:
            position = await self.queue.position(conversation_id) or 0
            await self.events.publish({"type": "updated", "entry": self._entry(conv, position, now)})

    @staticmethod
    def _entry(conv: DeskConversation, position: int, now: float) -> dict[str, Any]:
        return {**conv.card(now), "position": position}

    def _inbound_ttl(self) -> int:
        return int(self.settings.whatsapp_window_hours * 3600) + 3600

    # -- background: grace period, queue timeout, long waits ------------------------------

    async def sweep_once(self) -> None:
        now = self.clock()
        await self._sweep_grace(now)
        await self._sweep_queue(now)
        await self.tell_positions()

    async def _sweep_grace(self, now: float) -> None:
        # One look per agent, not a script per conversation: an agent who is online or was seen
        # within the grace period keeps all of them (the script, which decides, would refuse).
        away: dict[str, bool] = {}
        for cid, agent in await self.queue.owners():
            if agent not in away:
                away[agent] = await self.queue.maybe_away(
                    agent, now, self.events.stale_seconds, self.settings.agent_grace_seconds,
                )
            if not away[agent]:
                continue
            conv = await self.queue.get(cid)
            if conv is None or conv.agent is None:
                continue
            position = await self.queue.expire_grace(
                conv.conversation_id, conv.agent, now, self.events.stale_seconds, self.settings.agent_grace_seconds,
            )
            if position is None:
                continue
            log.info("agent %s away past the grace period: conversation=%s back to the queue", conv.agent, conv.conversation_id)
            await self._announce_requeued(conv.conversation_id, position)
            await self.delivery.deliver(conv.conversation_id, [Outbound(text=texts.text("agent_back", conv.language))])

    async def _sweep_queue(self, now: float) -> None:
        timeout = self.settings.queue_timeout_seconds
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        open_now = self.hours.is_open(when)
        # Only those queued more than timeout / 2 ago can be due (out of hours, the wait starts later).
        for conv in await self.queue.queued_before(now - timeout / 2):
            started = conv.queued_at
            if conv.out_of_hours:
                started = max(started, self.hours.next_open(dt.datetime.fromtimestamp(conv.queued_at, dt.timezone.utc)).timestamp())
            waited = now - started
            if waited > timeout / 2 and "bumped" not in conv.extra and await self.queue.bump(conv):
                await self._publish_updated(conv.conversation_id, now)
            if open_now and waited > timeout and not conv.timeout_offered:
                if await self.queue.flag_once(conv.conversation_id, "timeout_offered"):
                    await self._offer_callback(conv, now)

    async def _offer_callback(self, conv: DeskConversation, now: float) -> None:
        cid = conv.conversation_id
        reference = conv.complaint_reference
        if not reference:
            handoff_id = await self.records.open_id(cid)
            reference = f"H-{handoff_id:06d}" if handoff_id else f"H-{cid[-8:]}"
        await self.queue.set_fields(cid, {"ticket": reference})
        await self._publish_updated(cid, now)
        await self.delivery.deliver(cid, [Outbound(text=texts.text("timeout", conv.language, reference=reference))])

    async def sweeper(self) -> None:
        while True:
            try:
                await self.sweep_once()
                stopping()
            except asyncio.CancelledError:
                raise
            except Exception:
                stopping()
                log.exception("desk sweep failed; trying again")
            await asyncio.sleep(self.sweep_seconds)
