"""Typing, both ways between a customer and the agent who has the conversation. Nothing is recorded.

The customer's channel tells the desk (`customer_typing`); the agent's console tells it over the
agent socket (`agent`), and the Delivery shows "‹agent› schreibt …" where the channel can.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from handoff.queue import keys
from handoff.queue.state import ConversationState
from handoff.work.parts import UsesDeskParts

log = logging.getLogger(__name__)

# A typing customer is shown to the agent at most this often.
TYPING_SECONDS = 2.0


class TypingRelay(UsesDeskParts):
    async def customer(self, conversation_id: str) -> None:
        """Tells the agent holding the conversation, at most once per TYPING_SECONDS."""
        try:
            if not await self._redis.set(keys.typing(conversation_id), "1", nx=True, px=int(TYPING_SECONDS * 1000)):
                return
            state, owner, _ = await self._queue.holder(conversation_id)
            if state is ConversationState.agent and owner:
                await self._events.publish({"type": "typing", "conversation_id": conversation_id, "to": owner})
        except RedisError as exc:
            log.warning("typing not shown (redis): %s", type(exc).__name__)

    async def agent(self, conversation_id: str, agent: str) -> None:
        """Only the agent who holds the conversation is shown to its customer."""
        state, owner, _ = await self._queue.holder(conversation_id)
        if state is ConversationState.agent and owner == agent:
            await self._delivery.typing(conversation_id, agent)
