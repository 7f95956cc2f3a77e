"""Fixed-window counters: how often something happened in the current window (a minute by default).

The window is numbered (`window`: whole windows since the epoch) and its number is part of the
counter's key, so a new window starts at zero without anyone resetting it. `WindowCounter`
counts in Redis, shared by every process; `LocalWindowCounter` counts in memory, for something
only one process sees (one websocket).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

MINUTE = 60


def window(now: float, seconds: int = MINUTE) -> int:
    """The number of the fixed window `now` (unix seconds) falls in."""
    return int(now // seconds)


class WindowCounter:
    """One counter per subject and window in Redis, under `key(subject, window)`.

    Each hit keeps the counter for two windows from then: longer than the rest of its window
    (with room for processes whose clocks differ a little), after which Redis forgets it."""

    def __init__(
        self, redis: Redis, key: Callable[[str, int], str], seconds: int = MINUTE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._key = key
        self._seconds = seconds
        self._clock = clock

    async def hit(self, subject: str) -> int:
        """Counts one event of `subject`; returns the count of the current window, this one included."""
        key = self._key(subject, window(self._clock(), self._seconds))
        # One transaction: a counter never exists without its expiry, even if the caller dies in between.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * self._seconds)
            count, _ = await pipe.execute()
        return int(count)


class LocalWindowCounter:
    """One counter in this process's memory, for the current window."""

    def __init__(self, seconds: int = MINUTE, clock: Callable[[], float] = time.time) -> None:
        self._seconds = seconds
        self._clock = clock
        self._window = -1
        self._count = 0

    def hit(self) -> int:
        """Counts one event; returns the count of the current window, this one included."""
        current = window(self._clock(), self._seconds)
        if current != self._window:
            self._window, self._count = current, 0
        self._count += 1
        return self._count
