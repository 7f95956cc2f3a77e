"""Conversation states of the desk and the record kept for a conversation in Redis."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from core.contract import Priority
from handoff.labels import customer_label


class ConversationState(str, enum.Enum):
    bot = "bot"  # Rasa answers; the desk keeps no hash for the conversation
    queued = "queued"  # waiting for an agent; customer messages are kept for the agent
    agent = "agent"  # an agent has it; customer messages go to the agent's console


# Above every priority a handoff can ask for (core.contract.Priority): a conversation an
# agent lost by a dropped websocket goes back with it, so it is next in line.
PRIORITY_RETURNED = int(Priority.urgent) + 1
_BAND = 10**13  # above any unix time in ms for the next 250 years


def queue_score(priority: int, queued_at: float) -> float:
    """Lower scores come first: the higher the priority, the lower the band; then oldest first."""
    priority = max(Priority.normal, min(PRIORITY_RETURNED, priority))
    return float((PRIORITY_RETURNED - priority) * _BAND + int(queued_at * 1000))


def queued_at_of(score: float) -> float:
    """The queued time in a queue score (to the ms, rounded down)."""
    return (int(score) % _BAND) / 1000


@dataclass
class DeskConversation:
    """The Redis hash `keys.conversation(id)`, typed."""

    conversation_id: str
    state: ConversationState
    channel: str = ""
    language: str = "de"
    reason: str = ""
    priority: int = 0
    requested_priority: int = 0
    summary: str = ""
    complaint_reference: str | None = None
    order_number: str | None = None
    fallback_count: int = 0
    queued_at: float = 0.0
    position_at_queue: int = 1
    agent: str | None = None
    claimed_at: float | None = None
    out_of_hours: bool = False
    timeout_offered: bool = False
    callback: bool = False
    ticket: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, conversation_id: str, raw: dict[str, str]) -> DeskConversation:
        def opt(name: str) -> str | None:
            value = raw.get(name)
            return value or None

        known = {
            "state", "channel", "language", "reason", "priority", "requested_priority", "summary",
            "complaint_reference", "order_number", "fallback_count", "queued_at", "position_at_queue",
            "agent", "claimed_at", "out_of_hours", "timeout_offered", "callback", "ticket",
        }
        return cls(
            conversation_id=conversation_id,
            state=ConversationState(raw.get("state", "bot")),
            channel=raw.get("channel", ""),
            language=raw.get("language") or "de",
            reason=raw.get("reason", ""),
            priority=int(raw.get("priority") or 0),
            requested_priority=int(raw.get("requested_priority") or 0),
            summary=raw.get("summary", ""),
            complaint_reference=opt("complaint_reference"),
            order_number=opt("order_number"),
            fallback_count=int(raw.get("fallback_count") or 0),
            queued_at=float(raw.get("queued_at") or 0),
            position_at_queue=int(raw.get("position_at_queue") or 1),
            agent=opt("agent"),
            claimed_at=float(raw["claimed_at"]) if raw.get("claimed_at") else None,
            out_of_hours=raw.get("out_of_hours") == "1",
            timeout_offered=raw.get("timeout_offered") == "1",
            callback=raw.get("callback") == "1",
            ticket=opt("ticket"),
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def card(self, now: float) -> dict[str, Any]:
        """What the console shows of a queue entry or a conversation."""
        return {
            "conversation_id": self.conversation_id,
            "customer_label": customer_label(self.conversation_id),
            "state": self.state.value,
            "channel": self.channel,
            "language": self.language,
            "reason": self.reason,
            "priority": self.priority,
            "summary": self.summary,
            "complaint_reference": self.complaint_reference,
            "order_number": self.order_number,
            "fallback_count": self.fallback_count,
            "queued_at": self.queued_at,
            "waiting_seconds": round(max(0.0, now - self.queued_at), 1) if self.queued_at else None,
            "agent": self.agent,
            "claimed_at": self.claimed_at,
            "out_of_hours": self.out_of_hours,
            "timeout_offered": self.timeout_offered,
            "callback": self.callback,
            "ticket": self.ticket,
            "score": queue_score(self.priority, self.queued_at) if self.state is ConversationState.queued else None,
        }
