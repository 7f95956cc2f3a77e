"""`GET /healthz`: Rasa, Redis and the database each asked; 200 when all answer, else 503 naming who failed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from sqlalchemy import text

from bot import appkeys

CHECK_SECONDS = 3.0


async def _rasa(app: web.Application) -> None:
    async with app[appkeys.RASA].session.get(
        f"{app[appkeys.SETTINGS].rasa_url}/", timeout=aiohttp.ClientTimeout(total=CHECK_SECONDS),
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")


async def _redis(app: web.Application) -> None:
    await app[appkeys.REDIS].ping()


async def _database(app: web.Application) -> None:
    async with app[appkeys.ENGINE].connect() as conn:
        await conn.execute(text("SELECT 1"))


CHECKS: dict[str, Callable[[web.Application], Awaitable[None]]] = {"rasa": _rasa, "redis": _redis, "database": _database}


async def _check(app: web.Application, check: Callable[[web.Application], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(app), CHECK_SECONDS)
    except Exception as exc:  # any failure is the answer, not a crash of the health check
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return "ok"


async def healthz(request: web.Request) -> web.Response:
    results = await asyncio.gather(*(_check(request.app, check) for check in CHECKS.values()))
    checks = dict(zip(CHECKS, results))
    failed = [name for name, result in checks.items() if result != "ok"]
    return web.json_response(
        {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks},
        status=200 if not failed else 503,
    )
