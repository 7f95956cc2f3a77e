"""`setup_handoff`: the desk's routes and background tasks on the gateway's application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbound import BotHandback, Delivery
from bot.settings import Settings
from handoff.api import AgentRoutes
from handoff.auth import AgentAuth
from handoff.desk import HandoffDesk

log = logging.getLogger(__name__)

HANDOFF_DESK = web.AppKey("handoff_desk", HandoffDesk)


def setup_handoff(
    app: web.Application, settings: Settings, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
    delivery: Delivery, handback: BotHandback,
) -> HandoffDesk:
    """Adds `/agent`, `/agent/ws`, `/api/handoff/…`, `/api/conversations/…` and the desk's
    background tasks (event fan-out, socket heartbeats, the sweeper) to `app`; returns the desk.

    At start-up the AGENT_TOKENS accounts are written to the `agents` table.
    """
    desk = HandoffDesk(settings, redis, sessionmaker, delivery, handback)
    auth = AgentAuth(sessionmaker)
    AgentRoutes(desk, auth).add_to(app)
    app[HANDOFF_DESK] = desk

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        names = await auth.sync_accounts(settings.agent_tokens)
        if not names:
            log.warning("AGENT_TOKENS is empty: nobody can sign in to the agent console")
        tasks = [
            asyncio.create_task(desk.events.listen(), name="handoff:events"),
            asyncio.create_task(desk.events.heartbeat(), name="handoff:heartbeat"),
            asyncio.create_task(desk.sweeper(), name="handoff:sweeper"),
        ]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(desk.events.listening.wait(), 5)
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close_sockets(_app: web.Application) -> None:
        # on_shutdown runs before the server waits for open connections: agent sockets
        # closed here do not hold a stopping gateway up.
        await desk.events.close_all()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_sockets)
    return desk
