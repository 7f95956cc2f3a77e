"""Background work that repeats: the one loop every periodic job runs in, and the Redis lease for
the jobs that only one process at a time may run.

`periodic(name, interval, step)` runs `step` every `interval` seconds until it is cancelled. A
step that fails is logged by the job's name and the error's type only (a traceback can carry SQL
parameters, that is a customer's text: it goes to DEBUG), and tried again after the backoff, never
sooner than the interval.

`Lease` is one Redis key that holds a random token of its holder for a while: taken with SET NX
PX; renewed and released by a script that first checks the token, so a holder whose lease ran
out and passed to another process neither extends nor deletes the other's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import NoReturn

from redis.asyncio import Redis

from core.backoff import Backoff, stop_if_cancelled

log = logging.getLogger(__name__)

# KEYS: lease  ARGV: token, ttl ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: lease  ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


async def periodic(
    name: str, interval: float, step: Callable[[], Awaitable[object]], *,
    start_after: float = 0.0, backoff: Backoff | None = None,
) -> NoReturn:
    """Runs `step` now (or after `start_after` seconds) and then every `interval` seconds, until
    cancelled. After a failure the next try waits the longer of the interval and `backoff`'s next
    delay (doubling from 0.5 s up to 5 s unless another is given); a success resets the backoff."""
    backoff = backoff or Backoff()
    if start_after > 0:
        await asyncio.sleep(start_after)
    while True:
        try:
            await step()
            stop_if_cancelled()
            backoff.reset()
            delay = interval
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stop_if_cancelled()
            delay = max(interval, backoff.next())
            log.debug("%s failed", name, exc_info=True)
            log.warning("%s failed (%s); trying again in %.1f s", name, type(exc).__name__, delay)
        await asyncio.sleep(delay)


class Lease:
    """A Redis key naming the one process that may run a job, for `ttl_seconds` at a time."""

    def __init__(self, redis: Redis, key: str, ttl_seconds: float) -> None:
        self._redis = redis
        self.key = key
        self.ttl_ms = max(1, round(ttl_seconds * 1000))
        self.token = secrets.token_hex(16)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def take(self) -> bool:
        """True when the lease was free and is now ours (for the whole ttl, whatever else we do)."""
        return bool(await self._redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        """Extends the lease to a full ttl from now, only while it is still ours; True if it was."""
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def hold(self) -> bool:
        """True while this process is the holder: renews the lease when ours, takes it when free."""
        return await self.renew() or await self.take()

    async def release(self) -> bool:
        """Gives the lease up, only if it is still ours (another process may take it at once)."""
        return bool(await self._release(keys=[self.key], args=[self.token]))
