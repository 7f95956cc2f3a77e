"""What customers and agents hear when the queue moves: places, requeued conversations, updates."""

from __future__ import annotations

from typing import Any, cast

from core import texts
from core.contract import Outbound
from handoff.queue import keys
from handoff.queue.state import DeskConversation
from handoff.work.parts import UsesDeskParts

# Customers at this queue place or better hear when they move up.
POSITION_NOTICE_UP_TO = 3


def entry(conv: DeskConversation, position: int, now: float) -> dict[str, Any]:
    """A queue card with its place, as agents' consoles show it."""
    return {**conv.card(now), "position": position}


class QueueNotices(UsesDeskParts):
    async def tell_positions(self) -> None:
        """Customers near the front who moved up hear their new place (each place once)."""
        ids = cast(list[str], await self._redis.zrange(keys.QUEUE, 0, POSITION_NOTICE_UP_TO - 1))
        for index, cid in enumerate(ids):
            position = index + 1
            if not await self._queue.tell_position(cid, position):
                continue
            conv = await self._queue.get(cid)
            if conv is None:
                continue
            await self._events.publish({"type": "position", "conversation_id": cid, "position": position})
            await self._delivery.deliver(cid, [Outbound(text=texts.text("position", conv.language, position=position))])

    async def requeued(self, conversation_id: str, position: int, now: float) -> DeskConversation | None:
        """Agents see the conversation back in the queue; its stay is marked released."""
        conv = await self._queue.get(conversation_id)
        if conv is not None:
            await self._events.publish({"type": "released", "entry": entry(conv, position, now)})
        await self._records.outcome(conversation_id, "released")
        return conv

    async def updated(self, conversation_id: str, now: float) -> None:
        conv = await self._queue.get(conversation_id)
        if conv is not None:
            position = await self._queue.position(conversation_id) or 0
            await self._events.publish({"type": "updated", "entry": entry(conv, position, now)})
