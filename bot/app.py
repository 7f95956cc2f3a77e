"""Builds the gateway: `create_app(settings)` → the aiohttp application; `python -m bot` runs it.

This is where the parts are wired: a customer message flows channel unit (bot/channels/) →
intake → inbox → router → Rasa or the desk → delivery → channel unit. Each part is handed its
collaborators here; shared resources open and close in one cleanup context, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from bot.channels.base import ChannelParts
from bot.channels.folder import ChannelFolder
from bot.channels.registry import FOLDERS, Channels, customer_ids
from bot.contacts import Contacts
from bot.delivery import GatewayDelivery
from bot.handback import RasaHandback
from bot.headers import metrics_guard, security_headers
from bot.health import Health
from bot.inbox import Inbox
from bot.intake import Intake
from bot.limits import AddressLimits, RateLimiter
from bot.metrics import Metrics
from bot.privacy.api import setup_privacy
from bot.privacy.stores import Families
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import Settings
from bot.transcript import Transcript
from core.attachments import AttachmentStore, media_route
from core.shutdown import cancelled, within
from db.engine import create_engine, session_factory
from handoff.web.app import AGENT_ROUTES, setup_handoff
from handoff.work.desk import HandoffDesk

STATIC = Path(__file__).resolve().parent / "static"
# Under load a Redis call waits this long for a free pooled connection before it fails.
REDIS_POOL_WAIT_SECONDS = 20.0


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _shop_css(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "shop.css")


async def _widget(_request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC / "widget.js")
    response.content_type = "application/javascript"
    return response


@dataclass(frozen=True)
class Gateway:
    """The wired gateway: its application, and the parts that tests and benchmarks drive directly."""

    app: web.Application
    redis: Redis
    delivery: GatewayDelivery
    router: Router
    desk: HandoffDesk


def create_app(settings: Settings) -> web.Application:
    return build_gateway(settings).app


def build_gateway(settings: Settings, folders: Sequence[ChannelFolder] = FOLDERS) -> Gateway:
    """`folders`: the channels (bot/channels/registry.py); a test adds one of its own here."""
    app = web.Application(client_max_size=256 * 1024)
    redis = redis_client(settings)
    engine = create_engine(settings.database_url)
    sessionmaker = session_factory(engine)
    metrics = Metrics(settings.services_file)
    transcript = Transcript(sessionmaker)
    rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds, settings.rasa_give_up_seconds,
                      settings.rasa_max_concurrent)
    channels = Channels()
    delivery = GatewayDelivery(transcript, channels, metrics)
    router = Router(redis, transcript, rasa, delivery, metrics,
                    notice_seconds=settings.rasa_give_up_seconds + settings.rasa_timeout_seconds)
    inbox = Inbox(redis, router.handle, metrics, max_attempts=settings.router_max_attempts)
    addresses = AddressLimits.from_settings(redis, settings)
    intake = Intake(redis, inbox, transcript, RateLimiter(redis, settings.rate_limit_per_minute), metrics,
                    settings.max_message_chars, addresses)
    parts = ChannelParts(redis, intake, delivery, Contacts(sessionmaker), transcript, metrics, addresses)
    for folder in folders:
        for unit in folder.build(settings, parts):
            channels.add(unit)
    handback = RasaHandback(rasa, router, channels)
    desk = setup_handoff(app, settings, redis, sessionmaker, delivery, handback, handback)
    router.desk = desk
    intake.desk = desk
    delivery.publish = desk.events.publish

    async def resources(_app: web.Application) -> AsyncIterator[None]:
        # Opened in this order, closed in the reverse: the inbox's workers stop before the
        # connections they use. (The desk's tasks are set up by setup_handoff, before this.)
        sweeper: asyncio.Task[None] | None = None
        try:
            await rasa.start()
            for unit in channels:
                try:
                    await unit.start()
                except TimeoutError:
                    raise RuntimeError(f"REDIS_URL={_without_password(settings.redis_url)} is not reachable: start Redis there "
                                       "or point REDIS_URL at a running one") from None
            sweeper = asyncio.create_task(inbox.sweep(settings.inbox_sweep_seconds), name="inbox:sweep")
            yield
        finally:
            if sweeper is not None:
                await cancelled([sweeper], "the inbox sweep")
            await within(inbox.stop(), "the inbox's workers")
            for unit in channels:
                await within(unit.close(), f"the {unit.name} channel")
            await rasa.close()
            await engine.dispose()
            await redis.aclose()

    app.cleanup_ctx.append(resources)
    for unit in channels:
        unit.add_routes(app)
    app.router.add_get("/healthz", Health(rasa, redis, engine).handle)
    app.router.add_get("/metrics", metrics_guard(settings.metrics_token, metrics.handle))
    app.router.add_get("/", _index)
    app.router.add_get("/shop.css", _shop_css)
    app.router.add_get("/widget.js", _widget)
    app.on_response_prepare.append(security_headers)
    app.router.add_routes([media_route(AttachmentStore.from_config(settings))])
    setup_privacy(app, settings, redis, sessionmaker, app[AGENT_ROUTES], router, Families(customer_ids(folders)))
    return Gateway(app, redis, delivery, router, desk)


def redis_client(settings: Settings) -> Redis:
    """One bounded pool per process: at many concurrent conversations (each worker, lock,
    pub/sub listener holds a connection for a while) callers queue for a connection instead of
    opening ever more of them or failing."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_max_connections, timeout=REDIS_POOL_WAIT_SECONDS,
        decode_responses=True, health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def _without_password(url: str) -> str:
    """The URL as it may be logged: redis://:***@host:port/0."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[1]}"))
