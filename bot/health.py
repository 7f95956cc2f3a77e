"""`GET /healthz`: Rasa, Redis and the database each asked; 200 when all answer, else 503 naming who failed.

The answer names components only ("ok" or "failed"): it is public, and an error's text can carry
hosts, ports, user names or paths. The error itself goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.rasa_client import RasaClient

log = logging.getLogger(__name__)

CHECK_SECONDS = 3.0


class Health:
    def __init__(self, rasa: RasaClient, redis: Redis, engine: AsyncEngine) -> None:
        self._checks: dict[str, Callable[[], Awaitable[None]]] = {
            "rasa": lambda: self._rasa(rasa), "redis": lambda: self._redis(redis), "database": lambda: self._database(engine),
        }

    @staticmethod
    async def _rasa(rasa: RasaClient) -> None:
        async with rasa.session.get(f"{rasa.rasa_url}/", timeout=aiohttp.ClientTimeout(total=CHECK_SECONDS)) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

    @staticmethod
    async def _redis(redis: Redis) -> None:
        await redis.ping()

    @staticmethod
    async def _database(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _check(self, name: str, check: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_SECONDS)
        except Exception as exc:  # any failure is the answer, not a crash of the health check
            log.warning("health check: %s failed: %s: %s", name, type(exc).__name__, str(exc)[:300])
            return "failed"
        return "ok"

    async def handle(self, _request: web.Request) -> web.Response:
        results = await asyncio.gather(*(self._check(name, check) for name, check in self._checks.items()))
        checks = dict(zip(self._checks, results, strict=True))
        failed = [name for name, result in checks.items() if result != "ok"]
        return web.json_response(
            {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks},
            status=200 if not failed else 503,
        )
