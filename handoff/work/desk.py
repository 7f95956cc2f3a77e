"""The live-agent desk, assembled from parts named for their jobs:

- `intake`  (handoff/work/intake.py): the router's `Desk` — handoffs in, customer messages while queued;
- `agents`  (handoff/work/agent_actions.py): claim, write, release, close;
- `views`   (handoff/work/views.py): what the console reads;
- `sweeper` (handoff/work/sweeper.py): grace periods, long waits, silent customers, queue places;
- `events`  (handoff/work/events.py): live events to every process's agent consoles;
- `typing`  (handoff/work/typing.py): typing, both ways between customer and agent.

They share the queue (Redis), the records (SQL), the business hours and the Delivery.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.contract import BotHandback, Delivery, DeskUnavailable, HandoffRequest, Inbound
from handoff.config import DeskConfig
from handoff.queue.desk_queue import DeskQueue
from handoff.work.agent_actions import AgentActions
from handoff.work.business_hours import BusinessHours
from handoff.work.events import EventHub
from handoff.work.intake import DeskIntake
from handoff.work.notices import QueueNotices
from handoff.work.records import HandoffRecords
from handoff.work.starts import ConversationStarts
from handoff.work.sweeper import Sweeper
from handoff.work.typing import TypingRelay
from handoff.work.views import DeskViews


class HandoffDesk:
    def __init__(
        self, config: DeskConfig, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
        delivery: Delivery, handback: BotHandback, clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.redis = redis
        self.delivery = delivery
        self.hours = BusinessHours.parse(config.business_hours, config.business_holidays)
        self.queue = DeskQueue(redis)
        self.records = HandoffRecords(sessionmaker)
        self.starts = ConversationStarts(redis, sessionmaker)
        self.clock = clock
        hours = self.hours
        self.events = EventHub(redis, heartbeat_seconds=max(0.1, min(5.0, config.agent_grace_seconds / 4)))
        notices = QueueNotices(redis, self.queue, self.records, self.events, delivery)
        self.intake = DeskIntake(config, redis, self.queue, self.records, hours, self.events, notices, delivery, clock)
        self.agents = AgentActions(config, redis, self.queue, self.records, self.events, notices, delivery, handback, clock)
        self.views = DeskViews(config, self.queue, self.records, hours, delivery, clock)
        self.sweeper = Sweeper(config, self.queue, self.records, hours, self.events, notices, delivery, clock,
                               self.agents.finish_closes)
        self.typing = TypingRelay(redis, self.queue, self.events, delivery)

    # The router's `Desk`.
    async def takes_message(self, inbound: Inbound) -> bool:
        try:  # every customer message passes here: the reports see when conversations start
            await self.starts.customer_wrote(inbound.conversation_id, inbound.channel, self.clock())
        except RedisError as exc:
            raise DeskUnavailable(f"Redis did not answer for a message of {inbound.conversation_id}: {exc}") from exc
        return await self.intake.takes_message(inbound)

    async def request_handoff(self, conversation_id: str, channel: str, request: HandoffRequest) -> str | None:
        return await self.intake.request_handoff(conversation_id, channel, request)

    async def customer_typing(self, conversation_id: str) -> None:
        await self.typing.customer(conversation_id)

    async def customers_present(self, conversation_ids: list[str]) -> None:
        await self.intake.customers_present(conversation_ids)
