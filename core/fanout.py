"""One Redis pub/sub channel shared by every gateway process.

Any process publishes; each process's listener hands every message to `deliver`, which pushes
it to the websockets that process holds (a customer's web chat, an agent's console). A listener
that loses Redis resubscribes with backoff until it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from core.backoff import Backoff, stop_if_cancelled

log = logging.getLogger(__name__)

SUBSCRIBE_SECONDS = 5.0


class Fanout:
    def __init__(self, redis: Redis, channel: str, deliver: Callable[[str], Awaitable[None]]) -> None:
        self._redis = redis
        self._channel = channel
        self._deliver = deliver
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def publish(self, data: str) -> None:
        await self._redis.publish(self._channel, data)

    async def start(self) -> None:
        """Listen in the background; returns once subscribed (raises TimeoutError when Redis
        does not answer within SUBSCRIBE_SECONDS)."""
        self._task = asyncio.create_task(self._listen(), name=f"fanout:{self._channel}")
        await asyncio.wait_for(self.listening.wait(), timeout=SUBSCRIBE_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        backoff = Backoff()
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.listening.set()
                backoff.reset()
                async for item in pubsub.listen():
                    if item.get("type") == "message":
                        await self._deliver(item["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away, or a connection error redis-py wraps otherwise
                stop_if_cancelled()
                self.listening.clear()
                delay = backoff.next()
                log.warning("fan-out %s lost Redis (%s); resubscribing in %.1f s", self._channel, type(exc).__name__, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):  # the connection may already be gone
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

