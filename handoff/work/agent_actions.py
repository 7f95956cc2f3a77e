"""What an agent does with a conversation: claim, write, release, close (and being seen active)."""

from __future__ import annotations

import logging
from typing import cast

from core import texts
from core.contract import BotHandback, Outbound, WindowClosed
from handoff.queue import keys
from handoff.queue.desk_queue import NotOwner
from handoff.queue.state import ConversationState, DeskConversation
from handoff.work.notices import QueueNotices
from handoff.work.parts import DeskParts, UsesDeskParts

log = logging.getLogger(__name__)

# A close whose steps failed is tried again after this long (also how long one try may hold it).
CLOSE_RETRY_SECONDS = 5


class AgentActions(UsesDeskParts):
    def __init__(self, parts: DeskParts, notices: QueueNotices, handback: BotHandback) -> None:
        super().__init__(parts)
        self._notices = notices
        self._handback = handback
        self._seen_written: dict[str, float] = {}
        self._seen_every = min(1.0, parts.config.agent_grace_seconds / 4)

    async def claim(self, conversation_id: str, agent: str) -> DeskConversation:
        """Raises ClaimRefused unless this agent now holds the conversation."""
        now = self._clock()
        won = await self._queue.claim(conversation_id, agent, self._config.agent_max_conversations, now)
        conv = await self._queue.get(conversation_id)
        assert conv is not None, "a conversation that was claimed or refused has its hash"
        if won:
            await self._events.publish({"type": "claimed", "conversation_id": conversation_id, "agent": agent})
            await self._records.claimed(conversation_id, agent, now)
            await self._notices.tell_positions()
        return conv

    async def release(self, conversation_id: str, agent: str) -> int:
        position = await self._queue.release(conversation_id, agent)
        conv = await self._notices.requeued(conversation_id, position, self._clock())
        if conv is not None:
            await self._delivery.deliver(conversation_id, [Outbound(text=texts.text("position", conv.language, position=position))])
        return position

    async def close(self, conversation_id: str, agent: str, note: str) -> bool:
        """Back to the bot; True when Rasa took it back (and asked for the rating). The queue lets
        go and notes the remaining steps in one step; a step that fails is tried again by the
        sweeper (`finish_closes`), and an agent's repeated close finishes it too."""
        try:
            await self._queue.close(conversation_id, agent, note, self._clock())
        except NotOwner:
            if await self._redis.hget(keys.closing(conversation_id), "agent") != agent:
                raise
        return await self._finish_close(conversation_id)

    async def finish_closes(self) -> None:
        """The sweeper's round: closes whose steps failed, tried again every CLOSE_RETRY_SECONDS."""
        for conversation_id in cast(set[str], await self._redis.smembers(keys.CLOSING)):
            await self._finish_close(conversation_id)

    async def _finish_close(self, conversation_id: str) -> bool:
        """The steps after the queue let go, each noted once done, so none is done twice; True
        when all are done. The lease keeps two processes from doing the same step at once."""
        key = keys.closing(conversation_id)
        if not await self._redis.set(keys.closing_lease(conversation_id), "1", nx=True, ex=CLOSE_RETRY_SECONDS):
            return False
        steps = cast(dict[str, str], await self._redis.hgetall(key))
        if not steps:  # finished elsewhere, or expired after a day of failures
            await self._redis.srem(keys.CLOSING, conversation_id)
            return False
        agent, at = steps["agent"], float(steps["at"])
        try:
            if not steps.get("published"):
                await self._events.publish({"type": "closed", "conversation_id": conversation_id, "agent": agent})
                await self._redis.hset(key, "published", "1")
            if not steps.get("recorded"):
                await self._records.finished(conversation_id, "closed", at, note=steps.get("note", ""), agent=agent)
                await self._redis.hset(key, "recorded", "1")
            if not steps.get("handed_back"):
                await self._handback.hand_back(conversation_id, agent)
                await self._redis.hset(key, "handed_back", "1")
        except Exception:
            log.exception("close unfinished conversation=%s agent=%s; trying again", conversation_id, agent)
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key, keys.closing_lease(conversation_id))
            pipe.srem(keys.CLOSING, conversation_id)
            await pipe.execute()
        return True

    async def send(self, conversation_id: str, agent: str, text: str, attachment: dict[str, str] | None = None) -> bool:
        """The agent's message to the customer; True when it went out as the channel's template
        (outside its reply window). Raises NotOwner, or the Delivery's WindowClosed/DeliveryFailed.
        `attachment` ({url, content_type, name}, stored by core.attachments) goes with the text;
        a template cannot carry one, so outside the window it raises WindowClosed."""
        now = self._clock()
        state, owner, _channel = await self._queue.holder(conversation_id)
        if state is not ConversationState.agent or owner != agent:
            raise NotOwner(state, owner)
        route = await self._delivery.route(conversation_id)  # one read of the customer's contact for the send
        window = route.window
        if attachment and not window.open:
            raise WindowClosed(window.why)
        custom = {"attachment": attachment} if attachment else None
        await self._delivery.deliver(conversation_id, [Outbound(text=text, sender="agent", agent_id=agent, custom=custom)],
                                     route)
        await self._records.responded(conversation_id, now)
        await self._events.publish({
            "type": "message", "conversation_id": conversation_id, "sender": "agent", "agent": agent,
            "text": text, "at": now, "to": agent, "template": not window.open, "media": [attachment] if attachment else [],
        })
        return not window.open

    async def seen(self, agent: str) -> None:
        """The agent is active (an API call); written at most every few tenths of the grace period."""
        now = self._clock()
        if now - self._seen_written.get(agent, 0.0) < self._seen_every:
            return
        self._seen_written[agent] = now
        await self._redis.set(keys.agent_seen(agent), f"{now:.3f}")
