"""The live-agent desk, assembled from parts named for their jobs:

- `intake`  (handoff/work/intake.py): the router's `Desk` — handoffs in, customer messages while queued;
- `agents`  (handoff/work/agent_actions.py): claim, write, release, close;
- `views`   (handoff/work/views.py): what the console reads;
- `sweeper` (handoff/work/sweeper.py): grace periods, long waits, silent customers, queue places;
- `events`  (handoff/work/events.py): live events to every process's agent consoles;
- `typing`  (handoff/work/typing.py): typing, both ways between customer and agent.

They share one `DeskParts` (handoff/work/parts.py): the queue (Redis), the records (SQL), the
business hours, the events and the Delivery.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from core.contract import BotHandback, DeskUnavailable, HandoffRequest, Inbound
from handoff.work.agent_actions import AgentActions
from handoff.work.intake import DeskIntake
from handoff.work.notices import QueueNotices
from handoff.work.parts import DeskParts
from handoff.work.starts import ConversationStarts
from handoff.work.sweeper import Sweeper
from handoff.work.typing import TypingRelay
from handoff.work.views import DeskViews


class HandoffDesk:
    def __init__(self, parts: DeskParts, handback: BotHandback) -> None:
        self.parts = parts
        # The gateway's Delivery publishes its marks (not sent, template) to the consoles here (bot/app.py).
        self.events = parts.events
        self.starts = ConversationStarts(parts.redis, parts.sessionmaker)
        notices = QueueNotices(parts)
        self.intake = DeskIntake(parts, notices)
        self.agents = AgentActions(parts, notices, handback)
        self.views = DeskViews(parts)
        self.sweeper = Sweeper(parts, notices, self.agents.finish_closes)
        self.typing = TypingRelay(parts)

    # The router's `Desk`.
    async def takes_message(self, inbound: Inbound) -> bool:
        try:  # every customer message passes here: the reports see when conversations start
            await self.starts.customer_wrote(inbound.conversation_id, inbound.channel, self.parts.clock())
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer for a message of {inbound.conversation_id}: {exc}") from exc
        return await self.intake.takes_message(inbound)

    async def request_handoff(self, conversation_id: str, channel: str, request: HandoffRequest) -> str | None:
        return await self.intake.request_handoff(conversation_id, channel, request)

    async def customer_typing(self, conversation_id: str) -> None:
        await self.typing.customer(conversation_id)

    async def customers_present(self, conversation_ids: list[str]) -> None:
        await self.intake.customers_present(conversation_ids)
