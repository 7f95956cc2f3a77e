"""Fixed-window counters (core/counters.py): a count per window that starts again at one in the
next window, in Redis under the caller's key (with its expiry set in the same step) or in memory."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot import keys
from core.counters import LocalWindowCounter, WindowCounter, window


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def test_a_window_is_numbered_by_whole_windows_since_the_epoch() -> None:
    assert window(119.9) == 1 and window(120.0) == 2
    assert window(25.0, seconds=10) == 2


async def test_a_redis_counter_counts_per_subject_and_window_under_the_callers_key(redis: Redis) -> None:
    clock = Clock(600 * 60 + 59.5)  # the last half second of a minute
    counter = WindowCounter(redis, keys.rate, clock=clock)
    subject, other = f"web-test-{secrets.token_hex(8)}", f"web-test-{secrets.token_hex(8)}"

    assert [await counter.hit(subject) for _ in range(3)] == [1, 2, 3]
    assert await counter.hit(other) == 1
    key = keys.rate(subject, 600)
    assert await redis.get(key) == "3"
    assert 60 < await redis.ttl(key) <= 120  # outlives its window, then Redis forgets it

    clock.now += 1  # the next minute
    assert await counter.hit(subject) == 1
    assert await redis.get(keys.rate(subject, 601)) == "1"
    await redis.delete(key, keys.rate(subject, 601), keys.rate(other, 600))


def test_a_local_counter_starts_again_in_the_next_window() -> None:
    clock = Clock(60.0)
    counter = LocalWindowCounter(clock=clock)
    assert [counter.hit() for _ in range(3)] == [1, 2, 3]
    clock.now = 119.9
    assert counter.hit() == 4
    clock.now = 120.0
    assert counter.hit() == 1
