"""What the console reads: the queue snapshot of an agent, and one conversation in full."""

from __future__ import annotations

import datetime as dt
from typing import Any

from handoff.queue.state import ConversationState
from handoff.work.notices import entry
from handoff.work.parts import UsesDeskParts


class DeskViews(UsesDeskParts):
    async def snapshot(self, agent: str) -> dict[str, Any]:
        now = self._clock()
        queue = await self._queue.entries()
        mine = await self._queue.assigned(agent)
        when = dt.datetime.fromtimestamp(now, dt.UTC)
        return {
            "agent": agent,
            "max_conversations": self._config.agent_max_conversations,
            "queue": [entry(c, i + 1, now) for i, c in enumerate(queue)],
            "mine": [c.card(now) for c in mine],
            "business_hours": {
                "spec": self._config.business_hours, "open": self._hours.is_open(when),
                "next_open": self._hours.next_open(when).isoformat(),
            },
        }

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        now = self._clock()
        conv = await self._queue.get(conversation_id)
        history = await self._records.history(conversation_id)
        card: dict[str, Any]
        if conv is not None:
            card = conv.card(now)
            if conv.state is ConversationState.queued:
                card["position"] = await self._queue.position(conversation_id)
        elif history:
            last = history[-1]
            card = {"conversation_id": conversation_id, "state": ConversationState.bot.value, "channel": last["channel"],
                    "reason": last["reason"], "priority": last["priority"], "summary": last["summary"],
                    "agent": last["agent_id"], "resolution_note": last["resolution_note"]}
        else:
            card = {"conversation_id": conversation_id, "state": ConversationState.bot.value}
        reference = conv.complaint_reference if conv else None
        transcript = await self._records.transcript(conversation_id)
        window = await self._delivery.reply_window(conversation_id)
        left = window.seconds_left(now)
        return {
            "conversation_id": conversation_id,
            "state": card["state"],
            "card": card,
            "complaint": await self._records.complaint(reference) if reference else None,
            "reply_window_seconds_left": None if left is None else round(left, 1),
            "transcript": transcript,
            "customer_asked": next((m["text"] for m in reversed(transcript) if m["sender"] == "customer"), None),
            "handoffs": history,
        }
