"""`DeskParts`: what the desk's classes share, built once where the desk is assembled
(handoff/web/app.py's `setup_handoff`) and handed to each class, which takes what it needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.contract import Delivery
from handoff.config import DeskConfig
from handoff.queue.desk_queue import DeskQueue
from handoff.work.business_hours import BusinessHours
from handoff.work.events import EventHub
from handoff.work.records import HandoffRecords


@dataclass(frozen=True)
class DeskParts:
    config: DeskConfig
    redis: Redis
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: DeskQueue  # conversation states and the queue (Redis)
    records: HandoffRecords  # the `handoffs` rows and what agents read from SQL
    hours: BusinessHours  # BUSINESS_HOURS and BUSINESS_HOLIDAYS, parsed
    events: EventHub  # live events to every process's agent consoles
    delivery: Delivery  # the gateway's way to the customer
    clock: Callable[[], float]

    @classmethod
    def build(
        cls, config: DeskConfig, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession], delivery: Delivery,
        clock: Callable[[], float] = time.time,
    ) -> DeskParts:
        return cls(
            config=config, redis=redis, sessionmaker=sessionmaker, queue=DeskQueue(redis),
            records=HandoffRecords(sessionmaker),
            hours=BusinessHours.parse(config.business_hours, config.business_holidays),
            # A socket is stale after three missed beats: well within an agent's grace period.
            events=EventHub(redis, heartbeat_seconds=max(0.1, min(5.0, config.agent_grace_seconds / 4))),
            delivery=delivery, clock=clock,
        )


class UsesDeskParts:
    """A desk class built on `DeskParts`: its methods reach the shared parts as `self._queue`,
    `self._records`, … without each constructor copying them one by one."""

    def __init__(self, parts: DeskParts) -> None:
        self._config, self._redis, self._queue, self._records = parts.config, parts.redis, parts.queue, parts.records
        self._hours, self._events, self._delivery, self._clock = parts.hours, parts.events, parts.delivery, parts.clock
