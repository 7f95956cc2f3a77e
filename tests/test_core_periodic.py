"""The one background loop (`periodic`) and the one-process-at-a-time lease (`Lease`)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

import core.periodic
from core.backoff import Backoff
from core.periodic import Lease, periodic

WAIT = 5.0  # seconds an awaited event may take before the test fails


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits `periodic` asks for, recorded instead of waited (each yields to the loop once)."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(core.periodic.asyncio, "sleep", sleep)
    return asked


async def _stop(task: asyncio.Task[object]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_step_runs_every_interval_until_the_loop_is_cancelled() -> None:
    runs = 0
    third = asyncio.Event()

    async def step() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()

    task = asyncio.create_task(periodic("test job", 0.001, step))
    await asyncio.wait_for(third.wait(), WAIT)
    await _stop(task)
    assert task.cancelled()


async def test_a_failure_waits_the_backoff_but_never_less_than_the_interval(delays: list[float]) -> None:
    outcomes = [RuntimeError, RuntimeError, None, RuntimeError, None]
    done = asyncio.Event()

    async def step() -> None:
        outcome = outcomes.pop(0)
        if not outcomes:
            done.set()
        if outcome is not None:
            raise outcome("boom")

    task = asyncio.create_task(periodic("test job", 0.8, step, start_after=2.0, backoff=Backoff(0.5, 5.0)))
    await asyncio.wait_for(done.wait(), WAIT)
    await _stop(task)
    # start, 1st failure (0.5 < interval), 2nd (1.0), success, failure after the success reset the backoff
    assert delays[:5] == [2.0, 0.8, 1.0, 0.8, 0.8]


async def test_a_failing_step_is_logged_by_its_error_type_not_its_message(caplog: pytest.LogCaptureFixture) -> None:
    failed = asyncio.Event()

    async def step() -> None:
        failed.set()
        raise ValueError("Meine Nummer ist +49 170 1234567")

    caplog.set_level(logging.INFO, logger="core.periodic")
    task = asyncio.create_task(periodic("test job", 60.0, step))
    await asyncio.wait_for(failed.wait(), WAIT)
    await _stop(task)
    [record] = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert record.levelno == logging.WARNING
    assert "test job failed (ValueError)" in record.getMessage()
    assert "+49" not in caplog.text


async def test_a_cancellation_that_a_library_turned_into_another_error_still_stops_the_loop() -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("connection closed by the cancelled command") from None  # as redis-py can

    task = asyncio.create_task(periodic("test job", 0.001, step))
    await asyncio.wait_for(started.wait(), WAIT)
    await _stop(task)


async def test_only_one_of_two_processes_takes_a_free_lease(redis: Redis) -> None:
    key = f"test:lease:{secrets.token_hex(4)}"
    first, second = Lease(redis, key, 10), Lease(redis, key, 10)
    assert await first.take() is True
    assert await second.take() is False
    assert await second.hold() is False
    assert await redis.get(key) == first.token
    assert 9000 < await redis.pttl(key) <= 10000


async def test_holding_renews_our_lease_and_takes_a_free_one(redis: Redis) -> None:
    key = f"test:lease:{secrets.token_hex(4)}"
    lease = Lease(redis, key, 10)
    assert await lease.hold() is True  # free: taken
    await redis.pexpire(key, 100)
    assert await lease.hold() is True  # ours: renewed to the full ttl
    assert await redis.pttl(key) > 9000


async def test_a_lease_that_passed_to_another_process_is_neither_renewed_nor_released(redis: Redis) -> None:
    key = f"test:lease:{secrets.token_hex(4)}"
    late, other = Lease(redis, key, 10), Lease(redis, key, 1)
    assert await late.take() is True
    await redis.delete(key)  # ran out while its holder was busy
    assert await other.take() is True
    assert await late.renew() is False
    assert await late.release() is False
    assert await redis.get(key) == other.token
    assert await redis.pttl(key) <= 1000


async def test_a_released_lease_is_free_for_the_next_process_at_once(redis: Redis) -> None:
    key = f"test:lease:{secrets.token_hex(4)}"
    first, second = Lease(redis, key, 10), Lease(redis, key, 10)
    assert await first.take() is True
    assert await first.release() is True
    assert await redis.exists(key) == 0
    assert await second.take() is True
