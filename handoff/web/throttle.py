"""Failed agent sign-ins, limited per client address with a growing delay.

The first SIGNIN_FREE_FAILURES wrong tokens from one address cost nothing but the 401. Each
further one locks the address for SIGNIN_DELAY_SECONDS, doubling with every failure after that,
up to SIGNIN_MAX_DELAY_SECONDS. While an address is locked, every agent request from it (API and
agent websocket) gets 429 `signin_throttled` with `Retry-After`, without its token being checked:
otherwise a guess that happens to be right would still get in. Counted in Redis, so the limit
holds across gateway processes. A right token clears the address's count; so does silence: the
count expires SIGNIN_FORGET_SECONDS after the last failure (or when a longer lock ends).

Agents behind one office address share its count: one colleague's typos can delay the others for
seconds, not lock them out (the delay grows only with further failures).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from handoff.config import ThrottleConfig
from handoff.queue import keys

# How long an address's failures are remembered after the last one (unless a lock lasts longer).
SIGNIN_FORGET_SECONDS = 900.0

# KEYS: failures hash   ARGV: now, free failures, delay, max delay, forget
_FAILED = """
local now = tonumber(ARGV[1])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local wait = 0
local over = failures - tonumber(ARGV[2])
if over > 0 then
  wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (over - 1))
  redis.call('HSET', KEYS[1], 'until', tostring(now + wait))
end
redis.call('PEXPIRE', KEYS[1], math.ceil(1000 * math.max(tonumber(ARGV[5]), wait)))
return tostring(wait)
"""


@dataclass(frozen=True)
class Locked:
    retry_after: int  # whole seconds until the address may try again


class SigninThrottle:
    def __init__(self, redis: Redis, config: ThrottleConfig) -> None:
        self._redis = redis
        self._free = max(0, config.signin_free_failures)
        self._delay = max(0.0, config.signin_delay_seconds)
        self._max = max(self._delay, config.signin_max_delay_seconds)
        self._failed = redis.register_script(_FAILED)

    async def locked(self, address: str) -> Locked | None:
        """Locked: how long the address must wait before a token of it is checked again."""
        until = await self._redis.hget(keys.signin_failures(address), "until")
        left = float(until) - time.time() if until else 0.0
        return Locked(max(1, math.ceil(left))) if left > 0 else None

    async def failed(self, address: str) -> float:
        """Counts a wrong token; returns the lock it started (0 while failures are still free)."""
        return float(await self._failed(
            keys=[keys.signin_failures(address)],
            args=[f"{time.time():.3f}", self._free, self._delay, self._max, SIGNIN_FORGET_SECONDS],
        ))

    async def succeeded(self, address: str) -> None:
        await self._redis.delete(keys.signin_failures(address))
