"""`DeskPrivacy`: what the privacy tools (bot/privacy/) ask of the desk about one conversation,
so that they need none of its internals.

- `export(id)`: what the desk holds of it now (its state and agent), None when it is with the bot;
- `forget(id)`: a conversation queued or with an agent leaves the desk before an erase: off the
  queue or from its agent, the stay recorded as `erased`, and every console told why. Its Redis
  keys are deleted afterwards with every other key of the conversation (bot/privacy/registry.py
  lists them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import texts
from core.contract import LANGUAGES
from handoff.queue.desk_queue import DeskQueue, NotOwner
from handoff.queue.state import ConversationState
from handoff.work.events import EventHub
from handoff.work.records import HandoffRecords

log = logging.getLogger(__name__)

ERASED_OUTCOME = "erased"
# Agents read either language: the notice carries both.
AGENT_NOTICE = " / ".join(texts.text("erased", lang) for lang in LANGUAGES)


class DeskPrivacy:
    def __init__(self, queue: DeskQueue, events: EventHub, records: HandoffRecords,
                 clock: Callable[[], float] = time.time) -> None:
        self._queue = queue
        self._events = events
        self._records = records
        self._clock = clock

    @classmethod
    def open(cls, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
             clock: Callable[[], float] = time.time) -> DeskPrivacy:
        """The desk's privacy side on the stores alone: a privacy run (`make erase`, retention)
        has no desk of its own, and it only publishes events, so no socket heartbeat is needed."""
        return cls(DeskQueue(redis), EventHub(redis, heartbeat_seconds=5.0), HandoffRecords(sessionmaker), clock)

    async def export(self, conversation_id: str) -> dict[str, str | None] | None:
        state, agent, _ = await self._queue.holder(conversation_id)
        return None if state is ConversationState.bot else {"state": state.value, "agent": agent}

    async def forget(self, conversation_id: str) -> bool:
        """True when the conversation was at the desk (and now is not)."""
        cid = conversation_id
        state, agent, _ = await self._queue.holder(cid)
        now = self._clock()
        if state is ConversationState.agent and agent:
            try:
                await self._queue.close(cid, agent)
            except NotOwner:
                return await self.forget(cid)  # it changed hands just now: look again
            await self._events.publish({"type": "closed", "conversation_id": cid, "agent": agent,
                                        "why": ERASED_OUTCOME, "detail": AGENT_NOTICE})
            await self._events.publish({"type": "message", "conversation_id": cid, "sender": "bot",
                                        "text": AGENT_NOTICE, "at": now, "to": agent})
        elif state is ConversationState.queued:
            if not await self._queue.leave(cid):
                return await self.forget(cid)
            await self._events.publish({"type": "removed", "conversation_id": cid, "why": ERASED_OUTCOME,
                                        "detail": AGENT_NOTICE})
        else:
            return False
        await self._records.finished(cid, ERASED_OUTCOME, now)
        log.info("privacy: conversation taken from the desk before the erase (was %s)", state.value)
        return True
