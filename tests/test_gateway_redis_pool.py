"""The gateway's Redis pool is bounded (REDIS_MAX_CONNECTIONS): many concurrent calls wait for a
free connection instead of opening one each or failing."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.app import build_gateway
from bot.settings import Settings
from tests.gateway_helpers import gateway_env


async def test_a_hundred_concurrent_calls_share_a_small_pool_and_all_succeed(
    own_redis: str, database_url: str,
) -> None:
    unused = "http://127.0.0.1:9"  # Rasa and Twilio are not called here
    settings = Settings.from_env(gateway_env(own_redis, database_url, unused, unused, REDIS_MAX_CONNECTIONS="4"))
    assert settings.redis_max_connections == 4
    redis = build_gateway(settings).redis
    probe = Redis.from_url(own_redis)
    try:
        # Each call holds its connection for 0.1 s, like a worker's blocking read.
        results = await asyncio.gather(*(redis.blpop([f"nothing:{i}"], timeout=0.1) for i in range(100)))
        assert results == [None] * 100
        clients = await probe.client_list()
        assert 1 <= len(clients) - 1 <= 4  # minus the probe itself
    finally:
        await redis.aclose()
        await probe.aclose()


def test_the_pool_size_defaults_to_500() -> None:
    assert Settings.from_env({}).redis_max_connections == 500
