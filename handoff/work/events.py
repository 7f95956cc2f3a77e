"""Live events for agent consoles, fanned out through Redis pub/sub.

Any process publishes to `keys.EVENTS` (a `Fanout`); every process's listener pushes each event to its own
agent websockets, so an agent sees a queue change or a customer message whichever gateway
process produced it. An event with `"to": name` goes only to that agent's sockets.

Events (JSON, `type` first): `added` / `updated` / `released` (with `entry`, a queue card),
`claimed` (`conversation_id`, `agent`), `closed` / `removed` (`conversation_id`), `position`
(`conversation_id`, `position`: what the customer was told), `message` (`conversation_id`,
`sender` customer|agent, `text`, `agent`, `at`).

Events that carry a conversation's content beyond the queue card (`note`) reach only the
sockets whose account may read that conversation (`audience`, handoff.web.access).

Each process also keeps its agents' presence: a heartbeat per socket in
`keys.agent_sockets(name)`, which the grace sweeper reads.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from core.backoff import Backoff
from core.fanout import Fanout
from core.periodic import periodic
from handoff.queue import keys

log = logging.getLogger(__name__)

# Event types shown only to accounts that may read the conversation.
PRIVATE_EVENTS = frozenset({"note"})


class EventHub:
    def __init__(self, redis: Redis, heartbeat_seconds: float) -> None:
        self.redis = redis
        self.heartbeat_seconds = heartbeat_seconds
        self._sockets: dict[web.WebSocketResponse, tuple[str, str]] = {}  # ws → (agent, socket id)
        self.fanout = Fanout(redis, keys.EVENTS, self._fan_out)
        # (conversation id, agent) → may that agent see the conversation's private events
        self.audience: Callable[[str, str], Awaitable[bool]] | None = None

    @property
    def stale_seconds(self) -> float:
        """A socket whose heartbeat is older than this belongs to a process that died."""
        return self.heartbeat_seconds * 3

    async def publish(self, event: dict[str, Any]) -> None:
        await self.fanout.publish(json.dumps(event))

    async def connected(self, ws: web.WebSocketResponse, agent: str) -> None:
        socket_id = uuid.uuid4().hex
        self._sockets[ws] = (agent, socket_id)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.agent_sockets(agent), {socket_id: now})
            pipe.set(keys.agent_seen(agent), f"{now:.3f}")
            await pipe.execute()

    async def disconnected(self, ws: web.WebSocketResponse) -> None:
        entry = self._sockets.pop(ws, None)
        if entry is None:
            return
        agent, socket_id = entry
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.agent_sockets(agent), socket_id)
            pipe.set(keys.agent_seen(agent), f"{time.time():.3f}")
            await pipe.execute()

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")

    async def heartbeat(self) -> None:
        every = self.heartbeat_seconds
        # No longer waits after a failure: a beat later than stale_seconds makes its agents look away.
        await periodic("agent heartbeat", every, self._beat, start_after=every, backoff=Backoff(every, every))

    async def _beat(self) -> None:
        if not self._sockets:
            return
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent, socket_id in self._sockets.values():
                pipe.zadd(keys.agent_sockets(agent), {socket_id: now})
                pipe.zremrangebyscore(keys.agent_sockets(agent), 0, now - 10 * self.stale_seconds)
            await pipe.execute()

    async def _fan_out(self, data: str) -> None:
        event = json.loads(data)
        to = event.get("to")
        private = event.get("type") in PRIVATE_EVENTS and self.audience is not None
        allowed: dict[str, bool] = {}
        for ws, (agent, _) in list(self._sockets.items()):
            if to and agent != to or ws.closed:
                continue
            if private:
                assert self.audience is not None
                if agent not in allowed:
                    try:
                        allowed[agent] = await self.audience(str(event.get("conversation_id")), agent)
                    except Exception as exc:  # unsure who may see it: nobody, and the fan-out goes on
                        log.warning("private event withheld from %s: %s", agent, type(exc).__name__)
                        allowed[agent] = False
                if not allowed[agent]:
                    continue
            try:
                await ws.send_str(data)
            except (ConnectionError, RuntimeError):
                pass
