"""`setup_handoff`: the desk's routes and background tasks on the gateway's application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.contract import BotHandback, BotTrigger, Delivery
from core.shutdown import cancelled, within
from handoff.config import DeskConfig
from handoff.reports.alerts import AlertChecker
from handoff.web.access import DeskAccess
from handoff.web.api import AgentRoutes
from handoff.web.auth import AgentAuth
from handoff.web.complaints import ComplaintDesk, ComplaintRoutes
from handoff.web.reports import ReportRoutes
from handoff.web.team import TeamWork
from handoff.work.desk import HandoffDesk
from handoff.work.parts import DeskParts

log = logging.getLogger(__name__)

# The agent routes, whose `guard` other route modules (privacy, reports) wrap their handlers in.
AGENT_ROUTES = web.AppKey("agent_routes", AgentRoutes)


def setup_handoff(
    app: web.Application, config: DeskConfig, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
    delivery: Delivery, handback: BotHandback, bot: BotTrigger,
) -> HandoffDesk:
    """Adds `/agent`, `/agent/ws`, `/api/handoff/…`, `/api/conversations/…`, `/api/complaints…`, the reports
    (`/reports`, `/api/reports/…`) and the desk's background tasks (event fan-out, socket heartbeats, the
    sweeper, the alert check) to `app`; returns the desk.

    At start-up the AGENT_TOKENS accounts are written to the `agents` table. The desk's classes
    share one `DeskParts`, built here.
    """
    parts = DeskParts.build(config, redis, sessionmaker, delivery)
    desk = HandoffDesk(parts, handback)
    auth = AgentAuth(sessionmaker)
    access = DeskAccess(parts, auth)
    desk.events.audience = access.may_read
    routes = AgentRoutes(desk, auth, TeamWork(desk, auth, access), access)
    routes.add_to(app)
    alerts = AlertChecker(config, redis, sessionmaker)
    ReportRoutes(parts, alerts).add_to(app, routes.guard)
    ComplaintRoutes(ComplaintDesk(parts, bot), routes).add_to(app)
    app[AGENT_ROUTES] = routes

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        names = await auth.sync_accounts(config.agent_tokens)
        if not names:
            log.warning("AGENT_TOKENS is empty: nobody can sign in to the agent console")
        with contextlib.suppress(asyncio.TimeoutError):  # the listener keeps trying by itself
            await desk.events.fanout.start()
        tasks = [
            asyncio.create_task(desk.events.heartbeat(), name="handoff:heartbeat"),
            asyncio.create_task(desk.sweeper.run(), name="handoff:sweeper"),
            asyncio.create_task(alerts.run(), name="handoff:alerts"),
        ]
        yield
        await cancelled(tasks, "the desk's background tasks")
        await within(desk.events.fanout.close(), "the desk's event fan-out")

    async def close_sockets(_app: web.Application) -> None:
        # on_shutdown runs before the server waits for open connections: agent sockets
        # closed here do not hold a stopping gateway up.
        await desk.events.close_all()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_sockets)
    return desk
