"""Who is viewing a conversation right now.

A console says which conversation it shows over the agent websocket (`{"type": "viewing",
"conversation_id": …}`, again every `REFRESH_SECONDS`); each viewer is a member of
`keys.viewers(id)` scored with its expiry, so a console that vanished drops out after `TTL_SECONDS`
even if its process died. Every change is published as a `viewers` event.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from handoff.queue import keys
from handoff.work.events import EventHub

REFRESH_SECONDS = 10.0
TTL_SECONDS = 30.0


class Presence:
    def __init__(self, redis: Redis, events: EventHub) -> None:
        self.redis = redis
        self.events = events

    async def viewing(self, agent: str, conversation_id: str) -> list[str]:
        now = time.time()
        key = keys.viewers(conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zscore(key, agent)
            pipe.zadd(key, {agent: now + TTL_SECONDS})
            pipe.expire(key, int(TTL_SECONDS) + 1)
            before, *_ = await pipe.execute()
        if before is None or before < now:
            return await self.announce(conversation_id)
        return await self.of(conversation_id)

    async def left(self, agent: str, conversation_id: str) -> list[str]:
        await self.redis.zrem(keys.viewers(conversation_id), agent)
        return await self.announce(conversation_id)

    async def of(self, conversation_id: str) -> list[str]:
        key = keys.viewers(conversation_id)
        await self.redis.zremrangebyscore(key, 0, time.time())
        return sorted(str(a) for a in await self.redis.zrange(key, 0, -1))

    async def announce(self, conversation_id: str) -> list[str]:
        agents = await self.of(conversation_id)
        await self.events.publish({"type": "viewers", "conversation_id": conversation_id, "agents": agents})
        return agents
