"""Builds the gateway: `create_app(settings)` → the aiohttp application; `python -m bot` runs it.

Shared resources open and close in cleanup contexts (Redis pool, database engine, the HTTP
session to Rasa, the twilio client, the web chat fan-out, the router's workers); routes come
from small modules: channels/whatsapp.py, channels/webchat.py, health.py, metrics.py, the static
widget, and the live-agent desk (handoff.app.setup_handoff).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from bot import appkeys
from bot.channels import webchat, whatsapp
from bot.contacts import Contacts
from bot.delivery import GatewayDelivery
from bot.handback import RasaHandback
from bot.health import healthz
from bot.limits import RateLimiter
from bot.metrics import Metrics
from bot.outbound import Channel
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import Settings
from bot.transcript import Transcript
from db.engine import create_engine, session_factory

STATIC = Path(__file__).resolve().parent / "static"
# Under load a Redis call waits this long for a free pooled connection before it fails.
REDIS_POOL_WAIT_SECONDS = 20.0


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _widget(_request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC / "widget.js")
    response.content_type = "application/javascript"
    return response


def create_app(settings: Settings) -> web.Application:
    from handoff.app import setup_handoff  # the desk is its own package; imported here, where it is wired in

    app = web.Application(client_max_size=256 * 1024)
    redis = redis_client(settings)
    engine = create_engine(settings.database_url)
    sessionmaker = session_factory(engine)
    metrics = Metrics()
    transcript = Transcript(sessionmaker)
    contacts = Contacts(sessionmaker)
    rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds, settings.rasa_give_up_seconds)
    hub = webchat.WebchatHub(redis)
    wa_sender = whatsapp.WhatsAppSender(settings, contacts, redis, metrics)
    delivery = GatewayDelivery(transcript, {Channel.webchat: hub, Channel.whatsapp: wa_sender}, metrics)
    router = Router(
        redis, transcript, rasa, delivery, metrics,
        lock_seconds=settings.rasa_give_up_seconds + settings.rasa_timeout_seconds + 60,
        notice_seconds=settings.rasa_give_up_seconds + settings.rasa_timeout_seconds,
        max_attempts=settings.router_max_attempts,
    )
    handback = RasaHandback(rasa, router)

    app[appkeys.SETTINGS] = settings
    app[appkeys.REDIS] = redis
    app[appkeys.ENGINE] = engine
    app[appkeys.SESSIONMAKER] = sessionmaker
    app[appkeys.METRICS] = metrics
    app[appkeys.TRANSCRIPT] = transcript
    app[appkeys.CONTACTS] = contacts
    app[appkeys.RATE_LIMITER] = RateLimiter(redis, settings.rate_limit_per_minute)
    app[appkeys.RASA] = rasa
    app[appkeys.WEBCHAT] = hub
    app[appkeys.WHATSAPP] = wa_sender
    app[appkeys.DELIVERY] = delivery
    app[appkeys.HANDBACK] = handback
    app[appkeys.ROUTER] = router

    # Opened in this order, closed in the reverse: the desk's tasks and the router's workers
    # stop before the connections they use.
    app.cleanup_ctx.append(_redis_pool)
    app.cleanup_ctx.append(_database_engine)
    app.cleanup_ctx.append(_rasa_session)
    app.cleanup_ctx.append(_twilio_client)
    app.cleanup_ctx.append(_webchat_fanout)
    app.cleanup_ctx.append(_router_workers)
    app.on_shutdown.append(hub.close_sockets)

    whatsapp.add_routes(app)
    webchat.add_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.handle)
    app.router.add_get("/", _index)
    app.router.add_get("/widget.js", _widget)

    desk = setup_handoff(app, settings, redis, sessionmaker, delivery, handback)
    router.desk = desk
    app[appkeys.DESK] = desk
    return app


def redis_client(settings: Settings) -> Redis:
    """One bounded pool per process: at many concurrent conversations (each worker, lock,
    pub/sub listener holds a connection for a while) callers queue for a connection instead of
    opening ever more of them or failing."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_max_connections, timeout=REDIS_POOL_WAIT_SECONDS,
        decode_responses=True, health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


async def _redis_pool(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.REDIS].aclose()


async def _database_engine(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.ENGINE].dispose()


async def _rasa_session(app: web.Application) -> AsyncIterator[None]:
    await app[appkeys.RASA].start()
    yield
    await app[appkeys.RASA].close()


async def _twilio_client(app: web.Application) -> AsyncIterator[None]:
    await app[appkeys.WHATSAPP].start()
    yield
    await app[appkeys.WHATSAPP].close()


async def _webchat_fanout(app: web.Application) -> AsyncIterator[None]:
    try:
        await app[appkeys.WEBCHAT].start()
    except asyncio.TimeoutError:
        url = app[appkeys.SETTINGS].redis_url
        raise RuntimeError(f"REDIS_URL={url} is not reachable: start Redis there or point REDIS_URL at a running one") from None
    yield
    await app[appkeys.WEBCHAT].close()


async def _router_workers(app: web.Application) -> AsyncIterator[None]:
    await app[appkeys.ROUTER].resume_waiting()
    yield
    await app[appkeys.ROUTER].stop()
