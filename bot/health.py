"""`GET /healthz`: Rasa, Redis and the database each asked; 200 when all answer, else 503 naming who failed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.rasa_client import RasaClient

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

    async def _check(self, check: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_SECONDS)
        except Exception as exc:  # any failure is the answer, not a crash of the health check
            return f"failed: {type(exc).__name__}: {exc}"[:300]
        return "ok"

    async def handle(self, _request: web.Request) -> web.Response:
        results = await asyncio.gather(*(self._check(check) for check in self._checks.values()))
        checks = dict(zip(self._checks, results, strict=True))
        failed = [name for name, result in checks.items() if result != "ok"]
        return web.json_response(
            {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks},
            status=200 if not failed else 503,
        )
